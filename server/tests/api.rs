//! The HTTP API driven in process through the router: every route, every encoding, every
//! error code, aliases, reloads, auth and the OpenAPI document.

use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};
use shimkit_server::auth::ApiKeys;
use shimkit_server::config::Limits;
use shimkit_server::http::encoding::{arrow_rows, arrow_stream};
use shimkit_server::store::ShimStore;
use shimkit_server::{AppState, router};
use shimkit_trainer::{Direction, Shim, ShimMeta, artifact};
use tower::ServiceExt;

const READ_KEY: &str = "read-key-0123456789";
const ADMIN_KEY: &str = "admin-key-0123456789";

fn random_shim(seed: u64, d_in: usize, d_out: usize) -> Shim {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w = Array2::from_shape_fn((d_in, d_out), |_| rng.random_range(-1.0f32..1.0));
    let b = Array1::from_shape_fn(d_out, |_| rng.random_range(-0.1f32..0.1));
    let mut meta = ShimMeta::new("ridge", Direction::NewToOld, d_in, d_out);
    meta.source_model = "new".into();
    meta.target_model = "old".into();
    Shim::new(w, b, meta)
}

fn write_shim(dir: &Path, name: &str, shim: &Shim) {
    artifact::save(shim, &dir.join(format!("{name}.safetensors"))).unwrap();
}

fn vectors(seed: u64, rows: usize, dim: usize) -> Vec<Vec<f32>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows)
        .map(|_| (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect())
        .collect()
}

fn expected(shim: &Shim, rows: &[Vec<f32>], normalize: bool) -> Vec<Vec<f32>> {
    let flat: Vec<f32> = rows.concat();
    let x = Array2::from_shape_vec((rows.len(), shim.source_dim()), flat).unwrap();
    let y = shim.apply(x.view(), normalize).unwrap();
    y.rows().into_iter().map(|r| r.to_vec()).collect()
}

fn assert_close(a: &[Vec<f32>], b: &[Vec<f32>], tol: f32) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            assert!((p - q).abs() <= tol, "{p} vs {q}");
        }
    }
}

struct Fixture {
    dir: tempfile::TempDir,
    app: Router,
    state: Arc<AppState>,
}

fn fixture_with(keys: ApiKeys, limits: Limits, setup: impl FnOnce(&Path)) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let (store, _) = ShimStore::open(dir.path()).unwrap();
    let state = AppState::new(store, keys, limits);
    Fixture {
        app: router(state.clone()),
        state,
        dir,
    }
}

/// Two 8 → 6 shims (`a`, `b`) and an alias `prod` → `a`.
fn fixture() -> Fixture {
    fixture_with(ApiKeys::open(), Limits::default(), |d| {
        write_shim(d, "a", &random_shim(1, 8, 6));
        write_shim(d, "b", &random_shim(2, 8, 6));
        std::fs::write(d.join("aliases.json"), r#"{"prod": "a"}"#).unwrap();
    })
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The error code of an error body, checking the status matches.
    fn error(&self, status: u16) -> String {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        let v = self.json();
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        v["error"]["code"].as_str().unwrap().to_owned()
    }
}

async fn send(
    app: &Router,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> Answer {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app
        .clone()
        .oneshot(req.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

async fn post_json(app: &Router, uri: &str, body: &Value) -> Answer {
    send(
        app,
        Method::POST,
        uri,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await
}

fn rows_of(v: &Value) -> Vec<Vec<f32>> {
    serde_json::from_value(v["vectors"].clone()).unwrap()
}

fn shim_on_disk(dir: &Path, name: &str) -> Shim {
    artifact::load(&dir.join(format!("{name}.safetensors"))).unwrap()
}

#[tokio::test]
async fn json_projection_equals_shim_apply() {
    let f = fixture();
    let shim = shim_on_disk(f.dir.path(), "a");
    let x = vectors(3, 5, 8);
    let a = post_json(&f.app, "/v1/shims/a/project", &json!({ "vectors": x })).await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(v["shim"], "a");
    assert_eq!(v["dim"], 6);
    assert_close(&rows_of(&v), &expected(&shim, &x, true), 1e-6);
    for r in rows_of(&v) {
        let n: f32 = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() < 1e-5);
    }
    // Unnormalised, by body field and by query parameter.
    let raw = expected(&shim, &x, false);
    let a = post_json(
        &f.app,
        "/v1/shims/a/project",
        &json!({ "vectors": x, "normalize": false }),
    )
    .await;
    assert_close(&rows_of(&a.json()), &raw, 1e-6);
    let a = post_json(
        &f.app,
        "/v1/shims/a/project?normalize=false",
        &json!({ "vectors": x }),
    )
    .await;
    assert_close(&rows_of(&a.json()), &raw, 1e-6);
    // Through the alias: the answer names the shim behind it.
    let a = post_json(&f.app, "/v1/shims/prod/project", &json!({ "vectors": x })).await;
    let v = a.json();
    assert_eq!(
        (v["shim"].as_str(), v["alias"].as_str()),
        (Some("a"), Some("prod"))
    );
}

#[tokio::test]
async fn octet_stream_and_arrow_answer_in_kind() {
    let f = fixture();
    let shim = shim_on_disk(f.dir.path(), "b");
    let x = vectors(4, 7, 8);
    let want = expected(&shim, &x, true);
    let bytes: Vec<u8> = x.concat().iter().flat_map(|v| v.to_le_bytes()).collect();
    let a = send(
        &f.app,
        Method::POST,
        "/v1/shims/b/project",
        &[
            ("content-type", "application/octet-stream"),
            ("x-shimkit-rows", "7"),
            ("x-shimkit-dim", "8"),
        ],
        bytes,
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.headers["content-type"], "application/octet-stream");
    assert_eq!(a.headers["x-shimkit-rows"], "7");
    assert_eq!(a.headers["x-shimkit-dim"], "6");
    assert_eq!(a.headers["x-shimkit-shim"], "b");
    let got: Vec<Vec<f32>> = a
        .body
        .chunks_exact(24)
        .map(|r| {
            r.chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        })
        .collect();
    assert_close(&got, &want, 1e-6);

    let stream = arrow_stream(7, 8, &x.concat());
    let a = send(
        &f.app,
        Method::POST,
        "/v1/shims/b/project",
        &[("content-type", "application/vnd.apache.arrow.stream")],
        stream,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(
        a.headers["content-type"],
        "application/vnd.apache.arrow.stream"
    );
    let (batch, schema) = arrow_rows(&a.body).unwrap();
    assert_eq!(schema.metadata()["shimkit.shim"], "b");
    let got: Vec<Vec<f32>> = batch.data.chunks_exact(6).map(<[f32]>::to_vec).collect();
    assert_close(&got, &want, 1e-6);
}

#[tokio::test]
async fn arrow_keeps_other_columns_and_reads_lists_of_f64() {
    use arrow_array::builder::{Float64Builder, ListBuilder};
    use arrow_array::{ArrayRef, Int64Array, RecordBatch};
    let f = fixture();
    let shim = shim_on_disk(f.dir.path(), "a");
    let x = vectors(5, 3, 8);
    let mut list = ListBuilder::new(Float64Builder::new());
    for r in &x {
        for &v in r {
            list.values().append_value(v as f64);
        }
        list.append(true);
    }
    let ids: ArrayRef = Arc::new(Int64Array::from(vec![10, 20, 30]));
    let vecs: ArrayRef = Arc::new(list.finish());
    let batch = RecordBatch::try_from_iter([("id", ids), ("emb", vecs)]).unwrap();
    let mut body = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut body, &batch.schema()).unwrap();
    w.write(&batch).unwrap();
    w.finish().unwrap();
    drop(w);
    let a = send(
        &f.app,
        Method::POST,
        "/v1/shims/a/project?column=emb",
        &[("content-type", "application/vnd.apache.arrow.stream")],
        body,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let reader =
        arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(a.body), None).unwrap();
    let out: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let ids = out[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap();
    assert_eq!(ids.values(), &[10, 20, 30]);
    let (projected, _) = {
        let mut buf = Vec::new();
        let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut buf, &out[0].schema()).unwrap();
        w.write(&out[0]).unwrap();
        w.finish().unwrap();
        drop(w);
        arrow_rows(&buf).unwrap()
    };
    let got: Vec<Vec<f32>> = projected
        .data
        .chunks_exact(6)
        .map(<[f32]>::to_vec)
        .collect();
    assert_close(&got, &expected(&shim, &x, true), 1e-6);
}

#[tokio::test]
async fn bad_requests_get_400_with_the_reason() {
    let f = fixture();
    let p = "/v1/shims/a/project";
    let cases: Vec<(Value, &str)> = vec![
        (json!({"vectors": [[1.0, 2.0]]}), "dimensions"),
        (json!({"vectors": []}), "empty"),
        (json!({"vectors": [[1,2,3,4,5,6,7,8], [1,2,3]]}), "vector 1"),
        (
            json!({"vectors": [[1,2,3,4,5,6,7,1e39]]}),
            "does not fit a float32",
        ),
        (
            json!({"vectors": [[1e-50, 0, 0, 0, 0, 0, 0, 0]]}),
            "does not fit a float32",
        ),
        (json!({"vectors": [[0,0,0,0,0,0,0,0]]}), "all zeros"),
        (json!({"vector": [[1]]}), "malformed"),
        (json!({"vectors": [1.0, 2.0]}), "vector 0 as an array"),
        (json!({"vectors": [[1, 2], [3, "x"]]}), "malformed"),
        (
            json!({"vectors": [[1,2,3,4,5,6,7,8]], "extra": 1}),
            "unknown field",
        ),
    ];
    for (body, needle) in cases {
        let a = post_json(&f.app, p, &body).await;
        assert_eq!(a.error(400), "bad_request");
        let m = a.json()["error"]["message"].as_str().unwrap().to_owned();
        assert!(m.contains(needle), "{body}: {m}");
    }
    let a = send(
        &f.app,
        Method::POST,
        p,
        &[("content-type", "application/json")],
        "{\"vectors\": [[1, 2,",
    )
    .await;
    assert_eq!(a.error(400), "bad_request");
    // Raw bodies: NaN, a length that does not match the headers, missing headers.
    let mut nan: Vec<u8> = [1.0f32; 8].iter().flat_map(|v| v.to_le_bytes()).collect();
    nan[12..16].copy_from_slice(&f32::NAN.to_le_bytes());
    let octet = |rows: &'static str| {
        vec![
            ("content-type", "application/octet-stream"),
            ("x-shimkit-rows", rows),
            ("x-shimkit-dim", "8"),
        ]
    };
    let a = send(&f.app, Method::POST, p, &octet("1"), nan.clone()).await;
    assert_eq!(a.error(400), "bad_request");
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("index 3")
    );
    let a = send(&f.app, Method::POST, p, &octet("2"), nan).await;
    assert_eq!(a.error(400), "bad_request");
    // Raw bodies without their headers; Arrow bodies that are not Arrow.
    let malformed: [(&str, Vec<u8>); 3] = [
        ("application/octet-stream", vec![0u8; 32]),
        ("application/vnd.apache.arrow.stream", vec![7u8; 64]),
        ("application/vnd.apache.arrow.stream", Vec::new()),
    ];
    for (content_type, body) in malformed {
        let a = send(
            &f.app,
            Method::POST,
            p,
            &[("content-type", content_type)],
            body,
        )
        .await;
        assert_eq!(a.error(400), "bad_request", "{content_type}");
    }
    // Bad query string.
    let a = post_json(
        &f.app,
        "/v1/shims/a/project?normalize=maybe",
        &json!({"vectors": [[1,2,3,4,5,6,7,8]]}),
    )
    .await;
    assert_eq!(a.error(400), "bad_request");
}

#[tokio::test]
async fn not_found_unsupported_and_method_errors() {
    let f = fixture();
    let body = json!({"vectors": [[1,2,3,4,5,6,7,8]]});
    assert_eq!(
        post_json(&f.app, "/v1/shims/nope/project", &body)
            .await
            .error(404),
        "not_found"
    );
    for uri in [
        "/v1/shims/..%2F..%2Fetc%2Fpasswd",
        "/v1/shims/..",
        "/v1/shims/a.safetensors",
        "/v2/anything",
    ] {
        let a = send(&f.app, Method::GET, uri, &[], Body::empty()).await;
        assert_eq!(a.error(404), "not_found", "{uri}");
    }
    let a = send(
        &f.app,
        Method::POST,
        "/v1/shims/a/project",
        &[("content-type", "text/plain")],
        "1,2",
    )
    .await;
    assert_eq!(a.error(415), "unsupported_media_type");
    let a = send(&f.app, Method::POST, "/v1/shims/a/project", &[], "{}").await;
    assert_eq!(a.error(415), "unsupported_media_type");
    let a = send(&f.app, Method::DELETE, "/v1/shims/a", &[], Body::empty()).await;
    assert_eq!(a.error(405), "method_not_allowed");
}

#[tokio::test]
async fn limits_answer_413() {
    let limits = Limits {
        max_body_bytes: 4096,
        max_batch: 4,
        ..Limits::default()
    };
    let f = fixture_with(ApiKeys::open(), limits, |d| {
        write_shim(d, "a", &random_shim(1, 8, 6))
    });
    let a = post_json(
        &f.app,
        "/v1/shims/a/project",
        &json!({ "vectors": vectors(1, 5, 8) }),
    )
    .await;
    assert_eq!(a.error(413), "payload_too_large");
    let a = post_json(
        &f.app,
        "/v1/shims/a/project",
        &json!({ "vectors": vectors(1, 4, 8) }),
    )
    .await;
    assert_eq!(a.status, 200);
    let big = vec![0u8; 8192];
    let a = send(
        &f.app,
        Method::POST,
        "/v1/shims/a/project",
        &[
            ("content-type", "application/octet-stream"),
            ("x-shimkit-rows", "256"),
            ("x-shimkit-dim", "8"),
        ],
        big,
    )
    .await;
    assert_eq!(a.error(413), "payload_too_large");
}

/// A body that claims `0` bytes in its length and never sends one: reading it would hang.
struct Claims(u64);

impl http_body::Body for Claims {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Pending
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0)
    }
}

#[tokio::test]
async fn a_declared_length_over_the_limit_is_refused_before_reading() {
    let f = fixture();
    for uri in ["/v1/shims/a/project", "/v1/aliases/prod"] {
        let method = if uri.contains("aliases") {
            Method::PUT
        } else {
            Method::POST
        };
        let a = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            send(
                &f.app,
                method,
                uri,
                &[("content-type", "application/json")],
                Body::new(Claims(10_000_000_000)),
            ),
        )
        .await
        .expect("the body was read instead of refused from its length");
        assert_eq!(a.error(413), "payload_too_large");
        assert!(
            a.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("10000000000")
        );
    }
}

#[tokio::test]
async fn answers_over_the_limit_are_refused_with_a_way_out() {
    let limits = Limits {
        max_answer_bytes: 1 << 20,
        ..Limits::default()
    };
    let f = fixture_with(ApiKeys::open(), limits, |d| {
        write_shim(d, "wide", &random_shim(3, 8, 1024))
    });
    // 100 vectors of 1024 values: 1.6 MB as JSON, 400 kB as raw f32.
    let rows = vectors(4, 100, 8);
    let a = post_json(
        &f.app,
        "/v1/shims/wide/project",
        &json!({ "vectors": rows }),
    )
    .await;
    assert_eq!(a.error(413), "payload_too_large");
    let message = a.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("max_answer_bytes") && message.contains("octet-stream"),
        "{message}"
    );
    let flat: Vec<u8> = rows.concat().iter().flat_map(|v| v.to_le_bytes()).collect();
    let a = send(
        &f.app,
        Method::POST,
        "/v1/shims/wide/project",
        &[
            ("content-type", "application/octet-stream"),
            ("x-shimkit-rows", "100"),
            ("x-shimkit-dim", "8"),
        ],
        flat,
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body.len(), 100 * 1024 * 4);
    assert_eq!(
        f.state.budget.held_bytes(),
        0,
        "the answer gave its share back"
    );
}

#[tokio::test]
async fn arrow_streams_that_lie_or_come_twice_are_refused() {
    let f = fixture();
    let rows = vectors(5, 3, 8);
    let one = arrow_stream(3, 8, &rows.concat());
    let post = |body: Vec<u8>| {
        send(
            &f.app,
            Method::POST,
            "/v1/shims/a/project",
            &[("content-type", "application/vnd.apache.arrow.stream")],
            body,
        )
    };
    assert_eq!(post(one.clone()).await.status, 200);
    let twice = [one.clone(), one.clone()].concat();
    let a = post(twice).await;
    assert_eq!(a.error(400), "bad_request");
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("follow the end")
    );
    // A message that declares a body of 2^40 bytes: refused before any allocation.
    let mut huge = one.clone();
    let meta_len = u32::from_le_bytes(huge[4..8].try_into().unwrap()) as usize;
    let message = arrow_ipc::root_as_message(&huge[8..8 + meta_len]).unwrap();
    let declared = message.bodyLength();
    let at = huge[8..8 + meta_len]
        .windows(8)
        .position(|w| i64::from_le_bytes(w.try_into().unwrap()) == declared);
    if declared > 0
        && let Some(at) = at
    {
        huge[8 + at..16 + at].copy_from_slice(&(1i64 << 40).to_le_bytes());
        let a = post(huge).await;
        assert_eq!(a.error(400), "bad_request");
    }
    let truncated = one[..one.len() - 20].to_vec();
    assert_eq!(post(truncated).await.error(400), "bad_request");
}

#[tokio::test]
async fn a_shim_file_named_like_a_live_alias_is_not_served() {
    let f = fixture();
    write_shim(f.dir.path(), "prod", &random_shim(9, 8, 6));
    let report = f.state.reload().unwrap().report;
    assert!(report.loaded.is_empty(), "{report:?}");
    assert!(
        report.failed[0]
            .error
            .contains("alias \"prod\" already has this name")
    );
    let info = send(&f.app, Method::GET, "/v1/shims/prod", &[], Body::empty()).await;
    assert_eq!(info.json()["name"], "a", "the alias keeps its traffic");
    let listed = send(&f.app, Method::GET, "/v1/shims", &[], Body::empty())
        .await
        .json();
    assert!(
        listed["shims"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "prod")
    );
    // Once the alias is gone from aliases.json, the file is served under its name.
    std::fs::write(f.dir.path().join("aliases.json"), "{}").unwrap();
    let report = f.state.reload().unwrap().report;
    assert_eq!(report.loaded, vec!["prod".to_owned()], "{report:?}");
}

#[tokio::test]
async fn aliases_switch_persist_and_roll_back() {
    let f = fixture();
    let put = |alias: &'static str, target: &'static str| {
        let app = f.app.clone();
        async move {
            send(
                &app,
                Method::PUT,
                &format!("/v1/aliases/{alias}"),
                &[("content-type", "application/json")],
                json!({ "target": target }).to_string(),
            )
            .await
        }
    };
    let a = put("prod", "b").await;
    assert_eq!(a.status, 200);
    let v = a.json();
    assert_eq!(
        (v["target"].as_str(), v["previous"].as_str()),
        (Some("b"), Some("a"))
    );
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(f.dir.path().join("aliases.json")).unwrap()).unwrap();
    assert_eq!(on_disk["prod"], json!({"target": "b", "previous": "a"}));
    let x = json!({"vectors": [[1,2,3,4,5,6,7,8]]});
    assert_eq!(
        post_json(&f.app, "/v1/shims/prod/project", &x).await.json()["shim"],
        "b"
    );

    let rollback = |alias: &'static str| {
        let app = f.app.clone();
        async move {
            let uri = format!("/v1/aliases/{alias}/rollback");
            send(&app, Method::POST, &uri, &[], Body::empty()).await
        }
    };
    let a = rollback("prod").await;
    assert_eq!(a.json()["target"], "a");
    assert_eq!(
        post_json(&f.app, "/v1/shims/prod/project", &x).await.json()["shim"],
        "a"
    );
    // A second rollback goes forward again.
    assert_eq!(rollback("prod").await.json()["target"], "b");

    // A new alias has nothing to roll back to.
    assert_eq!(put("canary", "a").await.status, 200);
    assert_eq!(rollback("canary").await.error(409), "conflict");
    assert_eq!(rollback("ghost").await.error(404), "not_found");
    assert_eq!(put("prod", "nope").await.error(404), "not_found");
    assert_eq!(put("a", "b").await.error(409), "conflict");
    assert_eq!(put("bad%20name", "b").await.error(400), "bad_request");
    let a = send(
        &f.app,
        Method::PUT,
        "/v1/aliases/prod",
        &[("content-type", "application/json")],
        "{\"to\": \"a\"}",
    )
    .await;
    assert_eq!(a.error(400), "bad_request");

    // A restarted server reads the switched aliases back, previous targets included.
    let (store, report) = ShimStore::open(f.dir.path()).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let snap = store.snapshot();
    assert_eq!(snap.aliases["prod"].target, "b");
    assert_eq!(snap.aliases["prod"].previous.as_deref(), Some("a"));
    assert_eq!(snap.aliases["canary"].target, "a");
}

#[tokio::test]
async fn reload_picks_up_changes_and_keeps_serving_through_a_broken_file() {
    let f = fixture();
    let dir = f.dir.path();
    let reload = || send(&f.app, Method::POST, "/v1/reload", &[], Body::empty());
    let x = vectors(9, 2, 8);
    let version = |name: &'static str| {
        let app = f.app.clone();
        let x = x.clone();
        async move {
            post_json(
                &app,
                &format!("/v1/shims/{name}/project"),
                &json!({ "vectors": x }),
            )
            .await
            .json()
        }
    };
    let v1 = version("a").await;

    // A changed file serves its new version; a new file appears.
    let a2 = random_shim(11, 8, 6);
    write_shim(dir, "a", &a2);
    write_shim(dir, "c", &random_shim(12, 8, 4));
    let r = reload().await.json();
    assert_eq!(r["reloaded"], json!(["a"]));
    assert_eq!(r["loaded"], json!(["c"]));
    let v2 = version("a").await;
    assert_ne!(v1["version"], v2["version"]);
    assert_close(&rows_of(&v2), &expected(&a2, &x, true), 1e-6);
    assert_eq!(version("c").await["dim"], 4);

    // A broken file is reported; the version before it keeps serving.
    std::fs::write(dir.join("a.safetensors"), b"not a shim").unwrap();
    std::fs::write(dir.join("d.safetensors"), b"nor this").unwrap();
    let r = reload().await.json();
    let failed: Vec<String> = r["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        failed.iter().any(|f| f.ends_with("a.safetensors"))
            && failed.iter().any(|f| f.ends_with("d.safetensors")),
        "{r}"
    );
    assert_eq!(version("a").await["version"], v2["version"]);
    let ready = send(&f.app, Method::GET, "/readyz", &[], Body::empty())
        .await
        .json();
    assert_eq!(ready["failed"].as_array().unwrap().len(), 2);

    // A removed file stops serving, unless an alias still points at it.
    std::fs::remove_file(dir.join("d.safetensors")).unwrap();
    std::fs::remove_file(dir.join("c.safetensors")).unwrap();
    std::fs::remove_file(dir.join("a.safetensors")).unwrap();
    let r = reload().await.json();
    assert_eq!(r["removed"], json!(["c"]));
    assert_eq!(r["kept"], json!(["a"]));
    assert_eq!(version("prod").await["version"], v2["version"]);
    assert_eq!(
        post_json(&f.app, "/v1/shims/c/project", &json!({"vectors": x}))
            .await
            .error(404),
        "not_found"
    );

    // A broken aliases.json keeps the aliases as they were.
    std::fs::write(dir.join("aliases.json"), "{prod: a").unwrap();
    let r = reload().await.json();
    assert!(r["failed"].to_string().contains("aliases.json"), "{r}");
    assert_eq!(version("prod").await["shim"], "a");
    assert!(f.state.store.snapshot().generation >= 5);
}

/// Flips the file's last byte (tensor data) in place, same inode and length, and sets its
/// modification time back to `mtime`: a rewrite that size, inode and time cannot see.
fn rewrite_unseen(file: &Path, mtime: std::time::SystemTime) {
    use std::io::{Read, Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(file)
        .unwrap();
    let mut last = [0u8];
    f.seek(SeekFrom::End(-1)).unwrap();
    f.read_exact(&mut last).unwrap();
    f.seek(SeekFrom::End(-1)).unwrap();
    f.write_all(&[last[0] ^ 0x01]).unwrap();
    f.set_modified(mtime).unwrap();
}

#[test]
fn reload_skips_settled_unchanged_files_and_rereads_fresh_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_shim(dir, "old", &random_shim(1, 8, 6));
    write_shim(dir, "fresh", &random_shim(2, 8, 6));
    let long_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(600);
    let old_file = dir.join("old.safetensors");
    std::fs::File::options()
        .write(true)
        .open(&old_file)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    let fresh_file = dir.join("fresh.safetensors");
    let fresh_mtime = std::fs::metadata(&fresh_file).unwrap().modified().unwrap();
    let (store, _) = ShimStore::open(dir).unwrap();
    let version = |name: &str| store.snapshot().shims[name].version.clone();
    let (old_v, fresh_v) = (version("old"), version("fresh"));

    // Settled and unchanged in size, inode and time: not read again, so even a rewrite
    // hidden from all three keeps the loaded version (the skip is real).
    rewrite_unseen(&old_file, long_ago);
    // Modified within the time granularity of its read: always read again, so the same
    // hidden rewrite is caught.
    rewrite_unseen(&fresh_file, fresh_mtime);
    let r = store.reload().unwrap();
    assert_eq!(r.unchanged, vec!["old".to_owned()], "{r:?}");
    assert_eq!(r.reloaded, vec!["fresh".to_owned()], "{r:?}");
    assert_eq!(version("old"), old_v);
    assert_ne!(version("fresh"), fresh_v);

    // A visible change (a new modification time) is read.
    std::fs::File::options()
        .write(true)
        .open(&old_file)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();
    let r = store.reload().unwrap();
    assert_eq!(r.reloaded, vec!["old".to_owned()], "{r:?}");
    assert_ne!(version("old"), old_v);
}

#[tokio::test]
async fn keys_guard_routes_by_role() {
    let keys = ApiKeys::parse(&format!("{READ_KEY}\nadmin {ADMIN_KEY}\n")).unwrap();
    let f = fixture_with(keys, Limits::default(), |d| {
        write_shim(d, "a", &random_shim(1, 8, 6))
    });
    let x = json!({"vectors": [[1,2,3,4,5,6,7,8]]}).to_string();
    let project = |key: Option<&'static str>| {
        let app = f.app.clone();
        let x = x.clone();
        async move {
            let auth = key.map(|k| format!("Bearer {k}"));
            let mut h = vec![("content-type", "application/json")];
            if let Some(a) = auth.as_deref() {
                h.push(("authorization", a));
            }
            send(&app, Method::POST, "/v1/shims/a/project", &h, x).await
        }
    };
    assert_eq!(project(None).await.error(401), "unauthorized");
    assert_eq!(
        project(Some("wrong-key-0123456789")).await.error(401),
        "unauthorized"
    );
    assert_eq!(project(Some(READ_KEY)).await.status, 200);
    let a = send(
        &f.app,
        Method::GET,
        "/v1/shims",
        &[("x-api-key", READ_KEY)],
        Body::empty(),
    )
    .await;
    assert_eq!(a.status, 200);
    let reload = |key: &'static str| {
        let app = f.app.clone();
        async move {
            send(
                &app,
                Method::POST,
                "/v1/reload",
                &[("x-api-key", key)],
                Body::empty(),
            )
            .await
        }
    };
    assert_eq!(reload(READ_KEY).await.error(403), "forbidden");
    assert_eq!(reload(ADMIN_KEY).await.status, 200);
    let a = send(
        &f.app,
        Method::PUT,
        "/v1/aliases/prod",
        &[("content-type", "application/json")],
        r#"{"target":"a"}"#,
    )
    .await;
    assert_eq!(a.error(401), "unauthorized");
    // Probes, metrics and the document stay open.
    for uri in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(
            send(&f.app, Method::GET, uri, &[], Body::empty())
                .await
                .status,
            200,
            "{uri}"
        );
    }
}

#[tokio::test]
async fn listing_health_metrics_and_readiness() {
    let f = fixture();
    let list = send(&f.app, Method::GET, "/v1/shims", &[], Body::empty())
        .await
        .json();
    let names: Vec<&str> = list["shims"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list["shims"][0]["aliases"], json!(["prod"]));
    assert_eq!(list["shims"][0]["source_dim"], 8);
    assert_eq!(list["shims"][0]["direction"], "new-to-old");
    assert_eq!(list["aliases"][0]["target"], "a");
    let one = send(&f.app, Method::GET, "/v1/shims/prod", &[], Body::empty())
        .await
        .json();
    assert_eq!(one["name"], "a");
    assert_eq!(one["version"], list["shims"][0]["version"]);

    post_json(
        &f.app,
        "/v1/shims/a/project",
        &json!({"vectors": vectors(1, 3, 8)}),
    )
    .await;
    post_json(&f.app, "/v1/shims/a/project", &json!({"vectors": [[1.0]]})).await;
    let m = String::from_utf8(
        send(&f.app, Method::GET, "/metrics", &[], Body::empty())
            .await
            .body,
    )
    .unwrap();
    for needle in [
        "shimkit_requests_total{route=\"/v1/shims/{name}/project\",method=\"POST\",code=\"200\"} 1",
        "shimkit_errors_total{code=\"400\"} 1",
        "shimkit_vectors_projected_total{shim=\"a\"} 3",
        "shimkit_shims_loaded 2",
        "shimkit_request_duration_seconds_bucket",
        "shimkit_projection_duration_seconds_count{shim=\"a\"} 1",
    ] {
        assert!(m.contains(needle), "missing {needle} in\n{m}");
    }

    let empty = fixture_with(ApiKeys::open(), Limits::default(), |_| {});
    assert_eq!(
        send(&empty.app, Method::GET, "/readyz", &[], Body::empty())
            .await
            .status,
        503
    );
    assert_eq!(
        send(&empty.app, Method::GET, "/healthz", &[], Body::empty())
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let f = fixture();
    let doc = send(&f.app, Method::GET, "/openapi.json", &[], Body::empty())
        .await
        .json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let routes = [
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/openapi.json", "get"),
        ("/v1/shims", "get"),
        ("/v1/shims/{name}", "get"),
        ("/v1/shims/{name}/project", "post"),
        ("/v1/aliases", "get"),
        ("/v1/aliases/{alias}", "put"),
        ("/v1/aliases/{alias}/rollback", "post"),
        ("/v1/reload", "post"),
        ("/dashboard", "get"),
        ("/v1/migration", "get"),
    ];
    let paths = doc["paths"].as_object().unwrap();
    // The generic routes, and the JSON projection of each served name (a, b, prod).
    assert_eq!(paths.len(), routes.len() + 3);
    for (path, method) in routes {
        assert!(paths[path][method].is_object(), "{method} {path} missing");
    }
    let content = &paths["/v1/shims/{name}/project"]["post"]["requestBody"]["content"];
    for ct in [
        "application/octet-stream",
        "application/vnd.apache.arrow.stream",
    ] {
        assert!(content[ct].is_object(), "{ct}");
    }
    // Each name's JSON body carries that shim's input dimension.
    for name in ["a", "b", "prod"] {
        let op = &paths[&format!("/v1/shims/{name}/project")]["post"];
        let vectors =
            &op["requestBody"]["content"]["application/json"]["schema"]["properties"]["vectors"];
        assert_eq!(vectors["items"]["minItems"], 8, "{name}");
        assert_eq!(vectors["items"]["maxItems"], 8, "{name}");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    // No key file: no security declared anywhere, since none is asked for.
    assert!(doc["components"]["securitySchemes"].is_null());
    assert!(
        !serde_json::to_string(&doc["paths"])
            .unwrap()
            .contains("\"security\"")
    );
    let keyed = fixture_with(
        ApiKeys::parse(&format!("read {READ_KEY}\n")).unwrap(),
        Limits::default(),
        |d| write_shim(d, "a", &random_shim(1, 8, 6)),
    );
    let doc = send(&keyed.app, Method::GET, "/openapi.json", &[], Body::empty())
        .await
        .json();
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
    for path in ["/v1/shims", "/v1/shims/a/project", "/v1/reload"] {
        let item = doc["paths"][path].as_object().unwrap();
        let op = item.values().next().unwrap();
        assert!(op["security"].is_array(), "{path} declares its key");
    }
    assert!(doc["paths"]["/healthz"]["get"]["security"].is_null());
    // Every route the document names answers something other than 404 here.
    for (path, method) in routes {
        let uri = path.replace("{name}", "a").replace("{alias}", "prod");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let a = send(&f.app, m, &uri, &[], Body::empty()).await;
        if path == "/v1/migration" {
            // Served, but this server shows no migration: a 404 that says how to show one.
            assert!(String::from_utf8_lossy(&a.body).contains("--migration"));
            continue;
        }
        assert_ne!(a.status, 404, "{method} {uri}");
    }
}

/// Alias switches and file reloads while requests run: no request fails, and every answer
/// is exactly the output of the one version it names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaps_under_load_never_mix_versions() {
    let f = fixture();
    let x = vectors(21, 1, 8);
    let mut truth = std::collections::HashMap::new();
    let list = send(&f.app, Method::GET, "/v1/shims", &[], Body::empty())
        .await
        .json();
    for s in list["shims"].as_array().unwrap() {
        let name = s["name"].as_str().unwrap();
        truth.insert(
            s["version"].as_str().unwrap().to_owned(),
            expected(&shim_on_disk(f.dir.path(), name), &x, true),
        );
    }
    // A third version of `b` that the reloads will bring in.
    let b2 = random_shim(33, 8, 6);
    let b2_bytes = artifact::to_bytes(&b2).unwrap();
    truth.insert(
        format!("{:016x}", shimkit_trainer::hash::fnv1a(&b2_bytes)),
        expected(&b2, &x, true),
    );
    let b1_bytes = std::fs::read(f.dir.path().join("b.safetensors")).unwrap();
    let truth = Arc::new(truth);

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let stop = stop.clone();
        let app = f.app.clone();
        let x = x.clone();
        let truth = truth.clone();
        clients.push(tokio::spawn(async move {
            let mut seen = std::collections::HashSet::new();
            let mut answered = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || answered < 50 {
                answered += 1;
                // In process the handler never waits, so a client must yield for the
                // swapper to run.
                tokio::task::yield_now().await;
                let a = post_json(&app, "/v1/shims/prod/project", &json!({ "vectors": x })).await;
                assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
                let v = a.json();
                let version = v["version"].as_str().unwrap().to_owned();
                let want = truth
                    .get(&version)
                    .unwrap_or_else(|| panic!("unknown version {version}"));
                assert_close(&rows_of(&v), want, 1e-6);
                seen.insert(version);
            }
            (seen, answered)
        }));
    }
    let app = f.app.clone();
    let dir = f.dir.path().to_path_buf();
    let swapper = tokio::spawn(async move {
        for i in 0..40 {
            let target = if i % 2 == 0 { "b" } else { "a" };
            let a = send(
                &app,
                Method::PUT,
                "/v1/aliases/prod",
                &[("content-type", "application/json")],
                json!({"target": target}).to_string(),
            )
            .await;
            assert_eq!(a.status, 200);
            let bytes = if i % 4 < 2 { &b2_bytes } else { &b1_bytes };
            shimkit_data::write_atomic(dir.join("b.safetensors"), bytes).unwrap();
            let r = send(&app, Method::POST, "/v1/reload", &[], Body::empty()).await;
            assert_eq!(r.status, 200);
            assert!(r.json()["failed"].as_array().unwrap().is_empty());
            tokio::task::yield_now().await;
        }
    });
    swapper.await.unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut seen = std::collections::HashSet::new();
    let mut answered = 0;
    for c in clients {
        let (s, n) = c.await.unwrap();
        seen.extend(s);
        answered += n;
    }
    assert!(answered >= 200, "{answered} answers");
    assert!(seen.len() >= 2, "the swaps were not seen: {seen:?}");
}

/// A migration whose status is whatever the test says, or an error.
#[derive(Debug)]
struct FixedMigration(Result<Value, String>);

impl shimkit_server::migration::MigrationSource for FixedMigration {
    fn status(&self) -> Result<Value, shimkit_server::migration::MigrationUnavailable> {
        self.0
            .clone()
            .map_err(shimkit_server::migration::MigrationUnavailable)
    }
}

fn migration_app(source: FixedMigration, keys: ApiKeys) -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = ShimStore::open(dir.path()).unwrap();
    let state = AppState::with_migration(store, keys, Limits::default(), Some(Arc::new(source)));
    (dir, router(state))
}

#[tokio::test]
async fn the_migration_route_serves_its_source_and_the_page_needs_no_key() {
    let status = json!({"migration": "docs.embedding_next", "cycles": [{"cycle": 1}]});
    let keys = ApiKeys::parse(&format!("read {READ_KEY}\n")).unwrap();
    let (_d, app) = migration_app(FixedMigration(Ok(status.clone())), keys);
    let a = send(
        &app,
        Method::GET,
        "/v1/migration",
        &[("x-api-key", READ_KEY)],
        Body::empty(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json(), status);
    assert_eq!(a.headers["cache-control"], "no-store");
    // The data needs a key; the page, which holds none, does not.
    let a = send(&app, Method::GET, "/v1/migration", &[], Body::empty()).await;
    assert_eq!(a.status, 401);
    let a = send(&app, Method::GET, "/dashboard", &[], Body::empty()).await;
    assert_eq!(a.status, 200);
    assert!(
        a.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // Ready with no shim: the server shows a migration.
    assert_eq!(
        send(&app, Method::GET, "/readyz", &[], Body::empty())
            .await
            .status,
        200
    );

    let (_d, app) = migration_app(
        FixedMigration(Err("connection refused".into())),
        ApiKeys::open(),
    );
    let a = send(&app, Method::GET, "/v1/migration", &[], Body::empty()).await;
    assert_eq!(a.error(503), "unavailable");
    assert!(String::from_utf8_lossy(&a.body).contains("connection refused"));
}
