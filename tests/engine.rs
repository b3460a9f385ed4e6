//! `--engine local` and `shimkit sql` end to end: DataFusion's results against shimkit's
//! own on the bundled Cranfield data, and the inputs a job through the engine refuses.

use std::path::{Path, PathBuf};
use std::process::Output;

use ndarray::{Array2, Axis};
use shimkit_data::{ReadOptions, TableSource, read_table};

mod common;

use common::engine::*;
use common::shimkit;

/// `project --engine local`, with `more` flags.
fn engine_project(shim: &Path, input: &str, output: &Path, more: &[&str]) -> Output {
    let mut args = vec![
        "project",
        "--shim",
        s(shim),
        "--input",
        input,
        "--output",
        s(output),
        "--engine",
        "local",
    ];
    args.extend_from_slice(more);
    shimkit(&args)
}

#[test]
fn project_through_the_local_engine_equals_project() {
    let d = tempfile::tempdir().unwrap();
    let (shim, old, new) = fitted(d.path(), "ridge");
    let expected = projected_locally(d.path(), &shim, &old);
    let parts = split_corpus(d.path(), 3);
    for (input, partitions) in [(PathBuf::from(&old), "1"), (parts.clone(), "3")] {
        let out = d.path().join("engine-out");
        let run = engine_project(&shim, s(&input), &out, &["--partitions", partitions]);
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let text = String::from_utf8_lossy(&run.stdout);
        assert!(
            text.contains("projected 1400 vectors 384-d -> 768-d"),
            "{text}"
        );
        assert!(out.is_dir());
        let got = by_id(&out);
        assert_eq!(got.len(), expected.len(), "nothing lost or duplicated");
        let mut worst = 0.0f32;
        for (id, want) in &expected {
            let row = got.get(id).unwrap_or_else(|| panic!("{id} missing"));
            for (a, b) in row.iter().zip(want) {
                worst = worst.max((a - b).abs());
            }
        }
        assert!(worst <= 1e-6, "largest difference {worst}");
    }
    // A run that fails leaves the last good output as it was, and no staging directory.
    let out = d.path().join("engine-out");
    let before = by_id(&out);
    let e = failed(engine_project(&shim, &new, &out, &[]));
    assert!(e.contains("384") && e.contains("768"), "{e}");
    assert_eq!(by_id(&out).len(), before.len());
    no_staging_left(d.path());
}

#[test]
fn fit_through_the_local_engine_gives_the_weights_and_lambda_of_fit() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = (
        cranfield("corpus.minilm.parquet"),
        cranfield("corpus.mpnet.parquet"),
    );
    let parts = split_corpus(d.path(), 2);
    let aligned = split_corpus_as(d.path(), 3, true);
    for method in ["ridge", "procrustes", "lowrank", "auto"] {
        for direction in ["old-to-new", "new-to-old"] {
            let local = d
                .path()
                .join(format!("{method}-{direction}-local.safetensors"));
            let engine = d
                .path()
                .join(format!("{method}-{direction}-engine.safetensors"));
            let a = fit_json(&[
                "--old",
                &old,
                "--new",
                &new,
                "--method",
                method,
                "--direction",
                direction,
                "--out",
                s(&local),
            ]);
            // Rows in another order are joined by id; rows in the same order, read side by side.
            for (input, pairing) in [(&parts, "joined by id"), (&aligned, "side by side")] {
                let b = fit_json(&[
                    "--old",
                    s(input),
                    "--new",
                    &new,
                    "--method",
                    method,
                    "--direction",
                    direction,
                    "--out",
                    s(&engine),
                    "--engine",
                    "local",
                    "--partitions",
                    "3",
                ]);
                assert_eq!(b["pairs"], 1400);
                assert!(
                    b["pairing"].as_str().unwrap().contains(pairing),
                    "{}",
                    b["pairing"]
                );
                assert_eq!(b["heldout_pairs"], a["heldout_pairs"]);
                let linear = |r: &serde_json::Value| -> Vec<serde_json::Value> {
                    r["candidates"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|c| {
                            ["ridge", "procrustes", "lowrank"]
                                .contains(&c["method"].as_str().unwrap())
                        })
                        .cloned()
                        .collect()
                };
                let (la, lb) = (linear(&a), linear(&b));
                assert_eq!(
                    lb.len(),
                    b["candidates"].as_array().unwrap().len(),
                    "the engine fits linear methods only"
                );
                assert_eq!(la.len(), lb.len());
                for (ca, cb) in la.iter().zip(&lb) {
                    assert_eq!(ca["method"], cb["method"]);
                    // λ is searched on a continuous scale: the same to 1e-6, relative.
                    match (ca["lambda"].as_f64(), cb["lambda"].as_f64()) {
                        (Some(x), Some(y)) => assert!(
                            (x - y).abs() <= 1e-6 * x.abs(),
                            "{method} {direction}: λ {x} vs {y}"
                        ),
                        _ => assert_eq!(ca["lambda"], cb["lambda"], "{method} {direction}"),
                    }
                    assert_eq!(ca["rank"], cb["rank"], "{method} {direction}");
                    let (x, y) = (
                        ca["heldout_cosine"].as_f64().unwrap(),
                        cb["heldout_cosine"].as_f64().unwrap(),
                    );
                    assert!((x - y).abs() < 1e-7, "{x} vs {y}");
                }
                if method != "auto" {
                    let (wa, wb) = (weights(&local), weights(&engine));
                    let scale = wa.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    let diff = (&wa - &wb).iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    assert!(
                        diff <= 1e-6 * scale,
                        "{method} {direction} {pairing}: {diff} against {scale}"
                    );
                } else {
                    let best = lb
                        .iter()
                        .max_by(|p, q| {
                            p["heldout_cosine"]
                                .as_f64()
                                .partial_cmp(&q["heldout_cosine"].as_f64())
                                .unwrap()
                        })
                        .unwrap();
                    assert!(
                        b["chosen"]["heldout_cosine"].as_f64().unwrap()
                            >= best["heldout_cosine"].as_f64().unwrap() - 0.002
                    );
                }
            }
        }
    }
    let e = fails(&[
        "fit",
        "--old",
        &old,
        "--new",
        &new,
        "--method",
        "kernel",
        "--out",
        s(&d.path().join("k.safetensors")),
        "--engine",
        "local",
    ]);
    assert!(e.contains("ridge, procrustes, lowrank or auto"), "{e}");
}

/// Tables of several of the accumulator's grid chunks, so that the partitions read ranges
/// of their own: row-aligned tables give `fit`'s statistics bit for bit (the weights equal
/// to the last rounding of the solve), and two rows swapped deep in one table send the job,
/// once a partition has found them, to the join, which gives them within 1e-6.
#[test]
fn fit_side_by_side_over_partitions_equals_fit_and_a_late_difference_joins() {
    let d = tempfile::tempdir().unwrap();
    let set = d.path().join("set");
    let docs = (2 * shimkit_trainer::GRID_ROWS + 5000).to_string();
    ok(&[
        "gen",
        "--docs",
        &docs,
        "--queries",
        "5",
        "--old-dim",
        "24",
        "--new-dim",
        "40",
        "--no-text",
        "--seed",
        "3",
        "--out",
        s(&set),
    ]);
    let (old, new) = (
        set.join("corpus.old.parquet"),
        set.join("corpus.new.parquet"),
    );
    let fit = |old: &Path, out: &str, engine: bool| {
        let out = d.path().join(out);
        let mut args = vec![
            "--old",
            s(old),
            "--new",
            s(&new),
            "--method",
            "ridge",
            "--out",
            s(&out),
        ];
        if engine {
            args.extend(["--engine", "local", "--partitions", "3"]);
        }
        (fit_json(&args), weights(&out))
    };
    let (a, wa) = fit(&old, "local.safetensors", false);
    let (b, wb) = fit(&old, "engine.safetensors", true);
    assert!(
        b["pairing"].as_str().unwrap().contains("side by side"),
        "{}",
        b["pairing"]
    );
    assert_eq!(a["chosen"]["lambda"], b["chosen"]["lambda"]);
    let scale = wa.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let diff = (&wa - &wb).iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(diff <= 1e-9 * scale, "side by side: {diff} against {scale}");

    // Two rows swapped in the last partition's range: the ids differ there only.
    let t = read_table(&TableSource::new(&old).unwrap(), &ReadOptions::default()).unwrap();
    let (i, j) = (t.ids.len() - 10, t.ids.len() - 3);
    let mut order: Vec<usize> = (0..t.ids.len()).collect();
    order.swap(i, j);
    let ids: Vec<String> = order.iter().map(|&r| t.ids[r].clone()).collect();
    let swapped = d.path().join("swapped.parquet");
    write(&swapped, &ids, &t.vectors.select(Axis(0), &order));
    let (c, wc) = fit(&swapped, "joined.safetensors", true);
    assert!(
        c["pairing"].as_str().unwrap().contains("joined by id"),
        "{}",
        c["pairing"]
    );
    assert_eq!(c["pairs"], a["pairs"]);
    let diff = (&wa - &wc).iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(diff <= 1e-6 * scale, "joined: {diff} against {scale}");
}

#[test]
fn sql_runs_the_functions_and_writes_a_directory() {
    let d = tempfile::tempdir().unwrap();
    let (shim, old, _) = fitted(d.path(), "procrustes");
    let expected = projected_locally(d.path(), &shim, &old);
    let out = d.path().join("sql-out");
    let table = format!("corpus={old}");
    let bridge = format!("bridge={}", s(&shim));
    ok(&[
        "sql",
        "-q",
        "--table",
        &table,
        "--shim",
        &bridge,
        "--output",
        s(&out),
        "SELECT id, shim_project('bridge', embedding) AS embedding FROM corpus WHERE id < '5'",
    ]);
    let got = by_id(&out);
    assert!(!got.is_empty() && got.len() < expected.len());
    for (id, row) in &got {
        assert!(id.as_str() < "5");
        let want = &expected[id];
        assert!(
            row.iter().zip(want).all(|(a, b)| (a - b).abs() <= 1e-6),
            "{id}"
        );
    }
    let printed = ok(&["sql", "--table", &table, "SELECT count(*) AS n FROM corpus"]);
    assert!(printed.contains("1400"), "{printed}");
    let e = fails(&[
        "sql",
        "--table",
        &table,
        "--shim",
        &bridge,
        "SELECT shim_project('other', embedding) FROM corpus",
    ]);
    assert!(
        e.contains("no shim named \"other\"") && e.contains("registered: bridge"),
        "{e}"
    );
    let e = fails(&["sql", "--table", "corpus", "SELECT 1"]);
    assert!(e.contains("NAME=PATH"), "{e}");
}

#[test]
fn the_engine_refuses_bad_tables_with_the_row_named_and_publishes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let (shim, old, _) = fitted(d.path(), "ridge");
    let m = Array2::from_shape_fn((60, 384), |(i, j)| ((i * 7 + j) % 13) as f32 + 1.0);
    let ids: Vec<String> = (0..60).map(|i| format!("doc{i}")).collect();
    let mut nan = m.clone();
    nan[[17, 3]] = f32::NAN;
    let bad = d.path().join("nan.parquet");
    write(&bad, &ids, &nan);
    let mut dup_ids = ids.clone();
    dup_ids[40] = "doc3".into();
    let dup = d.path().join("dup.parquet");
    // The writer does not check ids; shimkit's readers do.
    write(&dup, &dup_ids, &m);
    let out = d.path().join("out");
    let e = failed(engine_project(&shim, s(&bad), &out, &[]));
    assert!(
        e.contains("nan.parquet") && e.contains("row 17") && e.contains("doc17"),
        "{e}"
    );
    let e = failed(engine_project(&shim, s(&dup), &out, &[]));
    assert!(e.contains("more than once") && e.contains("doc3"), "{e}");
    assert!(!out.exists(), "nothing published");
    let file = d.path().join("a-file");
    std::fs::write(&file, b"keep me").unwrap();
    let e = failed(engine_project(&shim, &old, &file, &[]));
    assert!(e.contains("is a file"), "{e}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
    let nested = d.path().join("outer");
    let inner = nested.join("inner");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::copy(&old, inner.join("corpus.parquet")).unwrap();
    let e = failed(engine_project(&shim, s(&inner), &nested, &[]));
    assert!(e.contains("holds the --input"), "{e}");
    assert!(inner.join("corpus.parquet").is_file(), "the input is kept");
    // A directory holding anything but Parquet files is not replaced.
    let precious = d.path().join("precious");
    std::fs::create_dir_all(&precious).unwrap();
    std::fs::write(precious.join("notes.txt"), b"mine").unwrap();
    let e = failed(engine_project(&shim, &old, &precious, &[]));
    assert!(
        e.contains("notes.txt") && e.contains("not a Parquet file"),
        "{e}"
    );
    assert_eq!(std::fs::read(precious.join("notes.txt")).unwrap(), b"mine");
    let e = fails(&[
        "project",
        "--shim",
        s(&shim),
        "--input",
        &old,
        "--output",
        s(&out),
        "--engine",
        "spark://nowhere:1",
    ]);
    assert!(
        e.contains("--engine") && e.contains("df://HOST:PORT"),
        "{e}"
    );
    let e = failed(engine_project(
        &shim,
        s(&d.path().join("missing")),
        &out,
        &[],
    ));
    assert!(e.contains("missing"), "{e}");
    let e = fails(&[
        "fit",
        "--old",
        s(&dup),
        "--new",
        s(&dup),
        "--method",
        "ridge",
        "--out",
        s(&d.path().join("x.safetensors")),
        "--engine",
        "local",
    ]);
    assert!(e.contains("more than once"), "{e}");
}
