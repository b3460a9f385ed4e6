//! Every PostgreSQL command against a real PostgreSQL 16 with pgvector, on the bundled
//! Cranfield set: load, inspect, fit, project (both ways, paced, killed and resumed),
//! eval with its searches in the database, cutover and rollback, and the bad input of
//! issue 15. The server comes from `tests/common/pg.rs`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pg::{self, PgServer};
use common::{fails, output_text, root, shimkit};
use rand::{Rng, SeedableRng};

fn cranfield(file: &str) -> String {
    root()
        .join("data/cranfield")
        .join(file)
        .to_str()
        .unwrap()
        .to_owned()
}

fn ok(args: &[&str]) -> String {
    let o = shimkit(args);
    assert!(o.status.success(), "shimkit {args:?}:\n{}", output_text(&o));
    output_text(&o)
}

/// `project` that must succeed; what it said.
fn project_ok(shim: &str, input: &str, output: &str) -> String {
    ok(&[
        "project", "--shim", shim, "--input", input, "--output", output,
    ])
}

/// `project` that must fail; its stderr.
fn project_fails(shim: &str, input: &str, output: &str) -> String {
    fails(&[
        "project", "--shim", shim, "--input", input, "--output", output,
    ])
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The Cranfield corpus of `model` loaded into table `docs`' column `embedding`, by
/// `shimkit load` creating the table.
fn load_cranfield(db: &str, table: &str, model: &str) -> String {
    let url = pg::table(db, table, "embedding");
    let said = ok(&[
        "load",
        "--input",
        &cranfield(&format!("corpus.{model}.parquet")),
        "--output",
        &url,
    ]);
    assert!(
        said.contains("created the table with 1400 vectors"),
        "{said}"
    );
    url
}

/// A ridge shim minilm -> mpnet fitted on the Parquet files, and its projection of the
/// whole corpus written by `shimkit project` to Parquet: the reference.
struct Reference {
    dir: tempfile::TempDir,
    shim: PathBuf,
    projected: Vec<(String, Vec<f32>)>,
}

fn reference() -> Reference {
    let dir = tempfile::tempdir().unwrap();
    let shim = PathBuf::from(common::migration::ridge_shim(dir.path()));
    let out = dir.path().join("projected.parquet");
    ok(&[
        "project",
        "-q",
        "--shim",
        path(&shim),
        "--input",
        &cranfield("corpus.minilm.parquet"),
        "--output",
        path(&out),
    ]);
    let projected = parquet_rows(&out);
    Reference {
        dir,
        shim,
        projected,
    }
}

/// A Parquet table's rows, ordered by id.
fn parquet_rows(file: &Path) -> Vec<(String, Vec<f32>)> {
    let table = shimkit_data::read_table(
        &shimkit_data::TableSource::from_paths(&[file.to_path_buf()]).unwrap(),
        &shimkit_data::ReadOptions::default(),
    )
    .unwrap();
    let mut rows: Vec<(String, Vec<f32>)> = table
        .ids
        .iter()
        .cloned()
        .zip(table.vectors.rows().into_iter().map(|r| r.to_vec()))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}

/// The largest difference between two tables of the same ids.
fn max_difference(a: &[(String, Vec<f32>)], b: &[(String, Vec<f32>)]) -> f32 {
    assert_eq!(a.len(), b.len(), "row counts differ");
    let mut worst = 0f32;
    for ((ia, va), (ib, vb)) in a.iter().zip(b) {
        assert_eq!(ia, ib);
        assert_eq!(va.len(), vb.len(), "id {ia}");
        for (x, y) in va.iter().zip(vb) {
            worst = worst.max((x - y).abs());
        }
    }
    worst
}

fn inspect_json(url: &str) -> serde_json::Value {
    let o = shimkit(&["inspect", url, "--json"]);
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", output_text(&o)))
}

/// The table's definition and content, to compare before and after: columns, indexes,
/// and a digest of every row (columns in order).
fn snapshot(client: &mut postgres::Client, table: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for row in client
        .query(
            "SELECT column_name, data_type, ordinal_position::int FROM information_schema.columns \
             WHERE table_name = $1 ORDER BY ordinal_position",
            &[&table],
        )
        .unwrap()
    {
        let (name, ty, pos): (String, String, i32) = (row.get(0), row.get(1), row.get(2));
        lines.push(format!("column {pos} {name} {ty}"));
    }
    for row in client
        .query(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY indexname",
            &[&table],
        )
        .unwrap()
    {
        let (name, def): (String, String) = (row.get(0), row.get(1));
        lines.push(format!("index {name}: {def}"));
    }
    let digest: String = client
        .query_one(
            &format!("SELECT md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {table} t"),
            &[],
        )
        .unwrap()
        .get(0);
    lines.push(format!("rows {digest}"));
    lines
}

#[test]
fn every_command_on_cranfield_in_postgres() {
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.database("cranfield");
    let docs = load_cranfield(&db, "docs", "minilm");
    let docs_mpnet = load_cranfield(&db, "docs_mpnet", "mpnet");
    let mut client = pg::connect(&db);

    // inspect: what the table is.
    let report = inspect_json(&docs);
    assert_eq!(report["rows"], 1400);
    assert_eq!(report["vector"]["dim"], 384);
    assert_eq!(report["vector"]["null_vectors"], 0);
    assert_eq!(report["id"]["unique_index"], true);
    assert_eq!(report["problems"], serde_json::json!([]));

    // fit from the database: the same shim as from the Parquet files.
    let r = reference();
    let from_pg = r.dir.path().join("from-pg.safetensors");
    ok(&[
        "fit",
        "-q",
        "--method",
        "ridge",
        "--old",
        &docs,
        "--new",
        &docs_mpnet,
        "--out",
        path(&from_pg),
    ]);
    let projected_by_pg_shim = r.dir.path().join("by-pg-shim.parquet");
    ok(&[
        "project",
        "-q",
        "--shim",
        path(&from_pg),
        "--input",
        &cranfield("corpus.minilm.parquet"),
        "--output",
        path(&projected_by_pg_shim),
    ]);
    let fit_difference = max_difference(&parquet_rows(&projected_by_pg_shim), &r.projected);
    assert!(fit_difference < 1e-4, "{fit_difference}");

    // project into a new column of the same table: equal to the Parquet projection.
    let next = pg::table(&db, "docs", "embedding_next");
    let said = ok(&[
        "project",
        "--shim",
        path(&r.shim),
        "--input",
        &docs,
        "--output",
        &next,
        "--index",
        "hnsw",
    ]);
    assert!(said.contains("projected 1400 rows"), "{said}");
    let written = pg::column(&mut client, "docs", "embedding_next");
    let difference = max_difference(&written, &r.projected);
    assert!(difference <= 1e-6, "{difference}");
    let report = inspect_json(&next);
    assert_eq!(report["vector"]["dim"], 768);
    assert_eq!(report["vector"]["indexes"][0]["method"], "hnsw");
    // The old column is untouched.
    let old = pg::column(&mut client, "docs", "embedding");
    let original = parquet_rows(Path::new(&cranfield("corpus.minilm.parquet")));
    assert_eq!(max_difference(&old, &original), 0.0);

    // project from the database to Parquet: the same rows.
    let exported = r.dir.path().join("exported.parquet");
    ok(&[
        "project",
        "-q",
        "--shim",
        path(&r.shim),
        "--input",
        &docs,
        "--output",
        path(&exported),
    ]);
    assert!(max_difference(&parquet_rows(&exported), &r.projected) <= 1e-6);

    // load: 200 re-embedded documents replace their projections, and the table says so.
    let mpnet = parquet_rows(Path::new(&cranfield("corpus.mpnet.parquet")));
    let subset = r.dir.path().join("reembedded.parquet");
    let mut writer = shimkit_data::EmbeddingWriter::create(&subset, 768).unwrap();
    let ids: Vec<&str> = mpnet[..200].iter().map(|(id, _)| id.as_str()).collect();
    let flat: Vec<f32> = mpnet[..200].iter().flat_map(|(_, v)| v.clone()).collect();
    writer
        .write(
            &ids,
            ndarray::ArrayView2::from_shape((200, 768), &flat).unwrap(),
        )
        .unwrap();
    writer.finish().unwrap();
    let said = ok(&["load", "--input", path(&subset), "--output", &next]);
    assert!(said.contains("loaded re-embedded 200 vectors"), "{said}");
    let report = inspect_json(&next);
    let provenance: Vec<(String, u64)> =
        serde_json::from_value(report["vector"]["provenance"].clone()).unwrap();
    assert!(
        provenance.contains(&("reembedded".into(), 200)),
        "{provenance:?}"
    );
    assert!(
        provenance.contains(&("projected".into(), 1200)),
        "{provenance:?}"
    );
    let expected: Vec<(String, Vec<f32>)> = r
        .projected
        .iter()
        .map(|(id, v)| match mpnet[..200].iter().find(|(m, _)| m == id) {
            Some((_, reembedded)) => (id.clone(), reembedded.clone()),
            None => (id.clone(), v.clone()),
        })
        .collect();
    assert!(
        max_difference(
            &pg::column(&mut client, "docs", "embedding_next"),
            &expected
        ) <= 1e-6
    );

    // A rerun has nothing to do; a restarted one never replaces a re-embedded vector.
    let said = project_ok(path(&r.shim), &docs, &next);
    assert!(said.contains("already"), "{said}");
    let said = ok(&[
        "project",
        "--shim",
        path(&r.shim),
        "--input",
        &docs,
        "--output",
        &next,
        "--restart",
    ]);
    assert!(said.contains("kept 200 re-embedded vectors"), "{said}");
    assert!(
        max_difference(
            &pg::column(&mut client, "docs", "embedding_next"),
            &expected
        ) <= 1e-6
    );

    // eval with its searches in the database: exact search scores as in-process search.
    let dataset = root().join("data/cranfield");
    let eval = |extra: &[&str], json: &Path| {
        let mut args = vec![
            "eval",
            "-q",
            "--dataset",
            path(&dataset),
            "--old",
            "minilm",
            "--new",
            "mpnet",
            "--methods",
            "ridge",
            "--resamples",
            "20",
            "--curve",
            "100",
            "--backfill",
            "0.5",
            "--json",
            path(json),
        ];
        args.extend_from_slice(extra);
        ok(&args);
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
        report["paths"].as_array().unwrap().clone()
    };
    let in_process = eval(&[], &r.dir.path().join("mem.json"));
    let in_pg = eval(&["--search", &db], &r.dir.path().join("pg.json"));
    assert_eq!(in_process.len(), in_pg.len());
    for (a, b) in in_process.iter().zip(&in_pg) {
        assert_eq!(a["name"], b["name"]);
        let (x, y) = (
            a["ndcg@10"].as_f64().unwrap(),
            b["ndcg@10"].as_f64().unwrap(),
        );
        assert!(
            (x - y).abs() <= 1e-4,
            "{}: {x} in process, {y} in PostgreSQL",
            a["name"]
        );
    }
    let hnsw = eval(
        &["--search", &db, "--ann", "hnsw", "--ef-search", "100"],
        &r.dir.path().join("hnsw.json"),
    );
    for p in &hnsw {
        let recall = p["ann_recall@10"].as_f64().unwrap_or_else(|| panic!("{p}"));
        assert!(
            (0.8..=1.0).contains(&recall),
            "{}: ANN recall {recall}",
            p["name"]
        );
    }
    // The temporary search tables are gone with the session.
    let left: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'shimkit%' AND relpersistence = 't'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}

#[test]
fn cutover_then_rollback_restores_the_table_exactly() {
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.database("cutover");
    let docs = load_cranfield(&db, "docs", "minilm");
    let mut client = pg::connect(&db);
    client
        .batch_execute(
            "CREATE INDEX docs_embedding_hnsw ON docs USING hnsw (embedding vector_cosine_ops)",
        )
        .unwrap();
    let r = reference();
    let next = pg::table(&db, "docs", "embedding_next");
    ok(&[
        "project",
        "-q",
        "--shim",
        path(&r.shim),
        "--input",
        &docs,
        "--output",
        &next,
        "--index",
        "hnsw",
    ]);
    let before = snapshot(&mut client, "docs");

    // The application reads "embedding": after the cutover it holds the new vectors.
    let said = ok(&["cutover", &docs, "--to", "embedding_next"]);
    assert!(said.contains("embedding"), "{said}");
    let now = pg::column(&mut client, "docs", "embedding");
    assert!(max_difference(&now, &r.projected) <= 1e-6);
    assert_ne!(snapshot(&mut client, "docs"), before);
    let report = inspect_json(&docs);
    assert_eq!(report["vector"]["dim"], 768);
    assert!(!report["cutover"].is_null(), "{report}");
    // A second cutover is refused until the first is rolled back.
    let said = fails(&["cutover", &docs, "--to", "embedding_next"]);
    assert!(said.contains("docs"), "{said}");

    ok(&["cutover", &docs, "--rollback"]);
    assert_eq!(snapshot(&mut client, "docs"), before);
    let said = fails(&["cutover", &docs, "--rollback"]);
    assert!(said.contains("no cutover"), "{said}");

    // Refused with the reason, nothing changed: a view reads the column; a column not
    // filled on every row.
    client
        .batch_execute("CREATE VIEW docs_view AS SELECT id, embedding FROM docs")
        .unwrap();
    let said = fails(&["cutover", &docs, "--to", "embedding_next"]);
    assert!(said.contains("docs_view"), "{said}");
    client
        .batch_execute("DROP VIEW docs_view; UPDATE docs SET embedding_next = NULL WHERE id IN (SELECT id FROM docs ORDER BY id LIMIT 3)")
        .unwrap();
    let before = snapshot(&mut client, "docs");
    let said = fails(&["cutover", &docs, "--to", "embedding_next"]);
    assert!(
        said.contains("3") && said.contains("embedding_next"),
        "{said}"
    );
    assert_eq!(snapshot(&mut client, "docs"), before);
}

#[test]
fn a_backfill_killed_at_random_moments_resumes_to_exactly_the_right_rows() {
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.database("killed");
    let docs = load_cranfield(&db, "docs", "minilm");
    let next = pg::table(&db, "docs", "embedding_next");
    let r = reference();
    let mut client = pg::connect(&db);
    let seed: u64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    eprintln!("seed {seed}");
    let filled = |client: &mut postgres::Client| -> i64 {
        client
            .query_one("SELECT count(embedding_next) FROM docs", &[])
            .map(|row| row.get(0))
            .unwrap_or(0)
    };
    let mut partial = 0;
    for round in 0..4 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_shimkit"))
            .args([
                "project",
                "-q",
                "--shim",
                path(&r.shim),
                "--input",
                &docs,
                "--output",
                &next,
            ])
            .args(["--rate", "2000", "--batch-rows", "64", "--writers", "3"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(30..500)));
        let _ = child.kill();
        let _ = child.wait();
        let n = filled(&mut client);
        eprintln!("round {round}: {n} rows filled when killed");
        if n > 0 && n < 1400 {
            partial += 1;
        }
    }
    let said = project_ok(path(&r.shim), &docs, &next);
    assert!(
        said.contains("1400 rows in all") || said.contains("already"),
        "{said}"
    );
    let written = pg::column(&mut client, "docs", "embedding_next");
    assert_eq!(written.len(), 1400);
    assert!(max_difference(&written, &r.projected) <= 1e-6);
    // Each row was written by exactly one committed batch: the checkpoint's count.
    let counted: i64 = client
        .query_one(
            "SELECT sum(rows_written)::bigint FROM shimkit.backfills",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(counted, 1400, "rows in committed batches");

    // A checkpoint outlives its column and its table: for a column dropped and added
    // again, or a table dropped and made again, it is stale and the rows are written.
    client
        .batch_execute(
            "ALTER TABLE docs DROP COLUMN embedding_next, DROP COLUMN embedding_next_source",
        )
        .unwrap();
    let said = project_ok(path(&r.shim), &docs, &next);
    assert!(said.contains("projected 1400 rows"), "{said}");
    client.batch_execute("DROP TABLE docs").unwrap();
    load_cranfield(&db, "docs", "minilm");
    client
        .batch_execute("ALTER TABLE docs ADD COLUMN embedding_next vector(768)")
        .unwrap();
    let said = project_ok(path(&r.shim), &docs, &next);
    assert!(said.contains("projected 1400 rows"), "{said}");
    assert!(
        max_difference(
            &pg::column(&mut client, "docs", "embedding_next"),
            &r.projected
        ) <= 1e-6
    );
    eprintln!("{partial} of 4 kills landed mid-run");
}

#[test]
fn bad_input_is_a_clear_error_naming_what_is_wrong_and_writes_nothing() {
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.database("bad");
    let docs = load_cranfield(&db, "docs", "minilm");
    let r = reference();
    let shim = path(&r.shim);
    let mut client = pg::connect(&db);
    client
        .batch_execute(
            "CREATE TABLE words (id text PRIMARY KEY, embedding text);
             INSERT INTO words VALUES ('a', 'x');
             CREATE TABLE twice (id text, embedding vector(384));
             INSERT INTO twice SELECT id, embedding FROM docs LIMIT 5;
             INSERT INTO twice SELECT id, embedding FROM docs LIMIT 1;
             INSERT INTO twice SELECT NULL, embedding FROM docs LIMIT 1;
             ALTER TABLE docs ADD COLUMN small vector(10);",
        )
        .unwrap();
    let before = snapshot(&mut client, "docs");

    let said = fails(&["inspect", &pg::table(&db, "nowhere", "embedding")]);
    assert!(said.contains("table nowhere does not exist"), "{said}");
    let said = project_fails(
        shim,
        &pg::table(&db, "docs", "nope"),
        &pg::table(&db, "docs", "out"),
    );
    assert!(said.contains("no column \"nope\""), "{said}");
    let said = project_fails(
        shim,
        &pg::table(&db, "words", "embedding"),
        &pg::table(&db, "words", "out"),
    );
    assert!(
        said.contains("words") && said.contains("\"embedding\" is text"),
        "{said}"
    );
    // A shim of another input dimension.
    let said = project_fails(
        shim,
        &pg::table(&db, "docs", "small"),
        &pg::table(&db, "docs", "out"),
    );
    assert!(said.contains("small"), "{said}");
    // An output column of another dimension: refused before any write.
    let said = project_fails(shim, &docs, &pg::table(&db, "docs", "small"));
    assert!(
        said.contains("\"small\" is vector(10)") && said.contains("nothing was written"),
        "{said}"
    );
    // Duplicate and NULL ids: inspect names them, project refuses.
    let o = shimkit(&["inspect", &pg::table(&db, "twice", "embedding")]);
    assert_eq!(o.status.code(), Some(1));
    let said = output_text(&o);
    assert!(
        said.contains("1 rows have a NULL id") && said.contains("1 ids occur more than once"),
        "{said}"
    );
    let said = project_fails(
        shim,
        &pg::table(&db, "twice", "embedding"),
        &pg::table(&db, "twice", "out"),
    );
    assert!(said.contains("twice") && said.contains("unique"), "{said}");
    // halfvec where the server has no halfvec (pgvector before 0.7).
    let version: String = client
        .query_one(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
            &[],
        )
        .unwrap()
        .get(0);
    let half = shimkit(&[
        "project",
        "-q",
        "--shim",
        shim,
        "--input",
        &docs,
        "--output",
        &pg::table(&db, "docs", "half"),
        "--halfvec",
    ]);
    if version.starts_with("0.5") || version.starts_with("0.6") {
        assert_eq!(half.status.code(), Some(1));
        let said = String::from_utf8_lossy(&half.stderr);
        assert!(said.contains("halfvec needs pgvector 0.7"), "{said}");
    } else {
        assert!(half.status.success(), "{}", output_text(&half));
        client
            .batch_execute("ALTER TABLE docs DROP COLUMN half, DROP COLUMN half_source")
            .unwrap();
    }
    // NULL ids beside a unique index (which allows them): named, not skipped.
    client
        .batch_execute(
            "CREATE TABLE holes (id text UNIQUE, embedding vector(384));
             INSERT INTO holes SELECT id, embedding FROM docs;
             INSERT INTO holes SELECT NULL, embedding FROM docs LIMIT 2;",
        )
        .unwrap();
    let said = project_fails(
        shim,
        &pg::table(&db, "holes", "embedding"),
        &pg::table(&db, "holes", "out"),
    );
    assert!(said.contains("2 rows have a NULL id"), "{said}");
    // load: an id that is not in the table.
    let stranger = r.dir.path().join("stranger.parquet");
    let mut writer = shimkit_data::EmbeddingWriter::create(&stranger, 768).unwrap();
    writer
        .write(
            &["no-such-doc"],
            ndarray::Array2::<f32>::ones((1, 768)).view(),
        )
        .unwrap();
    writer.finish().unwrap();
    let said = fails(&[
        "load",
        "--input",
        path(&stranger),
        "--output",
        &pg::table(&db, "docs", "embedding_next"),
    ]);
    assert!(said.contains("no-such-doc"), "{said}");
    assert_eq!(snapshot(&mut client, "docs"), before);

    // A database without pgvector.
    let plain = server.database("plain");
    pg::connect(&plain)
        .batch_execute("DROP EXTENSION vector")
        .unwrap();
    let said = fails(&["inspect", &pg::table(&plain, "docs", "embedding")]);
    assert!(said.contains("CREATE EXTENSION vector"), "{said}");
    // A server that is not there.
    let said = fails(&[
        "inspect",
        "postgresql://nobody@/db?host=/nonexistent&table=docs",
    ]);
    assert!(said.contains("cannot connect"), "{said}");
}

/// Starts a paced backfill of the whole table, for a test to interrupt.
fn paced_backfill(shim: &Path, input: &str, output: &str, restart: bool) -> std::process::Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_shimkit"));
    command
        .args([
            "project",
            "-q",
            "--shim",
            path(shim),
            "--input",
            input,
            "--output",
            output,
        ])
        .args(["--rate", "1500", "--batch-rows", "50"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if restart {
        command.arg("--restart");
    }
    command.spawn().unwrap()
}

#[test]
fn a_dropped_connection_a_restarted_server_and_a_wrong_password_are_clear_errors() {
    let Some(mut server) = PgServer::private() else {
        return;
    };
    let db = server.database("restart");
    let docs = load_cranfield(&db, "docs", "minilm");
    let next = pg::table(&db, "docs", "embedding_next");
    let r = reference();

    // Every connection of the backfill is terminated by the administrator.
    let child = paced_backfill(&r.shim, &docs, &next, false);
    std::thread::sleep(Duration::from_millis(400));
    let mut client = pg::connect(&db);
    client
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", output_text(&o));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("running the same command again continues"),
        "{said}"
    );
    ok(&[
        "project",
        "-q",
        "--shim",
        path(&r.shim),
        "--input",
        &docs,
        "--output",
        &next,
    ]);
    let written = pg::column(&mut client, "docs", "embedding_next");
    assert!(max_difference(&written, &r.projected) <= 1e-6);
    drop(client);

    // The server restarts in the middle of a run.
    let child = paced_backfill(&r.shim, &docs, &next, true);
    std::thread::sleep(Duration::from_millis(400));
    let started = Instant::now();
    server.order("restart");
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", output_text(&o));
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(
        said.contains("running the same command again continues"),
        "{said} ({:?} after the restart)",
        started.elapsed()
    );
    ok(&[
        "project",
        "-q",
        "--shim",
        path(&r.shim),
        "--input",
        &docs,
        "--output",
        &next,
    ]);
    let mut client = pg::connect(&db);
    let written = pg::column(&mut client, "docs", "embedding_next");
    assert_eq!(written.len(), 1400);
    assert!(max_difference(&written, &r.projected) <= 1e-6);

    // A role that needs a password, given the wrong one: refused, and the password is
    // not repeated in the message.
    let pgdata: String = client.query_one("SHOW data_directory", &[]).unwrap().get(0);
    client
        .batch_execute("CREATE ROLE guarded LOGIN PASSWORD 'right-horse'")
        .unwrap();
    let hba = Path::new(&pgdata).join("pg_hba.conf");
    let rules = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(&hba, format!("local all guarded scram-sha-256\n{rules}")).unwrap();
    client.batch_execute("SELECT pg_reload_conf()").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let wrong = docs.replacen("postgres:@", "guarded:battery-staple@", 1);
    assert_ne!(wrong, docs, "the URL names its user as expected");
    let said = fails(&["inspect", &wrong]);
    assert!(said.contains("password authentication failed"), "{said}");
    assert!(!said.contains("battery-staple"), "{said}");
}

#[test]
fn quoted_names_bigint_ids_null_vectors_and_one_writer_at_a_time() {
    let Some(server) = PgServer::shared() else {
        return;
    };
    let db = server.database("names");
    let docs = load_cranfield(&db, "docs", "minilm");
    let r = reference();
    let mut client = pg::connect(&db);
    client
        .batch_execute(
            r#"CREATE SCHEMA "My Schema";
               CREATE TABLE "My Schema"."select" ("Doc Id" bigint PRIMARY KEY, "vec v1" vector(384));
               INSERT INTO "My Schema"."select" SELECT id::bigint, embedding FROM docs;
               UPDATE "My Schema"."select" SET "vec v1" = NULL WHERE "Doc Id" IN (7, 700);"#,
        )
        .unwrap();
    let base = |vector: &str| {
        format!("{db}&table=%22My%20Schema%22.%22select%22&id=Doc%20Id&vector={vector}")
    };
    let input = base("vec%20v1");
    let output = base("new%27col");
    let said = project_ok(path(&r.shim), &input, &output);
    assert!(said.contains("projected 1398 rows"), "{said}");
    assert!(
        said.contains("skipped 2 rows whose input vector is NULL"),
        "{said}"
    );
    let written = pg::column_by(&mut client, r#""My Schema"."select""#, "Doc Id", "new'col");
    let expected: Vec<(String, Vec<f32>)> = r
        .projected
        .iter()
        .filter(|(id, _)| id != "7" && id != "700")
        .cloned()
        .collect();
    assert!(max_difference(&written, &expected) <= 1e-6);
    let report = inspect_json(&output);
    assert_eq!(report["id"]["sql_type"], "bigint");
    assert_eq!(report["vector"]["null_vectors"], 2);

    // A second run on the same column while one is writing: refused at once.
    let next = pg::table(&db, "docs", "embedding_next");
    let mut first = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args([
            "project",
            "-q",
            "--shim",
            path(&r.shim),
            "--input",
            &docs,
            "--output",
            &next,
        ])
        .args(["--rate", "200", "--batch-rows", "20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    let said = project_fails(path(&r.shim), &docs, &next);
    let _ = first.kill();
    let _ = first.wait();
    assert!(
        said.contains("another shimkit run is writing column \"embedding_next\""),
        "{said}"
    );
}
