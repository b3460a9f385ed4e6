//! A migration's pieces for the tests of `shimkit migrate` and of its dashboard: the
//! Cranfield corpus loaded into PostgreSQL, a spec for it, a shim, and batches of the new
//! model's vectors.

use std::path::Path;

use super::engine::cranfield;
use super::pg::{self, PgServer};
use super::{output_text, root, shimkit};

pub fn ok(args: &[&str]) -> String {
    let o = shimkit(args);
    assert!(o.status.success(), "shimkit {args:?}:\n{}", output_text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn spec(dir: &Path, url: &str, target: f64) -> String {
    spec_with(dir, url, target, 100_000, "2026-12-15")
}

pub fn spec_with(dir: &Path, url: &str, target: f64, rate: u32, cutover: &str) -> String {
    spec_full(dir, url, target, rate, cutover, "")
}

/// A spec; `more_backfill` adds lines to its `[backfill]` table.
pub fn spec_full(
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
pub struct Docs {
    pub db: String,
    pub docs: String,
    pub spec_url: String,
}

pub fn cranfield_docs(name: &str) -> Option<Docs> {
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
pub fn ridge_shim(dir: &Path) -> String {
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

/// `ids`' rows of a Parquet table, written as another Parquet file.
pub fn subset(from: &str, ids: &[String], to: &Path) {
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
