//! `shimkit migrate`: the spec's checks, the history kept in the database, and the gated
//! cutover and rollback, against a real PostgreSQL with pgvector (tests/common/pg.rs).

mod common;

use std::path::Path;

use common::engine::cranfield;
use common::pg::{self, PgServer};
use common::{fails, output_text, root, shimkit};
use serde_json::{Value, json};
use shimkit_postgres::Session;
use shimkit_postgres::migration::History;

fn ok(args: &[&str]) -> String {
    let o = shimkit(args);
    assert!(o.status.success(), "shimkit {args:?}:\n{}", output_text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn spec(dir: &Path, url: &str, target: f64) -> String {
    spec_with(dir, url, target, 100_000, "2026-12-15")
}

fn spec_with(dir: &Path, url: &str, target: f64, rate: u32, cutover: &str) -> String {
    spec_full(dir, url, target, rate, cutover, "")
}

/// A spec; `more_backfill` adds lines to its `[backfill]` table.
fn spec_full(
    dir: &Path,
    url: &str,
    target: f64,
    rate: u32,
    cutover: &str,
    more_backfill: &str,
) -> String {
    let path = dir.join("migration.toml");
    std::fs::create_dir_all(dir.join("incoming")).unwrap();
    std::fs::write(
        &path,
        format!(
            r#"[store]
url = "{url}"
old = "embedding"
new = "embedding_next"

[eval]
dataset = "{}"
old_model = "minilm"
new_model = "mpnet"

[backfill]
incoming = "incoming"
rows_per_second = {rate}
{more_backfill}

[gate]
target = {target}
confidence = 0.95

[window]
cutover = "{cutover}"
"#,
            root().join("data/cranfield").display()
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// A database with the Cranfield minilm corpus in table `docs` (column `embedding`): the
/// database's URL, the column's URL, and the table's URL for a spec (no `vector=`).
struct Docs {
    db: String,
    docs: String,
    spec_url: String,
}

fn cranfield_docs(name: &str) -> Option<Docs> {
    let server = PgServer::shared()?;
    let db = server.database(name);
    let docs = pg::table(&db, "docs", "embedding");
    ok(&[
        "load",
        "-q",
        "--input",
        &cranfield("corpus.minilm.parquet"),
        "--output",
        &docs,
    ]);
    let sep = if db.contains('?') { '&' } else { '?' };
    let spec_url = format!("{db}{sep}table=docs&id=id");
    Some(Docs { db, docs, spec_url })
}

/// A ridge shim minilm -> mpnet fitted on the bundled files, in `dir`.
fn ridge_shim(dir: &Path) -> String {
    let shim = dir.join("ridge.safetensors").to_string_lossy().into_owned();
    ok(&[
        "fit",
        "-q",
        "--method",
        "ridge",
        "--old",
        &cranfield("corpus.minilm.parquet"),
        "--new",
        &cranfield("corpus.mpnet.parquet"),
        "--out",
        &shim,
    ]);
    shim
}

#[test]
fn a_bad_spec_is_named_by_file_and_key_before_any_connection() {
    let d = tempfile::tempdir().unwrap();
    let path = spec(
        d.path(),
        "postgresql://nobody@/nowhere?host=/nonexistent&table=docs",
        0.95,
    );
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("target = 0.95", "target = 7")).unwrap();
    let e = fails(&["migrate", "status", &path]);
    assert!(
        e.contains("migration.toml") && e.contains("gate.target"),
        "{e}"
    );
    std::fs::write(&path, text.replace("[window]", "[windows]")).unwrap();
    let e = fails(&["migrate", "status", &path]);
    assert!(e.contains("migration.toml") && e.contains("windows"), "{e}");
    let e = fails(&[
        "migrate",
        "status",
        &d.path().join("none.toml").to_string_lossy(),
    ]);
    assert!(e.contains("none.toml"), "{e}");
}

#[test]
fn the_history_numbers_cycles_once_and_the_gate_guards_the_cutover() {
    let Some(Docs { docs, spec_url, .. }) = cranfield_docs("migrate_history") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let shim = ridge_shim(d.path());
    let next = docs.replace("vector=embedding", "vector=embedding_next");
    ok(&[
        "project", "-q", "--shim", &shim, "--input", &docs, "--output", &next,
    ]);
    let spec = spec(d.path(), &spec_url, 0.9);

    let status: Value = serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
    assert_eq!(status["cycles"], json!([]));
    assert_eq!(status["plan"]["new_column"], "embedding_next");
    assert_eq!(status["plan"]["gate"]["target"], 0.9);
    assert_eq!(status["plan"]["cutover_date"], "2026-12-15");
    let e = fails(&["migrate", "cutover", &spec]);
    assert!(
        e.contains("no cycle has been scored yet") && e.contains("--force"),
        "{e}"
    );

    // Cycles as `migrate run` records them; two writers never record one number twice.
    let connect = || Session::open(&shimkit_postgres::PgTable::parse(&docs).unwrap().db).unwrap();
    let mut history = History::open(connect(), "docs.embedding_next").unwrap();
    let cycle = |share: f64, holds: bool| {
        json!({"gate_holds": holds, "paths": [{"name": "new-column", "ndcg@10": 0.4,
            "recall@10": 0.5, "retention_ndcg@10": share, "ci95_retention_ndcg@10": [share - 0.05, share + 0.05]}]})
    };
    let first = history
        .append_cycle(0.25, "continue", &cycle(0.25, false))
        .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let session = connect();
            let report = cycle(0.5, false);
            std::thread::spawn(move || {
                let mut h = History::open(session, "docs.embedding_next").unwrap();
                h.append_cycle(0.5, "continue", &report).unwrap().cycle
            })
        })
        .collect();
    let mut numbers: Vec<i64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    numbers.sort();
    assert_eq!(first.cycle, 1);
    assert_eq!(numbers, vec![2, 3, 4, 5]);
    history.record_file("batch-1.parquet", 10, 350).unwrap();
    history.record_file("batch-1.parquet", 10, 350).unwrap();
    assert_eq!(
        history.loaded_files().unwrap().len(),
        1,
        "a file is recorded once"
    );

    let e = fails(&["migrate", "cutover", &spec]);
    assert!(e.contains("cycle 5") && e.contains("does not hold"), "{e}");
    let said = ok(&["migrate", "cutover", &spec, "--force"]);
    assert!(said.contains("forced"), "{said}");
    let said = ok(&["migrate", "rollback", &spec]);
    assert!(said.contains("rolled back"), "{said}");

    history
        .append_cycle(0.75, "pull-forward", &cycle(0.98, true))
        .unwrap();
    ok(&["migrate", "cutover", &spec]);
    let status: Value = serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
    let cycles = status["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 6);
    assert_eq!(cycles[5]["decision"], "pull-forward");
    assert_eq!(cycles[5]["share"], 0.75);
    // Figures come back as recorded (to the last bit but one: JSON text parsed again).
    let (got, sent) = (&cycles[5]["paths"][0], &cycle(0.98, true)["paths"][0]);
    assert_eq!(got["name"], sent["name"]);
    for key in ["ndcg@10", "recall@10", "retention_ndcg@10"] {
        assert!((got[key].as_f64().unwrap() - sent[key].as_f64().unwrap()).abs() < 1e-12);
    }
    for i in 0..2 {
        let (a, b) = (
            &got["ci95_retention_ndcg@10"][i],
            &sent["ci95_retention_ndcg@10"][i],
        );
        assert!(
            (a.as_f64().unwrap() - b.as_f64().unwrap()).abs() < 1e-12,
            "{a} {b}"
        );
    }
    let kinds: Vec<(&str, bool)> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["forced"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![("cutover", true), ("rollback", false), ("cutover", false)]
    );
    assert_eq!(status["cut_over"], true);
    let table = ok(&["migrate", "status", &spec]);
    assert!(
        table.contains("cycle   6") && table.contains("pull-forward"),
        "{table}"
    );
    assert!(table.contains("forced"), "{table}");
}

/// `ids`' rows of a Parquet table, written as another Parquet file.
fn subset(from: &str, ids: &[String], to: &Path) {
    use shimkit_data::{EmbeddingWriter, ReadOptions, TableSource, read_table};
    let t = read_table(&TableSource::new(from).unwrap(), &ReadOptions::default()).unwrap();
    let rows: Vec<usize> = ids
        .iter()
        .map(|id| t.ids.iter().position(|x| x == id).unwrap())
        .collect();
    let mut w = EmbeddingWriter::create(to, t.vectors.ncols()).unwrap();
    w.write(ids, t.vectors.select(ndarray::Axis(0), &rows).view())
        .unwrap();
    w.finish().unwrap();
}

#[test]
fn each_cycle_loads_new_files_once_and_records_the_figures_of_the_hybrid_in_the_store() {
    use shimkit_data::{EvalSet, ReadOptions, Split, TableSource, normalize_rows, read_table};
    use shimkit_trainer::eval::{Column, EvalData, Exact, PathKind, QueryModel, score_columns};
    let Some(Docs { spec_url, .. }) = cranfield_docs("migrate_cycles") else {
        return;
    };
    let (minilm, mpnet) = (
        cranfield("corpus.minilm.parquet"),
        cranfield("corpus.mpnet.parquet"),
    );
    let d = tempfile::tempdir().unwrap();
    let shim = ridge_shim(d.path());
    let projected = d.path().join("projected.parquet");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    ok(&[
        "project",
        "-q",
        "--shim",
        &shim,
        "--input",
        &minilm,
        "--output",
        &s(&projected),
    ]);
    // The migration keeps the rest of the new column projected by this shim.
    let spec = spec_full(
        d.path(),
        &spec_url,
        0.9,
        100_000,
        "2026-12-15",
        &format!("shim = {shim:?}"),
    );

    // The new model's vectors arrive in batches of 350 documents.
    let all = read_table(&TableSource::new(&mpnet).unwrap(), &ReadOptions::default()).unwrap();
    let batch = |i: usize| all.ids[350 * i..350 * (i + 1)].to_vec();
    subset(
        &mpnet,
        &batch(0),
        &d.path().join("incoming/batch-0.parquet"),
    );
    let said = ok(&["migrate", "run", &spec, "--once"]);
    assert!(said.contains("batch-0.parquet: 350"), "{said}");
    ok(&["migrate", "run", &spec, "--once"]);
    subset(
        &mpnet,
        &batch(1),
        &d.path().join("incoming/batch-1.parquet"),
    );
    let said = ok(&["migrate", "run", &spec, "--once"]);
    assert!(!said.contains("batch-0"), "a file is loaded once: {said}");

    let status: Value = serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
    let cycles = status["cycles"].as_array().unwrap();
    let shares: Vec<f64> = cycles
        .iter()
        .map(|c| c["share"].as_f64().unwrap())
        .collect();
    assert_eq!(shares, vec![0.25, 0.25, 0.5]);

    // The last cycle's new column: 700 documents re-embedded, the rest projected. Its
    // figures equal the same hybrid built here from the files and scored as eval scores.
    let set = EvalSet::open(root().join("data/cranfield")).unwrap();
    let read = ReadOptions::default();
    let load = |m: &str, s| set.load(m, s, &read).unwrap();
    let (data, _) = EvalData::align(
        &load("minilm", Split::Corpus),
        &load("mpnet", Split::Corpus),
        &load("minilm", Split::Queries),
        &load("mpnet", Split::Queries),
        &set.qrels().unwrap(),
    )
    .unwrap();
    let proj = read_table(&TableSource::new(&projected).unwrap(), &read).unwrap();
    let reembedded_ids: Vec<String> = batch(0).into_iter().chain(batch(1)).collect();
    let reembedded: std::collections::HashSet<&String> = reembedded_ids.iter().collect();
    let mut hybrid = ndarray::Array2::<f32>::zeros((data.doc_ids.len(), all.vectors.ncols()));
    for (row, id) in data.doc_ids.iter().enumerate() {
        let (table, vectors) = if reembedded.contains(id) {
            (&all.ids, &all.vectors)
        } else {
            (&proj.ids, &proj.vectors)
        };
        let i = table.iter().position(|x| x == id).unwrap();
        hybrid.row_mut(row).assign(&vectors.row(i));
    }
    let hybrid = normalize_rows(hybrid);
    let want = score_columns(
        &data,
        &[Column {
            name: "new-column",
            kind: PathKind::Backfill,
            reembedded: 0.5,
            queries: QueryModel::New,
            vectors: hybrid.view(),
            rows: None,
        }],
        10,
        1000,
        0,
        &Exact,
    )
    .unwrap();
    let last = &cycles[2];
    let names: Vec<&str> = last["paths"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["no-migration", "full-reembed", "new-column"]);
    for (got, want) in last["paths"].as_array().unwrap().iter().zip(&want) {
        let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-6;
        assert!(close(&got["ndcg@10"], want.ndcg), "{got} vs {}", want.ndcg);
        assert!(close(&got["recall@10"], want.recall), "{got}");
        assert!(close(&got["retention_ndcg@10"], want.retention), "{got}");
        assert!(
            close(&got["ci95_retention_ndcg@10"][0], want.retention_ci[0]),
            "{got}"
        );
        assert!(
            close(&got["ci95_retention_ndcg@10"][1], want.retention_ci[1]),
            "{got}"
        );
    }
    let new = &last["paths"][2];
    let holds = new["ci95_retention_ndcg@10"][0].as_f64().unwrap() >= 0.9;
    assert_eq!(last["gate_holds"], holds);
    assert_eq!(last["decision"] == "pull-forward", holds);
}

/// A run killed (SIGKILL) in the middle of loading a file records neither the file nor a
/// cycle; the next run loads the file whole, records one cycle, and stops by itself once
/// the backfill is complete. A run past the cutover date stops after one cycle.
#[test]
fn a_run_killed_mid_cycle_restarts_cleanly_and_runs_stop_by_themselves() {
    let Some(Docs {
        db,
        docs,
        spec_url: url,
    }) = cranfield_docs("migrate_kill")
    else {
        return;
    };
    let mpnet = cranfield("corpus.mpnet.parquet");
    let d = tempfile::tempdir().unwrap();
    // 200 rows a second: the whole corpus takes about 7 s to load.
    let spec = spec_with(d.path(), &url, 0.9, 200, "2099-01-01");
    std::fs::copy(&mpnet, d.path().join("incoming/all.parquet")).unwrap();
    let mut run = std::process::Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(["migrate", "run", &spec, "--once"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    run.kill().unwrap();
    run.wait().unwrap();
    let status: Value = serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
    assert_eq!(status["cycles"], json!([]), "no cycle from the killed run");
    let mut client = pg::connect(&db);
    let written: i64 = client
        .query_one("SELECT count(embedding_next) FROM docs", &[])
        .unwrap()
        .get(0);
    assert!(
        written > 0 && written < 1400,
        "the kill came mid-file: {written} rows"
    );

    // Faster now; the file is loaded again whole, and the run stops: the backfill is done.
    let spec = spec_with(d.path(), &url, 0.9, 100_000, "2099-01-01");
    let said = ok(&["migrate", "run", &spec, "--interval", "0"]);
    assert!(
        said.contains("all.parquet: 1400") && said.contains("the backfill is complete"),
        "{said}"
    );
    let status: Value = serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
    let cycles = status["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 1);
    assert_eq!(cycles[0]["share"], 1.0);
    let mut history = History::open(
        Session::open(&shimkit_postgres::PgTable::parse(&docs).unwrap().db).unwrap(),
        "docs.embedding_next",
    )
    .unwrap();
    assert_eq!(history.loaded_files().unwrap().len(), 1);

    // Past the window: one cycle, then a stop that says why.
    let spec = spec_with(d.path(), &url, 0.9, 100_000, "2020-01-01");
    std::fs::remove_file(d.path().join("incoming/all.parquet")).unwrap();
    let said = ok(&["migrate", "run", &spec, "--interval", "0"]);
    assert!(said.contains("stopping"), "{said}");
    assert_eq!(history.cycles().unwrap().len(), 2);
}
