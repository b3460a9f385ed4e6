//! What can go wrong embedding texts: every error names the file or the text.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("{}: {message}", path.display())]
    Model { path: PathBuf, message: String },
    #[error("tokenizing {what}: {message}")]
    Tokenizer { what: String, message: String },
    #[error("the model failed: {0}")]
    Candle(#[from] candle_core::Error),
    #[error("{0}")]
    Device(String),
}

impl EmbedError {
    pub fn model(path: &Path, message: impl Into<String>) -> Self {
        EmbedError::Model {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, EmbedError>;
