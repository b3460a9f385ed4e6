//! Gathering a fit's statistics from two tables: read side by side when they list the same
//! ids in the same order (the usual case, and no join to pay for), joined by id otherwise.

use std::path::PathBuf;

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::DataType;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{Extension, LogicalPlan, cast};
use datafusion::prelude::{DataFrame, SessionContext, col, lit};
use shimkit_data::Columns;
use shimkit_trainer::{Direction, FitConfig};

use crate::aligned::{AlignedPairs, AlignedSpec, NOT_ALIGNED};
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
    /// Whether the tables were read side by side (row-aligned) rather than joined.
    pub aligned: bool,
}

/// Pairs the tables' rows and runs `shim_fit_stats` over the pairs.
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
    let opts = crate::fit_stats::options(job.cfg);
    let spec = if old_rows == new_rows {
        let partitions = ctx.state().config().target_partitions();
        AlignedSpec::plan(
            job.old,
            job.new,
            &job.columns.id,
            &job.columns.vector,
            partitions,
        )?
    } else {
        None
    };
    let aligned = match spec {
        Some(spec) => match aligned_stats(ctx, spec, job.direction, &opts).await {
            Ok(bytes) => Some(bytes),
            Err(e) if e.to_string().contains(NOT_ALIGNED) => None,
            Err(e) => return Err(e.into()),
        },
        None => None,
    };
    let is_aligned = aligned.is_some();
    let bytes = match aligned {
        Some(bytes) => bytes,
        None => joined_stats(ctx, job, &opts).await?,
    };
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
        aligned: is_aligned,
    })
}

/// The statistics of two row-aligned tables read side by side; a [`NOT_ALIGNED`] error when
/// a row's ids differ.
async fn aligned_stats(
    ctx: &SessionContext,
    spec: AlignedSpec,
    direction: Direction,
    opts: &str,
) -> datafusion::error::Result<Option<Vec<u8>>> {
    let (x, y) = match direction {
        Direction::OldToNew => ("old", "new"),
        Direction::NewToOld => ("new", "old"),
    };
    let pairs = AlignedPairs::new(spec).map_err(EngineError::into_datafusion)?;
    let plan = LogicalPlan::Extension(Extension {
        node: Arc::new(pairs),
    });
    let stats = ctx.udaf(crate::fit_stats::NAME)?.call(vec![
        cast(col("id"), DataType::Utf8),
        col(x),
        col(y),
        lit(opts),
    ]);
    // Each range's rows go to one accumulator in order, as a streamed pass would add them:
    // spreading them over more partitions would change the statistics' rounding.
    let mut state = ctx.state();
    state
        .config_mut()
        .options_mut()
        .optimizer
        .enable_round_robin_repartition = false;
    let batches = DataFrame::new(state, plan)
        .aggregate(vec![], vec![stats])?
        .collect()
        .await?;
    Ok(first_value(&batches))
}

/// The statistics of two tables joined by id.
async fn joined_stats(
    ctx: &SessionContext,
    job: &FitJob<'_>,
    opts: &str,
) -> Result<Option<Vec<u8>>> {
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
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    Ok(first_value(&batches))
}

/// The aggregate's one value, `None` when it saw no pairs.
fn first_value(batches: &[RecordBatch]) -> Option<Vec<u8>> {
    batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| b.column(0).as_binary::<i64>())
        .filter(|a| a.is_valid(0))
        .map(|a| a.value(0).to_vec())
}
