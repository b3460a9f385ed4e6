//! What the database says about a table: its columns and their types, its indexes, its
//! size, and which pgvector is installed. Read before any row, so that a wrong column or
//! dimension is refused before a long run starts.

use postgres::Client;

use crate::error::{PgError, Result};
use crate::location::{PgTable, TableName, quote_ident};

/// The oldest pgvector shimkit works with.
const MIN_PGVECTOR: (u32, u32) = (0, 5);

/// A table as the catalog describes it.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub oid: u32,
    /// With the schema the search path resolved it to.
    pub name: TableName,
    /// `r` a table, `p` a partitioned table, `v` a view, `m` a materialized view.
    pub kind: char,
    pub columns: Vec<ColumnInfo>,
}

/// One column.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    pub name: String,
    pub attnum: i16,
    /// As SQL writes it: `vector(768)`, `bigint`, `text`.
    pub sql_type: String,
    /// The type's own name: `vector`, `int8`, `text`.
    pub base_type: String,
    pub typmod: i32,
}

/// How vectors are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorType {
    /// `vector(n)`: float32.
    Vector,
    /// `halfvec(n)` (pgvector 0.7 and later): float16.
    HalfVec,
}

impl VectorType {
    pub fn sql_name(self) -> &'static str {
        match self {
            VectorType::Vector => "vector",
            VectorType::HalfVec => "halfvec",
        }
    }

    /// Bytes of one value on the wire.
    pub fn value_bytes(self) -> usize {
        match self {
            VectorType::Vector => 4,
            VectorType::HalfVec => 2,
        }
    }
}

/// The id types shimkit reads and writes; every id is text to the rest of shimkit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    Text,
    Int4,
    Int8,
}

impl IdType {
    pub fn sql_name(self) -> &'static str {
        match self {
            IdType::Text => "text",
            IdType::Int4 => "integer",
            IdType::Int8 => "bigint",
        }
    }
}

impl ColumnInfo {
    /// The vector type and its declared dimension (`None` for an unconstrained `vector`).
    pub fn vector_type(&self) -> Option<(VectorType, Option<usize>)> {
        let kind = match self.base_type.as_str() {
            "vector" => VectorType::Vector,
            "halfvec" => VectorType::HalfVec,
            _ => return None,
        };
        Some((kind, usize::try_from(self.typmod).ok().filter(|&d| d > 0)))
    }

    pub fn id_type(&self) -> Option<IdType> {
        match self.base_type.as_str() {
            "text" | "varchar" | "bpchar" | "name" => Some(IdType::Text),
            "int4" | "int2" => Some(IdType::Int4),
            "int8" => Some(IdType::Int8),
            _ => None,
        }
    }
}

/// An index on a column.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IndexInfo {
    pub name: String,
    /// `btree`, `hnsw`, `ivfflat`.
    pub method: String,
    pub definition: String,
}

impl TableInfo {
    pub fn column(&self, name: &str) -> Option<&ColumnInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column, or an error that lists the table's columns.
    pub fn require_column(&self, db: &str, name: &str) -> Result<&ColumnInfo> {
        self.column(name).ok_or_else(|| PgError::NoColumn {
            db: db.to_owned(),
            table: self.name.to_string(),
            column: name.to_owned(),
            available: self
                .columns
                .iter()
                .map(|c| format!("{} {}", c.name, c.sql_type))
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// The id column and its type, or an error naming the column's type.
    pub fn id_column(&self, db: &str, name: &str) -> Result<IdType> {
        let column = self.require_column(db, name)?;
        column.id_type().ok_or_else(|| PgError::ColumnType {
            db: db.to_owned(),
            table: self.name.to_string(),
            column: name.to_owned(),
            found: column.sql_type.clone(),
            expected: "an id column must be text, varchar, integer or bigint".into(),
        })
    }

    /// The vector column's type and declared dimension, or an error naming its type.
    pub fn vector_column(&self, db: &str, name: &str) -> Result<(VectorType, Option<usize>)> {
        let column = self.require_column(db, name)?;
        column.vector_type().ok_or_else(|| PgError::ColumnType {
            db: db.to_owned(),
            table: self.name.to_string(),
            column: name.to_owned(),
            found: column.sql_type.clone(),
            expected: "a vector column must be pgvector's vector(n) or halfvec(n)".into(),
        })
    }
}

/// The installed pgvector, refused when missing or older than 0.5.
pub fn check_pgvector(client: &mut Client, db: &str) -> Result<String> {
    let row = client
        .query_opt(
            "SELECT extversion FROM pg_extension WHERE extname = 'vector'",
            &[],
        )
        .map_err(|e| PgError::query(db, "looking for the pgvector extension", &e))?;
    let Some(row) = row else {
        return Err(PgError::NoExtension { db: db.to_owned() });
    };
    let version: String = row.get(0);
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let major_minor = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if major_minor < MIN_PGVECTOR {
        return Err(PgError::OldExtension {
            db: db.to_owned(),
            found: version,
        });
    }
    Ok(version)
}

/// Whether the server has `halfvec` (pgvector 0.7 and later).
pub fn has_halfvec(client: &mut Client, db: &str) -> Result<bool> {
    let row = client
        .query_one("SELECT to_regtype('halfvec') IS NOT NULL", &[])
        .map_err(|e| PgError::query(db, "looking for halfvec", &e))?;
    Ok(row.get(0))
}

/// The table's catalog entry, or `None` when it does not exist.
pub fn find_table(client: &mut Client, db: &str, name: &TableName) -> Result<Option<TableInfo>> {
    let what = || format!("looking up table {name}");
    let row = client
        .query_opt(
            "SELECT c.oid, n.nspname::text, c.relname::text, c.relkind::text
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.oid = to_regclass($1)",
            &[&name.sql()],
        )
        .map_err(|e| PgError::query(db, what(), &e))?;
    let Some(row) = row else { return Ok(None) };
    let oid: u32 = row.get(0);
    let schema: String = row.get(1);
    let relname: String = row.get(2);
    let kind: String = row.get(3);
    let columns = client
        .query(
            "SELECT a.attname::text, a.attnum, format_type(a.atttypid, a.atttypmod), t.typname::text, a.atttypmod
             FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
             WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
             ORDER BY a.attnum",
            &[&oid],
        )
        .map_err(|e| PgError::query(db, what(), &e))?
        .iter()
        .map(|r| ColumnInfo {
            name: r.get(0),
            attnum: r.get(1),
            sql_type: r.get(2),
            base_type: r.get(3),
            typmod: r.get(4),
        })
        .collect();
    Ok(Some(TableInfo {
        oid,
        name: TableName::new(Some(&schema), &relname),
        kind: kind.chars().next().unwrap_or('r'),
        columns,
    }))
}

/// The table's catalog entry, or an error saying it does not exist.
pub fn table(client: &mut Client, location: &PgTable) -> Result<TableInfo> {
    find_table(client, location.db.label(), &location.table)?.ok_or_else(|| PgError::NoTable {
        db: location.db.label().to_owned(),
        table: location.table.to_string(),
    })
}

/// Whether one valid unique index (or the primary key) covers exactly this column: what
/// keyset reads and exactly-once writes rely on.
pub fn is_unique(client: &mut Client, db: &str, table: &TableInfo, column: &str) -> Result<bool> {
    let Some(col) = table.column(column) else {
        return Ok(false);
    };
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_index i
               WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid AND i.indnkeyatts = 1
                 AND i.indkey[0] = $2 AND i.indpred IS NULL AND i.indexprs IS NULL)",
            &[&table.oid, &col.attnum],
        )
        .map_err(|e| PgError::query(db, format!("reading the indexes of {}", table.name), &e))?;
    Ok(row.get(0))
}

/// The indexes that include a column.
pub fn indexes_on(
    client: &mut Client,
    db: &str,
    table: &TableInfo,
    column: &str,
) -> Result<Vec<IndexInfo>> {
    let Some(col) = table.column(column) else {
        return Ok(Vec::new());
    };
    let rows = client
        .query(
            "SELECT ic.relname::text, am.amname::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
             JOIN pg_class ic ON ic.oid = i.indexrelid
             JOIN pg_am am ON am.oid = ic.relam
             WHERE i.indrelid = $1 AND $2 = ANY (i.indkey::int2[])
             ORDER BY 1",
            &[&table.oid, &col.attnum],
        )
        .map_err(|e| PgError::query(db, format!("reading the indexes of {}", table.name), &e))?;
    Ok(rows
        .iter()
        .map(|r| IndexInfo {
            name: r.get(0),
            method: r.get(1),
            definition: r.get(2),
        })
        .collect())
}

/// Views and rules that read a column: renaming it under them would change what they
/// return without a word.
pub fn dependents_of(
    client: &mut Client,
    db: &str,
    table: &TableInfo,
    column: &str,
) -> Result<Vec<String>> {
    let Some(col) = table.column(column) else {
        return Ok(Vec::new());
    };
    let rows = client
        .query(
            "SELECT DISTINCT v.oid::regclass::text
             FROM pg_depend d
             JOIN pg_rewrite r ON r.oid = d.objid
             JOIN pg_class v ON v.oid = r.ev_class
             WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1
               AND d.refobjsubid = $2 AND v.oid <> $1
             ORDER BY 1",
            &[&table.oid, &i32::from(col.attnum)],
        )
        .map_err(|e| PgError::query(db, format!("reading what depends on {}", table.name), &e))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A column as a quoted identifier, for statements.
pub fn column_sql(name: &str) -> String {
    quote_ident(name)
}
