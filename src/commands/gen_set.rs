//! `shimkit gen`: a synthetic evaluation set of any size.

use std::process::ExitCode;
use std::time::Instant;

use shimkit_data::synth::{SynthSpec, generate};

use crate::cli::GenArgs;
use crate::progress::rows_bar;

pub fn run(args: &GenArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let spec = SynthSpec {
        docs: args.docs,
        queries: args.queries,
        old_dim: args.old_dim,
        new_dim: args.new_dim,
        seed: args.seed,
        latent_dim: args.latent_dim,
        noise: args.noise,
        nonlinearity: args.nonlinearity,
        relevant_per_query: args.relevant_per_query,
        texts: !args.no_text,
    };
    let started = Instant::now();
    let bar = rows_bar(args.docs, quiet, "generating");
    let report = generate(&spec, &args.out, args.force, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if !quiet {
        println!(
            "wrote {}: {} documents and {} queries as models \"old\" ({}-d) and \"new\" ({}-d), {} judgements",
            report.dir.display(),
            report.docs,
            report.queries,
            args.old_dim,
            args.new_dim,
            report.qrels_rows
        );
        println!(
            "took {secs:.2} s ({:.0} documents/s)",
            report.docs as f64 / secs.max(1e-9)
        );
    }
    Ok(ExitCode::SUCCESS)
}
