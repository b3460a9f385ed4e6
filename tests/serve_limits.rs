//! `shimkit serve` against hostile clients (issue 13): silent and half-sent connections,
//! floods past the connection limit, bodies that lie about their length or never arrive,
//! answers many times the size of their request, slow readers, and a key file broken on
//! reload. Each runs the real process over real sockets.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Server, http};
use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shimkit_trainer::{Direction, Shim, ShimMeta, artifact};

fn write_shim(dir: &Path, name: &str, d_in: usize, d_out: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(d_in as u64);
    let w = Array2::from_shape_fn((d_in, d_out), |_| rng.random_range(-1.0f32..1.0));
    let meta = ShimMeta::new("ridge", Direction::NewToOld, d_in, d_out);
    let shim = Shim::new(w, Array1::zeros(d_out), meta);
    artifact::save(&shim, &dir.join(format!("{name}.safetensors"))).unwrap();
}

fn shims() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write_shim(d.path(), "small", 8, 6);
    d
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until the peer closes; `Err` when the read times out instead.
fn read_to_close(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(all),
            Ok(n) => all.extend_from_slice(&buf[..n]),
            // A reset is a close too.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(all),
            Err(e) => return Err(e),
        }
    }
}

/// One keep-alive `GET /healthz` on an open connection: the status.
fn healthz_on(s: &mut TcpStream) -> u16 {
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).unwrap() == 0 {
            return 0;
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length: usize = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    s.read_exact(&mut body).unwrap();
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

fn status_of(raw: &[u8]) -> u16 {
    String::from_utf8_lossy(raw)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    kib / 1024.0
}

#[test]
fn silent_half_sent_and_idle_connections_are_closed_at_the_header_timeout() {
    let dir = shims();
    let server = Server::start(&[
        "--shims",
        dir.path().to_str().unwrap(),
        "--header-timeout",
        "0.3",
    ]);
    for partial in [&b""[..], b"GET /healthz HTTP/1.1\r\nhost: x\r\n"] {
        let mut s = connect(&server.addr);
        s.write_all(partial).unwrap();
        let started = Instant::now();
        let got = read_to_close(&mut s).expect("the server kept the connection open");
        let waited = started.elapsed();
        assert!(got.is_empty(), "no answer to half a request: {got:?}");
        assert!(
            waited >= Duration::from_millis(200) && waited < Duration::from_secs(5),
            "closed after {waited:?}"
        );
    }
    // A kept-alive connection is served, then closed once idle for the same time.
    let mut s = connect(&server.addr);
    assert_eq!(healthz_on(&mut s), 200);
    assert_eq!(healthz_on(&mut s), 200, "keep-alive works");
    let started = Instant::now();
    assert!(
        read_to_close(&mut s)
            .expect("idle connection kept")
            .is_empty()
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn past_the_connection_limit_new_connections_are_refused_fast_and_open_ones_served() {
    let dir = shims();
    let server = Server::start(&[
        "--shims",
        dir.path().to_str().unwrap(),
        "--max-connections",
        "4",
        "--header-timeout",
        "30",
    ]);
    let mut open: Vec<TcpStream> = (0..4).map(|_| connect(&server.addr)).collect();
    for s in &mut open {
        assert_eq!(healthz_on(s), 200);
    }
    let started = Instant::now();
    let mut extra = connect(&server.addr);
    let _ = extra.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n");
    let answer = read_to_close(&mut extra).expect("a refused connection is closed");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        status_of(&answer),
        503,
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(String::from_utf8_lossy(&answer).contains("connection limit"));
    for s in &mut open {
        assert_eq!(healthz_on(s), 200, "open connections keep being served");
    }
    // A slot frees when a connection closes.
    drop(open.pop());
    let served = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        healthz_on(&mut connect(&server.addr)) == 200
    });
    assert!(served);
    let (_, _, metrics) = {
        drop(open.pop());
        std::thread::sleep(Duration::from_millis(100));
        http(&server.addr, "GET", "/metrics", &[], b"")
    };
    let text = String::from_utf8_lossy(&metrics);
    assert!(text.contains("shimkit_connections_refused_total"), "{text}");
}

#[test]
fn a_flood_of_idle_connections_holds_no_more_than_the_limit() {
    let dir = shims();
    let server = Server::start(&[
        "--shims",
        dir.path().to_str().unwrap(),
        "--max-connections",
        "100",
        "--header-timeout",
        "1",
    ]);
    let pid = server.child.id();
    let before = open_files(pid);
    let flood: Vec<TcpStream> = (0..2000)
        .filter_map(|_| TcpStream::connect(&server.addr).ok())
        .collect();
    assert!(flood.len() > 1900, "the kernel accepted {}", flood.len());
    std::thread::sleep(Duration::from_millis(300));
    let during = open_files(pid);
    assert!(
        during < before + 100 + 300,
        "{before} descriptors before, {during} during a flood of 2000"
    );
    // Refused fast while full, and served again once the idle ones time out; the flood's
    // sockets are still open on this side. While the refusals in flight are at their own
    // limit, a connection is closed without an answer: that too must be fast.
    let started = Instant::now();
    let status = healthz_status(&server.addr);
    assert!(
        matches!(status, Some(200 | 503) | None) && started.elapsed() < Duration::from_secs(2),
        "{status:?} after {:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(1500));
    let healthy = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        healthz_status(&server.addr) == Some(200)
    });
    assert!(
        healthy,
        "/healthz does not answer after the flood timed out"
    );
    drop(flood);
}

#[test]
fn a_body_that_lies_about_its_length_or_never_arrives_is_refused() {
    let dir = shims();
    let server = Server::start(&[
        "--shims",
        dir.path().to_str().unwrap(),
        "--body-timeout",
        "0.5",
    ]);
    // 10 GB claimed, nothing sent: refused from the header, with or without Expect.
    for expect in ["", "expect: 100-continue\r\n"] {
        let mut s = connect(&server.addr);
        let head = format!(
            "POST /v1/shims/small/project HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\ncontent-length: 10000000000\r\n{expect}\r\n"
        );
        s.write_all(head.as_bytes()).unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        assert!(!text.contains("100 Continue"), "{text}");
    }
    // 100 bytes promised, 10 sent: 408 after the body timeout.
    let mut s = connect(&server.addr);
    s.write_all(b"POST /v1/shims/small/project HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"vectors\"")
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[test]
fn a_key_file_broken_on_reload_fails_closed_until_it_loads() {
    let dir = shims();
    let keys = dir.path().join("keys.txt");
    std::fs::write(
        &keys,
        "read old-key-0123456789\nadmin admin-key-0123456789\n",
    )
    .unwrap();
    let server = Server::start(&[
        "--shims",
        dir.path().to_str().unwrap(),
        "--api-key-file",
        keys.to_str().unwrap(),
    ]);
    let with = |key: &str| vec![("authorization", format!("Bearer {key}"))];
    let list = |key: &str| http(&server.addr, "GET", "/v1/shims", &with(key), b"").0;
    assert_eq!(list("old-key-0123456789"), 200);
    // The operator revokes old-key, with a typo on another line.
    std::fs::write(
        &keys,
        "read new-key-0123456789\nadmni admin-key-0123456789\n",
    )
    .unwrap();
    server.signal("HUP");
    let closed = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        list("old-key-0123456789") == 503
    });
    assert!(closed, "the revoked key still works after a broken reload");
    assert_eq!(list("new-key-0123456789"), 503);
    let (status, _, body) = http(&server.addr, "GET", "/readyz", &[], b"");
    assert_eq!(status, 503);
    assert!(String::from_utf8_lossy(&body).contains("key file failed"));
    let (_, _, metrics) = http(&server.addr, "GET", "/metrics", &[], b"");
    assert!(String::from_utf8_lossy(&metrics).contains("shimkit_key_file_loaded 0"));
    // Fixed: the new keys work, the revoked one does not.
    std::fs::write(
        &keys,
        "read new-key-0123456789\nadmin admin-key-0123456789\n",
    )
    .unwrap();
    server.signal("HUP");
    let open = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        list("new-key-0123456789") == 200
    });
    assert!(open);
    assert_eq!(list("old-key-0123456789"), 401);
    assert_eq!(http(&server.addr, "GET", "/readyz", &[], b"").0, 200);
}

#[test]
fn readyz_shows_paths_and_errors_only_to_keyed_callers() {
    let dir = shims();
    std::fs::write(dir.path().join("broken.safetensors"), b"not a shim").unwrap();
    let keys = dir.path().join("keys.txt");
    std::fs::write(&keys, "read read-key-0123456789\n").unwrap();
    let server = Server::start(&[
        "--shims",
        dir.path().to_str().unwrap(),
        "--api-key-file",
        keys.to_str().unwrap(),
    ]);
    let (_, _, anonymous) = http(&server.addr, "GET", "/readyz", &[], b"");
    let v: serde_json::Value = serde_json::from_slice(&anonymous).unwrap();
    assert_eq!(v["failures"], 1);
    assert_eq!(v["failed"], serde_json::json!([]));
    assert!(!String::from_utf8_lossy(&anonymous).contains(dir.path().to_str().unwrap()));
    let key = [("authorization", "Bearer read-key-0123456789".to_owned())];
    let (_, _, keyed) = http(&server.addr, "GET", "/readyz", &key, b"");
    let v: serde_json::Value = serde_json::from_slice(&keyed).unwrap();
    assert!(
        v["failed"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("broken.safetensors")
    );
}

/// One request whose answer the client does not read: the server holds it until the
/// connection takes it.
fn slow_reader(addr: &str, body: &[u8], rows: usize, dim: usize) -> TcpStream {
    let mut s = connect(addr);
    let head = format!(
        "POST /v1/shims/wide/project HTTP/1.1\r\nhost: x\r\ncontent-type: application/octet-stream\r\nx-shimkit-rows: {rows}\r\nx-shimkit-dim: {dim}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    s
}

#[test]
fn answers_are_bounded_and_slow_readers_cannot_hold_more_than_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    write_shim(dir.path(), "wide", 384, 768);
    let server = Server::start(&[
        "--shims",
        dir.path().to_str().unwrap(),
        "--max-body-bytes",
        "120000000",
        "--max-inflight-bytes",
        "600000000",
    ]);
    let pid = server.child.id();
    // The reported case: 65,536 × 384 as JSON asks for an 800 MB JSON answer.
    let rows = 65_536;
    let mut json = String::from("{\"vectors\":[");
    for r in 0..rows {
        json.push_str(if r == 0 { "[" } else { ",[" });
        json.push_str(&vec!["0.5"; 384].join(","));
        json.push(']');
    }
    json.push_str("]}");
    let (status, _, body) = http(
        &server.addr,
        "POST",
        "/v1/shims/wide/project",
        &[("content-type", "application/json".into())],
        json.as_bytes(),
    );
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("max_answer_bytes"));
    drop(json);

    // Four slow readers of 200 MB octet-stream answers: at most one is built at a time
    // within a 600 MB budget (a request holds its batch, the rows and the answer).
    let base = rss_mib(pid);
    let values: Vec<u8> = (0..rows * 384)
        .flat_map(|i| ((i % 7) as f32 + 1.0).to_le_bytes())
        .collect();
    let readers: Vec<TcpStream> = (0..4)
        .map(|_| slow_reader(&server.addr, &values, rows, 384))
        .collect();
    drop(values);
    let mut peak = base;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        peak = peak.max(rss_mib(pid));
    }
    // One answer in flight (~500 MB with its batch and rows) and four request bodies of
    // 100 MB read: the reported case held 3.4 GB.
    assert!(
        peak - base < 1100.0,
        "RSS grew {:.0} MiB over {base:.0}",
        peak - base
    );
    // Read every answer at once (the server builds them in its own order); each is whole.
    let answers: Vec<_> = readers
        .into_iter()
        .map(|mut s| {
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    assert_eq!(s.read(&mut byte).unwrap(), 1);
                    head.push(byte[0]);
                }
                let mut answer = vec![0u8; rows * 768 * 4];
                s.read_exact(&mut answer).unwrap();
                (
                    status_of(&head),
                    String::from_utf8_lossy(&head).into_owned(),
                )
            })
        })
        .collect();
    for a in answers {
        let (status, head) = a.join().unwrap();
        assert_eq!(status, 200, "{head}");
    }
    // Afterwards the server returns what it freed, keeping up to 128 MiB for the next one.
    let settled = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        rss_mib(pid) < base + 128.0 + 64.0
    });
    assert!(
        settled,
        "RSS {:.0} MiB after the burst, {base:.0} before",
        rss_mib(pid)
    );
}

/// `GET /healthz` on a fresh connection: its status, or `None` when the server closed or
/// reset the connection without an answer.
fn healthz_status(addr: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let head = std::str::from_utf8(raw.get(..12)?).ok()?;
    head.strip_prefix("HTTP/1.1 ")?.trim().parse().ok()
}
