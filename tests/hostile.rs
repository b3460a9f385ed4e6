//! Broken and hostile input end to end: each case an adversarial user found (issue 13),
//! reproduced, with the answer it must get: a clear error naming what is wrong, exit 1, no
//! panic or abort, nothing half-written. RELIABILITY.md holds the whole catalogue.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::shimkit;
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shimkit_data::EmbeddingWriter;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failure the way every bad input must fail: exit 1, a message holding each of
/// `needles`, and no panic.
#[track_caller]
fn refused(o: &Output, needles: &[&str]) -> String {
    let e = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {e}");
    assert!(!e.contains("panicked"), "a panic: {e}");
    for n in needles {
        assert!(e.contains(n), "expected {n:?} in: {e}");
    }
    e
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `rows` random unit vectors of `dim` values with ids `d0`, `d1`, …
fn table(path: &Path, rows: usize, dim: usize, seed: u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v = Array2::from_shape_fn((rows, dim), |_| rng.random::<f32>() - 0.5);
    for mut row in v.rows_mut() {
        let n = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        row.mapv_inplace(|x| x / n);
    }
    let ids: Vec<String> = (0..rows).map(|i| format!("d{i}")).collect();
    let mut w = EmbeddingWriter::create(path, dim).unwrap();
    w.write(&ids, v.view()).unwrap();
    w.finish().unwrap();
}

/// An evaluation set: models `a` and `b`, 120 documents, 10 queries (`q0`…), each query
/// judging two documents; `qrels` is the judgement file's whole text.
fn eval_set(dir: &Path, a_query_dim: usize, qrels: &str) {
    std::fs::create_dir_all(dir).unwrap();
    table(&dir.join("corpus.a.parquet"), 120, 8, 1);
    table(&dir.join("corpus.b.parquet"), 120, 12, 2);
    let queries = |path: &Path, dim: usize, seed: u64| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let v = Array2::from_shape_fn((10, dim), |_| rng.random::<f32>() + 0.01);
        let ids: Vec<String> = (0..10).map(|i| format!("q{i}")).collect();
        let mut w = EmbeddingWriter::create(path, dim).unwrap();
        w.write(&ids, v.view()).unwrap();
        w.finish().unwrap();
    };
    queries(&dir.join("queries.a.parquet"), a_query_dim, 3);
    queries(&dir.join("queries.b.parquet"), 12, 4);
    std::fs::write(dir.join("qrels.tsv"), qrels).unwrap();
}

fn qrels(header: bool) -> String {
    let mut text = String::new();
    if header {
        text.push_str("query-id\tcorpus-id\tscore\n");
    }
    for q in 0..10 {
        text.push_str(&format!("q{q}\td{}\t2\nq{q}\td{}\t1\n", q * 3, q * 3 + 1));
    }
    text
}

/// Runs shimkit, failing the test if it is still running after `limit` (a hang).
fn within(limit: Duration, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("shimkit {args:?} still ran after {limit:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

#[test]
fn eval_with_queries_of_another_dimension_is_an_error_not_a_panic() {
    let d = tempfile::tempdir().unwrap();
    let set = d.path().join("set");
    eval_set(&set, 6, &qrels(true));
    let o = shimkit(&["eval", "--dataset", s(&set), "--old", "a", "--new", "b"]);
    refused(
        &o,
        &[
            "queries.a.parquet",
            "6-dimensional",
            "corpus.a.parquet",
            "8-dimensional",
        ],
    );
}

#[test]
fn qrels_with_a_byte_order_mark_read_as_without_and_negative_grades_are_refused() {
    let d = tempfile::tempdir().unwrap();
    for header in [false, true] {
        let set = d.path().join(format!("bom-{header}"));
        eval_set(&set, 8, &format!("\u{feff}{}", qrels(header)));
        let json = d.path().join(format!("r-{header}.json"));
        let o = shimkit(&[
            "eval",
            "--dataset",
            s(&set),
            "--old",
            "a",
            "--new",
            "b",
            "--methods",
            "ridge",
            "--train-pairs",
            "60",
            "--resamples",
            "50",
            "--json",
            s(&json),
            "-q",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
        // q0 keeps its judgements: all ten queries are scored.
        assert_eq!(r["data"]["queries_scored"], 10, "{}", r["data"]);
    }
    let set = d.path().join("negative");
    eval_set(&set, 8, &format!("{}q3\td50\t-1\n", qrels(true)));
    let o = shimkit(&["eval", "--dataset", s(&set), "--old", "a", "--new", "b"]);
    refused(&o, &["qrels.tsv", "line 22", "negative"]);
}

#[test]
fn eval_with_too_few_pairs_names_its_own_flag() {
    let d = tempfile::tempdir().unwrap();
    let set = d.path().join("set");
    eval_set(&set, 8, &qrels(true));
    let o = shimkit(&[
        "eval",
        "--dataset",
        s(&set),
        "--old",
        "a",
        "--new",
        "b",
        "--train-pairs",
        "30",
    ]);
    let e = refused(&o, &["too few", "--train-pairs"]);
    assert!(!e.contains("--min-pairs"), "eval has no --min-pairs: {e}");
}

#[test]
fn every_parquet_entry_of_a_table_directory_is_read_or_named() {
    let d = tempfile::tempdir().unwrap();
    let shim = d.path().join("s.safetensors");
    let pairs = d.path().join("pairs");
    std::fs::create_dir(&pairs).unwrap();
    table(&pairs.join("old.parquet"), 200, 8, 5);
    table(&pairs.join("new.parquet"), 200, 8, 6);
    let o = shimkit(&[
        "fit",
        "--method",
        "ridge",
        "--old",
        s(&pairs.join("old.parquet")),
        "--new",
        s(&pairs.join("new.parquet")),
        "--out",
        s(&shim),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    type Make<'a> = &'a dyn Fn(&Path);
    let cases: [(&str, Make, &str); 4] = [
        (
            "dangling",
            &|p| std::os::unix::fs::symlink("gone.parquet", p).unwrap(),
            "target does not exist",
        ),
        (
            "loop",
            &|p| std::os::unix::fs::symlink(p, p).unwrap(),
            "loop",
        ),
        ("fifo", &|p| mkfifo(p), "FIFO"),
        ("dir", &|p| std::fs::create_dir(p).unwrap(), "a directory"),
    ];
    for (name, make, why) in cases {
        let tab = d.path().join(format!("tab-{name}"));
        std::fs::create_dir(&tab).unwrap();
        table(&tab.join("a.parquet"), 700, 8, 7);
        let bad = tab.join("b.parquet");
        make(&bad);
        let o = within(Duration::from_secs(20), &["inspect", s(&tab)]);
        refused(&o, &["b.parquet", why]);
        let out = d.path().join(format!("out-{name}.parquet"));
        let o = within(
            Duration::from_secs(20),
            &[
                "project",
                "--shim",
                s(&shim),
                "--input",
                s(&tab),
                "--output",
                s(&out),
            ],
        );
        refused(&o, &["b.parquet", why]);
        assert!(!out.exists(), "{name}: no partial table");
    }
}

#[test]
fn a_fifo_is_refused_not_waited_on() {
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("pipe.parquet");
    mkfifo(&fifo);
    let shim_fifo = d.path().join("pipe.safetensors");
    mkfifo(&shim_fifo);
    let real = d.path().join("real.parquet");
    table(&real, 100, 8, 9);
    let out = d.path().join("out");
    let limit = Duration::from_secs(20);
    for args in [
        vec!["inspect", s(&fifo)],
        vec!["inspect", s(&shim_fifo)],
        vec![
            "fit",
            "--old",
            s(&fifo),
            "--new",
            s(&real),
            "--out",
            s(&out),
        ],
        vec![
            "project",
            "--shim",
            s(&shim_fifo),
            "--input",
            s(&real),
            "--output",
            s(&out),
        ],
    ] {
        let o = within(limit, &args);
        refused(&o, &["FIFO"]);
    }
    let set = d.path().join("set");
    eval_set(&set, 8, "");
    std::fs::remove_file(set.join("qrels.tsv")).unwrap();
    mkfifo(&set.join("qrels.tsv"));
    let o = within(
        limit,
        &["eval", "--dataset", s(&set), "--old", "a", "--new", "b"],
    );
    refused(&o, &["qrels.tsv", "FIFO"]);
}

#[test]
fn a_fit_too_big_for_memory_is_refused_before_it_allocates() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = (d.path().join("old.parquet"), d.path().join("new.parquet"));
    // 5 pairs: too few, known from the footers before anything is allocated.
    table(&old, 5, 65_536, 1);
    table(&new, 5, 65_536, 2);
    let out = d.path().join("s.safetensors");
    let args = [
        "fit",
        "--method",
        "ridge",
        "--old",
        s(&old),
        "--new",
        s(&new),
        "--out",
        s(&out),
    ];
    refused(&shimkit(&args), &["5 pairs are too few", "--min-pairs"]);
    // Enough pairs: 65,536² statistics are hundreds of GiB, refused with the estimate.
    table(&old, 60, 65_536, 1);
    table(&new, 60, 65_536, 2);
    let mut args = args.to_vec();
    args.extend(["--max-memory", "8GiB"]);
    refused(
        &shimkit(&args),
        &[
            "65536-d → 65536-d",
            "needs about",
            "GiB",
            "8.0 GiB is available",
            "--max-memory",
        ],
    );
    assert!(!out.exists());
}

#[test]
fn output_in_a_missing_directory_names_the_users_path() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("in.parquet");
    table(&input, 200, 8, 1);
    let shim = d.path().join("missing").join("s.safetensors");
    let o = shimkit(&[
        "fit",
        "--method",
        "ridge",
        "--old",
        s(&input),
        "--new",
        s(&input),
        "--out",
        s(&shim),
    ]);
    let e = refused(&o, &[s(&shim), "does not exist"]);
    assert!(
        !e.contains(".s.safetensors."),
        "the hidden temporary is named: {e}"
    );
    let out = d.path().join("missing").join("out.parquet");
    let real_shim = d.path().join("s.safetensors");
    let o = shimkit(&[
        "fit",
        "--method",
        "ridge",
        "--old",
        s(&input),
        "--new",
        s(&input),
        "--out",
        s(&real_shim),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shimkit(&[
        "project",
        "--shim",
        s(&real_shim),
        "--input",
        s(&input),
        "--output",
        s(&out),
    ]);
    let e = refused(&o, &[s(&out), "does not exist"]);
    assert!(
        !e.contains(".out.parquet."),
        "the hidden temporary is named: {e}"
    );
}

#[test]
fn a_vector_of_the_wrong_dimension_is_named_by_its_real_id() {
    use std::sync::Arc;

    use arrow_array::builder::{Float32Builder, ListBuilder};
    use arrow_array::{ArrayRef, RecordBatch, StringArray};
    let d = tempfile::tempdir().unwrap();
    let pairs = d.path().join("pairs.parquet");
    table(&pairs, 200, 8, 3);
    let shim = d.path().join("s.safetensors");
    let o = shimkit(&[
        "fit",
        "--method",
        "ridge",
        "--old",
        s(&pairs),
        "--new",
        s(&pairs),
        "--out",
        s(&shim),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A List column has no width in its footer: the first row says it.
    let mut list = ListBuilder::new(Float32Builder::new());
    for _ in 0..3 {
        list.values().append_slice(&[0.5; 5]);
        list.append(true);
    }
    let ids: ArrayRef = Arc::new(StringArray::from(vec![
        "doc-alpha",
        "doc-beta",
        "doc-gamma",
    ]));
    let batch = RecordBatch::try_from_iter([
        ("id", ids),
        ("embedding", Arc::new(list.finish()) as ArrayRef),
    ])
    .unwrap();
    let input = d.path().join("list.parquet");
    let mut w = parquet::arrow::ArrowWriter::try_new(
        std::fs::File::create(&input).unwrap(),
        batch.schema(),
        None,
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let out = d.path().join("out.parquet");
    let o = shimkit(&[
        "project",
        "--shim",
        s(&shim),
        "--input",
        s(&input),
        "--output",
        s(&out),
    ]);
    refused(&o, &["\"doc-alpha\"", "5 dimensions", "8-dimensional"]);
    // A fixed width is known from the footer: the message names the column, not a row.
    let wide = d.path().join("wide.parquet");
    table(&wide, 10, 6, 4);
    let o = shimkit(&[
        "project",
        "--shim",
        s(&shim),
        "--input",
        s(&wide),
        "--output",
        s(&out),
    ]);
    let e = refused(&o, &["wide.parquet", "6-dimensional", "8-dimensional"]);
    assert!(!e.contains("id \"\""), "{e}");
    assert!(!out.exists());
}

#[test]
fn project_output_inside_its_input_directory_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let tab = d.path().join("tab");
    std::fs::create_dir(&tab).unwrap();
    table(&tab.join("part-0.parquet"), 200, 8, 1);
    let shim = d.path().join("s.safetensors");
    let part = tab.join("part-0.parquet");
    let o = shimkit(&[
        "fit",
        "--method",
        "ridge",
        "--old",
        s(&part),
        "--new",
        s(&part),
        "--out",
        s(&shim),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::create_dir(tab.join("sub")).unwrap();
    for out in [
        tab.join("projected.parquet"),
        tab.join("sub").join("x.parquet"),
    ] {
        let o = shimkit(&[
            "project",
            "--shim",
            s(&shim),
            "--input",
            s(&tab),
            "--output",
            s(&out),
        ]);
        refused(&o, &["inside the --input directory"]);
    }
    assert_eq!(
        std::fs::read_dir(&tab).unwrap().count(),
        2,
        "the table is as it was"
    );
}

#[test]
fn gen_force_replaces_an_evaluation_set_and_nothing_else() {
    let d = tempfile::tempdir().unwrap();
    let generate = |out: &Path| {
        shimkit(&[
            "gen",
            "--docs",
            "300",
            "--queries",
            "5",
            "--old-dim",
            "8",
            "--new-dim",
            "8",
            "--out",
            s(out),
            "--force",
            "-q",
        ])
    };
    let mine = d.path().join("notes");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("thesis.tex"), "years of work").unwrap();
    std::fs::write(mine.join("qrels.tsv"), "q\td\t1\n").unwrap();
    refused(
        &generate(&mine),
        &["does not look like an evaluation set", "thesis.tex"],
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("thesis.tex")).unwrap(),
        "years of work"
    );
    let file = d.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    refused(&generate(&file), &["not a directory"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
    // A set gen wrote is replaced.
    let set = d.path().join("set");
    assert!(generate(&set).status.success());
    let o = generate(&set);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(set.join("corpus.old.parquet").exists());
}

/// The output's directory holds a temporary of `name` (`.name.PID.N.tmp` or `.name.tmp-PID`).
fn temporaries(dir: &Path, name: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.starts_with(&format!(".{name}.")) && n.contains("tmp")
        })
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Starts `args`, waits for a temporary of `name` to appear in `dir`, sends `sig`, and
/// returns the exit status.
fn interrupt(args: &[&str], dir: &Path, name: &str, sig: &str) -> std::process::ExitStatus {
    let mut child = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while temporaries(dir, name).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "{args:?} ended before its output appeared"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no temporary appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    signal(child.id(), sig);
    let out = child.wait_with_output().unwrap();
    if sig != "KILL" {
        let e = stderr(&out);
        assert!(e.contains("interrupted"), "{e}");
    }
    out.status
}

#[test]
fn interrupted_runs_remove_their_temporaries_and_later_runs_remove_stale_ones() {
    let d = tempfile::tempdir().unwrap();
    let set = d.path().join("big");
    let o = shimkit(&[
        "gen",
        "--docs",
        "150000",
        "--queries",
        "10",
        "--old-dim",
        "256",
        "--new-dim",
        "256",
        "--no-text",
        "--out",
        s(&set),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let input = set.join("corpus.old.parquet");
    let shim = d.path().join("s.safetensors");
    let o = shimkit(&[
        "fit",
        "--method",
        "ridge",
        "--old",
        s(&input),
        "--new",
        s(&set.join("corpus.new.parquet")),
        "--out",
        s(&shim),
        "-q",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out_dir = d.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("p.parquet");
    let project = [
        "project",
        "--shim",
        s(&shim),
        "--input",
        s(&input),
        "--output",
        s(&out),
        "--batch-rows",
        "64",
        "-q",
    ];
    for (sig, code) in [("TERM", 143), ("INT", 130)] {
        let status = interrupt(&project, &out_dir, "p.parquet", sig);
        assert_eq!(status.code(), Some(code), "SIGNAL {sig}");
        assert!(
            temporaries(&out_dir, "p.parquet").is_empty(),
            "{sig} left a temporary"
        );
        assert!(!out.exists());
    }
    // SIGKILL cannot be caught: the temporary stays, and the next run removes it.
    interrupt(&project, &out_dir, "p.parquet", "KILL");
    assert_eq!(temporaries(&out_dir, "p.parquet").len(), 1);
    // Without -q, which silences warnings.
    let o = shimkit(&project[..project.len() - 1]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(
        e.contains("no longer runs") && e.contains(".p.parquet."),
        "{e}"
    );
    assert!(temporaries(&out_dir, "p.parquet").is_empty());

    // gen stages a whole directory; the same rules hold.
    let target = d.path().join("set2");
    let generate = [
        "gen",
        "--docs",
        "400000",
        "--queries",
        "10",
        "--old-dim",
        "64",
        "--new-dim",
        "64",
        "--no-text",
        "--out",
        s(&target),
        "-q",
    ];
    let status = interrupt(&generate, d.path(), "set2", "TERM");
    assert_eq!(status.code(), Some(143));
    assert!(temporaries(d.path(), "set2").is_empty() && !target.exists());
    interrupt(&generate, d.path(), "set2", "KILL");
    assert_eq!(temporaries(d.path(), "set2").len(), 1);
    let o = shimkit(&generate[..generate.len() - 1]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("no longer runs"), "{}", stderr(&o));
    assert!(temporaries(d.path(), "set2").is_empty() && target.join("qrels.tsv").exists());
}

#[test]
fn absurd_settings_are_refused_naming_the_flag() {
    let d = tempfile::tempdir().unwrap();
    let pairs = d.path().join("pairs.parquet");
    table(&pairs, 200, 8, 1);
    let out = d.path().join("s.safetensors");
    let fit = |extra: &[&str]| {
        let mut args = vec![
            "fit",
            "--old",
            s(&pairs),
            "--new",
            s(&pairs),
            "--out",
            s(&out),
        ];
        args.extend(extra);
        shimkit(&args)
    };
    for (extra, flag) in [
        (&["--method", "ridge", "--lambda=-1"][..], "--lambda"),
        (&["--method", "ridge", "--lambda", "NaN"], "--lambda"),
        (&["--method", "lowrank", "--rank", "0"], "--rank"),
        (&["--method", "mlp", "--mlp-hidden", "0"], "--mlp-hidden"),
        (&["--method", "mlp", "--mlp-lr", "inf"], "--mlp-lr"),
        (&["--method", "ridge", "--val-frac", "1.5"], "--val-frac"),
        (
            &["--method", "ridge", "--max-memory", "lots"],
            "--max-memory",
        ),
    ] {
        refused(&fit(extra), &[flag]);
    }
    assert!(!out.exists());
    let set = d.path().join("set");
    eval_set(&set, 8, &qrels(true));
    let eval = |extra: &[&str]| {
        let mut args = vec![
            "eval",
            "--dataset",
            s(&set),
            "--old",
            "a",
            "--new",
            "b",
            "--methods",
            "ridge",
            "--train-pairs",
            "60",
            "-q",
        ];
        args.extend(extra);
        shimkit(&args)
    };
    refused(&eval(&["--resamples", "0"]), &["--resamples"]);
    let o = eval(&["--resamples", "20", "--k", "1000000000"]);
    assert!(
        o.status.success(),
        "a k beyond the corpus ranks it all: {}",
        stderr(&o)
    );
    let o = shimkit(&[
        "gen",
        "--docs",
        "18446744073709551615",
        "--out",
        s(&d.path().join("g")),
    ]);
    refused(&o, &["--docs is at most"]);
}

#[test]
fn sample_refuses_an_id_that_a_list_of_lines_cannot_carry() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("old.parquet");
    let mut ids: Vec<String> = (0..50).map(|i| format!("d{i}")).collect();
    ids[17] = "two\nlines".into();
    let v = Array2::from_shape_fn((50, 4), |(i, j)| ((i * 5 + j) % 7) as f32 + 1.0);
    let mut w = EmbeddingWriter::create(&input, 4).unwrap();
    w.write(&ids, v.view()).unwrap();
    w.finish().unwrap();
    let output = d.path().join("ids.txt");
    let o = shimkit(&[
        "sample",
        "--input",
        s(&input),
        "--n",
        "10",
        "--output",
        s(&output),
    ]);
    refused(&o, &["old.parquet", "row 17", "line break"]);
    assert!(!output.exists());
    // The output may not replace the table it samples.
    let o = shimkit(&[
        "sample",
        "--input",
        s(&input),
        "--n",
        "10",
        "--output",
        s(&input),
    ]);
    refused(&o, &["is the --input table"]);
    assert!(input.exists());
}
