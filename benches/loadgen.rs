//! Load generator for `shimkit serve`: latency at a fixed rate, batch throughput, hot swaps
//! under load, and a soak. It writes its own shims (768 → 1024 linear), starts the release
//! `shimkit` binary on a free port, and drives it over loopback HTTP/1.1 keep-alive with a
//! minimal blocking client (one thread per connection), so the client adds as little as a
//! client can.
//!
//! ```text
//! cargo bench --bench loadgen -- all            # every scenario, short soak
//! cargo bench --bench loadgen -- latency --rate 2000 --seconds 20
//! cargo bench --bench loadgen -- batch
//! cargo bench --bench loadgen -- swap --seconds 20
//! cargo bench --bench loadgen -- soak --seconds 60
//! ```
//!
//! Latency is timed from the moment a request is written; the report also gives it from
//! the moment the schedule wanted it written, which counts any queueing the client saw.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shimkit_trainer::{Direction, Shim, ShimMeta, artifact};

const D_IN: usize = 768;
const D_OUT: usize = 1024;

struct Options {
    scenario: String,
    rate: f64,
    seconds: f64,
    connections: usize,
    workers: Option<usize>,
}

fn parse_args() -> Options {
    let mut o = Options {
        scenario: "all".into(),
        rate: 2000.0,
        seconds: 20.0,
        connections: 8,
        workers: None,
    };
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).expect("a value after the flag").clone();
        match args[i].as_str() {
            "--rate" => o.rate = value().parse().expect("--rate N"),
            "--seconds" => o.seconds = value().parse().expect("--seconds S"),
            "--connections" => o.connections = value().parse().expect("--connections N"),
            "--workers" => o.workers = Some(value().parse().expect("--workers N")),
            s if !s.starts_with('-') => {
                o.scenario = s.to_owned();
                i += 1;
                continue;
            }
            other => panic!("unknown flag {other}"),
        }
        i += 2;
    }
    o
}

fn random_shim(seed: u64) -> Shim {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scale = 1.0 / (D_IN as f32).sqrt();
    let w = Array2::from_shape_fn((D_IN, D_OUT), |_| rng.random_range(-scale..scale));
    let b = Array1::from_shape_fn(D_OUT, |_| rng.random_range(-0.01f32..0.01));
    Shim::new(
        w,
        b,
        ShimMeta::new("ridge", Direction::NewToOld, D_IN, D_OUT),
    )
}

fn vectors(seed: u64, rows: usize) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows * D_IN)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect()
}

struct Server {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Server {
    fn start(dir: &Path, workers: Option<usize>) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shimkit"));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--shims"])
            .arg(dir)
            .stderr(Stdio::piped());
        if let Some(w) = workers {
            cmd.args(["--workers", &w.to_string()]);
        }
        let mut child = cmd.spawn().expect("start shimkit serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines.next().expect("serve exited").unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("[serve] {line}");
            }
        });
        Server {
            child,
            addr,
            dir: dir.to_path_buf(),
        }
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

/// A keep-alive HTTP/1.1 connection.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    host: String,
}

impl Client {
    fn connect(addr: &str) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        Client {
            writer: s.try_clone().unwrap(),
            reader: BufReader::with_capacity(1 << 16, s),
            host: addr.to_owned(),
        }
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, String)], body: &[u8]) {
        let mut req = Vec::with_capacity(256 + body.len());
        write!(
            req,
            "{method} {path} HTTP/1.1\r\nhost: {}\r\ncontent-length: {}\r\n",
            self.host,
            body.len()
        )
        .unwrap();
        for (k, v) in headers {
            write!(req, "{k}: {v}\r\n").unwrap();
        }
        req.extend_from_slice(b"\r\n");
        req.extend_from_slice(body);
        self.writer.write_all(&req).expect("write request");
    }

    fn receive(&mut self) -> std::io::Result<Answer> {
        let mut line = String::new();
        self.reader.read_line(&mut line)?;
        let status = line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
        let mut length = 0;
        loop {
            line.clear();
            self.reader.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Answer { status, body })
    }

    fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> std::io::Result<Answer> {
        self.send(method, path, headers, body);
        self.receive()
    }
}

fn json_body(x: &[f32]) -> Vec<u8> {
    let rows: Vec<&[f32]> = x.chunks_exact(D_IN).collect();
    serde_json::to_vec(&serde_json::json!({ "vectors": rows })).unwrap()
}

fn json_headers() -> Vec<(&'static str, String)> {
    vec![("content-type", "application/json".into())]
}

fn octet(x: &[f32]) -> (Vec<u8>, Vec<(&'static str, String)>) {
    let body = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let headers = vec![
        ("content-type", "application/octet-stream".into()),
        ("x-shimkit-rows", (x.len() / D_IN).to_string()),
        ("x-shimkit-dim", D_IN.to_string()),
    ];
    (body, headers)
}

/// What a fixed-rate run saw.
#[derive(Default)]
struct RunStats {
    service_us: Vec<f64>,
    scheduled_us: Vec<f64>,
    errors: u64,
    mismatches: u64,
    versions: HashMap<String, u64>,
    sent: u64,
}

/// One request, sent again and again.
#[derive(Clone, Copy)]
struct Load<'a> {
    addr: &'a str,
    method: &'a str,
    path: &'a str,
    headers: &'a [(&'static str, String)],
    body: &'a [u8],
}

type Check = Arc<dyn Fn(&Answer) -> Result<String, String> + Send + Sync>;

/// Linux lets a sleeping thread wake up to 50 µs late (its timer slack) to batch
/// wake-ups; that lateness is the client's, and showed in every "from schedule" figure.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK changes only the calling thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1, 0, 0, 0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn precise_sleeps() {}

/// Sends `body` to `path` at `rate` requests/s over `connections` keep-alive connections
/// for `seconds`, open loop: connection i owns every `connections`-th slot of the schedule.
fn fixed_rate(
    load: Load<'_>,
    rate: f64,
    seconds: f64,
    connections: usize,
    check: Option<Check>,
) -> RunStats {
    let Load {
        addr,
        method,
        path,
        headers,
        body,
    } = load;
    let start = Instant::now() + Duration::from_millis(50);
    let total = (rate * seconds) as u64;
    let threads: Vec<_> = (0..connections)
        .map(|c| {
            let (addr, method, path, headers, body, check) = (
                addr.to_owned(),
                method.to_owned(),
                path.to_owned(),
                headers.to_vec(),
                body.to_vec(),
                check.clone(),
            );
            std::thread::spawn(move || {
                precise_sleeps();
                let mut client = Client::connect(&addr);
                let mut stats = RunStats::default();
                let mut k = c as u64;
                while k < total {
                    let due = start + Duration::from_secs_f64(k as f64 / rate);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    let sent = Instant::now();
                    let answer = client.call(&method, &path, &headers, &body);
                    let done = Instant::now();
                    stats.sent += 1;
                    stats.service_us.push((done - sent).as_secs_f64() * 1e6);
                    stats.scheduled_us.push((done - due).as_secs_f64() * 1e6);
                    match answer {
                        Ok(a) if a.status == 200 => {
                            if let Some(check) = &check {
                                match check(&a) {
                                    Ok(v) => *stats.versions.entry(v).or_default() += 1,
                                    Err(e) => {
                                        if stats.mismatches < 3 {
                                            eprintln!("mismatch: {e}");
                                        }
                                        stats.mismatches += 1;
                                    }
                                }
                            }
                        }
                        Ok(a) => {
                            if stats.errors < 3 {
                                eprintln!(
                                    "status {}: {}",
                                    a.status,
                                    String::from_utf8_lossy(&a.body)
                                );
                            }
                            stats.errors += 1;
                        }
                        Err(e) => {
                            if stats.errors < 3 {
                                eprintln!("connection error: {e}");
                            }
                            stats.errors += 1;
                            client = Client::connect(&addr);
                        }
                    }
                    k += connections as u64;
                }
                stats
            })
        })
        .collect();
    let mut all = RunStats::default();
    for t in threads {
        let s = t.join().unwrap();
        all.service_us.extend(s.service_us);
        all.scheduled_us.extend(s.scheduled_us);
        all.errors += s.errors;
        all.mismatches += s.mismatches;
        all.sent += s.sent;
        for (v, n) in s.versions {
            *all.versions.entry(v).or_default() += n;
        }
    }
    all
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn summary(label: &str, stats: &mut RunStats, seconds: f64) {
    stats.service_us.sort_by(f64::total_cmp);
    stats.scheduled_us.sort_by(f64::total_cmp);
    let s = &stats.service_us;
    let q = &stats.scheduled_us;
    println!(
        "{label}: {} requests ({:.0}/s), {} errors | latency µs p50 {:.0}  p90 {:.0}  p99 {:.0}  p99.9 {:.0}  max {:.0} | from schedule p50 {:.0}  p99 {:.0}",
        stats.sent,
        stats.sent as f64 / seconds,
        stats.errors,
        percentile(s, 0.5),
        percentile(s, 0.9),
        percentile(s, 0.99),
        percentile(s, 0.999),
        s.last().copied().unwrap_or(f64::NAN),
        percentile(q, 0.5),
        percentile(q, 0.99),
    );
}

fn median_time(mut f: impl FnMut(), iters: usize) -> f64 {
    let mut t: Vec<f64> = (0..iters)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[t.len() / 2]
}

fn setup(dir: &Path) -> (Shim, Shim) {
    let a = random_shim(1);
    let b = random_shim(2);
    artifact::save(&a, &dir.join("bridge.safetensors")).unwrap();
    artifact::save(&b, &dir.join("bridge-v2.safetensors")).unwrap();
    std::fs::write(dir.join("aliases.json"), r#"{"prod": "bridge"}"#).unwrap();
    (a, b)
}

fn latency(server: &Server, shim: &Shim, o: &Options) {
    let x = vectors(7, 1);
    let view = ndarray::ArrayView2::from_shape((1, D_IN), &x).unwrap();
    let apply = median_time(
        || {
            std::hint::black_box(shim.apply(view, true).unwrap());
        },
        20_000,
    );
    println!(
        "in-process Shim::apply, one {D_IN}-d vector through {D_IN} → {D_OUT}: median {:.1} µs",
        apply * 1e6
    );
    let json = json_body(&x);
    let decode = median_time(
        || {
            std::hint::black_box(shimkit_server::http::encoding::decode_json(&json).unwrap());
        },
        20_000,
    );
    let y = shimkit_server::http::types::Rows {
        rows: 1,
        dim: D_OUT,
        data: shim.apply(view, true).unwrap().into_raw_vec_and_offset().0,
    };
    let encode = median_time(
        || {
            let answer = shimkit_server::http::types::ProjectResponse {
                vectors: y.clone(),
                shim: "bridge".into(),
                version: "0123456789abcdef".into(),
                alias: None,
                dim: D_OUT,
            };
            std::hint::black_box(serde_json::to_vec(&answer).unwrap());
        },
        20_000,
    );
    println!(
        "in-process JSON: decode the request {:.1} µs, encode the answer {:.1} µs",
        decode * 1e6,
        encode * 1e6
    );
    let (raw, raw_headers) = octet(&x);
    let path = "/v1/shims/bridge/project";
    // Warm the connections and the caches.
    let floor = Load {
        addr: &server.addr,
        method: "GET",
        path: "/healthz",
        headers: &[],
        body: b"",
    };
    fixed_rate(floor, o.rate, 2.0, o.connections, None);
    let mut s = fixed_rate(floor, o.rate, o.seconds, o.connections, None);
    summary(
        &format!("GET /healthz (the HTTP floor), {} req/s", o.rate),
        &mut s,
        o.seconds,
    );
    let jh = json_headers();
    let json = Load {
        addr: &server.addr,
        method: "POST",
        path,
        headers: &jh,
        body: &json,
    };
    fixed_rate(json, o.rate, 2.0, o.connections, None);
    let mut s = fixed_rate(json, o.rate, o.seconds, o.connections, None);
    summary(
        &format!("JSON, 1 vector, {} req/s", o.rate),
        &mut s,
        o.seconds,
    );
    let mut s = fixed_rate(
        Load {
            addr: &server.addr,
            method: "POST",
            path,
            headers: &raw_headers,
            body: &raw,
        },
        o.rate,
        o.seconds,
        o.connections,
        None,
    );
    summary(
        &format!("octet-stream, 1 vector, {} req/s", o.rate),
        &mut s,
        o.seconds,
    );
}

fn batch(server: &Server, shim: &Shim, o: &Options) {
    let rows = 1024;
    let x = vectors(8, rows);
    let view = ndarray::ArrayView2::from_shape((rows, D_IN), &x).unwrap();
    // The reference is measured again beside every served phase and the two readings
    // averaged: this VM's speed drifts by up to 30% within minutes, and a reference taken
    // once at the start moved the ratio by as much.
    let in_process = || {
        let apply = median_time(
            || {
                std::hint::black_box(shim.apply(view, true).unwrap());
            },
            30,
        );
        rows as f64 / apply
    };
    println!(
        "in-process Shim::apply, {rows} × {D_IN} → {D_OUT}: {:.0} vectors/s",
        in_process()
    );
    let (raw, raw_headers) = octet(&x);
    let arrow = shimkit_server::http::encoding::arrow_stream(rows, D_IN, &x);
    let arrow_headers = [(
        "content-type",
        "application/vnd.apache.arrow.stream".to_owned(),
    )];
    let json = json_body(&x);
    let jh = json_headers();
    let cases = [
        ("octet-stream", &raw[..], &raw_headers[..]),
        ("Arrow IPC", &arrow[..], &arrow_headers[..]),
        ("JSON", &json[..], &jh[..]),
    ];
    for (label, body, headers) in cases {
        for conns in [1usize, 2] {
            let before = in_process();
            let done = Arc::new(AtomicU64::new(0));
            let stop = Arc::new(AtomicBool::new(false));
            let started = Instant::now();
            let threads: Vec<_> = (0..conns)
                .map(|_| {
                    let (addr, body, headers, done, stop) = (
                        server.addr.clone(),
                        body.to_vec(),
                        headers.to_vec(),
                        done.clone(),
                        stop.clone(),
                    );
                    std::thread::spawn(move || {
                        let mut c = Client::connect(&addr);
                        while !stop.load(Ordering::Relaxed) {
                            let a = c
                                .call("POST", "/v1/shims/bridge/project", &headers, &body)
                                .unwrap();
                            assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_secs_f64(o.seconds.min(10.0)));
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                t.join().unwrap();
            }
            let secs = started.elapsed().as_secs_f64();
            let vps = done.load(Ordering::Relaxed) as f64 * rows as f64 / secs;
            let reference = (before + in_process()) / 2.0;
            println!(
                "{label}, batches of {rows}, {conns} connection(s): {vps:.0} vectors/s = {:.0}% of in-process ({reference:.0} vectors/s, before and after)",
                100.0 * vps / reference
            );
        }
    }
}

fn swap(server: &Server, shims: (&Shim, &Shim), o: &Options) {
    let x = vectors(9, 1);
    let view = ndarray::ArrayView2::from_shape((1, D_IN), &x).unwrap();
    // The versions a response may come from: both files as written, and a third content
    // the swapper writes into bridge-v2 and back.
    let third = random_shim(3);
    let mut truth: HashMap<String, Vec<f32>> = HashMap::new();
    let mut bytes = Vec::new();
    for s in [shims.0, shims.1, &third] {
        let b = artifact::to_bytes(s).unwrap();
        let version = format!("{:016x}", shimkit_trainer::hash::fnv1a(&b));
        truth.insert(
            version,
            s.apply(view, true).unwrap().into_raw_vec_and_offset().0,
        );
        bytes.push(b);
    }
    let truth = Arc::new(truth);
    let check: Check = Arc::new(move |a: &Answer| {
        let v: serde_json::Value = serde_json::from_slice(&a.body).map_err(|e| e.to_string())?;
        let version = v["version"].as_str().ok_or("no version")?.to_owned();
        let want = truth
            .get(&version)
            .ok_or(format!("unknown version {version}"))?;
        let got: Vec<f32> =
            serde_json::from_value(v["vectors"][0].clone()).map_err(|e| e.to_string())?;
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        if got.len() != want.len() || worst > 1e-6 {
            return Err(format!("version {version}: max diff {worst}"));
        }
        Ok(version)
    });
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (addr, dir, stop) = (server.addr.clone(), server.dir.clone(), stop.clone());
        let (v2, v3) = (bytes[1].clone(), bytes[2].clone());
        std::thread::spawn(move || {
            let mut c = Client::connect(&addr);
            let mut swaps = 0u64;
            let mut reloads = 0u64;
            let mut failures = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let target = if swaps.is_multiple_of(2) {
                    "bridge-v2"
                } else {
                    "bridge"
                };
                let body = format!("{{\"target\": \"{target}\"}}");
                let a = c
                    .call("PUT", "/v1/aliases/prod", &json_headers(), body.as_bytes())
                    .unwrap();
                failures += u64::from(a.status != 200);
                swaps += 1;
                // Rewrite bridge-v2 (as `shimkit fit` would: a new file renamed over it)
                // and reload.
                let content = if reloads.is_multiple_of(2) { &v3 } else { &v2 };
                shimkit_data::write_atomic(dir.join("bridge-v2.safetensors"), content).unwrap();
                let a = c.call("POST", "/v1/reload", &[], b"").unwrap();
                failures += u64::from(
                    a.status != 200 || !String::from_utf8_lossy(&a.body).contains("\"failed\":[]"),
                );
                reloads += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            (swaps, reloads, failures)
        })
    };
    let (jh, body) = (json_headers(), json_body(&x));
    let load = Load {
        addr: &server.addr,
        method: "POST",
        path: "/v1/shims/prod/project",
        headers: &jh,
        body: &body,
    };
    let mut s = fixed_rate(load, o.rate, o.seconds, o.connections, Some(check));
    stop.store(true, Ordering::Relaxed);
    let (swaps, reloads, admin_failures) = swapper.join().unwrap();
    summary(
        &format!("swap under load, {} req/s", o.rate),
        &mut s,
        o.seconds,
    );
    let mut versions: Vec<_> = s.versions.iter().collect();
    versions.sort();
    println!(
        "  {swaps} alias switches and {reloads} reloads ({admin_failures} failed); {} failed requests, {} answers not equal to the version they name; answers by version: {versions:?}",
        s.errors, s.mismatches
    );
}

fn soak(server: &Server, o: &Options) {
    let x = vectors(10, 1);
    let body = json_body(&x);
    let rss_start = server.rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let pid = server.child.id();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut samples = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(5));
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let kib: u64 = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                samples.push(kib);
            }
            samples
        })
    };
    let jh = json_headers();
    let load = Load {
        addr: &server.addr,
        method: "POST",
        path: "/v1/shims/bridge/project",
        headers: &jh,
        body: &body,
    };
    let mut s = fixed_rate(load, o.rate, o.seconds, o.connections, None);
    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().unwrap();
    summary(
        &format!("soak {} s at {} req/s", o.seconds, o.rate),
        &mut s,
        o.seconds,
    );
    println!(
        "  server RSS: {} MiB before, every 5 s: {:?} MiB",
        rss_start / 1024,
        samples.iter().map(|k| k / 1024).collect::<Vec<_>>()
    );
}

fn main() {
    let o = parse_args();
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = setup(dir.path());
    let server = Server::start(dir.path(), o.workers);
    println!(
        "shimkit serve at {} ({} cores here), {} connections",
        server.addr,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        o.connections
    );
    match o.scenario.as_str() {
        "latency" => latency(&server, &a, &o),
        "batch" => batch(&server, &a, &o),
        "swap" => swap(&server, (&a, &b), &o),
        "soak" => soak(&server, &o),
        "all" => {
            latency(&server, &a, &o);
            batch(&server, &a, &o);
            swap(&server, (&a, &b), &o);
            soak(&server, &o);
        }
        other => panic!("unknown scenario {other}: latency, batch, swap, soak or all"),
    }
}
