//! Crash safety: `fit`, `project` and `gen` killed with SIGKILL at several moments. After
//! each kill the output is either the previous one, byte for byte, or a complete and valid
//! new one; never missing, truncated or mixed.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::shimkit;

/// Moments to kill at, from the start of the process.
const MOMENTS_MS: [u64; 7] = [0, 15, 40, 100, 250, 600, 1500];

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn succeed(args: &[&str]) {
    let o = shimkit(args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// Every file under `path` (or the file itself) with its bytes.
fn snapshot(path: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            out.extend(snapshot(&entry.path()));
        }
    } else if path.exists() {
        out.insert(path.to_path_buf(), std::fs::read(path).unwrap());
    }
    out
}

/// Runs `args`, kills it with SIGKILL after `ms`, and returns whether it had finished.
fn kill_after(args: &[&str], ms: u64) -> bool {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    finished
}

/// After each kill, `output` is the previous one or passes `valid`.
fn check(args: &[&str], output: &Path, valid: impl Fn(&Path) -> bool) {
    let previous = snapshot(output);
    assert!(!previous.is_empty(), "no previous output to protect");
    let mut replaced = 0;
    for ms in MOMENTS_MS {
        let finished = kill_after(args, ms);
        let now = snapshot(output);
        if now == previous {
            continue;
        }
        assert!(
            valid(output),
            "killed after {ms} ms (finished: {finished}): {} is neither the previous output nor a valid new one",
            output.display()
        );
        replaced += 1;
        // Put the previous output back for the next moment.
        std::fs::remove_dir_all(output)
            .or_else(|_| std::fs::remove_file(output))
            .unwrap();
        for (path, bytes) in &previous {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }
    eprintln!(
        "{}: replaced whole at {replaced} of {} moments",
        args[0],
        MOMENTS_MS.len()
    );
}

fn inspects_clean(path: &Path) -> bool {
    shimkit(&["inspect", s(path)]).status.success()
}

#[test]
fn killed_runs_leave_the_previous_output_or_a_complete_new_one() {
    let d = tempfile::tempdir().unwrap();
    let set = d.path().join("set");
    succeed(&[
        "gen",
        "-q",
        "--docs",
        "60000",
        "--queries",
        "20",
        "--old-dim",
        "96",
        "--new-dim",
        "128",
        "--seed",
        "1",
        "--no-text",
        "--out",
        s(&set),
    ]);
    let (old, new) = (
        set.join("corpus.old.parquet"),
        set.join("corpus.new.parquet"),
    );

    // fit: the previous artifact is a Procrustes shim; the runs being killed fit ridge.
    let shim = d.path().join("s.safetensors");
    let fit = |method: &'static str, out: &Path| -> Vec<String> {
        [
            "fit",
            "-q",
            "--method",
            method,
            "--old",
            s(&old),
            "--new",
            s(&new),
            "--out",
            s(out),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let args = fit("procrustes", &shim);
    succeed(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let args = fit("ridge", &shim);
    check(
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
        &shim,
        inspects_clean,
    );
    // Once more with ridge as the previous shim, for the next step.
    succeed(&args.iter().map(String::as_str).collect::<Vec<_>>());

    // project: the previous table comes from another shim, so old and new bytes differ.
    let other = d.path().join("other.safetensors");
    succeed(&[
        "fit",
        "-q",
        "--method",
        "procrustes",
        "--old",
        s(&old),
        "--new",
        s(&new),
        "--out",
        s(&other),
    ]);
    let out = d.path().join("projected.parquet");
    succeed(&[
        "project",
        "-q",
        "--shim",
        s(&other),
        "--input",
        s(&old),
        "--output",
        s(&out),
    ]);
    check(
        &[
            "project",
            "-q",
            "--shim",
            s(&shim),
            "--input",
            s(&old),
            "--output",
            s(&out),
        ],
        &out,
        |p| {
            let o = shimkit(&["inspect", s(p), "--json"]);
            let rows = serde_json::from_slice::<serde_json::Value>(&o.stdout)
                .map(|r| r["rows"].as_u64())
                .unwrap_or(None);
            o.status.success() && rows == Some(60_000)
        },
    );

    // gen --force over a set gen wrote, with another seed.
    check(
        &[
            "gen",
            "-q",
            "--docs",
            "60000",
            "--queries",
            "20",
            "--old-dim",
            "96",
            "--new-dim",
            "128",
            "--seed",
            "2",
            "--no-text",
            "--force",
            "--out",
            s(&set),
        ],
        &set,
        inspects_clean,
    );
}
