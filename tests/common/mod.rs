//! Helpers shared by the end-to-end tests: running the program, and finding the Python
//! that the interoperability checks need.
#![allow(dead_code)] // each test binary uses its own subset

pub mod engine;
pub mod migration;
pub mod pg;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Runs the `shimkit` binary built for these tests.
pub fn shimkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(args)
        .output()
        .expect("run shimkit")
}

/// A run's stdout then stderr, for failure messages.
pub fn output_text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a command that must fail with exit code 1; its stderr.
pub fn fails(args: &[&str]) -> String {
    let o = shimkit(args);
    assert_eq!(
        o.status.code(),
        Some(1),
        "shimkit {args:?}:\n{}",
        output_text(&o)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A Python with pyarrow, numpy and safetensors: `SHIMKIT_PYTHON`, else `.venv/bin/python`,
/// else `python3`. Without one the caller's test says so and passes, unless
/// `SHIMKIT_REQUIRE_PYTHON=1` (CI sets it), which makes a missing Python a failure.
pub fn python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("SHIMKIT_PYTHON").map(PathBuf::from),
        Some(root().join(".venv/bin/python")),
        Some(PathBuf::from("python3")),
    ];
    for c in candidates.into_iter().flatten() {
        let ok = Command::new(&c)
            .args(["-c", "import pyarrow, numpy, safetensors"])
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(c);
        }
    }
    if std::env::var("SHIMKIT_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
        panic!("SHIMKIT_REQUIRE_PYTHON=1 but no Python with pyarrow, numpy and safetensors");
    }
    eprintln!(
        "skipped: no Python with pyarrow, numpy and safetensors (set SHIMKIT_PYTHON or create .venv)"
    );
    None
}

/// `shimkit serve` on a free port, killed when dropped.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shimkit"))
            .arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shimkit serve");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("serve exited before listening")
                .unwrap();
            if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on a fresh connection: (status, headers, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {name} header"))
}

/// Debian's headless Chromium (`SHIMKIT_CHROMIUM`, else `/usr/bin/chromium`). Without it the
/// caller's test says so and passes, unless `SHIMKIT_REQUIRE_CHROMIUM=1` (CI sets it).
pub fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("SHIMKIT_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if path.is_file() {
        return Some(path);
    }
    if std::env::var("SHIMKIT_REQUIRE_CHROMIUM").is_ok_and(|v| v == "1") {
        panic!(
            "SHIMKIT_REQUIRE_CHROMIUM=1 but no Chromium at {}",
            path.display()
        );
    }
    eprintln!(
        "skipped: no Chromium at {} (apt-get install chromium, or set SHIMKIT_CHROMIUM)",
        path.display()
    );
    None
}
