//! `--engine df://` end to end on a real Ballista cluster: a scheduler and two executors
//! started as `shimkit cluster` processes on loopback, jobs compared with local runs, an
//! executor killed in the middle of a job, and a scheduler that is not there.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::engine::*;

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_listening(port: u16, what: &str, child: &mut Child) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited: {status}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{what} never listened"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A scheduler and `executors` executors of one core each, stopped when dropped.
struct Cluster {
    scheduler: Child,
    executors: Vec<Child>,
    url: String,
}

impl Cluster {
    fn start(executors: usize, log_dir: &Path) -> Cluster {
        let port = free_port();
        let spawn = |args: &[String], log: &str| {
            Command::new(env!("CARGO_BIN_EXE_shimkit"))
                .args(args)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(log_dir.join(log)).unwrap())
                .spawn()
                .unwrap()
        };
        let mut scheduler = spawn(
            &[
                "cluster".into(),
                "scheduler".into(),
                "--bind".into(),
                format!("127.0.0.1:{port}"),
                // Lost executors are noticed within seconds, not the default half minute.
                "--executor-timeout".into(),
                "4".into(),
            ],
            "scheduler.log",
        );
        wait_listening(port, "the scheduler", &mut scheduler);
        let mut cluster = Cluster {
            scheduler,
            executors: Vec::new(),
            url: format!("df://127.0.0.1:{port}"),
        };
        for i in 0..executors {
            let (flight, grpc) = (free_port(), free_port());
            let mut child = spawn(
                &[
                    "cluster".into(),
                    "executor".into(),
                    "--scheduler".into(),
                    format!("127.0.0.1:{port}"),
                    "--bind".into(),
                    format!("127.0.0.1:{flight}"),
                    "--grpc-port".into(),
                    grpc.to_string(),
                    "--cores".into(),
                    "1".into(),
                    "--heartbeat".into(),
                    "1".into(),
                ],
                &format!("executor-{i}.log"),
            );
            wait_listening(grpc, "an executor", &mut child);
            cluster.executors.push(child);
        }
        cluster
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.executors.iter_mut().chain([&mut self.scheduler]) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn project_fit_and_sql_on_a_cluster_equal_local_runs() {
    let d = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(2, d.path());
    let (shim, old, new) = fitted(d.path(), "ridge");
    let expected = projected_locally(d.path(), &shim, &old);
    let parts = split_corpus(d.path(), 4);

    // project: the same vectors as shimkit's own, one file per task.
    let out = d.path().join("cluster-out");
    let text = ok(&[
        "project",
        "--shim",
        s(&shim),
        "--input",
        s(&parts),
        "--output",
        s(&out),
        "--engine",
        &cluster.url,
        "--partitions",
        "4",
    ]);
    assert!(text.contains("projected 1400 vectors"), "{text}");
    assert_same(&by_id(&out), &expected);
    let files = std::fs::read_dir(&out).unwrap().count();
    assert!(files >= 2, "{files} files: the tasks wrote their own");
    no_staging_left(d.path());

    // fit: the statistics gathered on the executors give the weights and λ of `fit`, from
    // tables read side by side (row-aligned) or joined by id (rows in another order).
    let aligned = split_corpus_as(d.path(), 3, true);
    for (method, input, pairing) in [
        ("ridge", &aligned, "side by side"),
        ("lowrank", &parts, "joined by id"),
        ("auto", &aligned, "side by side"),
    ] {
        let local = d.path().join(format!("{method}-local.safetensors"));
        let remote = d.path().join(format!("{method}-remote.safetensors"));
        // `auto` through an engine chooses among the linear methods only: its reference is
        // the same choice in one process.
        let mut reference = vec![
            "--old",
            &old,
            "--new",
            &new,
            "--method",
            method,
            "--out",
            s(&local),
        ];
        if method == "auto" {
            reference.extend(["--engine", "local"]);
        }
        let a = fit_json(&reference);
        let b = fit_json(&[
            "--old",
            s(input),
            "--new",
            &new,
            "--method",
            method,
            "--out",
            s(&remote),
            "--engine",
            &cluster.url,
            "--partitions",
            "3",
        ]);
        assert_eq!(b["pairs"], 1400);
        let how = b["pairing"].as_str().unwrap();
        assert!(how.contains(pairing), "{method}: {how}");
        assert_eq!(a["chosen"]["method"], b["chosen"]["method"], "{method}");
        match (
            a["chosen"]["lambda"].as_f64(),
            b["chosen"]["lambda"].as_f64(),
        ) {
            (Some(x), Some(y)) => {
                assert!((x - y).abs() <= 1e-6 * x.abs(), "{method}: λ {x} vs {y}")
            }
            _ => assert_eq!(a["chosen"]["lambda"], b["chosen"]["lambda"], "{method}"),
        }
        assert_eq!(a["chosen"]["rank"], b["chosen"]["rank"], "{method}");
        let (wa, wb) = (weights(&local), weights(&remote));
        let scale = wa.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let diff = (&wa - &wb).iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(diff <= 1e-6 * scale, "{method}: {diff} against {scale}");
    }

    // sql: printed and written results, with the shim carried to the executors by content.
    let table = format!("corpus={}", s(&parts));
    let bridge = format!("bridge={}", s(&shim));
    let printed = ok(&[
        "sql",
        "--engine",
        &cluster.url,
        "--table",
        &table,
        "--shim",
        &bridge,
        "SELECT count(*) AS n, count(shim_project('bridge', embedding)) AS m FROM corpus",
    ]);
    assert!(printed.contains("1400"), "{printed}");
    let sql_out = d.path().join("sql-out");
    ok(&[
        "sql",
        "-q",
        "--engine",
        &cluster.url,
        "--table",
        &table,
        "--shim",
        &bridge,
        "--output",
        s(&sql_out),
        "SELECT id, shim_project('bridge', embedding) AS embedding FROM corpus",
    ]);
    assert_same(&by_id(&sql_out), &expected);

    // A shim the session does not know is refused by name.
    let e = fails(&[
        "sql",
        "--engine",
        &cluster.url,
        "--table",
        &table,
        "--shim",
        &bridge,
        "SELECT shim_project('other', embedding) FROM corpus",
    ]);
    assert!(e.contains("no shim named \"other\""), "{e}");
}

#[test]
fn a_scheduler_that_is_not_there_is_named_and_nothing_is_published() {
    let d = tempfile::tempdir().unwrap();
    let (shim, old, _) = fitted(d.path(), "ridge");
    let port = free_port();
    let url = format!("df://127.0.0.1:{port}");
    let out = d.path().join("out");
    let e = failed(common::shimkit(&[
        "project",
        "--shim",
        s(&shim),
        "--input",
        &old,
        "--output",
        s(&out),
        "--engine",
        &url,
    ]));
    assert!(
        e.contains(&format!("127.0.0.1:{port}")) && e.contains("cannot be reached"),
        "{e}"
    );
    assert!(!out.exists());
    no_staging_left(d.path());
    let e = failed(common::shimkit(&[
        "cluster",
        "executor",
        "--scheduler",
        &format!("127.0.0.1:{port}"),
        "--bind",
        &format!("127.0.0.1:{}", free_port()),
    ]));
    assert!(e.contains("cannot be reached"), "{e}");
    let e = fails(&["sql", "--engine", "df://nowhere", "SELECT 1"]);
    assert!(e.contains("df://HOST:PORT"), "{e}");
}

/// A generated corpus large enough that a job is still running when an executor dies.
fn generated(dir: &Path) -> (PathBuf, PathBuf) {
    let set = dir.join("set");
    ok(&[
        "gen",
        "-q",
        "--docs",
        "150000",
        "--queries",
        "10",
        "--old-dim",
        "768",
        "--new-dim",
        "768",
        "--no-text",
        "--seed",
        "3",
        "--out",
        s(&set),
    ]);
    let shim = dir.join("gen.safetensors");
    ok(&[
        "fit",
        "-q",
        "--old",
        s(&set.join("corpus.old.parquet")),
        "--new",
        s(&set.join("corpus.new.parquet")),
        "--method",
        "ridge",
        "--out",
        s(&shim),
    ]);
    (set.join("corpus.old.parquet"), shim)
}

/// `project` of `input` through the cluster into `out`, started in the background and
/// returned once one of its tasks is writing its file (the job is then under way).
fn project_under_way(cluster: &Cluster, shim: &Path, input: &Path, out: &Path) -> Child {
    let mut job = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args([
            "project",
            "-q",
            "--shim",
            s(shim),
            "--input",
            s(input),
            "--output",
            s(out),
            "--engine",
            &cluster.url,
            "--partitions",
            "12",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let staging = format!(".{}.tmp-", out.file_name().unwrap().to_string_lossy());
    let parent = out.parent().unwrap();
    let start = Instant::now();
    while !std::fs::read_dir(parent).unwrap().flatten().any(|e| {
        e.file_name().to_string_lossy().starts_with(&staging)
            && std::fs::read_dir(e.path()).is_ok_and(|mut f| f.next().is_some())
    }) {
        assert!(job.try_wait().unwrap().is_none(), "the job ended first");
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no task started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    job
}

#[test]
fn an_executor_killed_mid_job_has_its_tasks_run_again_and_the_output_is_exact() {
    let d = tempfile::tempdir().unwrap();
    let (input, shim) = generated(d.path());
    let expected = projected_locally(d.path(), &shim, s(&input));
    let mut cluster = Cluster::start(2, d.path());
    let out = d.path().join("out");
    // Once a task is writing its file, both executors are busy: kill one.
    let job = project_under_way(&cluster, &shim, &input, &out);
    let mut victim = cluster.executors.remove(0);
    victim.kill().unwrap();
    victim.wait().unwrap();
    let killed = Instant::now();
    let result = job.wait_with_output().unwrap();
    // The job waited for the scheduler to give the lost executor up (4 s without a
    // heartbeat) before its tasks ran again: it did not finish without them.
    assert!(
        killed.elapsed() >= Duration::from_secs(2),
        "the job ended {:?} after the kill: the fault was not exercised",
        killed.elapsed()
    );
    assert!(
        result.status.success(),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );
    assert_same(&by_id(&out), &expected);
    no_staging_left(d.path());
    let temps: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".parquet"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

#[test]
fn an_input_rewritten_during_a_job_fails_it_and_nothing_is_published() {
    let d = tempfile::tempdir().unwrap();
    let (input, shim) = generated(d.path());
    let cluster = Cluster::start(1, d.path());
    // A smaller table of the same layout, to be copied over the input mid-job.
    let small = d.path().join("small");
    ok(&[
        "gen",
        "-q",
        "--docs",
        "5000",
        "--queries",
        "10",
        "--old-dim",
        "768",
        "--new-dim",
        "768",
        "--no-text",
        "--seed",
        "9",
        "--out",
        s(&small),
    ]);
    let out = d.path().join("out");
    let job = project_under_way(&cluster, &shim, &input, &out);
    // Replaced by rename, as a writer of Parquet files publishes them.
    let swap = d.path().join("swap.parquet");
    std::fs::copy(small.join("corpus.old.parquet"), &swap).unwrap();
    std::fs::rename(&swap, &input).unwrap();
    let result = job.wait_with_output().unwrap();
    let e = String::from_utf8_lossy(&result.stderr);
    assert!(
        !result.status.success(),
        "the job succeeded over a changed input"
    );
    assert!(
        e.contains("corpus.old.parquet") || e.contains("rows"),
        "{e}"
    );
    assert!(!out.exists(), "nothing published");
    no_staging_left(d.path());
}
