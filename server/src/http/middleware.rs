//! What runs around every route: the key check for its access level, the request
//! counters, and the answers for unknown routes and methods.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::auth::Role;
use crate::state::AppState;

pub async fn require_read(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    authorized(&s, req, next, Role::Read).await
}

pub async fn require_admin(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    authorized(&s, req, next, Role::Admin).await
}

async fn authorized(s: &AppState, req: Request, next: Next, role: Role) -> Response {
    match s.keys.load().authorize(req.headers(), role) {
        Ok(()) => next.run(req).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// Counts every request by route and status, and times it.
pub async fn track(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |m| m.as_str())
        .to_owned();
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    s.metrics.record_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; GET /openapi.json lists them".into())
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("this route does not take that method".into())
}
