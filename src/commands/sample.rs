//! `shimkit sample`: which documents to re-embed first, from the old vectors alone
//! ([`shimkit_trainer::sample`]), written as a list of ids.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use shimkit_data::write_atomic;
use shimkit_trainer::sample::{MAX_CLUSTERS, choose_documents};

use crate::cli::SampleArgs;
use crate::stores::Location;

pub fn run(args: &SampleArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    if args.n == 0 {
        bail!("--n 0: propose at least one document");
    }
    if matches!(
        (args.output.canonicalize(), args.input.canonicalize()),
        (Ok(a), Ok(b)) if a == b
    ) {
        bail!(
            "--output {} is the --input table: write the ids elsewhere",
            args.output.display()
        );
    }
    let started = Instant::now();
    let table = Location::one(&args.input, "--input")?
        .read_whole(&args.columns.columns())
        .with_context(|| format!("reading --input {}", args.input.display()))?;
    let rows = table.len();
    if args.n > rows {
        bail!(
            "--n {}: {} has {rows} documents; propose at most that many",
            args.n,
            args.input.display()
        );
    }
    // One id a line: an id holding a line break would read back as two.
    if let Some((row, id)) = table
        .ids
        .iter()
        .enumerate()
        .find(|(_, id)| id.contains(['\n', '\r']))
    {
        bail!(
            "{}: row {row} (id {id:?}): the id holds a line break, which a list of one id a line cannot carry",
            args.input.display()
        );
    }
    let chosen = choose_documents(table.vectors.view(), &table.ids, args.n, args.seed);
    let mut text = String::with_capacity(chosen.len() * 8);
    for &row in &chosen {
        text.push_str(&table.ids[row]);
        text.push('\n');
    }
    write_atomic(&args.output, text.as_bytes())
        .with_context(|| format!("writing --output {}", args.output.display()))?;
    if !quiet {
        eprintln!(
            "wrote {} of {rows} document ids to {} in {:.1} s: the medoids of {} clusters of the old vectors, largest cluster first{}",
            chosen.len(),
            args.output.display(),
            started.elapsed().as_secs_f64(),
            args.n.min(MAX_CLUSTERS),
            if args.n > MAX_CLUSTERS {
                ", then the rest in proportion to the clusters' sizes"
            } else {
                ""
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}
