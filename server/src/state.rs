//! What the server holds while it runs: the shim store, the keys, the metrics, the limits
//! and the memory budget, and the reload that refreshes the store and the keys together
//! (`POST /v1/reload` and SIGHUP).

use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::auth::ApiKeys;
use crate::budget::MemoryBudget;
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::migration::MigrationSource;
use crate::store::{LoadFailure, ReloadReport, ShimStore, StoreError};

/// What every request shares.
#[derive(Debug)]
pub struct AppState {
    pub store: ShimStore,
    pub keys: ArcSwap<ApiKeys>,
    pub metrics: Metrics,
    pub limits: Limits,
    /// Memory the large requests may hold at once.
    pub budget: MemoryBudget,
    /// The migration the dashboard shows, if the server was started with one.
    pub migration: Option<Arc<dyn MigrationSource>>,
}

/// What a reload did: the store's report (with the key file's failure, if any) and
/// whether the keys were read again.
#[derive(Debug, Clone)]
pub struct Reloaded {
    pub report: ReloadReport,
    pub keys_reloaded: bool,
}

impl AppState {
    pub fn new(store: ShimStore, keys: ApiKeys, limits: Limits) -> Arc<Self> {
        Self::with_migration(store, keys, limits, None)
    }

    /// A state whose `/dashboard` and `/v1/migration` show `migration`.
    pub fn with_migration(
        store: ShimStore,
        keys: ApiKeys,
        limits: Limits,
        migration: Option<Arc<dyn MigrationSource>>,
    ) -> Arc<Self> {
        let state = Arc::new(AppState {
            store,
            keys: ArcSwap::from_pointee(keys),
            metrics: Metrics::new(),
            budget: MemoryBudget::new(limits.max_inflight_bytes),
            limits,
            migration,
        });
        state.publish_gauges();
        state
    }

    /// Sets the gauges that describe the store.
    pub fn publish_gauges(&self) {
        let snap = self.store.snapshot();
        self.metrics
            .set_state(snap.shims.len(), snap.aliases.len(), snap.generation);
    }

    /// Rescans the shim directory and reads the key file again. A key file that fails to
    /// load leaves no key valid (fail closed): one of the old keys may be the one the new
    /// file revokes.
    pub fn reload(&self) -> Result<Reloaded, StoreError> {
        let mut report = self.store.reload()?;
        log_report(&report);
        let mut keys_reloaded = false;
        let source = self.keys.load().source().map(|p| p.to_path_buf());
        if let Some(path) = source {
            match ApiKeys::from_file(&path) {
                Ok(keys) => {
                    if self.keys.load().failure().is_some() {
                        tracing::info!("API key file {} loads again", path.display());
                    }
                    self.keys.store(Arc::new(keys));
                    self.metrics.set_key_file_loaded(true);
                    keys_reloaded = true;
                }
                Err(e) => {
                    tracing::error!("{e}: every keyed route is refused until it loads");
                    self.keys.store(Arc::new(ApiKeys::failed(&path, &e)));
                    self.metrics.set_key_file_loaded(false);
                    report.failed.push(LoadFailure {
                        file: path.display().to_string(),
                        error: e.message,
                    });
                }
            }
        }
        self.metrics.record_reload_failures(report.failed.len());
        self.publish_gauges();
        Ok(Reloaded {
            report,
            keys_reloaded,
        })
    }
}

/// Logs what a load or reload did: failures as warnings, the rest as info.
pub fn log_report(report: &ReloadReport) {
    for f in &report.failed {
        tracing::warn!("{}: {}", f.file, f.error);
    }
    tracing::info!(
        "generation {}: {} new, {} reloaded, {} unchanged, {} removed, {} kept, {} failed",
        report.generation,
        report.loaded.len(),
        report.reloaded.len(),
        report.unchanged.len(),
        report.removed.len(),
        report.kept.len(),
        report.failed.len()
    );
}
