//! Signals: SIGINT or SIGTERM start a graceful shutdown (in-flight requests finish, new
//! connections are refused); SIGHUP reloads the shim directory and the key file.

use std::sync::Arc;

use crate::state::AppState;

/// Resolves on the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

/// Reloads on every SIGHUP, for as long as the server runs.
pub fn reload_on_hangup(state: Arc<AppState>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot listen for SIGHUP: {e}");
                return;
            }
        };
        while hup.recv().await.is_some() {
            let state = state.clone();
            match tokio::task::spawn_blocking(move || state.reload()).await {
                Ok(Ok(r)) => tracing::info!(
                    "SIGHUP reload: generation {}, {} failed",
                    r.report.generation,
                    r.report.failed.len()
                ),
                Ok(Err(e)) => tracing::error!("SIGHUP reload failed: {e}"),
                Err(e) => tracing::error!("SIGHUP reload task failed: {e}"),
            }
        }
    });
    #[cfg(not(unix))]
    let _ = state;
}
