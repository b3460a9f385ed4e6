//! `shimkit project`: a whole table through a shim, in constant memory: Parquet to
//! Parquet, or from Parquet or PostgreSQL into a PostgreSQL column (a resumable backfill,
//! [`crate::stores::postgres::project_into`]).

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use shimkit_data::{
    BackgroundWriter, BatchReader, EmbeddingBatch, EmbeddingWriter, Prefetch, ReadOptions,
    TableSource,
};
use shimkit_trainer::artifact;

use shimkit_engine::ShimSet;
use shimkit_engine::jobs::ProjectJob;

use crate::cli::{BackfillArgs, ProjectArgs};
use crate::engine::{Engine, runtime};
use crate::progress::rows_bar;
use crate::stores::Location;
use crate::stores::postgres::{BackfillOptions, project_into};

pub fn run(args: &ProjectArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if let Some(engine) = Engine::from_args(&args.engine)? {
        return project_with_engine(&engine, args, quiet);
    }
    let shim = artifact::load(&args.shim)?;
    let input = Location::one(&args.input, "--input")?;
    let output = Location::one(&args.output, "--output")?;
    if let Some(target) = output.as_postgres() {
        let options = backfill_options(&args.backfill, args, quiet)?;
        project_into(
            &shim,
            &args.shim,
            &input,
            &args.columns.columns(),
            target,
            &options,
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Location::Postgres(source) = &input {
        return project_to_parquet(&shim, args, source, quiet);
    }
    if same_file(&args.input, &args.output) {
        bail!(
            "--output {} is the --input file; write elsewhere, then move it",
            args.output.display()
        );
    }
    let options = ReadOptions {
        columns: args.columns.columns(),
        batch_rows: args.batch_rows.max(1),
        ..ReadOptions::default()
    };
    let source = TableSource::new(&args.input)?;
    refuse_output_inside_input(&args.input, &args.output)?;
    let reader = BatchReader::open(&source, options)?;
    // The footers say the width of fixed-size vectors before a row is read.
    if let Some(layout) = reader
        .layouts()
        .iter()
        .find(|l| l.fixed_dim.is_some_and(|d| d != shim.source_dim()))
    {
        bail!(
            "{}: column {:?} holds {}-dimensional vectors, but the shim {} maps {}-dimensional vectors ({} -> {})",
            layout.path.display(),
            args.columns.vec_col,
            layout.fixed_dim.unwrap_or(0),
            args.shim.display(),
            shim.source_dim(),
            shim.meta.source_model,
            shim.meta.target_model
        );
    }
    let bar = rows_bar(reader.total_rows(), quiet, "projecting");
    // The reader decodes ahead on its own thread.
    let rows = project_to_file(&shim, args, Prefetch::new(reader, 2), &bar)?;
    bar.finish_and_clear();
    if !quiet {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "projected {rows} vectors {}-d -> {}-d with {} ({}, {}) into {} in {secs:.2} s ({:.0} rows/s)",
            shim.source_dim(),
            shim.target_dim(),
            args.shim.display(),
            shim.meta.method,
            shim.meta.direction,
            args.output.display(),
            rows as f64 / secs.max(1e-9)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Parquet files through an engine into a directory of Parquet files, published whole.
fn project_with_engine(
    engine: &Engine,
    args: &ProjectArgs,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if Location::one(&args.input, "--input")?
        .as_postgres()
        .is_some()
        || Location::one(&args.output, "--output")?
            .as_postgres()
            .is_some()
    {
        bail!("--engine reads and writes Parquet files; a PostgreSQL table goes without it");
    }
    if args.output.is_file() {
        bail!(
            "--output {} is a file; with --engine the output is a directory of Parquet files",
            args.output.display()
        );
    }
    if let (Ok(input), Ok(output)) = (args.input.canonicalize(), args.output.canonicalize())
        && input.starts_with(&output)
    {
        bail!(
            "--output {} holds the --input {}: replacing it would remove the input; write elsewhere",
            args.output.display(),
            args.input.display()
        );
    }
    refuse_output_inside_input(&args.input, &args.output)?;
    let shims = ShimSet::new().with_file("shim", &args.shim, !args.no_normalize)?;
    let rt = runtime()?;
    let ctx = rt.block_on(engine.context(&shims))?;
    let columns = args.columns.columns();
    let input = [args.input.clone()];
    let job = ProjectJob {
        shim: "shim",
        input: &input,
        columns: &columns,
        output: &args.output,
    };
    let report = rt
        .block_on(shimkit_engine::jobs::project(&ctx, &job))
        .with_context(|| {
            format!(
                "projecting {} through {}",
                args.input.display(),
                engine.describe(&ctx)
            )
        })?;
    if !quiet {
        let shim = &shims.get("shim")?.shim;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "projected {} vectors {}-d -> {}-d with {} into {} ({} files) in {secs:.2} s ({:.0} rows/s) on {}",
            report.rows,
            shim.source_dim(),
            shim.target_dim(),
            args.shim.display(),
            args.output.display(),
            report.files,
            report.rows as f64 / secs.max(1e-9),
            engine.describe(&ctx)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A PostgreSQL column into a Parquet file (written whole, or not at all).
fn project_to_parquet(
    shim: &shimkit_trainer::Shim,
    args: &ProjectArgs,
    source: &shimkit_postgres::PgTable,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let reader = shimkit_postgres::PgReader::open(
        source,
        shimkit_postgres::ReadOptions {
            batch_rows: args.batch_rows.max(1),
            ..Default::default()
        },
    )?;
    let bar = rows_bar(reader.shape().estimated_rows, quiet, "projecting");
    let stats = reader.stats();
    // The reader already reads ahead on its own thread.
    let rows = project_to_file(shim, args, reader, &bar)?;
    bar.finish_and_clear();
    if !quiet {
        let nulls = stats
            .null_vectors
            .load(std::sync::atomic::Ordering::Relaxed);
        println!(
            "projected {rows} vectors from {} into {} in {:.2} s{}",
            source.label(),
            args.output.display(),
            started.elapsed().as_secs_f64(),
            if nulls > 0 {
                format!(" ({nulls} rows with a NULL vector skipped)")
            } else {
                String::new()
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Every batch through the shim into `--output`, which appears whole or not at all; the
/// rows written.
fn project_to_file(
    shim: &shimkit_trainer::Shim,
    args: &ProjectArgs,
    batches: impl Iterator<Item = shimkit_data::Result<EmbeddingBatch>>,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<u64> {
    // Reading, projecting and writing overlap: the writer encodes and writes behind on its
    // own thread. Dropped unfinished on any error, it leaves nothing behind.
    let mut writer =
        BackgroundWriter::new(EmbeddingWriter::create(&args.output, shim.target_dim())?, 2);
    for batch in batches {
        let batch = batch?;
        shim.check_batch(&batch)?;
        // The batch's own buffer is normalised in place: no copy of each batch.
        let out = shim.apply_owned(batch.vectors, !args.no_normalize)?;
        bar.inc(batch.ids.len() as u64);
        writer.write(batch.ids, out)?;
    }
    writer
        .finish()
        .with_context(|| format!("writing {}", args.output.display()))
}

fn backfill_options(
    b: &BackfillArgs,
    args: &ProjectArgs,
    quiet: bool,
) -> anyhow::Result<BackfillOptions> {
    use shimkit_postgres::index::{IndexKind, Metric};
    if let Some(rate) = b.rate
        && !(rate > 0.0 && rate.is_finite())
    {
        bail!("--rate {rate}: rows per second must be a positive number");
    }
    if b.writers == 0 || b.writers > 64 {
        bail!("--writers {}: between 1 and 64 connections", b.writers);
    }
    let index = match b.index.as_deref() {
        Some("hnsw") => Some(IndexKind::Hnsw {
            m: b.hnsw_m.clamp(2, 100),
            ef_construction: b.hnsw_ef_construction.clamp(4, 1000),
        }),
        Some(_) => Some(IndexKind::IvfFlat {
            lists: b.ivfflat_lists,
        }),
        None => None,
    };
    let metric = match b.index_metric.as_str() {
        "ip" => Metric::InnerProduct,
        "l2" => Metric::L2,
        _ => Metric::Cosine,
    };
    Ok(BackfillOptions {
        rate: b.rate,
        writers: b.writers,
        batch_rows: args.batch_rows,
        restart: b.restart,
        normalize: !args.no_normalize,
        halfvec: b.halfvec,
        index,
        metric,
        quiet,
    })
}

/// An output inside an input directory would become part of that table on the next read
/// (vectors of the output's dimension beside the input's).
fn refuse_output_inside_input(input: &Path, output: &Path) -> anyhow::Result<()> {
    if !input.is_dir() {
        return Ok(());
    }
    let Ok(input) = input.canonicalize() else {
        return Ok(());
    };
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if let Ok(dir) = parent.canonicalize()
        && dir.starts_with(&input)
    {
        bail!(
            "--output {} is inside the --input directory {}, which is read as one table: the output would become part of it; write it elsewhere",
            output.display(),
            input.display()
        );
    }
    Ok(())
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
