//! An embedding table held in memory.

use std::path::PathBuf;

use ndarray::Array2;

/// Ids and their vectors, row `i` of `vectors` belonging to `ids[i]`.
///
/// `vectors` is contiguous and row-major (standard layout), so it can be handed to a GEMM or
/// to another language without a copy.
#[derive(Debug, Clone)]
pub struct EmbeddingTable {
    pub ids: Vec<String>,
    pub vectors: Array2<f32>,
    /// Where the table was read from, for messages.
    pub source: PathBuf,
}

impl EmbeddingTable {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn dim(&self) -> usize {
        self.vectors.ncols()
    }
}

/// One bounded slice of a table, as the streaming reader yields it.
#[derive(Debug, Clone)]
pub struct EmbeddingBatch {
    pub ids: Vec<String>,
    pub vectors: Array2<f32>,
    /// Which of the source's files the rows come from.
    pub file: PathBuf,
    /// The file row of the batch's first row.
    pub first_row: u64,
}
