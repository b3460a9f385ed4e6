//! The one error type of the trainer.

use std::path::PathBuf;

use shimkit_data::DataError;

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),

    #[error(
        "{pairs} pairs are too few to fit and hold some out (at least {min} are needed; --min-pairs changes the limit)"
    )]
    TooFewPairs { pairs: usize, min: usize },

    #[error("{}: row {row} (id {id:?}): the vector has {found} dimensions but the shim maps {expected}-dimensional vectors", path.display())]
    InputDim {
        path: PathBuf,
        row: u64,
        id: String,
        found: usize,
        expected: usize,
    },

    #[error("{what}: {message}")]
    Invalid { what: &'static str, message: String },

    #[error("{}: not a shimkit shim: {message}", path.display())]
    Artifact { path: PathBuf, message: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("linear algebra failed: {0}")]
    Linalg(String),
}
