//! `shimkit eval` and `shimkit demo` end to end: the report's public keys, the gate's exit
//! codes, errors that name what is wrong, another set in the same layout, and agreement
//! with an independent numpy evaluation (tests/python/eval_check.py).
//!
//! The numpy check needs a Python with pyarrow, numpy and safetensors: `SHIMKIT_PYTHON`,
//! else `.venv/bin/python`, else `python3`; without one it is skipped unless
//! `SHIMKIT_REQUIRE_PYTHON=1` (CI sets it).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

mod common;
use common::{python, root, shimkit};

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn cranfield() -> String {
    root().join("data/cranfield").to_string_lossy().into_owned()
}

/// Runs the independent numpy evaluation against a report and the shims it saved.
fn numpy_agrees(dataset: &str, old: &str, new: &str, report: &Path, shims: &Path) {
    let Some(py) = python() else { return };
    let out = Command::new(py)
        .arg(root().join("tests/python/eval_check.py"))
        .args([dataset, old, new])
        .arg(report)
        .arg(shims)
        .output()
        .unwrap();
    assert!(out.status.success(), "numpy disagrees:\n{}", text(&out));
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn path<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["paths"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no path {name}"))
}

#[test]
fn eval_on_cranfield_reports_every_path_and_agrees_with_numpy() {
    let d = tempfile::tempdir().unwrap();
    let (json, html, shims) = (
        d.path().join("r.json"),
        d.path().join("r.html"),
        d.path().join("shims"),
    );
    let out = shimkit(&[
        "eval",
        "--dataset",
        &cranfield(),
        "--old",
        "minilm",
        "--new",
        "mpnet",
        "--resamples",
        "300",
        "--curve",
        "100,250",
        "--json",
        json.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
        "--save-shims",
        shims.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let r = read_json(&json);
    for key in [
        "dataset",
        "old",
        "new",
        "seed",
        "train_pairs",
        "paths",
        "curve",
        "cost",
        "recommendation",
    ] {
        assert!(!r[key].is_null(), "report lacks {key}");
    }
    assert_eq!(
        r["train_pairs"], 700,
        "default budget: min(2000, half of 1400)"
    );
    let mut names = vec!["no-migration".to_string(), "full-reembed".to_string()];
    for m in ["ridge", "procrustes", "lowrank", "auto"] {
        names.push(format!("shim-query:{m}"));
        names.push(format!("shim-doc:{m}"));
        for f in ["0.25", "0.5"] {
            names.push(format!("backfill:{f}:{m}"));
        }
    }
    for f in ["0.25", "0.5"] {
        names.push(format!("read-through:{f}"));
        names.push(format!("dual-index-raw:{f}"));
    }
    for name in &names {
        let p = path(&r, name);
        for key in [
            "ndcg@10",
            "recall@10",
            "recall@100",
            "mrr@10",
            "overlap@10",
            "retention_ndcg@10",
        ] {
            let v = p[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{name} lacks {key}"));
            assert!((0.0..=1.5).contains(&v), "{name} {key} = {v}");
        }
        let ci = p["ci95_retention_ndcg@10"].as_array().unwrap();
        let (lo, hi) = (ci[0].as_f64().unwrap(), ci[1].as_f64().unwrap());
        let point = p["retention_ndcg@10"].as_f64().unwrap();
        assert!(
            lo <= point + 1e-12 && point <= hi + 1e-12,
            "{name}: {lo} {point} {hi}"
        );
        assert!(p["beats_no_migration"].is_boolean());
    }
    // The independent numpy figures for these files (shared/data/README.md).
    let ndcg = |name: &str| path(&r, name)["ndcg@10"].as_f64().unwrap();
    assert!((ndcg("no-migration") - 0.3736).abs() < 5e-5);
    assert!((ndcg("full-reembed") - 0.3968).abs() < 5e-5);
    assert_eq!(path(&r, "full-reembed")["overlap@10"], 1.0);
    assert_eq!(
        r["curve"].as_array().unwrap().len(),
        3,
        "100, 250 and the budget"
    );
    assert!(
        r["recommendation"]["path"]
            .as_str()
            .unwrap()
            .starts_with("shim-")
    );

    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        page.matches("<svg").count(),
        2,
        "the retention bars and the curve"
    );
    for banned in ["<script", "src=", "href=", "<link"] {
        assert!(
            !page.contains(banned),
            "the page must be self-contained: {banned}"
        );
    }
    for name in &names {
        assert!(page.contains(name.as_str()), "the page lacks {name}");
    }
    numpy_agrees(&cranfield(), "minilm", "mpnet", &json, &shims);
}

#[test]
fn gate_exit_codes_and_a_reproducible_report() {
    let d = tempfile::tempdir().unwrap();
    let run = |gate: &str, json: &Path| {
        shimkit(&[
            "eval",
            "--dataset",
            &cranfield(),
            "--old",
            "minilm-l3",
            "--new",
            "minilm",
            "--methods",
            "ridge",
            "--backfill",
            "0.5",
            "--resamples",
            "200",
            "--curve",
            "100",
            "--gate",
            gate,
            "--json",
            json.to_str().unwrap(),
        ])
    };
    let (a, b) = (d.path().join("a.json"), d.path().join("b.json"));
    let pass = run("0.5", &a);
    assert_eq!(pass.status.code(), Some(0), "{}", text(&pass));
    assert!(text(&pass).contains("gate passed"));
    let fail = run("0.999", &b);
    assert_eq!(fail.status.code(), Some(3), "{}", text(&fail));
    let msg = text(&fail);
    assert!(
        msg.contains("gate FAILED") && msg.contains("lower bound"),
        "{msg}"
    );
    // Both reports exist, and the same seed gave the same figures.
    let (ra, rb) = (read_json(&a), read_json(&b));
    assert_eq!(ra["paths"], rb["paths"]);
    assert_eq!(ra["curve"], rb["curve"]);
}

#[test]
fn eval_errors_name_what_is_wrong_and_write_nothing() {
    let d = tempfile::tempdir().unwrap();
    let json = d.path().join("r.json");
    let j = json.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--old", "minilm", "--new", "bert"],
            "no model \"bert\"",
        ),
        (
            vec!["--old", "minilm", "--new", "minilm"],
            "different models",
        ),
        (
            vec!["--old", "minilm", "--new", "mpnet", "--backfill", "1.5"],
            "not between 0 and 1",
        ),
        (
            vec!["--old", "minilm", "--new", "mpnet", "--gate", "95"],
            "--gate",
        ),
        (
            vec!["--old", "minilm", "--new", "mpnet", "--train-pairs", "20"],
            "too few",
        ),
        (
            vec![
                "--old",
                "minilm",
                "--new",
                "mpnet",
                "--query-pair-folds",
                "1",
            ],
            "--query-pair-folds: 1 folds of 225 scored queries",
        ),
    ];
    for (args, want) in cases {
        let dataset = cranfield();
        let mut all = vec!["eval", "--dataset", &dataset, "--json", j];
        all.extend(args.iter().copied());
        let out = shimkit(&all);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(want), "{args:?}: {}", text(&out));
        assert!(!json.exists(), "{args:?} wrote a report");
    }
    // A set whose qrels file is broken: the message names the file and line.
    let set = d.path().join("set");
    std::fs::create_dir(&set).unwrap();
    for f in [
        "corpus.minilm.parquet",
        "corpus.mpnet.parquet",
        "queries.minilm.parquet",
        "queries.mpnet.parquet",
    ] {
        std::fs::copy(root().join("data/cranfield").join(f), set.join(f)).unwrap();
    }
    std::fs::write(
        set.join("qrels.tsv"),
        "query-id\tcorpus-id\tscore\n1\t12\ttwo\n",
    )
    .unwrap();
    let out = shimkit(&[
        "eval",
        "--dataset",
        set.to_str().unwrap(),
        "--old",
        "minilm",
        "--new",
        "mpnet",
        "--json",
        j,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let msg = text(&out);
    assert!(msg.contains("qrels.tsv") && msg.contains("line 2"), "{msg}");
    assert!(!json.exists());
}

#[test]
fn eval_works_on_a_generated_set_with_other_model_names() {
    let d = tempfile::tempdir().unwrap();
    let set = d.path().join("synth");
    let out = shimkit(&[
        "gen",
        "--docs",
        "3000",
        "--queries",
        "80",
        "--old-dim",
        "48",
        "--new-dim",
        "64",
        "--seed",
        "3",
        "--no-text",
        "--out",
        set.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let (json, shims) = (d.path().join("r.json"), d.path().join("shims"));
    let out = shimkit(&[
        "eval",
        "--dataset",
        set.to_str().unwrap(),
        "--old",
        "old",
        "--new",
        "new",
        "--methods",
        "ridge,auto",
        "--resamples",
        "200",
        "--curve",
        "100",
        "--csls",
        "--no-query-bias",
        "--json",
        json.to_str().unwrap(),
        "--save-shims",
        shims.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let r = read_json(&json);
    assert_eq!(r["train_pairs"], 1500);
    let ndcg = |name: &str| path(&r, name)["ndcg@10"].as_f64().unwrap();
    // The generator's new model reads items with half the old one's error.
    assert!(ndcg("full-reembed") > ndcg("no-migration"), "{r}");
    assert!(
        path(&r, "shim-doc:ridge")["retention_ndcg@10"]
            .as_f64()
            .unwrap()
            > 0.5
    );
    for name in [
        "shim-query+csls:ridge",
        "shim-doc+csls:auto",
        "shim-query-nobias:ridge",
    ] {
        assert!(path(&r, name)["ndcg@10"].as_f64().unwrap() > 0.0, "{name}");
    }
    // The numpy check recomputes the CSLS and no-bias paths of the ridge shims too.
    numpy_agrees(set.to_str().unwrap(), "old", "new", &json, &shims);
}

#[test]
fn demo_runs_as_the_readme_says() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(["demo", "--out-dir", out_dir.to_str().unwrap()])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for want in [
        "no-migration",
        "full-reembed",
        "shim-doc:auto",
        "recommendation:",
        "report.html",
    ] {
        assert!(stdout.contains(want), "demo output lacks {want}:\n{stdout}");
    }
    assert!(out_dir.join("report.html").is_file());
    let r = read_json(&out_dir.join("report.json"));
    assert_eq!(r["old"], "minilm");
    assert_eq!(r["new"], "mpnet");
}

#[test]
fn a_method_that_cannot_be_fitted_is_left_out_and_alone_it_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    let set = d.path().join("tiny");
    let out = shimkit(&[
        "gen",
        "--docs",
        "130",
        "--queries",
        "10",
        "--old-dim",
        "16",
        "--new-dim",
        "24",
        "--seed",
        "3",
        "--no-text",
        "--out",
        set.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let json = d.path().join("r.json");
    let args = |methods: &'static str| {
        vec![
            "eval".to_string(),
            "--dataset".into(),
            set.to_str().unwrap().into(),
            "--old".into(),
            "old".into(),
            "--new".into(),
            "new".into(),
            "--methods".into(),
            methods.into(),
            "--resamples".into(),
            "100".into(),
            "--curve".into(),
            "100".into(),
            "--json".into(),
            json.to_str().unwrap().into(),
        ]
    };
    let run = |methods| {
        let a = args(methods);
        shimkit(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    // 65 training pairs: too few for two clusters of 25 after the held-out splits.
    let out = run("ridge,cluster,auto");
    assert!(out.status.success(), "{}", text(&out));
    let r = read_json(&json);
    let names: Vec<&str> = r["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"shim-doc:ridge") && names.contains(&"shim-doc:auto"));
    assert!(!names.iter().any(|n| n.contains("cluster")), "{names:?}");
    assert!(text(&out).contains("cluster is left out"), "{}", text(&out));
    std::fs::remove_file(&json).unwrap();
    let out = run("cluster");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("too few to tune two clusters"),
        "{}",
        text(&out)
    );
    assert!(!json.exists());
}

#[test]
fn query_pair_folds_add_cross_fitted_paths_and_their_gains() {
    let d = tempfile::tempdir().unwrap();
    let json = d.path().join("r.json");
    let out = shimkit(&[
        "eval",
        "--dataset",
        &cranfield(),
        "--old",
        "minilm",
        "--new",
        "mpnet",
        "--methods",
        "ridge",
        "--train-pairs",
        "700",
        "--resamples",
        "200",
        "--curve",
        "100",
        "--query-pair-folds",
        "2",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("query pairs (2 folds of the scored queries"),
        "{}",
        text(&out)
    );
    let r = read_json(&json);
    let q = &r["query_pairs"];
    assert_eq!(q["folds"], 2);
    let folds = q["per_fold"].as_array().unwrap();
    let held: u64 = folds.iter().map(|f| f["held_out"].as_u64().unwrap()).sum();
    assert_eq!(held, 225, "every scored query is held out of one fold");
    for f in folds {
        // Each fold fits on the other fold's queries, with the 700 training documents.
        assert_eq!(
            f["share"]["query_pairs"].as_u64().unwrap() + f["held_out"].as_u64().unwrap(),
            225
        );
        assert_eq!(f["share"]["doc_pairs"], 700);
    }
    let method = "ridge";
    let with = path(&r, &format!("shim-query-qp:{method}"));
    let without = path(&r, &format!("shim-query:{method}"));
    assert_eq!(with["kind"], "shim-query");
    let gain = q["gains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["path"] == format!("shim-query-qp:{method}"))
        .unwrap();
    let delta = with["ndcg@10"].as_f64().unwrap() - without["ndcg@10"].as_f64().unwrap();
    assert!((gain["delta_ndcg"].as_f64().unwrap() - delta).abs() < 1e-9);
    assert_eq!(gain["retention"], with["retention_ndcg@10"]);
}

#[test]
fn sample_proposes_the_documents_eval_trains_on_with_sample_shimkit() {
    let d = tempfile::tempdir().unwrap();
    let corpus = root().join("data/cranfield/corpus.minilm.parquet");
    let ids_path = d.path().join("ids.txt");
    let out = shimkit(&[
        "sample",
        "--input",
        corpus.to_str().unwrap(),
        "--n",
        "250",
        "--seed",
        "2",
        "--output",
        ids_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let proposed: Vec<String> = std::fs::read_to_string(&ids_path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(proposed.len(), 250);
    let distinct: std::collections::HashSet<&String> = proposed.iter().collect();
    assert_eq!(distinct.len(), 250, "an id proposed twice");

    let run = |sample: &str| {
        let (json, shims) = (
            d.path().join(format!("{sample}.json")),
            d.path().join(sample),
        );
        let out = shimkit(&[
            "eval",
            "--dataset",
            &cranfield(),
            "--old",
            "minilm",
            "--new",
            "mpnet",
            "--methods",
            "ridge",
            "--train-pairs",
            "250",
            "--sample",
            sample,
            "--seed",
            "2",
            "--resamples",
            "50",
            "--curve",
            "100",
            "--backfill",
            "0.5",
            "--json",
            json.to_str().unwrap(),
            "--save-shims",
            shims.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(read_json(&json)["sample"], sample);
        std::fs::read_to_string(shims.join("train_ids.txt"))
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<String>>()
    };
    // The same documents in the same order: the curve and the backfill take prefixes.
    assert_eq!(run("shimkit"), proposed);
    let random = run("random");
    assert_eq!(random.len(), 250);
    assert_ne!(random, proposed);

    // Bad requests name what is wrong, exit non-zero and write nothing.
    let absent = d.path().join("absent.txt");
    for (n, expect) in [("0", "--n 0"), ("1401", "has 1400 documents")] {
        let out = shimkit(&[
            "sample",
            "--input",
            corpus.to_str().unwrap(),
            "--n",
            n,
            "--output",
            absent.to_str().unwrap(),
        ]);
        assert!(!out.status.success());
        assert!(text(&out).contains(expect), "{}", text(&out));
        assert!(!absent.exists());
    }
    let out = shimkit(&[
        "eval",
        "--dataset",
        &cranfield(),
        "--old",
        "minilm",
        "--new",
        "mpnet",
        "--sample",
        "clever",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("random or shimkit"), "{}", text(&out));
}
