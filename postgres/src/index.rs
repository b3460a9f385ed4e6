//! Building pgvector's index on a filled column, without blocking the application's
//! writes (`CREATE INDEX CONCURRENTLY`).

use std::time::Instant;

use crate::catalog::{self, VectorType};
use crate::error::{PgError, Result};
use crate::location::{PgTable, quote_ident};
use crate::session::Session;

/// Which index, with pgvector's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Hnsw {
        m: u32,
        ef_construction: u32,
    },
    /// `lists`: `None` chooses rows / 1000 up to a million rows and √rows beyond, as
    /// pgvector's documentation advises.
    IvfFlat {
        lists: Option<u32>,
    },
}

impl IndexKind {
    pub fn method(self) -> &'static str {
        match self {
            IndexKind::Hnsw { .. } => "hnsw",
            IndexKind::IvfFlat { .. } => "ivfflat",
        }
    }
}

/// The distance the application's queries order by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    #[default]
    Cosine,
    InnerProduct,
    L2,
}

impl Metric {
    fn ops(self, kind: VectorType) -> String {
        let metric = match self {
            Metric::Cosine => "cosine",
            Metric::InnerProduct => "ip",
            Metric::L2 => "l2",
        };
        format!("{}_{metric}_ops", kind.sql_name())
    }
}

/// What the index step did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexOutcome {
    pub name: String,
    /// An index of this method already covered the column: nothing was built.
    pub existed: bool,
    pub seconds: f64,
}

/// Builds the index on `location`'s vector column, unless one of the same method is there.
pub fn build_index(location: &PgTable, kind: IndexKind, metric: Metric) -> Result<IndexOutcome> {
    let started = Instant::now();
    let mut session = Session::open(&location.db)?;
    let info = session.table(location)?;
    let (vector_type, dim) = info.vector_column(&session.db, &location.vector)?;
    let existing = catalog::indexes_on(&mut session.client, &session.db, &info, &location.vector)?;
    if let Some(found) = existing.iter().find(|i| i.method == kind.method()) {
        return Ok(IndexOutcome {
            name: found.name.clone(),
            existed: true,
            seconds: 0.0,
        });
    }
    let limit = match vector_type {
        VectorType::Vector => 2000,
        VectorType::HalfVec => 4000,
    };
    if dim.is_none_or(|d| d > limit) {
        return Err(PgError::Table {
            db: session.db.clone(),
            table: info.name.to_string(),
            message: format!(
                "pgvector indexes {} columns of a declared dimension up to {limit}; \"{}\" is {}",
                vector_type.sql_name(),
                location.vector,
                info.require_column(&session.db, &location.vector)?.sql_type
            ),
        });
    }
    let name = index_name(&info.name.name, &location.vector, kind.method());
    let with = match kind {
        IndexKind::Hnsw { m, ef_construction } => {
            format!("WITH (m = {m}, ef_construction = {ef_construction})")
        }
        IndexKind::IvfFlat { lists } => {
            let lists = match lists {
                Some(l) => l,
                None => default_lists(&mut session, &info.name.sql(), &location.vector)?,
            };
            format!("WITH (lists = {lists})")
        }
    };
    let sql = format!(
        "CREATE INDEX CONCURRENTLY {} ON {} USING {} ({} {}) {with}",
        quote_ident(&name),
        info.name.sql(),
        kind.method(),
        quote_ident(&location.vector),
        metric.ops(vector_type)
    );
    if let Err(e) = session.batch("building the index", &sql) {
        // A failed concurrent build leaves an invalid index behind.
        let schema = info.name.schema.as_deref().unwrap_or("public");
        let _ = session.batch(
            "removing the failed index",
            &format!(
                "DROP INDEX CONCURRENTLY IF EXISTS {}.{}",
                quote_ident(schema),
                quote_ident(&name)
            ),
        );
        return Err(e);
    }
    Ok(IndexOutcome {
        name,
        existed: false,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn default_lists(session: &mut Session, table_sql: &str, column: &str) -> Result<u32> {
    let err = session.err("counting rows for the index's lists");
    let rows: i64 = session
        .client
        .query_one(
            &format!(
                "SELECT count(*) FROM {table_sql} WHERE {} IS NOT NULL",
                quote_ident(column)
            ),
            &[],
        )
        .map_err(err)?
        .get(0);
    let rows = rows.max(1) as f64;
    let lists = if rows <= 1e6 {
        rows / 1000.0
    } else {
        rows.sqrt()
    };
    Ok(lists.round().clamp(1.0, 32768.0) as u32)
}

/// `docs_embedding_next_hnsw`, shortened with a hash when over PostgreSQL's 63 bytes.
fn index_name(table: &str, column: &str, method: &str) -> String {
    let name = format!("{table}_{column}_{method}");
    if name.len() <= 63 {
        return name;
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let mut cut = 50;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{:012x}", &name[..cut], hash & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_index_names_fit_and_stay_distinct() {
        let a = super::index_name(&"t".repeat(40), &"c".repeat(40), "hnsw");
        let b = super::index_name(&"t".repeat(40), &"d".repeat(40), "hnsw");
        assert!(a.len() <= 63 && b.len() <= 63 && a != b, "{a} {b}");
        assert_eq!(super::index_name("docs", "e", "hnsw"), "docs_e_hnsw");
    }
}
