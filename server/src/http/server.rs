//! The router, its handlers, and the middleware that checks keys and counts requests.

use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use ndarray::Array2;

use super::body::{RequestBody, held};
use super::encoding::{self, ARROW, Batch, Encoding, OCTET};
use super::types::*;
use crate::auth::{ApiKeys, Role};
use crate::budget::{self, MemoryBudget, Reservation};
use crate::config::Limits;
use crate::error::{ApiError, ErrorBody};
use crate::metrics::Metrics;
use crate::store::{AliasChange, LoadFailure, LoadedShim, ReloadReport, ShimStore};

/// Projections cheaper than this many multiply-adds run on the request's own task; bigger
/// ones move to the blocking pool so they never stall the other connections.
const INLINE_WORK: usize = 1 << 22;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    pub store: ShimStore,
    pub keys: ArcSwap<ApiKeys>,
    pub metrics: Metrics,
    pub limits: Limits,
    /// Memory the large requests may hold at once.
    pub budget: MemoryBudget,
}

impl AppState {
    pub fn new(store: ShimStore, keys: ApiKeys, limits: Limits) -> Arc<Self> {
        let state = Arc::new(AppState {
            store,
            keys: ArcSwap::from_pointee(keys),
            metrics: Metrics::new(),
            budget: MemoryBudget::new(limits.max_inflight_bytes),
            limits,
        });
        state.publish_gauges();
        state
    }

    fn publish_gauges(&self) {
        let snap = self.store.snapshot();
        self.metrics
            .set_state(snap.shims.len(), snap.aliases.len(), snap.generation);
    }

    /// Rescans the shim directory and re-reads the key file (`POST /v1/reload`, SIGHUP).
    pub fn reload(&self) -> Result<ReloadResponse, ApiError> {
        let mut report = self
            .store
            .reload()
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        log_report(&report);
        let mut keys_reloaded = false;
        let source = self.keys.load().source().map(|p| p.to_path_buf());
        if let Some(path) = source {
            match ApiKeys::from_file(&path) {
                Ok(keys) => {
                    if self.keys.load().failure().is_some() {
                        tracing::info!("API key file {} loads again", path.display());
                    }
                    self.keys.store(Arc::new(keys));
                    self.metrics.set_key_file_loaded(true);
                    keys_reloaded = true;
                }
                Err(e) => {
                    // Fail closed: the old keys may include one the new file revokes.
                    tracing::error!("{e}: every keyed route is refused until it loads");
                    self.keys.store(Arc::new(ApiKeys::failed(&path, &e)));
                    self.metrics.set_key_file_loaded(false);
                    report.failed.push(LoadFailure {
                        file: path.display().to_string(),
                        error: e.message,
                    });
                }
            }
        }
        self.metrics.record_reload_failures(report.failed.len());
        self.publish_gauges();
        Ok(ReloadResponse {
            report,
            keys_reloaded,
        })
    }
}

/// Logs what a load or reload did: failures as warnings, the rest as info.
pub fn log_report(report: &ReloadReport) {
    for f in &report.failed {
        tracing::warn!("{}: {}", f.file, f.error);
    }
    tracing::info!(
        "generation {}: {} new, {} reloaded, {} unchanged, {} removed, {} kept, {} failed",
        report.generation,
        report.loaded.len(),
        report.reloaded.len(),
        report.unchanged.len(),
        report.removed.len(),
        report.kept.len(),
        report.failed.len()
    );
}

/// Every route of the service.
pub fn router(state: Arc<AppState>) -> Router {
    let read = Router::new()
        .route("/v1/shims", get(list_shims))
        .route("/v1/shims/{name}", get(get_shim))
        .route("/v1/shims/{name}/project", post(project))
        .route("/v1/aliases", get(list_aliases))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_read));
    let admin = Router::new()
        .route("/v1/aliases/{alias}", put(set_alias))
        .route("/v1/aliases/{alias}/rollback", post(rollback))
        .route("/v1/reload", post(reload))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_admin));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .merge(read)
        .merge(admin)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

async fn require_read(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    authorized(&s, req, next, Role::Read).await
}

async fn require_admin(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    authorized(&s, req, next, Role::Admin).await
}

async fn authorized(s: &AppState, req: Request, next: Next, role: Role) -> Response {
    match s.keys.load().authorize(req.headers(), role) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

/// Counts every request by route and status, and times it.
async fn track(State(s): State<Arc<AppState>>, req: Request, next: Next) -> Response {
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

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route; GET /openapi.json lists them".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed("this route does not take that method".into())
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: at least one shim is loaded, and the key file (if any) loaded. Which files
/// failed, and why, is shown to callers with a valid key (or to everyone when the server
/// has no keys); others see only how many failed.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses((status = 200, body = Ready), (status = 503, body = Ready)))]
pub async fn readyz(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let snap = s.store.snapshot();
    let keys = s.keys.load();
    let status = if keys.failure().is_some() {
        "the API key file failed to load"
    } else if snap.shims.is_empty() {
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
            snap.failures.clone()
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
pub async fn openapi(State(s): State<Arc<AppState>>) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        super::openapi::document(&s),
    )
        .into_response()
}

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
        aliases: alias_infos(&snap),
        generation: snap.generation,
    })
}

fn alias_infos(snap: &crate::store::Snapshot) -> Vec<AliasInfo> {
    snap.aliases
        .iter()
        .map(|(name, a)| AliasInfo {
            alias: name.clone(),
            target: a.target.clone(),
            previous: a.previous.clone(),
        })
        .collect()
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

/// Every alias, its target and its rollback target.
#[utoipa::path(get, path = "/v1/aliases", tag = "aliases",
    responses((status = 200, body = Vec<AliasInfo>), (status = 401, body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn list_aliases(State(s): State<Arc<AppState>>) -> Json<Vec<AliasInfo>> {
    Json(alias_infos(&s.store.snapshot()))
}

/// Maps vectors through a shim. The answer comes in the request's encoding: JSON,
/// little-endian f32 rows (`X-Shimkit-Rows`/`X-Shimkit-Dim` headers both ways), or an
/// Arrow IPC stream whose other columns come back unchanged. Every answer names the shim
/// and version that produced it (JSON fields, or `X-Shimkit-Shim`/`X-Shimkit-Version`
/// headers, or Arrow schema metadata).
#[utoipa::path(post, path = "/v1/shims/{name}/project", tag = "shims",
    params(("name" = String, Path, description = "A shim's name or an alias"), ProjectQuery),
    request_body(content(
        (ProjectRequest = "application/json"),
        (BinaryBody = "application/octet-stream"),
        (BinaryBody = "application/vnd.apache.arrow.stream"))),
    responses(
        (status = 200, description = "The projected vectors", content(
            (ProjectResponse = "application/json"),
            (BinaryBody = "application/octet-stream"),
            (BinaryBody = "application/vnd.apache.arrow.stream"))),
        (status = 400, description = "Malformed body, wrong dimension, empty batch, NaN or infinity", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such shim or alias", body = ErrorBody),
        (status = 408, description = "The body did not arrive within the body timeout", body = ErrorBody),
        (status = 413, description = "Body, batch or answer over the limit", body = ErrorBody),
        (status = 415, description = "Content type not read here", body = ErrorBody),
        (status = 503, description = "The API key file failed to load, or the server is at its limit of large batches", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn project(
    State(s): State<Arc<AppState>>,
    Path(name): Path<String>,
    query: Result<Query<ProjectQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Result<RequestBody, ApiError>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    // One resolution: the whole request uses this version even if a swap lands meanwhile.
    let resolved = s.store.resolve(&name)?;
    let encoding = Encoding::from_headers(&headers)?;
    let Query(query) =
        query.map_err(|e| ApiError::BadRequest(format!("query string: {}", e.body_text())))?;
    let RequestBody(body) = body?;
    let (source_dim, target_dim) = (
        resolved.shim.shim.source_dim(),
        resolved.shim.shim.target_dim(),
    );
    // Memory is reserved before decoding, on what this body could at most decode into,
    // and given back once the batch's real size is known.
    let most_rows = body.len() / min_value_bytes(encoding) / source_dim.max(1) + 1;
    let (_, bound) = answer_and_held(encoding, most_rows, source_dim, target_dim, body.len());
    let mut held_memory = s
        .budget
        .reserve(bound.min(s.budget.bytes()), budget::WAIT)
        .await?;
    let (batch, json_normalize, arrow) = match encoding {
        Encoding::Json => {
            let (b, n) = encoding::decode_json(&body)?;
            (b, n, None)
        }
        Encoding::Octet => (encoding::decode_octet(&headers, &body)?, None, None),
        Encoding::Arrow => {
            let (b, req) = encoding::decode_arrow(&body, query.column.as_deref())?;
            (b, None, Some(req))
        }
    };
    drop(body);
    let shim = resolved.shim.clone();
    check_batch(&batch, &shim, s.limits)?;
    let normalize = json_normalize.or(query.normalize).unwrap_or(true);
    let (rows, dim) = (batch.rows, shim.shim.target_dim());
    let other_columns = arrow
        .as_ref()
        .map_or(0, encoding::ArrowRequest::other_columns_bytes);
    let need = check_answer(&s, &batch, dim, encoding, other_columns)?;
    held_memory.shrink_to(need);
    let out = apply(shim.clone(), batch, normalize).await?;
    let response = match (encoding, arrow) {
        (Encoding::Arrow, Some(req)) => {
            let body = encoding::encode_arrow(
                &req,
                dim,
                out,
                &[
                    ("shimkit.shim", &shim.name),
                    ("shimkit.version", &shim.version),
                ],
            )?;
            binary_response(ARROW, body, held_memory, &shim, rows, dim)
        }
        (Encoding::Octet, _) => binary_response(
            OCTET,
            encoding::encode_octet(rows, dim, &out),
            held_memory,
            &shim,
            rows,
            dim,
        ),
        _ => json_answer(
            &ProjectResponse {
                vectors: Rows {
                    rows,
                    dim,
                    data: out,
                },
                shim: shim.name.clone(),
                version: shim.version.clone(),
                alias: resolved.alias,
                dim,
            },
            held_memory,
        )?,
    };
    s.metrics
        .record_projection(&shim.name, rows, started.elapsed().as_secs_f64());
    Ok(response)
}

/// Bytes a JSON answer takes at most per value (`-0.012345678,` and shorter), and what
/// its buffer is sized for up front: `Json` starts at 128 bytes and copies its way up, a
/// visible share of a single-vector call.
const JSON_VALUE_BYTES: usize = 16;

/// The fewest bytes one value takes in a request body: JSON `0,`, Arrow float16.
fn min_value_bytes(encoding: Encoding) -> usize {
    match encoding {
        Encoding::Octet => 4,
        Encoding::Json | Encoding::Arrow => 2,
    }
}

/// An answer's bytes in its encoding, and what a request holds at its peak: the decoded
/// batch, the projected rows and the answer (`other` counts an Arrow request's other
/// columns, which come back as they came).
fn answer_and_held(
    encoding: Encoding,
    rows: usize,
    source_dim: usize,
    target_dim: usize,
    other: usize,
) -> (usize, usize) {
    let out_values = rows.saturating_mul(target_dim);
    let answer = match encoding {
        Encoding::Json => out_values
            .saturating_mul(JSON_VALUE_BYTES)
            .saturating_add(256),
        Encoding::Octet => out_values.saturating_mul(4),
        Encoding::Arrow => out_values.saturating_mul(4).saturating_add(other),
    };
    let held = rows
        .saturating_mul(source_dim)
        .saturating_add(out_values)
        .saturating_mul(4)
        .saturating_add(answer);
    (answer, held)
}

/// Refuses an answer over `max_answer_bytes`, or a request that would hold more than the
/// whole memory budget; returns what the request holds.
fn check_answer(
    s: &AppState,
    batch: &Batch,
    target_dim: usize,
    encoding: Encoding,
    other_columns: usize,
) -> Result<usize, ApiError> {
    let (answer, held) =
        answer_and_held(encoding, batch.rows, batch.dim, target_dim, other_columns);
    let limit = s.limits.max_answer_bytes;
    if answer > limit {
        let (name, hint) = match encoding {
            Encoding::Json => (
                "JSON",
                ", or send application/octet-stream (4 bytes a value)",
            ),
            Encoding::Octet => ("raw f32", ""),
            Encoding::Arrow => ("Arrow", ""),
        };
        return Err(ApiError::TooLarge(format!(
            "the answer would take about {} MiB as {name} ({} vectors of {target_dim} values); the limit is {} MiB (max_answer_bytes): send fewer vectors per request{hint}",
            answer >> 20,
            batch.rows,
            limit >> 20
        )));
    }
    if held > s.budget.bytes() {
        return Err(ApiError::TooLarge(format!(
            "this request would hold {} MiB at once; the server holds at most {} MiB for all requests (max_inflight_bytes): send fewer vectors per request",
            held >> 20,
            s.budget.bytes() >> 20
        )));
    }
    Ok(held)
}

/// A projection as JSON, written into a buffer sized for it up front.
fn json_answer(answer: &ProjectResponse, held_memory: Reservation) -> Result<Response, ApiError> {
    let mut body = Vec::with_capacity(answer.vectors.data.len() * JSON_VALUE_BYTES + 256);
    serde_json::to_writer(&mut body, answer)
        .map_err(|e| ApiError::Internal(format!("encoding the answer: {e}")))?;
    let mut response = held(body, held_memory).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(encoding::JSON));
    Ok(response)
}

fn binary_response(
    content_type: &'static str,
    body: Vec<u8>,
    held_memory: Reservation,
    shim: &LoadedShim,
    rows: usize,
    dim: usize,
) -> Response {
    let mut response = held(body, held_memory).into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(encoding::ROWS_HEADER, HeaderValue::from(rows));
    h.insert(encoding::DIM_HEADER, HeaderValue::from(dim));
    // Shim names and versions are checked ASCII, so these always make valid headers.
    if let Ok(v) = HeaderValue::from_str(&shim.name) {
        h.insert("x-shimkit-shim", v);
    }
    if let Ok(v) = HeaderValue::from_str(&shim.version) {
        h.insert("x-shimkit-version", v);
    }
    response
}

fn check_batch(batch: &Batch, shim: &LoadedShim, limits: Limits) -> Result<(), ApiError> {
    if batch.rows == 0 {
        return Err(ApiError::BadRequest(
            "the batch is empty: send at least one vector".into(),
        ));
    }
    if batch.rows > limits.max_batch {
        return Err(ApiError::TooLarge(format!(
            "{} vectors in one request; the limit is {}",
            batch.rows, limits.max_batch
        )));
    }
    let want = shim.shim.source_dim();
    if batch.dim != want {
        return Err(ApiError::BadRequest(format!(
            "vectors have {} dimensions; shim {:?} maps {want}-dimensional vectors ({} → {})",
            batch.dim, shim.name, shim.shim.meta.source_model, shim.shim.meta.target_model
        )));
    }
    // One pass for both checks (a batch of 1,024 is 3 MiB); a non-finite value anywhere is
    // reported before an all-zero row.
    let mut zero_row = None;
    for (i, row) in batch.data.chunks_exact(batch.dim).enumerate() {
        let (mut finite, mut zero) = (true, true);
        for &v in row {
            finite &= v.is_finite();
            zero &= v == 0.0;
        }
        if !finite {
            return batch.check_finite();
        }
        if zero && zero_row.is_none() {
            zero_row = Some(i);
        }
    }
    match zero_row {
        Some(i) if shim.shim.meta.normalize_input => Err(ApiError::BadRequest(format!(
            "vector {i} is all zeros: it has no direction to normalise"
        ))),
        _ => Ok(()),
    }
}

/// Runs the shim, inline when small, on the blocking pool when not.
async fn apply(shim: Arc<LoadedShim>, batch: Batch, normalize: bool) -> Result<Vec<f32>, ApiError> {
    let per_row = shim.shim.weight.len() + shim.shim.adapter.as_ref().map_or(0, |a| a.parameters());
    let work = batch.rows.saturating_mul(per_row);
    let run = move || -> Result<Vec<f32>, ApiError> {
        let x = Array2::from_shape_vec((batch.rows, batch.dim), batch.data)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let y = shim
            .shim
            .apply_owned(x, normalize)
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        // The answer's own buffer when it is exactly the rows, in order: no copy.
        let n = y.len();
        if !y.is_standard_layout() {
            return Ok(y.iter().copied().collect());
        }
        Ok(match y.into_raw_vec_and_offset() {
            (v, None | Some(0)) if v.len() == n => v,
            (v, offset) => v.into_iter().skip(offset.unwrap_or(0)).take(n).collect(),
        })
    };
    if work <= INLINE_WORK {
        run()
    } else {
        blocking(run).await
    }
}

/// Points an alias at a shim; the old target is kept for a rollback.
#[utoipa::path(put, path = "/v1/aliases/{alias}", tag = "aliases",
    params(("alias" = String, Path)),
    request_body = SetAliasRequest,
    responses((status = 200, body = AliasChange),
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
) -> Result<Json<AliasChange>, ApiError> {
    if Encoding::from_headers(&headers)? != Encoding::Json {
        return Err(ApiError::UnsupportedMediaType(
            "alias switches take application/json".into(),
        ));
    }
    let RequestBody(body) = body?;
    let req: SetAliasRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))?;
    let state = s.clone();
    let change = blocking(move || state.store.set_alias(&alias, &req.target)).await?;
    s.publish_gauges();
    tracing::info!(
        "alias {} -> {} (was {:?})",
        change.alias,
        change.target,
        change.previous
    );
    Ok(Json(change))
}

/// Points an alias back at its previous target.
#[utoipa::path(post, path = "/v1/aliases/{alias}/rollback", tag = "aliases",
    params(("alias" = String, Path)),
    responses((status = 200, body = AliasChange),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such alias", body = ErrorBody),
        (status = 409, description = "Nothing to roll back to", body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn rollback(
    State(s): State<Arc<AppState>>,
    Path(alias): Path<String>,
) -> Result<Json<AliasChange>, ApiError> {
    let state = s.clone();
    let change = blocking(move || state.store.rollback(&alias)).await?;
    s.publish_gauges();
    tracing::info!("alias {} rolled back to {}", change.alias, change.target);
    Ok(Json(change))
}

/// Rescans the shim directory and re-reads the API key file.
#[utoipa::path(post, path = "/v1/reload", tag = "aliases",
    responses((status = 200, body = ReloadResponse),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 503, description = "The API key file failed to load", body = ErrorBody)),
    security(("api_key" = [])))]
pub async fn reload(State(s): State<Arc<AppState>>) -> Result<Json<ReloadResponse>, ApiError> {
    let state = s.clone();
    Ok(Json(blocking(move || state.reload()).await?))
}

/// File I/O and big projections, off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("task failed: {e}")))?
}
