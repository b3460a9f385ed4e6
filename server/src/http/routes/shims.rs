//! The served shims and their metadata (read key).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::{Access, Route};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::types::{AliasInfo, ShimInfo, ShimList};
use crate::state::AppState;

pub const ROUTE: Route = Route {
    access: Access::Read,
    router: || {
        Router::new()
            .route("/v1/shims", get(list_shims))
            .route("/v1/shims/{name}", get(get_shim))
    },
    doc: Doc::openapi,
};

#[derive(OpenApi)]
#[openapi(paths(list_shims, get_shim))]
struct Doc;

/// Every shim with its metadata, and every alias.
#[utoipa::path(get, path = "/v1/shims", tag = "shims",
    responses((status = 200, body = ShimList), (status = 401, body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_shims(State(s): State<Arc<AppState>>) -> Json<ShimList> {
    let snap = s.store.snapshot();
    Json(ShimList {
        shims: snap
            .shims
            .values()
            .map(|l| ShimInfo::new(l, &snap))
            .collect(),
        aliases: AliasInfo::all(&snap),
        generation: snap.generation,
    })
}

/// One shim (by name or alias) with its metadata.
#[utoipa::path(get, path = "/v1/shims/{name}", tag = "shims",
    params(("name" = String, Path, description = "A shim's name or an alias")),
    responses((status = 200, body = ShimInfo), (status = 404, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn get_shim(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<ShimInfo>, ApiError> {
    let snap = s.store.snapshot();
    let resolved = snap.resolve(&name)?;
    Ok(Json(ShimInfo::new(&resolved.shim, &snap)))
}
