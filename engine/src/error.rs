//! The engine's one error type, free of any front end: the program adds its context.

use shimkit_data::DataError;
use shimkit_trainer::TrainError;

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no shim named {name:?} is registered with this session (registered: {known})")]
    UnknownShim { name: String, known: String },

    #[error("shim {name:?}: {message}")]
    Shim { name: String, message: String },

    #[error(transparent)]
    Data(#[from] DataError),

    #[error(transparent)]
    Train(#[from] TrainError),

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error("{what}: {message}")]
    Invalid { what: &'static str, message: String },
}

impl EngineError {
    /// For DataFusion's traits, which return its own error type: the message survives and
    /// comes back out of a query's error as it went in.
    pub fn into_datafusion(self) -> datafusion::error::DataFusionError {
        match self {
            EngineError::DataFusion(e) => e,
            other => datafusion::error::DataFusionError::External(Box::new(other)),
        }
    }
}
