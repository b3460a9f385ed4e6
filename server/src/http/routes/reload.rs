//! Reloading the shim directory and the key file (admin key; SIGHUP does the same).

use std::sync::Arc;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::{Access, Route, blocking};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::types::ReloadResponse;
use crate::state::AppState;

pub const ROUTE: Route = Route {
    access: Access::Admin,
    router: || Router::new().route("/v1/reload", post(reload)),
    doc: Doc::openapi,
};

#[derive(OpenApi)]
#[openapi(paths(reload))]
struct Doc;

/// Rescans the shim directory and re-reads the API key file.
#[utoipa::path(post, path = "/v1/reload", tag = "aliases",
    responses((status = 200, body = ReloadResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn reload(State(s): State<Arc<AppState>>) -> Result<Json<ReloadResponse>, ApiError> {
    let state = s.clone();
    let reloaded = blocking(move || Ok(state.reload()?)).await?;
    Ok(Json(ReloadResponse::from(&reloaded)))
}
