//! Projecting a table of Parquet files into a directory of Parquet files.

use std::path::{Path, PathBuf};

use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::SessionContext;
use shimkit_data::{BatchReader, Columns, ReadOptions, StagingDir, TableSource};

use crate::error::{EngineError, Result};
use crate::tables::{count_checked_ids, footer_counts, quote, register_parquet};

const INPUT: &str = "shimkit_input";

/// What to project, with which shim (by its registered name), to where.
pub struct ProjectJob<'a> {
    pub shim: &'a str,
    pub input: &'a [PathBuf],
    pub columns: &'a Columns,
    /// A directory, replaced whole when the job succeeds and untouched when it fails.
    pub output: &'a Path,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectReport {
    pub rows: u64,
    pub files: usize,
}

/// Projects every row of the input into a directory of Parquet files, in the schema
/// `shimkit project` writes (`id` utf8, `embedding` FixedSizeList<float32>, zstd).
pub async fn project(ctx: &SessionContext, job: &ProjectJob<'_>) -> Result<ProjectReport> {
    let label = job
        .input
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    register_parquet(ctx, INPUT, job.input, job.columns).await?;
    let (footer_rows, nulls) = footer_counts(job.input, &job.columns.vector)?;
    if nulls.is_some_and(|n| n > 0) {
        return Err(first_bad_row(job).unwrap_or_else(|| EngineError::Invalid {
            what: "vectors",
            message: format!("{label}: some vectors are NULL"),
        }));
    }
    let rows = count_checked_ids(ctx, INPUT, &job.columns.id, &label).await?;
    if rows != footer_rows {
        return Err(EngineError::Invalid {
            what: "input",
            message: format!(
                "{label}: the query read {rows} rows but the files' footers count {footer_rows}: did the files change during the job?"
            ),
        });
    }
    crate::tables::check_replaceable(job.output)?;
    let staging = StagingDir::create(job.output)?;
    let sql = format!(
        "SELECT arrow_cast({id}, 'Utf8') AS id, {f}('{shim}', {v}) AS embedding FROM {INPUT}",
        id = quote(&job.columns.id),
        v = quote(&job.columns.vector),
        f = crate::project::NAME,
        shim = job.shim.replace('\'', "''"),
    );
    let target = format!("{}/", staging.path().display());
    let written = async {
        let df = ctx.sql(&sql).await?;
        // The planned output's width sizes the row groups.
        let row_bytes = match df.schema().field(1).data_type() {
            datafusion::arrow::datatypes::DataType::FixedSizeList(_, n) => {
                Some(*n as usize * 4 + 16)
            }
            _ => None,
        };
        df.write_parquet(
            &target,
            DataFrameWriteOptions::new().with_single_file_output(false),
            Some(crate::tables::writer_options(row_bytes)),
        )
        .await
    }
    .await;
    if let Err(e) = written {
        // A vector the function refused is named by its row within a batch only; the
        // reader names the file, row and id.
        return Err(first_bad_row(job).unwrap_or(EngineError::DataFusion(e)));
    }
    let written = staging.path().to_path_buf();
    let (out_rows, out_nulls) = footer_counts(std::slice::from_ref(&written), "embedding")?;
    if out_rows != rows || out_nulls.is_some_and(|n| n > 0) {
        return Err(EngineError::Invalid {
            what: "output",
            message: format!(
                "{} rows in, {out_rows} written ({} NULL): nothing was published",
                rows,
                out_nulls.map_or("unknown".into(), |n| n.to_string())
            ),
        });
    }
    let files = crate::tables::parquet_files(&[written])?.len();
    staging.commit()?;
    Ok(ProjectReport { rows, files })
}

/// The first row shimkit's own reader refuses, with its file, row and id.
fn first_bad_row(job: &ProjectJob<'_>) -> Option<EngineError> {
    let source = TableSource::from_paths(job.input).ok()?;
    let reader = BatchReader::open(&source, ReadOptions::with_columns(job.columns.clone())).ok()?;
    for batch in reader {
        if let Err(e) = batch {
            return Some(e.into());
        }
    }
    None
}
