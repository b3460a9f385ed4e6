//! The OpenAPI document, generated from the handlers' and types' annotations.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::server;
use super::types::*;
use crate::error::{ErrorBody, ErrorDetail};
use crate::store::{AliasChange, LoadFailure, ReloadReport};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "shimkit",
        description = "Compatibility shims between embedding spaces, served over HTTP: map \
            new-model query vectors into an old index's space (or old vectors into the new \
            space) with versions, aliases, hot swap and rollback."
    ),
    paths(
        server::healthz,
        server::readyz,
        server::metrics,
        server::openapi,
        server::list_shims,
        server::get_shim,
        server::project,
        server::list_aliases,
        server::set_alias,
        server::rollback,
        server::reload,
    ),
    components(schemas(
        ProjectRequest,
        ProjectResponse,
        BinaryBody,
        ShimInfo,
        CandidateInfo,
        ShimList,
        AliasInfo,
        SetAliasRequest,
                AliasChange,
        ReloadResponse,
        ReloadReport,
        LoadFailure,
        Health,
        Ready,
        ErrorBody,
        ErrorDetail,
    )),
    modifiers(&ApiKeyAuth),
    tags(
        (name = "shims", description = "Shims and projection"),
        (name = "aliases", description = "Aliases, swaps, rollbacks and reloads (admin key)"),
        (name = "health", description = "Liveness, readiness, metrics, this document"),
    )
)]
pub struct ApiDoc;

/// The `api_key` scheme the `/v1` routes name: `Authorization: Bearer KEY` (`X-API-Key`
/// works too).
struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// The document as JSON text.
pub fn document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
