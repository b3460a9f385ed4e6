//! Gathering a fit's statistics from two tables joined by id.

use std::path::PathBuf;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::prelude::SessionContext;
use shimkit_data::Columns;
use shimkit_trainer::{Direction, FitConfig};

use crate::error::{EngineError, Result};
use crate::tables::{count_checked_ids, quote, register_parquet};

const OLD: &str = "shimkit_old";
const NEW: &str = "shimkit_new";

pub struct FitJob<'a> {
    pub old: &'a [PathBuf],
    pub new: &'a [PathBuf],
    pub columns: &'a Columns,
    pub direction: Direction,
    /// The fit that will finish the statistics: its split is the aggregate's.
    pub cfg: &'a FitConfig,
}

/// The statistics as `shim_fit_stats` returns them, and the tables' sizes.
pub struct FitStats {
    pub bytes: Vec<u8>,
    pub old_rows: u64,
    pub new_rows: u64,
}

/// Joins the tables by id and runs `shim_fit_stats` over the pairs.
pub async fn fit_stats(ctx: &SessionContext, job: &FitJob<'_>) -> Result<FitStats> {
    let label = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    register_parquet(ctx, OLD, job.old, job.columns).await?;
    register_parquet(ctx, NEW, job.new, job.columns).await?;
    let old_rows = count_checked_ids(ctx, OLD, &job.columns.id, &label(job.old)).await?;
    let new_rows = count_checked_ids(ctx, NEW, &job.columns.id, &label(job.new)).await?;
    let id = quote(&job.columns.id);
    let v = quote(&job.columns.vector);
    let (x, y) = match job.direction {
        Direction::OldToNew => ("o", "n"),
        Direction::NewToOld => ("n", "o"),
    };
    let sql = format!(
        "SELECT {f}(arrow_cast(o.{id}, 'Utf8'), {x}.{v}, {y}.{v}, '{opts}')
         FROM {OLD} o JOIN {NEW} n ON arrow_cast(o.{id}, 'Utf8') = arrow_cast(n.{id}, 'Utf8')",
        f = crate::fit_stats::NAME,
        opts = crate::fit_stats::options(job.cfg),
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let bytes = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).as_binary::<i64>())
        .filter(|a| a.is_valid(0))
        .map(|a| a.value(0).to_vec());
    let Some(bytes) = bytes else {
        return Err(EngineError::Invalid {
            what: "pairs",
            message: format!(
                "no id is in both tables: {} has {old_rows} rows, {} has {new_rows}",
                label(job.old),
                label(job.new)
            ),
        });
    };
    Ok(FitStats {
        bytes,
        old_rows,
        new_rows,
    })
}
