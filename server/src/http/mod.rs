//! The HTTP edge of the service: the router, one file a route ([`routes`]), the middleware
//! that checks keys and counts requests, request and answer bodies ([`body`], [`types`]),
//! the three encodings of a projection ([`encoding`], with [`fast_json`] for the common
//! JSON body), the errors as statuses ([`error`]) and the OpenAPI document ([`openapi`]).
//! Nothing below this module speaks HTTP.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::{Extension, Router};

pub mod body;
pub mod encoding;
pub mod error;
pub mod fast_json;
mod middleware;
pub mod openapi;
pub mod routes;
pub mod types;

pub use error::ApiError;

use crate::state::AppState;
use routes::{Access, ROUTES};

/// Every route of the service, each behind the key check its access level asks for.
pub fn router(state: Arc<AppState>) -> Router {
    let mut router = Router::new();
    for route in ROUTES {
        let paths = (route.router)();
        let paths = match route.access {
            Access::Open => paths,
            Access::Read => {
                paths.route_layer(from_fn_with_state(state.clone(), middleware::require_read))
            }
            Access::Admin => {
                paths.route_layer(from_fn_with_state(state.clone(), middleware::require_admin))
            }
        };
        router = router.merge(paths);
    }
    let document = openapi::StaticDocument(Arc::new(openapi::full(ROUTES)));
    router
        .fallback(middleware::not_found)
        .method_not_allowed_fallback(middleware::method_not_allowed)
        // Chunked bodies have no length to refuse up front: this counts their bytes.
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(from_fn_with_state(state.clone(), middleware::track))
        .layer(Extension(document))
        .with_state(state)
}
