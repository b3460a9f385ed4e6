//! shimkit's shims as Apache DataFusion functions, so that any DataFusion program (and a
//! Ballista cluster, whose executors are DataFusion) can project and fit at the size of
//! its tables.
//!
//! This crate owns:
//! - **the functions**: `shim_project('NAME', embedding)` ([`ShimProject`]), a shim applied
//!   to whole record batches with shimkit's kernels; `shim_fit_stats(id, old, new)`
//!   ([`ShimFitStats`]), the linear fits' sufficient statistics as an aggregate that
//!   partitions merge, finished by [`finish_fit`] exactly as `shimkit fit` finishes them;
//! - **the named shims** a session knows, carried by content ([`ShimSet`]);
//! - **the jobs** `shimkit` runs through an engine ([`jobs`]): projecting Parquet files into
//!   a directory published whole, and gathering a fit's statistics from two tables joined
//!   by id, or read side by side when they list the same ids in the same order
//!   ([`aligned`]);
//! - **the write** of a query's result as one Parquet file per partition, by the task that
//!   computes it ([`write`]), which is what lets a cluster scale its writes.
//!
//! It does not read or fit on its own (that is `shimkit-data` and `shimkit-trainer`) and
//! starts no cluster (`shimkit-cluster` does).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use datafusion::prelude::SessionContext;
//! use shimkit_engine::{ShimSet, register};
//!
//! let ctx = SessionContext::new();
//! register(&ctx, &ShimSet::new().with_file("bridge", "bridge.safetensors".as_ref(), true)?);
//! let df = ctx.sql("SELECT shim_project('bridge', embedding) FROM corpus").await?;
//! # Ok(()) }
//! ```

pub mod aligned;
mod error;
pub mod fit_stats;
pub mod jobs;
pub mod project;
mod shims;
pub mod tables;
pub mod write;

use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use datafusion::prelude::{SessionConfig, SessionContext};

pub use aligned::{AlignedPairs, AlignedPairsExec, AlignedSpec};
pub use error::{EngineError, Result};
pub use fit_stats::{ShimFitStats, finish_fit};
pub use project::ShimProject;
pub use shims::{NamedShim, ShimSet, version_of};
pub use write::{ShimQueryPlanner, WriteParts, WritePartsExec, WrittenPart, write_parts};

/// Rows per batch of a local session.
pub const BATCH_ROWS: usize = 4096;

/// Registers `shim_project` (knowing `shims`) and `shim_fit_stats` with a session.
pub fn register(ctx: &SessionContext, shims: &ShimSet) {
    ctx.register_udf(ScalarUDF::new_from_impl(ShimProject::new(shims.clone())));
    ctx.register_udaf(AggregateUDF::new_from_impl(ShimFitStats::default()));
}

/// An in-process session of `partitions` parallel partitions (the machine's cores when
/// `None`), with the functions registered. DataFusion's settings can be changed from the
/// environment as its own tools allow (`DATAFUSION_EXECUTION_BATCH_SIZE=16384`, ...).
pub fn local_context(partitions: Option<usize>, shims: &ShimSet) -> Result<SessionContext> {
    let mut config = SessionConfig::from_env()?;
    // Batches of 4,096 rows, as shimkit's own readers: a batch's buffers then stay under
    // glibc's mmap threshold and are reused rather than mapped and faulted in afresh.
    if std::env::var_os("DATAFUSION_EXECUTION_BATCH_SIZE").is_none() {
        config = config.with_batch_size(BATCH_ROWS);
    }
    if let Some(p) = partitions {
        config = config.with_target_partitions(p.max(1));
    }
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_query_planner(std::sync::Arc::new(ShimQueryPlanner))
        .build();
    let ctx = SessionContext::new_with_state(state);
    register(&ctx, shims);
    Ok(ctx)
}
