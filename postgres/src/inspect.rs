//! `shimkit inspect` of a table in PostgreSQL: what it holds, and what shimkit did to it.

use serde::Serialize;

use crate::backfill::provenance_column;
use crate::catalog::{self, IndexInfo};
use crate::cutover::{self, Cutover};
use crate::error::Result;
use crate::location::{PgTable, quote_ident};
use crate::session::Session;

/// What `inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct TableReport {
    pub database: String,
    pub table: String,
    pub pgvector: String,
    pub rows: u64,
    /// Heap, indexes and TOAST.
    pub size_bytes: u64,
    pub id: IdReport,
    pub vector: VectorReport,
    /// Every vector column of the table, and how many rows have a value in it.
    pub vector_columns: Vec<ColumnFill>,
    pub backfill: Option<BackfillReport>,
    pub cutover: Option<Cutover>,
    /// What makes the table unusable as shimkit input; empty when all is well.
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IdReport {
    pub column: String,
    pub sql_type: String,
    /// A unique index covers the column.
    pub unique_index: bool,
    pub null_ids: u64,
    /// Ids that occur more than once (counted only without a unique index).
    pub duplicate_ids: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct VectorReport {
    pub column: String,
    pub sql_type: String,
    /// Declared, or the one every row has; `None` when rows disagree or none has one.
    pub dim: Option<usize>,
    pub null_vectors: u64,
    pub indexes: Vec<IndexInfo>,
    /// Rows by provenance (`projected`, `reembedded`, `unknown`), where shimkit wrote it.
    pub provenance: Option<Vec<(String, u64)>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ColumnFill {
    pub column: String,
    pub sql_type: String,
    pub filled: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackfillReport {
    pub column: String,
    pub input: String,
    pub shim: String,
    pub rows_written: u64,
    pub finished: bool,
    pub updated_at: String,
}

/// Describes the table, reading every row once.
pub fn inspect(location: &PgTable) -> Result<TableReport> {
    let mut s = Session::open(&location.db)?;
    let info = s.table(location)?;
    let db = s.db.clone();
    let id_column = info.require_column(&db, &location.id)?.clone();
    let vector_column = info.require_column(&db, &location.vector)?.clone();
    let mut problems = Vec::new();
    if id_column.id_type().is_none() {
        problems.push(format!(
            "the id column \"{}\" is {}; shimkit reads text, varchar, integer or bigint ids",
            id_column.name, id_column.sql_type
        ));
    }
    let declared = vector_column.vector_type().map(|(_, d)| d);
    if declared.is_none() {
        problems.push(format!(
            "column \"{}\" is {}, not pgvector's vector or halfvec",
            vector_column.name, vector_column.sql_type
        ));
    }
    let vector_columns: Vec<_> = info
        .columns
        .iter()
        .filter(|c| c.vector_type().is_some())
        .collect();
    let id = quote_ident(&location.id);
    let v = quote_ident(&location.vector);
    let fills: Vec<String> = vector_columns
        .iter()
        .map(|c| format!("count({})", quote_ident(&c.name)))
        .collect();
    let dims = if declared.is_some_and(|d| d.is_none()) {
        format!("min(vector_dims({v})), max(vector_dims({v}))")
    } else {
        "NULL::int, NULL::int".to_owned()
    };
    let sql = format!(
        "SELECT count(*), count(*) FILTER (WHERE {id} IS NULL), count(*) FILTER (WHERE {v} IS NULL), {dims}{}{}
         FROM {}",
        if fills.is_empty() { "" } else { ", " },
        fills.join(", "),
        info.name.sql()
    );
    let err = s.err("counting rows");
    let row = s.client.query_one(&sql, &[]).map_err(err)?;
    let rows = row.get::<_, i64>(0) as u64;
    let null_ids = row.get::<_, i64>(1) as u64;
    let null_vectors = row.get::<_, i64>(2) as u64;
    let (min_dim, max_dim): (Option<i32>, Option<i32>) = (row.get(3), row.get(4));
    let dim = match declared {
        Some(Some(d)) => Some(d),
        _ => min_dim.filter(|&m| Some(m) == max_dim).map(|d| d as usize),
    };
    if let (Some(a), Some(b)) = (min_dim, max_dim)
        && a != b
    {
        problems.push(format!(
            "column \"{}\" holds vectors of {a} to {b} dimensions; a table has one",
            location.vector
        ));
    }
    let vector_columns = vector_columns
        .iter()
        .enumerate()
        .map(|(i, c)| ColumnFill {
            column: c.name.clone(),
            sql_type: c.sql_type.clone(),
            filled: row.get::<_, i64>(5 + i) as u64,
        })
        .collect();
    let unique_index = catalog::is_unique(&mut s.client, &db, &info, &location.id)?;
    let duplicate_ids = if unique_index {
        0
    } else {
        let err = s.err("counting duplicate ids");
        s.client
            .query_one(
                &format!(
                    "SELECT count(*) FROM (SELECT 1 FROM {} WHERE {id} IS NOT NULL GROUP BY {id} HAVING count(*) > 1) d",
                    info.name.sql()
                ),
                &[],
            )
            .map_err(err)?
            .get::<_, i64>(0) as u64
    };
    if null_ids > 0 {
        problems.push(format!("{null_ids} rows have a NULL id"));
    }
    if duplicate_ids > 0 {
        problems.push(format!("{duplicate_ids} ids occur more than once"));
    }
    let provenance = if info.column(&provenance_column(&location.vector)).is_some() {
        let err = s.err("counting provenance");
        let p = quote_ident(&provenance_column(&location.vector));
        let counts = s
            .client
            .query(
                &format!(
                    "SELECT coalesce({p}, 'unknown'), count(*) FROM {} WHERE {v} IS NOT NULL GROUP BY 1 ORDER BY 1",
                    info.name.sql()
                ),
                &[],
            )
            .map_err(err)?
            .iter()
            .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1) as u64))
            .collect();
        Some(counts)
    } else {
        None
    };
    let err = s.err("measuring the table");
    let size_bytes = s
        .client
        .query_one(
            "SELECT pg_total_relation_size($1::oid::regclass)",
            &[&info.oid],
        )
        .map_err(err)?
        .get::<_, i64>(0) as u64;
    let indexes = catalog::indexes_on(&mut s.client, &db, &info, &location.vector)?;
    let key = info.name.to_string();
    let has_state = s
        .client
        .query_one("SELECT to_regclass('shimkit.backfills') IS NOT NULL", &[])
        .map_err(s.err("looking for shimkit's state"))?
        .get::<_, bool>(0);
    let (backfill, cutover) = if has_state {
        let err = s.err("reading shimkit's state");
        let backfill = s
            .client
            .query_opt(
                "SELECT input, shim, rows_written + coalesce((SELECT sum(b.rows_written) FROM shimkit.backfill_batches b
                        WHERE b.target_table = f.target_table AND b.target_column = f.target_column), 0)::bigint,
                        finished, updated_at::text
                 FROM shimkit.backfills f WHERE target_table = $1 AND target_column = $2",
                &[&key, &location.vector],
            )
            .map_err(err)?
            .map(|r| BackfillReport {
                column: location.vector.clone(),
                input: r.get(0),
                shim: r.get(1),
                rows_written: r.get::<_, i64>(2) as u64,
                finished: r.get(3),
                updated_at: r.get(4),
            });
        (backfill, cutover::recorded(&mut s, &key)?)
    } else {
        (None, None)
    };
    Ok(TableReport {
        database: db,
        table: key,
        pgvector: s.pgvector.clone(),
        rows,
        size_bytes,
        id: IdReport {
            column: id_column.name.clone(),
            sql_type: id_column.sql_type.clone(),
            unique_index,
            null_ids,
            duplicate_ids,
        },
        vector: VectorReport {
            column: vector_column.name.clone(),
            sql_type: vector_column.sql_type.clone(),
            dim,
            null_vectors,
            indexes,
            provenance,
        },
        vector_columns,
        backfill,
        cutover,
        problems,
    })
}
