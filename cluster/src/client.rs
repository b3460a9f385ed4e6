//! A client session whose queries run on a Ballista cluster.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::{SessionConfigExt, SessionContextExt};
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use shimkit_engine::{BATCH_ROWS, ShimSet};

use crate::codec::{ShimLogicalCodec, ShimPhysicalCodec};
use crate::error::{ClusterError, Result};

/// `HOST:PORT` of `df://HOST:PORT`.
pub fn scheduler_address(url: &str) -> Result<&str> {
    url.strip_prefix("df://")
        .filter(|rest| {
            rest.rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        })
        .ok_or_else(|| ClusterError::Invalid {
            what: "engine",
            message: format!("{url:?}: a cluster is named df://HOST:PORT"),
        })
}

/// Fails early, with the address, when nothing answers there: Ballista would otherwise
/// report a transport error only once the query runs.
pub fn check_reachable(addr: &str, timeout: Duration) -> Result<()> {
    let unreachable = |message: String| ClusterError::Unreachable {
        addr: addr.to_owned(),
        message,
    };
    let resolved: Vec<_> = addr
        .to_socket_addrs()
        .map_err(|e| unreachable(e.to_string()))?
        .collect();
    let mut last = String::from("the name resolves to no address");
    for a in resolved {
        match std::net::TcpStream::connect_timeout(&a, timeout) {
            Ok(_) => return Ok(()),
            Err(e) => last = e.to_string(),
        }
    }
    Err(unreachable(last))
}

/// A session on the cluster at `url` (`df://HOST:PORT`), with shimkit's functions, knowing
/// `shims`, planning `partitions` partitions (DataFusion's default when `None`).
pub async fn remote_context(
    url: &str,
    partitions: Option<usize>,
    shims: &ShimSet,
) -> Result<SessionContext> {
    let addr = scheduler_address(url)?;
    let shim_bytes: usize = shims.iter().map(|s| s.bytes.len()).sum();
    if shim_bytes > crate::MAX_SHIM_BYTES {
        return Err(ClusterError::Invalid {
            what: "shims",
            message: format!(
                "{} MiB of shims: a plan sent to the cluster carries its shims and holds at most {} MiB of them",
                shim_bytes >> 20,
                crate::MAX_SHIM_BYTES >> 20
            ),
        });
    }
    check_reachable(addr, Duration::from_secs(5))?;
    let mut config = SessionConfig::new_with_ballista();
    config.options_mut().set(
        "ballista.client.grpc_max_message_size",
        &crate::MAX_MESSAGE_BYTES.to_string(),
    )?;
    let mut config = config
        .with_batch_size(BATCH_ROWS)
        .with_ballista_logical_extension_codec(Arc::new(ShimLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(ShimPhysicalCodec::default()));
    if let Some(p) = partitions {
        config = config.with_target_partitions(p.max(1));
    }
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .build();
    let ctx = SessionContext::remote_with_state(url, state).await?;
    // Ballista's upgrade of the session replaces its functions with its own list.
    shimkit_engine::register(&ctx, shims);
    Ok(ctx)
}
