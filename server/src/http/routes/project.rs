//! The projection: vectors in, through a shim, vectors out, in the request's encoding
//! (read key). Batches are checked, their memory reserved from the budget, and big ones
//! projected off the async workers.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ndarray::Array2;
use utoipa::OpenApi;

use super::{Access, Route, blocking};
use crate::budget::{self, Reservation};
use crate::config::Limits;
use crate::http::body::{RequestBody, held};
use crate::http::encoding::{self, ARROW, Batch, Encoding, OCTET};
use crate::http::error::{ApiError, ErrorBody};
use crate::http::types::{BinaryBody, ProjectQuery, ProjectRequest, ProjectResponse, Rows};
use crate::state::AppState;
use crate::store::LoadedShim;

pub const ROUTE: Route = Route {
    access: Access::Read,
    router: || Router::new().route("/v1/shims/{name}/project", post(project)),
    doc: Doc::openapi,
};

#[derive(OpenApi)]
#[openapi(paths(project))]
struct Doc;

/// Projections cheaper than this many multiply-adds run on the request's own task; bigger
/// ones move to the blocking pool so they never stall the other connections.
const INLINE_WORK: usize = 1 << 22;

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
