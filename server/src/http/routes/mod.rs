//! Every route of the service, one file each, and the table that registers them.
//!
//! A route file says which paths it serves ([`Route::router`]), who may call them
//! ([`Access`]), and how they are described ([`Route::doc`], from its handlers'
//! `#[utoipa::path]`). Adding a route is its file and one line in [`ROUTES`].

use std::sync::Arc;

use axum::Router;

use super::error::ApiError;
use crate::state::AppState;

mod aliases;
mod health;
mod migration;
mod project;
mod reload;
mod shims;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (health, metrics, the document).
    Open,
    /// A read or admin key, when the server has keys.
    Read,
    /// An admin key, when the server has keys.
    Admin,
}

/// One route file's paths, access level and OpenAPI description.
pub struct Route {
    pub access: Access,
    pub router: fn() -> Router<Arc<AppState>>,
    pub doc: fn() -> utoipa::openapi::OpenApi,
}

/// Every route the server serves.
pub const ROUTES: &[Route] = &[
    health::ROUTE,
    shims::ROUTE,
    project::ROUTE,
    aliases::READ,
    aliases::ADMIN,
    reload::ROUTE,
    migration::PAGE_ROUTE,
    migration::DATA_ROUTE,
];

/// File I/O and big projections, off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("task failed: {e}")))?
}
