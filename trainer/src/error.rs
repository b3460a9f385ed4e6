//! The one error type of the trainer.

use std::path::PathBuf;

use shimkit_data::DataError;

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] DataError),

    #[error("{pairs} pairs are too few to fit and hold some out (at least {min} are needed)")]
    TooFewPairs { pairs: usize, min: usize },

    #[error(
        "a {method} fit of {d_in}-d → {d_out}-d vectors needs about {needed} of memory at its peak (its statistics grow with the square of the input dimension), but {available} is available; fit on a machine with more memory, or shorten the vectors first (for example to the leading dimensions of a Matryoshka model)"
    )]
    TooMuchMemory {
        method: crate::Method,
        d_in: usize,
        d_out: usize,
        needed: String,
        available: String,
    },

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
