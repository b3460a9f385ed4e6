//! The cluster's one error type; the program adds its context.

pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "shim {name:?} arrived with bytes of version {actual}, but was sent as version {expected}: it was damaged on the way"
    )]
    ShimVersion {
        name: String,
        expected: String,
        actual: String,
    },

    #[error("a plan's shimkit part cannot be read: {0}")]
    Wire(String),

    #[error("the Ballista scheduler at {addr} cannot be reached: {message}")]
    Unreachable { addr: String, message: String },

    #[error("{what}: {message}")]
    Invalid { what: &'static str, message: String },

    // Boxed: the engine's and DataFusion's errors are large, and every function here
    // returns this type.
    #[error(transparent)]
    Engine(Box<shimkit_engine::EngineError>),

    #[error(transparent)]
    DataFusion(Box<datafusion::error::DataFusionError>),

    #[error("Ballista: {0}")]
    Ballista(Box<ballista_core::error::BallistaError>),
}

impl From<shimkit_engine::EngineError> for ClusterError {
    fn from(e: shimkit_engine::EngineError) -> Self {
        ClusterError::Engine(Box::new(e))
    }
}

impl From<datafusion::error::DataFusionError> for ClusterError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        ClusterError::DataFusion(Box::new(e))
    }
}

impl From<ballista_core::error::BallistaError> for ClusterError {
    fn from(e: ballista_core::error::BallistaError) -> Self {
        ClusterError::Ballista(Box::new(e))
    }
}

impl ClusterError {
    pub fn into_datafusion(self) -> datafusion::error::DataFusionError {
        match self {
            ClusterError::DataFusion(e) => *e,
            other => datafusion::error::DataFusionError::External(Box::new(other)),
        }
    }
}
