//! `shimkit migrate`: the spec's checks, the history kept in the database, and the gated
//! cutover and rollback, against a real PostgreSQL with pgvector (tests/common/pg.rs).

mod common;

use std::path::Path;

use common::engine::cranfield;
use common::migration::{Docs, cranfield_docs, ok, ridge_shim, spec, spec_full, spec_with, subset};
use common::pg;
use common::{fails, root};
use serde_json::{Value, json};
use shimkit_postgres::Session;
use shimkit_postgres::migration::History;

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
    assert_eq!(
        names,
        vec!["no-migration", "full-reembed", "new-column", "shim-doc"]
    );
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

/// The Cranfield eval set, aligned as `eval` aligns it.
fn cranfield_data() -> shimkit_trainer::eval::EvalData {
    use shimkit_data::{EvalSet, ReadOptions, Split};
    let set = EvalSet::open(root().join("data/cranfield")).unwrap();
    let read = ReadOptions::default();
    let load = |m: &str, s| set.load(m, s, &read).unwrap();
    shimkit_trainer::eval::EvalData::align(
        &load("minilm", Split::Corpus),
        &load("mpnet", Split::Corpus),
        &load("minilm", Split::Queries),
        &load("mpnet", Split::Queries),
        &set.qrels().unwrap(),
    )
    .unwrap()
    .0
}

#[test]
fn without_a_shim_the_migration_fits_one_on_its_first_batch_and_refits_only_when_better() {
    use shimkit_data::{ReadOptions, TableSource, normalize_rows, read_table};
    use shimkit_trainer::eval::{Column, Exact, PathKind, QueryModel, score_columns};
    let Some(Docs { docs, spec_url, .. }) = cranfield_docs("migrate_own_shim") else {
        return;
    };
    let mpnet = cranfield("corpus.mpnet.parquet");
    let d = tempfile::tempdir().unwrap();
    let spec = spec_full(
        d.path(),
        &spec_url,
        0.9,
        100_000,
        "2099-01-01",
        "method = \"ridge\"",
    );
    let all = read_table(&TableSource::new(&mpnet).unwrap(), &ReadOptions::default()).unwrap();
    let data = cranfield_data();
    let mut history = History::open(
        Session::open(&shimkit_postgres::PgTable::parse(&docs).unwrap().db).unwrap(),
        "docs.embedding_next",
    )
    .unwrap();
    let mut version = 0;
    for i in 0..4 {
        let ids = all.ids[350 * i..350 * (i + 1)].to_vec();
        subset(
            &mpnet,
            &ids,
            &d.path().join(format!("incoming/batch-{i}.parquet")),
        );
        ok(&["migrate", "run", &spec, "--once"]);
        let status: Value =
            serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
        let cycles = status["cycles"].as_array().unwrap();
        assert_eq!(cycles.len(), i + 1, "one record a cycle");
        let cycle = &cycles[i];
        let shim = &cycle["shim"];
        let refit = &shim["refit"];
        // Fitted on the first batch; then refitted on all pairs so far, kept only when it
        // scores better on held-out pairs neither version was fitted on.
        if i == 0 {
            assert_eq!(refit["adopted"], true, "{shim}");
            assert_eq!(refit["current_heldout_cosine"], Value::Null);
        } else {
            let better = refit["heldout_cosine"].as_f64().unwrap()
                > refit["current_heldout_cosine"].as_f64().unwrap();
            assert_eq!(refit["adopted"], better, "{shim}");
        }
        if refit["adopted"] == true {
            version += 1;
        }
        assert_eq!(shim["version"], version, "{shim}");
        assert!(refit["pairs"].as_u64().unwrap() < 350 * (i as u64 + 1));
        assert_eq!(
            refit["pairs"].as_u64().unwrap() + refit["heldout_pairs"].as_u64().unwrap(),
            350 * (i as u64 + 1)
        );

        // The figures equal the same paths built here from the files and the recorded
        // shim: the re-embedded rows from the mpnet file, the rest projected by the shim.
        let record = history.current_shim().unwrap().unwrap();
        assert_eq!(record.version, version);
        let doc = shimkit_trainer::artifact::from_bytes(&record.doc_side).unwrap();
        let query = shimkit_trainer::artifact::from_bytes(&record.query_side).unwrap();
        let projected = doc.apply(data.old_docs.view(), true).unwrap();
        let reembedded: std::collections::HashSet<&String> =
            all.ids[..350 * (i + 1)].iter().collect();
        let mut hybrid = projected.clone();
        for (row, id) in data.doc_ids.iter().enumerate() {
            if reembedded.contains(id) {
                let j = all.ids.iter().position(|x| x == id).unwrap();
                hybrid.row_mut(row).assign(&all.vectors.row(j));
            }
        }
        let hybrid = normalize_rows(hybrid);
        let mapped = query.apply(data.new_queries.view(), true).unwrap();
        let column = |name, kind, queries, vectors| Column {
            name,
            kind,
            reembedded: 0.0,
            queries,
            vectors,
            rows: None,
        };
        let want = score_columns(
            &data,
            &[
                column(
                    "new-column",
                    PathKind::Backfill,
                    QueryModel::New,
                    hybrid.view(),
                ),
                column(
                    "shim-doc",
                    PathKind::ShimDoc,
                    QueryModel::New,
                    projected.view(),
                ),
                column(
                    "shim-query",
                    PathKind::ShimQuery,
                    QueryModel::Mapped(mapped.view()),
                    data.old_docs.view(),
                ),
            ],
            10,
            1000,
            0,
            &Exact,
        )
        .unwrap();
        let paths = cycle["paths"].as_array().unwrap();
        let names: Vec<&str> = paths.iter().map(|p| p["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            vec![
                "no-migration",
                "full-reembed",
                "new-column",
                "shim-doc",
                "shim-query"
            ]
        );
        for (got, want) in paths.iter().zip(&want) {
            let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-6;
            assert!(
                close(&got["ndcg@10"], want.ndcg),
                "cycle {i}: {got} vs {}",
                want.ndcg
            );
            assert!(close(&got["retention_ndcg@10"], want.retention), "{got}");
            assert!(
                close(&got["ci95_retention_ndcg@10"][0], want.retention_ci[0]),
                "{got}"
            );
        }
    }
    // Wholly re-embedded, the new column is the full re-embed: the gate fires, and the
    // cutover needs no override.
    let status: Value = serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
    assert_eq!(status["cycles"][3]["decision"], "pull-forward");
    ok(&["migrate", "cutover", &spec]);
    ok(&["migrate", "rollback", &spec]);
    let status: Value = serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
    let events: Vec<(&str, bool)> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["forced"].as_bool().unwrap()))
        .collect();
    assert_eq!(events, vec![("cutover", false), ("rollback", false)]);
}

/// A cycle's searches in PostgreSQL: exact search gives the in-process figures (to
/// pgvector's float32 near-ties), HNSW reports each path's recall against exact search.
#[test]
fn a_cycle_searches_in_postgresql_exactly_or_through_hnsw() {
    let Some(Docs { spec_url, .. }) = cranfield_docs("migrate_search") else {
        return;
    };
    let mpnet = cranfield("corpus.mpnet.parquet");
    let d = tempfile::tempdir().unwrap();
    let shim = ridge_shim(d.path());
    let with_search = |search: &str| {
        spec_full(
            d.path(),
            &spec_url,
            0.9,
            100_000,
            "2099-01-01",
            &format!("shim = {shim:?}"),
        );
        let path = d.path().join("migration.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(
            &path,
            text.replace(
                "new_model = \"mpnet\"",
                &format!("new_model = \"mpnet\"\n{search}"),
            ),
        )
        .unwrap();
        path.to_string_lossy().into_owned()
    };
    let all = shimkit_data::read_table(
        &shimkit_data::TableSource::new(&mpnet).unwrap(),
        &shimkit_data::ReadOptions::default(),
    )
    .unwrap();
    std::fs::create_dir_all(d.path().join("incoming")).unwrap();
    subset(
        &mpnet,
        &all.ids[..700],
        &d.path().join("incoming/half.parquet"),
    );
    for search in [
        "search = \"memory\"",
        "search = \"exact\"",
        "search = \"hnsw\"\nef_search = 100",
    ] {
        ok(&["migrate", "run", &with_search(search), "--once"]);
    }
    let spec = with_search("");
    let status: Value = serde_json::from_str(&ok(&["migrate", "status", &spec, "--json"])).unwrap();
    let cycles = status["cycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 3);
    let paths = |c: usize| cycles[c]["paths"].as_array().unwrap().clone();
    let (memory, exact, hnsw) = (paths(0), paths(1), paths(2));
    assert_eq!(memory.len(), 4);
    for (m, e) in memory.iter().zip(&exact) {
        assert_eq!(m["name"], e["name"]);
        let gap = (m["ndcg@10"].as_f64().unwrap() - e["ndcg@10"].as_f64().unwrap()).abs();
        assert!(gap <= 1e-4, "{}: {gap}", m["name"]);
        assert!(e.get("ann_recall@10").is_none());
    }
    for h in &hnsw {
        let recall = h["ann_recall@10"].as_f64().unwrap();
        assert!((0.9..=1.0).contains(&recall), "{}: {recall}", h["name"]);
    }
    let table = ok(&["migrate", "status", &spec]);
    assert!(table.contains("ANN recall"), "{table}");
}
