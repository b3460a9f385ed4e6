//! Liveness, readiness, metrics and the OpenAPI document: open to every caller.

use std::sync::Arc;

use axum::Extension;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::{Access, Route};
use crate::http::openapi::{self, StaticDocument};
use crate::http::types::{Health, LoadFailureInfo, Ready};
use crate::state::AppState;

pub const ROUTE: Route = Route {
    access: Access::Open,
    router: || {
        Router::new()
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .route("/metrics", get(metrics))
            .route("/openapi.json", get(openapi))
    },
    doc: Doc::openapi,
};

#[derive(OpenApi)]
#[openapi(paths(healthz, readyz, metrics, openapi))]
struct Doc;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: at least one shim is loaded (or a migration is shown), and the key file (if
/// any) loaded. Which files failed, and why, is shown to callers with a valid key (or to
/// everyone when the server has no keys); others see only how many failed.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Ready), (status = 503, body = Ready)))]
pub async fn readyz(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let snap = s.store.snapshot();
    let keys = s.keys.load();
    let status = if keys.failure().is_some() {
        "the API key file failed to load"
    } else if snap.shims.is_empty() && s.migration.is_none() {
        "no shims loaded"
    } else {
        "ready"
    };
    let ready = status == "ready";
    let details = !keys.enabled() || keys.is_keyed(&headers);
    let body = Ready {
        status: status.into(),
        shims: snap.shims.len(),
        aliases: snap.aliases.len(),
        generation: snap.generation,
        failures: snap.failures.len(),
        failed: if details {
            snap.failures.iter().map(LoadFailureInfo::from).collect()
        } else {
            Vec::new()
        },
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// Prometheus metrics (OpenMetrics text).
#[utoipa::path(get, path = "/metrics", tag = "health",
    responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
pub async fn metrics(State(s): State<Arc<AppState>>) -> Response {
    s.metrics.set_inflight_bytes(s.budget.held_bytes());
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        s.metrics.render(),
    )
        .into_response()
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub async fn openapi(
    State(s): State<Arc<AppState>>,
    Extension(document): Extension<StaticDocument>,
) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        openapi::document(&document.0, &s),
    )
        .into_response()
}
