//! Projecting a table of Parquet files into a directory of Parquet files.

use std::path::{Path, PathBuf};

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
    let written = async {
        let df = ctx.sql(&sql).await?;
        crate::write::write_parts(ctx, df, staging.path()).await
    }
    .await;
    let parts = match written {
        Ok(parts) => parts,
        // A vector the function refused is named by its row within a batch only; the
        // reader names the file, row and id.
        Err(e) => return Err(first_bad_row(job).unwrap_or(e)),
    };
    let reported: u64 = parts.iter().map(|p| p.rows).sum();
    let written = staging.path().to_path_buf();
    let (out_rows, out_nulls) = if parts.is_empty() {
        (0, Some(0))
    } else {
        footer_counts(std::slice::from_ref(&written), "embedding")?
    };
    if out_rows != rows || reported != rows || out_nulls.is_some_and(|n| n > 0) {
        return Err(EngineError::Invalid {
            what: "output",
            message: format!(
                "{rows} rows in, {out_rows} written ({reported} reported by the tasks, {} NULL): nothing was published",
                out_nulls.map_or("unknown".into(), |n| n.to_string())
            ),
        });
    }
    let files = parts.len();
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
