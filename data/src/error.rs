//! The one error type of the data layer.
//!
//! Every variant carries the path of the file it is about, and the column, row and id where
//! they apply, so that a message read in a terminal or a CI log is enough to find the bad
//! input. Rows are counted from 0 within their file, as Parquet readers and pyarrow do.

use std::path::PathBuf;

/// Shorthand for results of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

/// What went wrong while reading, validating or writing embedding data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: not a readable Parquet file (is it truncated, or not Parquet at all?): {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },

    #[error("{}: is {what}, not a regular file", path.display())]
    NotRegularFile { path: PathBuf, what: String },

    #[error("{}: no Parquet files found (a directory is read as one table made of its *.parquet files)", path.display())]
    NoFiles { path: PathBuf },

    #[error("{}: column \"{column}\" not found; the file has: {available}", path.display())]
    MissingColumn {
        path: PathBuf,
        column: String,
        available: String,
    },

    #[error("{}: column \"{column}\" has type {found}; expected {expected}", path.display())]
    WrongType {
        path: PathBuf,
        column: String,
        found: String,
        expected: &'static str,
    },

    #[error("{}: row {row}: column \"{column}\": the id is null", path.display())]
    NullId {
        path: PathBuf,
        row: u64,
        column: String,
    },

    #[error("{}: row {row} (id {id:?}): column \"{column}\": the vector is null", path.display())]
    NullVector {
        path: PathBuf,
        row: u64,
        id: String,
        column: String,
    },

    #[error("{}: row {row} (id {id:?}): column \"{column}\": the vector has {found} values, expected {expected} ({why})", path.display())]
    DimMismatch {
        path: PathBuf,
        row: u64,
        id: String,
        column: String,
        found: usize,
        expected: usize,
        why: String,
    },

    #[error("{}: row {row} (id {id:?}): column \"{column}\": value {index} of the vector is null", path.display())]
    NullElement {
        path: PathBuf,
        row: u64,
        id: String,
        column: String,
        index: usize,
    },

    #[error("{}: row {row} (id {id:?}): column \"{column}\": value {index} of the vector is {value}, not a finite float32", path.display())]
    NonFinite {
        path: PathBuf,
        row: u64,
        id: String,
        column: String,
        index: usize,
        value: String,
    },

    #[error("{}: row {row} (id {id:?}): column \"{column}\": the vector is all zeros and cannot be normalised", path.display())]
    ZeroVector {
        path: PathBuf,
        row: u64,
        id: String,
        column: String,
    },

    #[error("{}: row {row}: duplicate id {id:?} (first seen in {} at row {first_row})", path.display(), first_path.display())]
    DuplicateId {
        path: PathBuf,
        row: u64,
        id: String,
        first_path: PathBuf,
        first_row: u64,
    },

    #[error("{}: the table is empty (0 rows)", path.display())]
    EmptyTable { path: PathBuf },

    #[error("{}: vectors have {found} dimensions but {} has {expected}; every file of a table must share one dimension", path.display(), first_path.display())]
    FileDimMismatch {
        path: PathBuf,
        first_path: PathBuf,
        found: usize,
        expected: usize,
    },

    #[error("no id is in both tables: {} has {old_rows} rows (e.g. id {old_example:?}), {} has {new_rows} rows (e.g. id {new_example:?})", old.display(), new.display())]
    EmptyIntersection {
        old: PathBuf,
        new: PathBuf,
        old_rows: usize,
        new_rows: usize,
        old_example: String,
        new_example: String,
    },

    #[error("{}: {message}", path.display())]
    Dataset { path: PathBuf, message: String },

    #[error("{}: line {line}: {message}", path.display())]
    /// A line of a text file (qrels.tsv, *.jsonl) that cannot be read.
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error("{}: not valid JSON: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("{}: cannot write Parquet: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },

    #[error("invalid {what}: {message}")]
    Invalid { what: &'static str, message: String },

    /// An error of a table kept elsewhere than in files (a database): its own type, which
    /// names the store, table, column and row.
    #[error(transparent)]
    Store(Box<dyn std::error::Error + Send + Sync>),
}

impl DataError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parquet(path: impl Into<PathBuf>, source: parquet::errors::ParquetError) -> Self {
        DataError::Parquet {
            path: path.into(),
            source,
        }
    }
}
