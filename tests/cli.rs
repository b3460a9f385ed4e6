//! The `shimkit` program end to end, on the bundled real data and on generated sets.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn shimkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(args)
        .output()
        .expect("run shimkit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn cranfield() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/cranfield")
}

#[test]
fn inspect_reports_the_bundled_cranfield_set() {
    let out = shimkit(&["inspect", cranfield().to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        r["models"],
        serde_json::json!(["minilm", "minilm-l3", "mpnet"])
    );
    let table = |model: &str, split: &str| {
        r["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["model"] == model && t["split"] == split)
            .unwrap()["summary"]
            .clone()
    };
    let mpnet = table("mpnet", "corpus");
    assert_eq!(
        (mpnet["rows"].as_u64(), mpnet["dim"].as_u64()),
        (Some(1400), Some(768))
    );
    assert_eq!(mpnet["element_type"], "float32");
    assert_eq!(table("minilm", "queries")["rows"], 225);
    assert_eq!(table("minilm", "queries")["dim"], 384);
    assert_eq!(r["qrels"]["rows"], 1612);
    assert_eq!(r["qrels"]["queries"], 225);
    assert_eq!(r["coverage"]["docs"], 1400);
    assert_eq!(r["problems"], serde_json::json!([]));
    // The norms are measured, and these files are L2-normalised.
    assert!((mpnet["norms"]["mean"].as_f64().unwrap() - 1.0).abs() < 1e-5);

    let text = shimkit(&["inspect", cranfield().to_str().unwrap()]);
    assert!(text.status.success());
    let s = stdout(&text);
    assert!(
        s.contains("mpnet          corpus         1400    768"),
        "{s}"
    );
    assert!(s.contains("problems        none"), "{s}");
}

#[test]
fn inspect_one_table_in_text_and_json() {
    let f = cranfield().join("corpus.mpnet.parquet");
    let out = shimkit(&["inspect", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s = stdout(&out);
    assert!(
        s.contains("rows      1400") && s.contains("dim       768"),
        "{s}"
    );
    assert!(
        s.contains("fixed_size_list<float32>[768]") && s.contains("valid     yes"),
        "{s}"
    );
    let out = shimkit(&["inspect", f.to_str().unwrap(), "--json"]);
    let r: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(r["rows_checked"], 1400);
    assert_eq!(r["files"][0]["row_groups"], 1);
    assert!(r["problem"].is_null());
}

#[test]
fn inspect_names_the_bad_row_and_exits_non_zero() {
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("bad.parquet");
    let mut m = ndarray::Array2::<f32>::ones((10, 4));
    m[[6, 1]] = f32::NAN;
    let ids: Vec<String> = (0..10).map(|i| format!("doc{i}")).collect();
    let mut w = shimkit_data::EmbeddingWriter::create(&f, 4).unwrap();
    w.write(&ids, m.view()).unwrap();
    w.finish().unwrap();
    let out = shimkit(&["inspect", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains(
            "bad.parquet: row 6 (id \"doc6\"): column \"embedding\": value 1 of the vector is NaN"
        ),
        "{e}"
    );
    assert!(stdout(&out).contains("valid     NO"));

    let missing = shimkit(&["inspect", d.path().join("nope.parquet").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("nope.parquet"),
        "{}",
        stderr(&missing)
    );

    let wrong_col = shimkit(&["inspect", f.to_str().unwrap(), "--vec-col", "vector"]);
    assert_eq!(wrong_col.status.code(), Some(1));
    assert!(
        stderr(&wrong_col).contains("column \"vector\" not found"),
        "{}",
        stderr(&wrong_col)
    );
}

#[test]
fn gen_writes_a_set_that_inspect_accepts_and_never_clobbers() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("synth");
    let o = out_dir.to_str().unwrap();
    let args = [
        "gen",
        "--docs",
        "3000",
        "--queries",
        "30",
        "--old-dim",
        "32",
        "--new-dim",
        "48",
        "--seed",
        "3",
        "--out",
        o,
    ];
    let out = shimkit(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3000 documents and 30 queries"),
        "{}",
        stdout(&out)
    );
    let r = shimkit(&["inspect", o, "--json"]);
    assert!(r.status.success(), "{}", stdout(&r));
    let r: serde_json::Value = serde_json::from_str(&stdout(&r)).unwrap();
    assert_eq!(r["models"], serde_json::json!(["new", "old"]));
    assert_eq!(r["coverage"]["docs"], 3000);
    assert_eq!(r["coverage"]["queries"], 30);

    let again = shimkit(&args);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("exists and is not empty"),
        "{}",
        stderr(&again)
    );
    let bad = shimkit(&[
        "gen",
        "--docs",
        "10",
        "--queries",
        "5",
        "--out",
        d.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).contains("5 queries × 10 relevant documents"),
        "{}",
        stderr(&bad)
    );
    let usage = shimkit(&["gen", "--docs", "many", "--out", o]);
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn version_and_help() {
    let v = shimkit(&["--version"]);
    assert!(stdout(&v).starts_with("shimkit "), "{}", stdout(&v));
    for sub in ["inspect", "gen"] {
        let h = shimkit(&[sub, "--help"]);
        assert!(h.status.success());
        assert!(stdout(&h).contains("Usage: shimkit"), "{}", stdout(&h));
    }
}
