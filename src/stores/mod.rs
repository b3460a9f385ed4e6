//! Where the commands' embedding tables live: Parquet files, or a table in PostgreSQL.
//!
//! A command names a table with a path (a file or a directory of files) or a URL
//! (`postgresql://...?table=...`); [`Location`] is which, and reads it as a stream of
//! batches or whole. What only a database can do (resume a backfill, record provenance,
//! cut over) lives in the store's own module. A new store is one module here, one variant of
//! [`Location`], and its crate.

pub mod postgres;

use std::path::{Path, PathBuf};

use anyhow::Context;
use shimkit_data::{
    BatchReader, Columns, EmbeddingBatch, EmbeddingTable, ReadOptions, TableSource,
};
use shimkit_postgres::{PgTable, is_postgres_url};

/// A stream of batches, from any store.
pub type Batches = Box<dyn Iterator<Item = shimkit_data::Result<EmbeddingBatch>> + Send>;

/// One table, wherever it is.
#[derive(Debug, Clone)]
pub enum Location {
    /// One table made of Parquet files (and directories of them).
    Files(Vec<PathBuf>),
    Postgres(Box<PgTable>),
}

impl Location {
    /// A table named by one or more command-line paths; a URL must come alone.
    pub fn parse(paths: &[PathBuf], flag: &str) -> anyhow::Result<Location> {
        let urls: Vec<&str> = paths
            .iter()
            .filter_map(|p| p.to_str())
            .filter(|p| is_postgres_url(p))
            .collect();
        match (urls.as_slice(), paths.len()) {
            ([], _) => Ok(Location::Files(paths.to_vec())),
            ([url], 1) => Ok(Location::Postgres(Box::new(
                PgTable::parse(url).with_context(|| flag.to_owned())?,
            ))),
            _ => anyhow::bail!("{flag}: a PostgreSQL URL names a whole table; give it alone"),
        }
    }

    pub fn one(path: &Path, flag: &str) -> anyhow::Result<Location> {
        Self::parse(&[path.to_path_buf()], flag)
    }

    pub fn as_postgres(&self) -> Option<&PgTable> {
        match self {
            Location::Postgres(t) => Some(t),
            Location::Files(_) => None,
        }
    }

    /// The table as a stream of batches. For files, `columns` names the columns; a URL
    /// names its own.
    pub fn batches(&self, columns: &Columns, batch_rows: usize) -> anyhow::Result<Batches> {
        Ok(match self {
            Location::Files(paths) => {
                let options = ReadOptions {
                    columns: columns.clone(),
                    batch_rows,
                    ..ReadOptions::default()
                };
                Box::new(BatchReader::open(
                    &TableSource::from_paths(paths)?,
                    options,
                )?)
            }
            Location::Postgres(t) => Box::new(shimkit_postgres::PgReader::open(
                t,
                shimkit_postgres::ReadOptions {
                    batch_rows,
                    ..Default::default()
                },
            )?),
        })
    }

    /// The whole table in memory.
    pub fn read_whole(&self, columns: &Columns) -> anyhow::Result<EmbeddingTable> {
        Ok(match self {
            Location::Files(paths) => shimkit_data::read_table(
                &TableSource::from_paths(paths)?,
                &ReadOptions::with_columns(columns.clone()),
            )?,
            Location::Postgres(t) => shimkit_postgres::read_all(t, Default::default())?,
        })
    }
}
