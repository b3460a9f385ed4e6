//! The shimkit projection service: `shimkit serve`.
//!
//! A service that embeds queries with a new model calls this server to map them into an
//! old index's space (or a batch of old vectors into the new space) through a shim fitted
//! by `shimkit fit`. Every `.safetensors` shim in one directory is served under its file
//! stem; `aliases.json` in the same directory names aliases (`"prod": "bridge-v2"`) that
//! switch atomically and roll back.
//!
//! - [`store`]: the served shims and aliases as one immutable snapshot, swapped whole, so
//!   a request never sees half a change (no HTTP in it: it has its own errors);
//! - [`state`]: what the server holds while it runs, and the reload of store and keys;
//! - [`http`]: the edge: the router (one file a route), bodies, encodings (JSON, raw f32,
//!   Arrow IPC), errors as statuses, and the OpenAPI document;
//! - [`auth`]: API keys with read and admin roles;
//! - [`metrics`]: Prometheus counters and latency histograms;
//! - [`config`]: flags, environment and TOML merged;
//! - [`listen`]: accepting connections, with a connection limit and header timeouts;
//! - [`budget`] and [`heap`]: how much memory requests may hold, and glibc's heap;
//! - [`shutdown`]: graceful shutdown and reload on SIGHUP;
//! - [`migration`]: the migration the dashboard shows (`/dashboard`, `/v1/migration`),
//!   read through a source the program supplies.
//!
//! It does not fit shims or evaluate them: it only loads and applies them.
//!
//! ```no_run
//! # async fn run() -> Result<(), shimkit_server::ServeError> {
//! use shimkit_server::config::PartialConfig;
//! let config = PartialConfig { shims: Some("shims".into()), ..Default::default() }.resolve()?;
//! shimkit_server::serve(config, |addr| eprintln!("listening on http://{addr}")).await
//! # }
//! ```

pub mod auth;
pub mod budget;
pub mod config;
pub mod heap;
pub mod http;
pub mod listen;
pub mod metrics;
pub mod migration;
pub mod shutdown;
pub mod state;
pub mod store;

use std::net::SocketAddr;

pub use config::ServeConfig;
pub use http::{ApiError, router};
pub use state::AppState;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Store(#[from] store::StoreError),
    #[error(transparent)]
    Keys(#[from] auth::KeyFileError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the shims and keys, binds, calls `on_listening` with the bound address (the port
/// is known even for `:0`), and serves until SIGINT or SIGTERM.
pub async fn serve(
    config: ServeConfig,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    serve_with(config, None, on_listening).await
}

/// [`serve`], with a migration for `/dashboard` and `/v1/migration` to show.
pub async fn serve_with(
    config: ServeConfig,
    migration: Option<std::sync::Arc<dyn migration::MigrationSource>>,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    let (store, report) = store::ShimStore::open(&config.shims)?;
    state::log_report(&report);
    let keys = match &config.api_key_file {
        Some(path) => auth::ApiKeys::from_file(path)?,
        None => auth::ApiKeys::open(),
    };
    if !keys.enabled() && !config.addr.ip().is_loopback() {
        tracing::warn!(
            "listening on {} without API keys: anyone who can reach it can switch aliases",
            config.addr
        );
    }
    let state = AppState::with_migration(store, keys, config.limits, migration);
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr,
            source,
        })?;
    let local = listener.local_addr()?;
    shutdown::reload_on_hangup(state.clone());
    on_listening(local);
    let counter = state.clone();
    listen::serve(
        listener,
        router(state),
        config.connections,
        move || counter.metrics.record_connection_refused(),
        shutdown::signal(),
    )
    .await?;
    Ok(())
}
