//! The migration a server shows on `/dashboard` and `/v1/migration`, when it was started
//! with one (`shimkit serve --migration SPEC`).
//!
//! The server knows nothing of stores or specs: the program hands it a
//! [`MigrationSource`], asked afresh on every request, so the dashboard shows each cycle
//! as soon as `migrate run` has recorded it.

/// Where the migration's status comes from.
pub trait MigrationSource: Send + Sync + std::fmt::Debug {
    /// The migration's status: the document `shimkit migrate status --json` prints.
    /// Called off the async workers; it may block on the store.
    fn status(&self) -> Result<serde_json::Value, MigrationUnavailable>;
}

/// The status could not be read (the store is down, the history unreadable).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct MigrationUnavailable(pub String);
