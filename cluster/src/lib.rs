//! shimkit on an Apache Ballista cluster: DataFusion distributed over a scheduler and
//! executors, with shimkit's functions on every one of them.
//!
//! This crate owns:
//! - **the codecs** ([`codec`]) that carry shimkit's parts of a plan between client,
//!   scheduler and executors: `shim_project` with its shims by content (checked by
//!   their version hash on arrival, [`wire`]), `shim_fit_stats`, and the write of one
//!   Parquet file per task;
//! - **the scheduler** ([`run_scheduler`]) and **the executor** ([`run_executor`]), started
//!   through Ballista's own libraries with those codecs and functions;
//! - **the client session** ([`remote_context`]) that `--engine df://HOST:PORT` runs jobs in.
//!
//! The functions and jobs themselves are `shimkit-engine`'s: the same code runs in one
//! process and on a cluster.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use shimkit_cluster::remote_context;
//! use shimkit_engine::ShimSet;
//!
//! let shims = ShimSet::new().with_file("bridge", "bridge.safetensors".as_ref(), true)?;
//! let ctx = remote_context("df://127.0.0.1:50050", None, &shims).await?;
//! ctx.sql("SELECT count(*) FROM information_schema.tables").await?.show().await?;
//! # Ok(()) }
//! ```

mod client;
pub mod codec;
mod error;
mod executor;
mod scheduler;
pub mod wire;

use std::sync::Arc;

use datafusion::execution::{FunctionRegistry, SessionState};
use datafusion::logical_expr::{AggregateUDF, ScalarUDF};
use shimkit_engine::{ShimFitStats, ShimProject, ShimSet};

pub use client::{check_reachable, remote_context, scheduler_address};
pub use codec::{ShimLogicalCodec, ShimPhysicalCodec};
pub use error::{ClusterError, Result};
pub use executor::{ExecutorOptions, run_executor};
pub use scheduler::{SchedulerOptions, run_scheduler, session_builder};

/// The largest gRPC message between client, scheduler and executors. Every task's plan
/// carries the shims it uses; Ballista's default of 16 MiB would refuse a 1024 × 4096 shim.
pub const MAX_MESSAGE_BYTES: usize = 256 << 20;

/// The shims one session may send, leaving the rest of a message to the plan.
pub const MAX_SHIM_BYTES: usize = 192 << 20;

/// shimkit's functions in a scheduler's or executor's session. `shim_project` knows no
/// shims there: the ones a plan uses arrive inside it.
fn register_functions(state: &mut SessionState) -> datafusion::common::Result<()> {
    state.register_udf(Arc::new(ScalarUDF::new_from_impl(ShimProject::new(
        ShimSet::new(),
    ))))?;
    state.register_udaf(Arc::new(AggregateUDF::new_from_impl(
        ShimFitStats::default(),
    )))?;
    Ok(())
}
