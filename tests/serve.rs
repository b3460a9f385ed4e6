//! `shimkit serve` as a process: a shim fitted by `shimkit fit` on the bundled Cranfield
//! data answers over real HTTP exactly as `shimkit project` does; SIGHUP reloads; the
//! README's curl example works; SIGTERM lets an in-flight request finish and exits 0.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, header, http, root, shimkit};
use shimkit_data::{ReadOptions, TableSource, read_table};

/// Runs shimkit and fails the test with its stderr unless it succeeds.
fn succeed(args: &[&str]) {
    let o = shimkit(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn serve_answers_like_project_reloads_on_sighup_and_drains_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let shims = tmp.path().join("shims");
    std::fs::create_dir(&shims).unwrap();
    let data = root().join("data/cranfield");
    let corpus = |m: &str| data.join(format!("corpus.{m}.parquet"));
    let fit = |method: &str, direction: &str, out: &std::path::Path| {
        let (old, new) = (corpus("minilm"), corpus("mpnet"));
        succeed(&[
            "fit",
            "-q",
            "--old",
            old.to_str().unwrap(),
            "--new",
            new.to_str().unwrap(),
            "--method",
            method,
            "--direction",
            direction,
            "--out",
            out.to_str().unwrap(),
        ]);
    };
    let project = |shim: &std::path::Path, input: &std::path::Path, output: &std::path::Path| {
        succeed(&[
            "project",
            "-q",
            "--shim",
            shim.to_str().unwrap(),
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
        ]);
    };
    let shim = shims.join("bridge.safetensors");
    fit("ridge", "new-to-old", &shim);
    // The reference: `shimkit project` over the mpnet query vectors.
    let queries = data.join("queries.mpnet.parquet");
    let projected = tmp.path().join("projected.parquet");
    project(&shim, &queries, &projected);
    let table = |p: &std::path::Path| {
        read_table(&TableSource::new(p).unwrap(), &ReadOptions::default()).unwrap()
    };
    let input = table(&queries);
    let want = table(&projected);
    // A trained (non-linear) shim too: doc-side cluster maps, applied to the corpus.
    let docs = shims.join("docs.safetensors");
    fit("cluster", "old-to-new", &docs);
    let docs_projected = tmp.path().join("docs.parquet");
    project(&docs, &corpus("minilm"), &docs_projected);
    std::fs::write(shims.join("aliases.json"), r#"{"prod": "bridge"}"#).unwrap();
    let keys = tmp.path().join("keys.txt");
    std::fs::write(&keys, "read-key-0123456789\nadmin admin-key-0123456789\n").unwrap();

    let server = Server::start(&[
        "--shims",
        shims.to_str().unwrap(),
        "--api-key-file",
        keys.to_str().unwrap(),
    ]);
    let auth = ("authorization", "Bearer read-key-0123456789".to_owned());

    // Raw f32 rows, all 225 queries at once, through the alias.
    let (rows, dim) = input.vectors.dim();
    let body: Vec<u8> = input.vectors.iter().flat_map(|v| v.to_le_bytes()).collect();
    let (status, headers, out) = http(
        &server.addr,
        "POST",
        "/v1/shims/prod/project",
        &[
            auth.clone(),
            ("content-type", "application/octet-stream".into()),
            ("x-shimkit-rows", rows.to_string()),
            ("x-shimkit-dim", dim.to_string()),
        ],
        &body,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
    assert_eq!(header(&headers, "x-shimkit-shim"), "bridge");
    let got: Vec<f32> = out
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(got.len(), want.vectors.len());
    let worst = got
        .iter()
        .zip(want.vectors.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 1e-6, "max |serve − project| = {worst}");

    // The README's example: one vector as JSON.
    let one: Vec<f32> = input.vectors.row(0).to_vec();
    let json = serde_json::json!({ "vectors": [one] }).to_string();
    let (status, _, out) = http(
        &server.addr,
        "POST",
        "/v1/shims/prod/project",
        &[auth.clone(), ("content-type", "application/json".into())],
        json.as_bytes(),
    );
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let first: Vec<f32> = serde_json::from_value(v["vectors"][0].clone()).unwrap();
    for (a, b) in first.iter().zip(want.vectors.row(0)) {
        assert!((a - b).abs() <= 1e-6);
    }
    let (status, _, _) = http(
        &server.addr,
        "POST",
        "/v1/shims/prod/project",
        &[("content-type", "application/json".into())],
        json.as_bytes(),
    );
    assert_eq!(status, 401);

    // The cluster shim over Arrow IPC, the whole corpus in one stream.
    let old_docs = table(&corpus("minilm"));
    let (rows, dim) = old_docs.vectors.dim();
    let flat: Vec<f32> = old_docs.vectors.iter().copied().collect();
    let stream = shimkit_server::http::encoding::arrow_stream(rows, dim, &flat);
    let (status, _, out) = http(
        &server.addr,
        "POST",
        "/v1/shims/docs/project",
        &[
            auth.clone(),
            ("content-type", "application/vnd.apache.arrow.stream".into()),
        ],
        &stream,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&out));
    let (got, schema) = shimkit_server::http::encoding::arrow_rows(&out).unwrap();
    assert_eq!(schema.metadata()["shimkit.shim"], "docs");
    let want_docs = table(&docs_projected);
    assert_eq!(got.data.len(), want_docs.vectors.len());
    let worst = got
        .data
        .iter()
        .zip(want_docs.vectors.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(
        worst <= 1e-6,
        "cluster shim: max |serve − project| = {worst}"
    );

    // SIGHUP: a second shim appears.
    std::fs::copy(&shim, shims.join("bridge-v2.safetensors")).unwrap();
    server.signal("HUP");
    let listed = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        let (_, _, out) = http(
            &server.addr,
            "GET",
            "/v1/shims",
            std::slice::from_ref(&auth),
            b"",
        );
        String::from_utf8_lossy(&out).contains("\"bridge-v2\"")
    });
    assert!(listed, "SIGHUP did not load bridge-v2");

    // SIGTERM: a request already sent is answered, then the process exits 0.
    let mut slow = TcpStream::connect(&server.addr).unwrap();
    let head = format!(
        "POST /v1/shims/bridge/project HTTP/1.1\r\nhost: x\r\nauthorization: Bearer read-key-0123456789\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        json.len()
    );
    slow.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(200));
    slow.write_all(json.as_bytes()).unwrap();
    let mut answer = String::new();
    slow.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(slow);
    reader.read_line(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    drop(reader);
    let mut server = server;
    let status = server.child.wait().unwrap();
    assert!(status.success(), "serve exited with {status}");
}

#[test]
fn serve_refuses_bad_settings_with_the_reason() {
    let o = shimkit(&["serve", "--shims", "/nonexistent/shims"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/shims"));
    let o = shimkit(&["serve"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--shims"));
    let tmp = tempfile::tempdir().unwrap();
    let keys = tmp.path().join("keys");
    std::fs::write(&keys, "short\n").unwrap();
    let o = shimkit(&[
        "serve",
        "--shims",
        tmp.path().to_str().unwrap(),
        "--api-key-file",
        keys.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("line 1"));
    let o = shimkit(&[
        "serve",
        "--shims",
        tmp.path().to_str().unwrap(),
        "--addr",
        "nowhere",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("addr"));
}
