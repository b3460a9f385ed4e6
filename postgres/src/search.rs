//! Nearest-neighbour search in PostgreSQL: the evaluation's searches run where the index
//! lives, exactly (`ORDER BY v <#> q`) or through an HNSW index.
//!
//! Each set of documents is copied once into a temporary table of this connection (gone
//! when it closes: nothing is left in the database), named by a hash of its vectors, and
//! gets its HNSW index the first time an approximate search asks for it. The queries of a
//! search go into a temporary table too, and one statement answers all of them with a
//! lateral join, so a search is a few round trips whatever the number of queries. Vectors
//! are unit length, so the inner product (`<#>`, negated) orders as the cosine does.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use ndarray::ArrayView2;

use crate::catalog::VectorType;
use crate::copy::CopyWriter;
use crate::error::{PgError, Result};
use crate::location::Database;
use crate::session::Session;

/// An HNSW index's build and search parameters (pgvector's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Hnsw {
    pub m: u32,
    pub ef_construction: u32,
    pub ef_search: u32,
}

impl Default for Hnsw {
    fn default() -> Self {
        Hnsw {
            m: 16,
            ef_construction: 64,
            ef_search: 40,
        }
    }
}

/// How a search finds its neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchMode {
    /// Every document scored: the reference.
    Exact,
    /// Through an HNSW index.
    Hnsw(Hnsw),
}

/// The documents of one search.
#[derive(Debug, Clone, Copy)]
pub struct DocSet<'a> {
    /// Unit-length vectors, one a document.
    pub vectors: ArrayView2<'a, f32>,
    /// The number each document answers with (its row in the corpus); 0.. by default.
    pub rows: Option<&'a [u32]>,
    /// A term added to each document's score (exact search only).
    pub offsets: Option<&'a [f32]>,
}

/// One hit: the document's number and its score (inner product, plus its offset).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Neighbour {
    pub row: u32,
    pub score: f32,
}

/// A connection that searches, and the document tables it has made.
pub struct SearchIndex {
    session: Session,
    tables: HashMap<u64, DocTable>,
    query_tables: HashMap<usize, String>,
}

struct DocTable {
    name: String,
    rows: usize,
    dim: usize,
    has_offsets: bool,
    indexed: Option<Hnsw>,
}

impl SearchIndex {
    pub fn open(db: &Database) -> Result<SearchIndex> {
        let mut session = Session::open(db)?;
        // Document tables of a large corpus should not spill from a small temp buffer.
        session.batch("setting up the search session", "SET temp_buffers = '1GB'")?;
        Ok(SearchIndex {
            session,
            tables: HashMap::new(),
            query_tables: HashMap::new(),
        })
    }

    /// The `k` best documents for each query, best first; ties (in exact search) to the
    /// lower document number.
    pub fn search(
        &mut self,
        queries: ArrayView2<'_, f32>,
        docs: DocSet<'_>,
        k: usize,
        mode: SearchMode,
    ) -> Result<Vec<Vec<Neighbour>>> {
        let nq = queries.nrows();
        if nq == 0 || k == 0 || docs.vectors.nrows() == 0 {
            return Ok(vec![Vec::new(); nq]);
        }
        let dim = docs.vectors.ncols();
        if queries.ncols() != dim {
            return Err(self.error(format!(
                "queries of {} dimensions against documents of {dim}",
                queries.ncols()
            )));
        }
        if dim > 16000 {
            return Err(self.error(format!("{dim} dimensions; pgvector stores at most 16000")));
        }
        let key = doc_key(docs);
        if !self.tables.contains_key(&key) {
            let table = self.upload(key, docs)?;
            self.tables.insert(key, table);
        }
        let (table, has_offsets) = {
            let t = &self.tables[&key];
            (t.name.clone(), t.has_offsets)
        };
        let mode = match mode {
            // An index orders by the inner product alone: an offset needs every score.
            SearchMode::Hnsw(_) if has_offsets => SearchMode::Exact,
            m => m,
        };
        if let SearchMode::Hnsw(h) = mode {
            self.ensure_index(key, h)?;
        }
        let queries_table = self.upload_queries(queries)?;
        let k = k.min(docs.vectors.nrows());
        let score = if has_offsets {
            "(-(d.v <#> q.v) + d.off)"
        } else {
            "(-(d.v <#> q.v))"
        };
        let (settings, order) = match mode {
            SearchMode::Exact => (
                "SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off;".to_owned(),
                format!("{score} DESC, d.row"),
            ),
            SearchMode::Hnsw(h) => (
                format!("SET LOCAL hnsw.ef_search = {};", h.ef_search.clamp(1, 1000)),
                "d.v <#> q.v".to_owned(),
            ),
        };
        let sql = format!(
            "SELECT q.qi, n.row, n.score FROM {queries_table} q CROSS JOIN LATERAL (
                 SELECT d.row, {score}::real AS score FROM {table} d ORDER BY {order} LIMIT {k}
             ) n ORDER BY q.qi, n.score DESC, n.row"
        );
        let db = self.session.db.clone();
        let err = |e: postgres::Error| PgError::query(&db, "searching", &e);
        let mut tx = self.session.client.transaction().map_err(err)?;
        tx.batch_execute(&settings).map_err(err)?;
        let rows = tx.query(&sql, &[]).map_err(err)?;
        tx.commit().map_err(err)?;
        let mut out = vec![Vec::with_capacity(k); nq];
        for r in rows {
            let qi: i32 = r.get(0);
            let row: i32 = r.get(1);
            let score: f32 = r.get(2);
            if let Some(list) = usize::try_from(qi).ok().and_then(|q| out.get_mut(q)) {
                list.push(Neighbour {
                    row: row as u32,
                    score,
                });
            }
        }
        Ok(out)
    }

    fn upload(&mut self, key: u64, docs: DocSet<'_>) -> Result<DocTable> {
        let name = format!("shimkit_docs_{}", self.tables.len());
        let dim = docs.vectors.ncols();
        let has_offsets = docs.offsets.is_some();
        let off = if has_offsets { ", off real" } else { "" };
        self.session.batch(
            "creating a document table",
            &format!("CREATE TEMP TABLE {name} (row integer, v vector({dim}){off})"),
        )?;
        // Vectors in the row itself, not out of line, where a row fits a page: an exact
        // search reads every document for every query, and a toasted one costs a lookup
        // each time (1.7 times slower at 768 dimensions; BENCHMARKS.md).
        if dim <= 1900 {
            self.session.batch(
                "creating a document table",
                &format!("ALTER TABLE {name} ALTER COLUMN v SET STORAGE PLAIN"),
            )?;
        }
        let mut copy = CopyWriter::new();
        let db = self.session.db.clone();
        let err = |e: postgres::Error| PgError::query(&db, "copying documents", &e);
        let mut sink = self
            .session
            .client
            .copy_in(&format!("COPY {name} FROM STDIN (FORMAT binary)"))
            .map_err(err)?;
        for (i, v) in docs.vectors.rows().into_iter().enumerate() {
            let row = docs.rows.map_or(i as u32, |r| r[i]);
            copy.tuple(if has_offsets { 3 } else { 2 });
            copy.int4(row as i32);
            vector_cell(&mut copy, v, &db, &name)?;
            if let Some(off) = docs.offsets {
                copy.float4(off[i]);
            }
            if copy.len() > (8 << 20) {
                copy.flush_to(&mut sink).map_err(|e| io_error(&db, e))?;
            }
        }
        copy.finish_to(&mut sink).map_err(|e| io_error(&db, e))?;
        sink.finish().map_err(err)?;
        self.session
            .batch("analyzing a document table", &format!("ANALYZE {name}"))?;
        let _ = key;
        Ok(DocTable {
            name,
            rows: docs.vectors.nrows(),
            dim,
            has_offsets,
            indexed: None,
        })
    }

    fn ensure_index(&mut self, key: u64, h: Hnsw) -> Result<()> {
        let table = &self.tables[&key];
        let build =
            (table.indexed.map(|i| (i.m, i.ef_construction))) != Some((h.m, h.ef_construction));
        if !build {
            return Ok(());
        }
        if table.dim > 2000 {
            return Err(self.error(format!(
                "pgvector's HNSW indexes vectors of at most 2000 dimensions; these have {}",
                table.dim
            )));
        }
        let name = table.name.clone();
        let m = h.m.clamp(2, 100);
        let ef_construction = h.ef_construction.clamp(4, 1000);
        let memory_mb = hnsw_build_memory_mb(table.rows, table.dim, m);
        self.session.batch(
            "building an HNSW index",
            &format!(
                "SET maintenance_work_mem = '{memory_mb}MB';
                 DROP INDEX IF EXISTS {name}_hnsw;
                 CREATE INDEX {name}_hnsw ON {name} USING hnsw (v vector_ip_ops) WITH (m = {m}, ef_construction = {ef_construction})"
            ),
        )?;
        if let Some(t) = self.tables.get_mut(&key) {
            t.indexed = Some(h);
        }
        Ok(())
    }

    fn upload_queries(&mut self, queries: ArrayView2<'_, f32>) -> Result<String> {
        let dim = queries.ncols();
        let name = format!("shimkit_queries_{dim}");
        if !self.query_tables.contains_key(&dim) {
            self.session.batch(
                "creating the query table",
                &format!("CREATE TEMP TABLE {name} (qi integer, v vector({dim}))"),
            )?;
            self.query_tables.insert(dim, name.clone());
        }
        self.session
            .batch("emptying the query table", &format!("TRUNCATE {name}"))?;
        let db = self.session.db.clone();
        let err = |e: postgres::Error| PgError::query(&db, "copying queries", &e);
        let mut copy = CopyWriter::new();
        for (i, v) in queries.rows().into_iter().enumerate() {
            copy.tuple(2);
            copy.int4(i as i32);
            vector_cell(&mut copy, v, &db, &name)?;
        }
        let mut sink = self
            .session
            .client
            .copy_in(&format!("COPY {name} FROM STDIN (FORMAT binary)"))
            .map_err(err)?;
        copy.finish_to(&mut sink).map_err(|e| io_error(&db, e))?;
        sink.finish().map_err(err)?;
        Ok(name)
    }

    fn error(&self, message: String) -> PgError {
        PgError::Table {
            db: self.session.db.clone(),
            table: "(search)".into(),
            message,
        }
    }
}

/// The `maintenance_work_mem` an HNSW build of `rows` vectors gets: room for the whole
/// graph. One that outgrows it (64 MB by default, a graph of about 50,000 vectors of 384
/// dimensions) makes pgvector build the rest on disk, far more slowly; a graph of
/// 1,000,000 vectors of 768 dimensions needs about 4 GB. The indexes are on this
/// session's temporary tables, built one at a time. An element is its vector, its
/// neighbour lists (2m on the ground layer, a few more above) and pgvector's bookkeeping;
/// a quarter more for what that leaves out, and never under 2 GB. It is a limit, not an
/// allocation: the build takes what the graph uses.
fn hnsw_build_memory_mb(rows: usize, dim: usize, m: u32) -> u64 {
    let element = 4 * dim as u64 + 8 + 48 * u64::from(m) + 256;
    let bytes = (rows as u64).saturating_mul(element) / 4 * 5;
    (bytes >> 20).max(2048)
}

fn io_error(db: &str, e: std::io::Error) -> PgError {
    PgError::Query {
        db: db.to_owned(),
        what: "copying vectors for a search".into(),
        message: e.to_string(),
        lost: true,
    }
}

/// Which document table a set of documents is: a hash of everything that defines it.
fn doc_key(docs: DocSet<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    docs.vectors.dim().hash(&mut h);
    for v in docs.vectors.iter() {
        v.to_bits().hash(&mut h);
    }
    docs.rows.hash(&mut h);
    if let Some(off) = docs.offsets {
        for v in off {
            v.to_bits().hash(&mut h);
        }
    }
    h.finish()
}

/// One vector of a temporary table's row: the row's own memory where it is contiguous.
fn vector_cell(
    copy: &mut CopyWriter,
    v: ndarray::ArrayView1<'_, f32>,
    db: &str,
    table: &str,
) -> Result<()> {
    let owned;
    let values = match v.as_slice() {
        Some(values) => values,
        None => {
            owned = v.to_vec();
            &owned
        }
    };
    copy.vector(values, VectorType::Vector)
        .map_err(|e| PgError::Table {
            db: db.to_owned(),
            table: table.to_owned(),
            message: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::hnsw_build_memory_mb;

    #[test]
    fn an_hnsw_build_gets_room_for_its_whole_graph() {
        // The vectors alone of 1M × 768 are 2,930 MB; the graph needs more than that.
        let big = hnsw_build_memory_mb(1_000_000, 768, 16);
        assert!(big > 4_000 && big < 8_000, "{big}");
        assert!(hnsw_build_memory_mb(1_000_000, 384, 16) < big);
        assert!(hnsw_build_memory_mb(1_000_000, 768, 48) > big);
        assert_eq!(hnsw_build_memory_mb(10_000, 384, 16), 2048);
        assert_eq!(hnsw_build_memory_mb(0, 768, 16), 2048);
    }
}
