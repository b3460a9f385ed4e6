//! `--engine`: which query engine a job runs on, and the session it gets there.

use anyhow::{Context, bail};
use datafusion::prelude::SessionContext;
use shimkit_engine::ShimSet;

use crate::cli::EngineArgs;

pub enum Engine {
    /// DataFusion in this process.
    Local { partitions: Option<usize> },
    /// A Ballista cluster's scheduler, `df://HOST:PORT`.
    Cluster {
        url: String,
        partitions: Option<usize>,
    },
}

impl Engine {
    /// The engine `--engine` names, or `None` for shimkit's own streamed path.
    pub fn from_args(args: &EngineArgs) -> anyhow::Result<Option<Engine>> {
        if args.partitions == Some(0) {
            bail!("--partitions 0: at least one partition");
        }
        match args.engine.as_deref() {
            None => {
                if args.partitions.is_some() {
                    bail!("--partitions goes with --engine");
                }
                Ok(None)
            }
            Some("local") => Ok(Some(Engine::Local {
                partitions: args.partitions,
            })),
            Some(url) if url.starts_with("df://") => {
                shimkit_cluster::scheduler_address(url)?;
                Ok(Some(Engine::Cluster {
                    url: url.to_owned(),
                    partitions: args.partitions,
                }))
            }
            Some(other) => bail!(
                "--engine {other:?}: the engines are `local` (DataFusion in this process) and df://HOST:PORT (a Ballista cluster)"
            ),
        }
    }

    /// A session with shimkit's functions registered, knowing `shims`.
    pub async fn context(&self, shims: &ShimSet) -> anyhow::Result<SessionContext> {
        match self {
            Engine::Local { partitions } => Ok(shimkit_engine::local_context(*partitions, shims)?),
            Engine::Cluster { url, partitions } => {
                Ok(shimkit_cluster::remote_context(url, *partitions, shims).await?)
            }
        }
    }

    pub fn describe(&self, ctx: &SessionContext) -> String {
        let partitions = ctx.copied_config().target_partitions();
        match self {
            Engine::Local { .. } => {
                format!("DataFusion in this process, {partitions} partitions")
            }
            Engine::Cluster { url, .. } => {
                format!("the Ballista cluster at {url}, {partitions} partitions")
            }
        }
    }
}

/// The runtime an engine's futures run on. Every batch through the engine allocates and
/// frees buffers of several MiB; glibc's heap keeps freed ones for the next batch instead
/// of returning them to the kernel and faulting fresh pages in again (as `serve` does).
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    shimkit_server::heap::keep_freed();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the engine's runtime")
}
