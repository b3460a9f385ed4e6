//! Aliases: listed with a read key, switched and rolled back with an admin key.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use utoipa::OpenApi;

use super::{Access, Route, blocking};
use crate::http::body::RequestBody;
use crate::http::encoding::Encoding;
use crate::http::error::{ApiError, ErrorBody};
use crate::http::types::{AliasChangeInfo, AliasInfo, SetAliasRequest};
use crate::state::AppState;

pub const READ: Route = Route {
    access: Access::Read,
    router: || Router::new().route("/v1/aliases", get(list_aliases)),
    doc: ReadDoc::openapi,
};

pub const ADMIN: Route = Route {
    access: Access::Admin,
    router: || {
        Router::new()
            .route("/v1/aliases/{alias}", put(set_alias))
            .route("/v1/aliases/{alias}/rollback", post(rollback))
    },
    doc: AdminDoc::openapi,
};

#[derive(OpenApi)]
#[openapi(paths(list_aliases))]
struct ReadDoc;

#[derive(OpenApi)]
#[openapi(paths(set_alias, rollback))]
struct AdminDoc;

/// Every alias, its target and its rollback target.
#[utoipa::path(get, path = "/v1/aliases", tag = "aliases",
    responses((status = 200, body = Vec<AliasInfo>), (status = 401, body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_aliases(State(s): State<Arc<AppState>>) -> Json<Vec<AliasInfo>> {
    Json(AliasInfo::all(&s.store.snapshot()))
}

/// Points an alias at a shim; the old target is kept for a rollback.
#[utoipa::path(put, path = "/v1/aliases/{alias}", tag = "aliases",
    params(("alias" = String, Path)),
    request_body = SetAliasRequest,
    responses((status = 200, body = AliasChangeInfo),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Not an admin key", body = ErrorBody),
        (status = 404, description = "No such shim", body = ErrorBody),
        (status = 408, description = "The body did not arrive within the body timeout", body = ErrorBody),
        (status = 409, description = "The alias would shadow a shim", body = ErrorBody),
        (status = 413, description = "Body over the limit", body = ErrorBody),
        (status = 415, description = "Not application/json", body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn set_alias(
    State(s): State<Arc<AppState>>,
    Path(alias): Path<String>,
    headers: HeaderMap,
    body: Result<RequestBody, ApiError>,
) -> Result<Json<AliasChangeInfo>, ApiError> {
    if Encoding::from_headers(&headers)? != Encoding::Json {
        return Err(ApiError::UnsupportedMediaType(
            "alias switches take application/json".into(),
        ));
    }
    let RequestBody(body) = body?;
    let req: SetAliasRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))?;
    let state = s.clone();
    let change = blocking(move || Ok(state.store.set_alias(&alias, &req.target)?)).await?;
    s.publish_gauges();
    tracing::info!(
        "alias {} -> {} (was {:?})",
        change.alias,
        change.target,
        change.previous
    );
    Ok(Json(change.into()))
}

/// Points an alias back at its previous target.
#[utoipa::path(post, path = "/v1/aliases/{alias}/rollback", tag = "aliases",
    params(("alias" = String, Path)),
    responses((status = 200, body = AliasChangeInfo),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such alias", body = ErrorBody),
        (status = 409, description = "Nothing to roll back to", body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn rollback(
    State(s): State<Arc<AppState>>,
    Path(alias): Path<String>,
) -> Result<Json<AliasChangeInfo>, ApiError> {
    let state = s.clone();
    let change = blocking(move || Ok(state.store.rollback(&alias)?)).await?;
    s.publish_gauges();
    tracing::info!("alias {} rolled back to {}", change.alias, change.target);
    Ok(Json(change.into()))
}
