//! `shimkit project`: a whole table through a shim, Parquet to Parquet, in constant memory.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use shimkit_data::{
    BackgroundWriter, BatchReader, EmbeddingWriter, Prefetch, ReadOptions, TableSource,
};
use shimkit_trainer::{TrainError, artifact};

use crate::cli::ProjectArgs;
use crate::progress::rows_bar;

pub fn run(args: &ProjectArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let shim = artifact::load(&args.shim)?;
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
    let reader = BatchReader::open(&TableSource::new(&args.input)?, options)?;
    if let (Some(dim), Some(first)) = (reader.dim(), reader.layouts().first())
        && dim != shim.source_dim()
    {
        return Err(TrainError::InputDim {
            path: first.path.clone(),
            row: 0,
            id: String::new(),
            found: dim,
            expected: shim.source_dim(),
        }
        .into());
    }
    let bar = rows_bar(reader.total_rows(), quiet, "projecting");
    // Reading, projecting and writing overlap: the reader decodes ahead on its own thread,
    // the writer encodes and writes behind on another. Dropped unfinished on any error, the
    // writer leaves nothing behind.
    let mut writer =
        BackgroundWriter::new(EmbeddingWriter::create(&args.output, shim.target_dim())?, 2);
    for batch in Prefetch::new(reader, 2) {
        let batch = batch?;
        if batch.vectors.ncols() != shim.source_dim() {
            return Err(TrainError::InputDim {
                path: batch.file.clone(),
                row: batch.first_row,
                id: batch.ids.first().cloned().unwrap_or_default(),
                found: batch.vectors.ncols(),
                expected: shim.source_dim(),
            }
            .into());
        }
        // The batch's own buffer is normalised in place: no copy of each batch.
        let out = shim.apply_owned(batch.vectors, !args.no_normalize)?;
        bar.inc(batch.ids.len() as u64);
        writer.write(batch.ids, out)?;
    }
    let rows = writer
        .finish()
        .with_context(|| format!("writing {}", args.output.display()))?;
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

fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}
