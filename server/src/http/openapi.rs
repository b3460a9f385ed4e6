//! The OpenAPI document, generated from the handlers' and types' annotations, and made
//! true of the running server when it is served.

use serde_json::{Value, json};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::encoding::{DIM_HEADER, ROWS_HEADER};
use super::error::{ErrorBody, ErrorDetail};
use super::routes::Route;
use super::types::*;
use crate::state::AppState;

/// The parts of the document no route owns: the title, the tags, the shared schemas and
/// the key scheme. Each route file adds its own paths ([`full`]).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "shimkit",
        description = "Compatibility shims between embedding spaces, served over HTTP: map \
            new-model query vectors into an old index's space (or old vectors into the new \
            space) with versions, aliases, hot swap and rollback."
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
        AliasChangeInfo,
        ReloadResponse,
        LoadFailureInfo,
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

/// The static document, built once by the router from its routes and handed to the
/// handler that serves it (so that this file needs no route table, and no route this file).
#[derive(Debug, Clone)]
pub struct StaticDocument(pub std::sync::Arc<Value>);

/// The whole static document: [`ApiDoc`] with the paths of `routes`, as JSON.
pub fn full(routes: &[Route]) -> Value {
    let mut doc = ApiDoc::openapi();
    for route in routes {
        doc.merge((route.doc)());
    }
    serde_json::to_value(doc).unwrap_or(Value::Null)
}

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

/// The document this server serves, as JSON text: the static document `full` made true
/// of the running server (see [`for_server`]).
pub fn document(full: &Value, state: &AppState) -> String {
    let doc = for_server(full.clone(), state);
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// [`full`], with what only the running server knows:
///
/// - security is declared where the server asks for a key: on every `/v1` route when it
///   has a key file, on none when it has not (a document that demands a key the server
///   does not check misleads clients and testers alike);
/// - the projection is described once per served name (`/v1/shims/bridge/project`), with
///   that shim's input dimension, batch limit and value range in the body's schema, since
///   a schema cannot tie a body to a path parameter's value. A vector must also not be all
///   zeros when the shim normalises its inputs (it has no direction).
pub fn for_server(mut doc: Value, state: &AppState) -> Value {
    if !state.keys.load().enabled() {
        if let Some(paths) = doc["paths"].as_object_mut() {
            for op in paths.values_mut().filter_map(Value::as_object_mut) {
                for operation in op.values_mut().filter_map(Value::as_object_mut) {
                    operation.remove("security");
                    if let Some(responses) = operation
                        .get_mut("responses")
                        .and_then(Value::as_object_mut)
                    {
                        for code in ["401", "403"] {
                            responses.remove(code);
                        }
                    }
                }
            }
        }
        if let Some(components) = doc["components"].as_object_mut() {
            components.remove("securitySchemes");
        }
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return doc;
    };
    // Names are checked against this pattern before they are looked up.
    for item in paths.values_mut() {
        for op in item
            .as_object_mut()
            .into_iter()
            .flat_map(|o| o.values_mut())
        {
            let params = op.get_mut("parameters").and_then(Value::as_array_mut);
            for param in params.into_iter().flatten() {
                if param["in"] == "path" {
                    param["schema"]["pattern"] = json!(NAME_PATTERN);
                }
            }
        }
    }
    if let Some(target) = doc.pointer_mut("/components/schemas/SetAliasRequest/properties/target") {
        target["pattern"] = json!(NAME_PATTERN);
    }
    let Some(paths) = doc["paths"].as_object_mut() else {
        return doc;
    };
    let Some(mut template) = paths.remove(PROJECT) else {
        return doc;
    };
    let snapshot = state.store.snapshot();
    let names = snapshot.shims.keys().chain(snapshot.aliases.keys());
    for name in names {
        let Ok(resolved) = snapshot.resolve(name) else {
            continue;
        };
        let shim = &resolved.shim.shim;
        let mut item = template.clone();
        describe_json_projection(
            &mut item["post"],
            shim.source_dim(),
            state.limits.max_batch,
            shim.meta.normalize_input,
        );
        item["post"]["operationId"] = json!(format!("project_{name}"));
        paths.insert(format!("/v1/shims/{name}/project"), item);
    }
    // The binary encodings, for any name: their length rule (rows × dim × 4 bytes, or an
    // Arrow stream) is beyond a schema, so they keep the generic path.
    describe_binary_projection(&mut template["post"], state.limits.max_batch);
    paths.insert(PROJECT.to_owned(), template);
    doc
}

const PROJECT: &str = "/v1/shims/{name}/project";

/// What `store::check_name` accepts.
const NAME_PATTERN: &str = "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$";

/// The largest finite f32: a larger JSON number would read as infinity.
const F32_MAX: f64 = f32::MAX as f64;
/// The smallest positive f32 (a subnormal): a smaller magnitude would read as zero.
const F32_MIN_POSITIVE: f64 = 1.401_298_464_324_817e-45;

fn describe_binary_projection(op: &mut Value, max_batch: usize) {
    if let Some(content) = op["requestBody"]["content"].as_object_mut() {
        content.remove("application/json");
    }
    if let Some(content) = op["responses"]["200"]["content"].as_object_mut() {
        content.remove("application/json");
    }
    op["operationId"] = json!("project_binary");
    if let Some(params) = op["parameters"].as_array_mut() {
        params.push(json!({
            "name": ROWS_HEADER, "in": "header", "required": false,
            "description": "application/octet-stream bodies (required there): the number of vectors",
            "schema": {"type": "integer", "minimum": 1, "maximum": max_batch}
        }));
        params.push(json!({
            "name": DIM_HEADER, "in": "header", "required": false,
            "description": "application/octet-stream bodies (required there): the input dimension; the body is rows × dim little-endian f32",
            "schema": {"type": "integer", "minimum": 1}
        }));
    }
}

fn describe_json_projection(op: &mut Value, dim: usize, max_batch: usize, normalize: bool) {
    if let Some(params) = op["parameters"].as_array_mut() {
        // The column parameter is for Arrow bodies, which go to the generic path.
        params.retain(|p| p["in"] != "path" && p["name"] != "column");
    }
    for part in ["requestBody", "responses/200"] {
        if let Some(content) = op
            .pointer_mut(&format!("/{part}/content"))
            .and_then(Value::as_object_mut)
        {
            content.retain(|media, _| media == "application/json");
        }
    }
    // What `types::fits_f32` accepts: 0, or a magnitude float32 holds without becoming
    // infinite or zero.
    let value = json!({"anyOf": [
        {"type": "number", "format": "float", "const": 0},
        {"type": "number", "format": "float", "minimum": F32_MIN_POSITIVE, "maximum": F32_MAX},
        {"type": "number", "format": "float", "minimum": -F32_MAX, "maximum": -F32_MIN_POSITIVE}
    ]});
    let mut vector = json!({
        "type": "array", "minItems": dim, "maxItems": dim, "items": value
    });
    if normalize {
        vector["not"] = json!({"items": {"const": 0}});
    }
    op["requestBody"]["content"]["application/json"]["schema"] = json!({
        "type": "object",
        "required": ["vectors"],
        "additionalProperties": false,
        "properties": {
            "vectors": {
                "type": "array", "minItems": 1, "maxItems": max_batch, "items": vector,
                "description": format!("Vectors of {dim} values")
            },
            "normalize": {"type": ["boolean", "null"]}
        }
    });
}
