//! The seam between the evaluation and the index it searches.
//!
//! Every ranking the evaluation scores comes from a [`Searcher`]: exact search in process
//! ([`Exact`], a blocked GEMM and a top-k) today, and an index the evaluation does not own
//! (PostgreSQL's exact and HNSW search) as another implementation, without a change to the
//! paths that ask.

use ndarray::ArrayView2;

use super::search::{Ranking, search_offset, search_subset};
use crate::error::Result;

/// The documents one search runs over.
#[derive(Debug, Clone, Copy)]
pub struct Docs<'a> {
    /// What the corpus is (`old`, `new`, `shim-doc:ridge`, `backfill:0.5:ridge`): a backend
    /// that keeps its indexes by name finds, or builds, the index by it.
    pub name: &'a str,
    /// One vector a document, unit length.
    pub vectors: ArrayView2<'a, f32>,
    /// Which corpus document each row is, when these are some of them; hits carry those.
    pub rows: Option<&'a [u32]>,
    /// A per-document term added to every score (CSLS's hubness correction).
    pub offsets: Option<&'a [f32]>,
}

impl<'a> Docs<'a> {
    /// Every document of a corpus, in order.
    pub fn all(name: &'a str, vectors: ArrayView2<'a, f32>) -> Self {
        Docs {
            name,
            vectors,
            rows: None,
            offsets: None,
        }
    }
}

/// Where the evaluation's searches run.
pub trait Searcher: Sync {
    /// The `k` best documents for each query, by inner product (plus `docs.offsets`), best
    /// first, ties to the lower document index.
    fn search(
        &self,
        queries: ArrayView2<'_, f32>,
        docs: Docs<'_>,
        k: usize,
    ) -> Result<Vec<Ranking>>;
}

/// Exact search in process.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exact;

impl Searcher for Exact {
    fn search(
        &self,
        queries: ArrayView2<'_, f32>,
        docs: Docs<'_>,
        k: usize,
    ) -> Result<Vec<Ranking>> {
        Ok(match docs.rows {
            Some(rows) => search_subset(queries, docs.vectors, rows, k),
            None => search_offset(queries, docs.vectors, docs.offsets, k),
        })
    }
}
