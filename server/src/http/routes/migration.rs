//! The migration's dashboard (`/dashboard`, a page with no data in it, open) and its data
//! (`/v1/migration`, read key): what `shimkit migrate status --json` prints, read afresh
//! on every request.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;

use super::{Access, Route, blocking};
use crate::http::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The page: self-contained (its script and styles inline, plots drawn as SVG), so it
/// works on a closed network. It fetches `/v1/migration` itself, with the key from the
/// URL's fragment (`#key=…`, which browsers never send), and redraws on every refresh.
const PAGE: &str = include_str!("../dashboard/index.html");

/// The page holds no data, so it needs no key; its data does.
pub const PAGE_ROUTE: Route = Route {
    access: Access::Open,
    router: || Router::new().route("/dashboard", get(dashboard)),
    doc: PageDoc::openapi,
};

pub const DATA_ROUTE: Route = Route {
    access: Access::Read,
    router: || Router::new().route("/v1/migration", get(migration)),
    doc: DataDoc::openapi,
};

#[derive(OpenApi)]
#[openapi(paths(dashboard))]
struct PageDoc;

#[derive(OpenApi)]
#[openapi(paths(migration))]
struct DataDoc;

/// The migration's live dashboard: backfill progress, each path's retention over the
/// cycles with its 95% band and the gate, the decision, the cutover state and the cost.
#[utoipa::path(get, path = "/dashboard", tag = "migration",
    responses((status = 200, content_type = "text/html", body = String)))]
pub async fn dashboard() -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            // Nothing from elsewhere: inline script and styles, and fetches to this server.
            (
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
                ),
            ),
        ],
        PAGE,
    )
        .into_response()
}

/// The migration's history and state: the document of `shimkit migrate status --json`
/// (`migration`, `plan`, `cycles`, `events`, `cut_over`, `cost`).
#[utoipa::path(get, path = "/v1/migration", tag = "migration",
    responses((status = 200, description = "The migration's status", body = Object),
        (status = 401, body = ErrorBody),
        (status = 404, description = "The server was started without --migration", body = ErrorBody),
        (status = 503, description = "The migration's store could not be read", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn migration(State(s): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let Some(source) = s.migration.clone() else {
        return Err(ApiError::NotFound(
            "this server shows no migration: start it with `shimkit serve --migration SPEC`".into(),
        ));
    };
    let status = blocking(move || {
        source
            .status()
            .map_err(|e| ApiError::Unavailable(format!("the migration's status: {e}")))
    })
    .await?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        status.to_string(),
    )
        .into_response())
}
