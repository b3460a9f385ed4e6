//! PostgreSQL with pgvector as a place shimkit reads from, writes to and searches.
//!
//! Teams keep their vectors in a database; this crate lets every shimkit command use a
//! table there as it uses a Parquet file. It owns:
//!
//! - **where a table is**: a URL with shimkit's `table`, `id` and `vector` parameters
//!   ([`PgTable`]), quoted names, passwords kept out of messages;
//! - **what the catalog says** ([`catalog`]): column types and dimensions, unique and
//!   vector indexes, the views that read a column, the pgvector version;
//! - **reading** a column in id-ordered chunks of binary `COPY` ([`PgReader`]), and pairs
//!   of columns joined by id for fitting ([`PgPairReader`]);
//! - **writing** a column batch by batch, paced, resumable after any interruption, with
//!   each row's provenance ([`Backfill`]), and building its index ([`index`]);
//! - **searching** documents held in temporary tables, exactly or through HNSW, for the
//!   evaluation ([`SearchIndex`]);
//! - **cutting over** the column the application reads, and rolling back ([`cutover`]);
//! - **a migration's history**: the files loaded, each cycle's figures and decision, each
//!   cutover and override ([`migration`]);
//! - **describing** a table for `inspect` ([`inspect`]);
//! - what shimkit remembers in the database (the `shimkit` schema: backfill checkpoints,
//!   cutovers) and the binary `COPY` format itself ([`copy`]).
//!
//! It does not know shims, fitting or evaluation (the program puts them together), and it
//! speaks only to PostgreSQL: another store is another crate behind the same seams (a
//! stream of [`shimkit_data::EmbeddingBatch`]es in, batches out).
//!
//! ```no_run
//! use shimkit_postgres::{PgReader, PgTable, ReadOptions};
//!
//! let table = PgTable::parse("postgresql://app@localhost/db?table=docs&vector=embedding")?;
//! for batch in PgReader::open(&table, ReadOptions::default())? {
//!     let batch = batch?;
//!     println!("{} vectors from id {}", batch.ids.len(), batch.ids[0]);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backfill;
pub mod catalog;
pub mod copy;
pub mod cutover;
mod error;
pub mod index;
pub mod inspect;
mod location;
pub mod migration;
mod reader;
mod search;
mod session;
mod state;

pub use backfill::{
    Backfill, BackfillSpec, Counts, Finished, Prepared, Provenance, Resume, WriteMode, ids_not_in,
    provenance_column,
};
pub use catalog::{ColumnInfo, IdType, IndexInfo, TableInfo, VectorType};
pub use error::{PgError, Result};
pub use location::{Database, PgTable, TableName, is_postgres_url, quote_ident};
pub use reader::{
    ColumnShape, PairBatch, PgPairReader, PgReader, ReadOptions, ReadStats, column_shape,
    column_type, count_unpaired, read_all, table_exists,
};
pub use search::{DocSet, Hnsw, Neighbour, SearchIndex, SearchMode};
pub use session::Session;
