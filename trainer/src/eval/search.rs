//! Exact search by inner product: a blocked matrix multiply and a top-k selection.
//!
//! Vectors are unit length, so the inner product is the cosine. Documents are scored a
//! block at a time (one parallel GEMM a block), and each query keeps its best k in a
//! [`TopK`], which skips a score in one comparison unless it beats the current k-th best.
//! Ties break by the lower document index, so a ranking is a pure function of the vectors.
//!
//! ```
//! use ndarray::array;
//! use shimkit_trainer::eval::search;
//!
//! let docs = array![[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8]];
//! let hits = search(array![[0.0f32, 1.0]].view(), docs.view(), 2);
//! assert_eq!(hits[0].iter().map(|h| h.doc).collect::<Vec<_>>(), vec![1, 2]);
//! ```

use std::cmp::Ordering;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

/// One retrieved document: its row in the searched matrix and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    pub doc: u32,
    pub score: f32,
}

/// A query's ranking, best first.
pub type Ranking = Vec<Hit>;

/// Better first: higher score, then lower document index.
pub fn rank_order(a: &Hit, b: &Hit) -> Ordering {
    b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc))
}

/// The best `k` of a stream of hits, in O(1) per rejected hit.
#[derive(Debug, Clone)]
pub struct TopK {
    k: usize,
    items: Vec<Hit>,
    /// The k-th best kept so far, once k are kept: anything not better is dropped.
    floor: Option<Hit>,
}

impl TopK {
    pub fn new(k: usize) -> Self {
        TopK {
            k,
            items: Vec::with_capacity(2 * k.max(1)),
            floor: None,
        }
    }

    #[inline]
    pub fn push(&mut self, hit: Hit) {
        if let Some(floor) = self.floor
            && (hit.score < floor.score || rank_order(&hit, &floor) != Ordering::Less)
        {
            return;
        }
        self.items.push(hit);
        if self.items.len() >= 2 * self.k.max(1) {
            self.shrink();
        }
    }

    fn shrink(&mut self) {
        if self.k == 0 {
            self.items.clear();
            return;
        }
        if self.items.len() > self.k {
            self.items.select_nth_unstable_by(self.k - 1, rank_order);
            self.items.truncate(self.k);
        }
        if self.items.len() == self.k {
            self.floor = self.items.iter().copied().max_by(rank_order);
        }
    }

    /// The kept hits, best first.
    pub fn into_sorted(mut self) -> Ranking {
        self.shrink();
        self.items.sort_unstable_by(rank_order);
        self.items
    }
}

/// Documents scored per GEMM: 64 MiB of scores for 1,024 queries.
const DOC_BLOCK: usize = 16_384;
/// Queries scored together, which bounds the score block's memory.
const QUERY_BLOCK: usize = 1_024;

/// The `k` best documents (rows of `docs`) for every row of `queries`, by inner product.
/// Both must have the same number of columns (the caller checks user data:
/// [`EvalData::align`](crate::eval::EvalData::align) does).
pub fn search(queries: ArrayView2<'_, f32>, docs: ArrayView2<'_, f32>, k: usize) -> Vec<Ranking> {
    search_offset(queries, docs, None, k)
}

/// [`search`] by `q·d + offset[d]`: a per-document term added to every score, as hubness
/// corrections such as CSLS need.
pub fn search_offset(
    queries: ArrayView2<'_, f32>,
    docs: ArrayView2<'_, f32>,
    offset: Option<&[f32]>,
    k: usize,
) -> Vec<Ranking> {
    if let Some(o) = offset {
        assert_eq!(o.len(), docs.nrows(), "one offset a document");
    }
    assert_eq!(
        queries.ncols(),
        docs.ncols(),
        "queries and documents must share a dimension"
    );
    // A ranking never holds more than every document, whatever k a user asks for.
    let k = k.min(docs.nrows());
    let queries = queries.as_standard_layout();
    let docs = docs.as_standard_layout();
    let d = docs.ncols();
    let n = docs.nrows();
    let mut out = Vec::with_capacity(queries.nrows());
    let q_all = queries.as_slice().expect("standard layout");
    let d_all = docs.as_slice().expect("standard layout");
    let mut scores = Array2::<f32>::zeros((0, 0));
    for q_start in (0..queries.nrows()).step_by(QUERY_BLOCK) {
        let m = QUERY_BLOCK.min(queries.nrows() - q_start);
        let q = MatRef::from_row_major_slice(&q_all[q_start * d..(q_start + m) * d], m, d);
        let mut tops: Vec<TopK> = (0..m).map(|_| TopK::new(k)).collect();
        for d_start in (0..n).step_by(DOC_BLOCK) {
            let b = DOC_BLOCK.min(n - d_start);
            let block = MatRef::from_row_major_slice(&d_all[d_start * d..(d_start + b) * d], b, d);
            if scores.dim() != (m, b) {
                scores = Array2::zeros((m, b));
            }
            let s = scores.as_slice_mut().expect("standard layout");
            matmul(
                MatMut::from_row_major_slice_mut(s, m, b),
                Accum::Replace,
                q,
                block.transpose(),
                1.0f32,
                Par::rayon(0),
            );
            tops.par_iter_mut()
                .zip(scores.as_slice().expect("standard layout").par_chunks(b))
                .for_each(|(top, row)| match offset {
                    None => {
                        for (j, &score) in row.iter().enumerate() {
                            top.push(Hit {
                                doc: (d_start + j) as u32,
                                score,
                            });
                        }
                    }
                    Some(o) => {
                        for (j, (&score, &add)) in row.iter().zip(&o[d_start..]).enumerate() {
                            top.push(Hit {
                                doc: (d_start + j) as u32,
                                score: score + add,
                            });
                        }
                    }
                });
        }
        out.extend(tops.into_iter().map(TopK::into_sorted));
    }
    out
}

/// [`search`] over a subset of the documents: `rows[i]` is the document index that row
/// `i` of `docs` stands for, and the hits carry those indices.
pub fn search_subset(
    queries: ArrayView2<'_, f32>,
    docs: ArrayView2<'_, f32>,
    rows: &[u32],
    k: usize,
) -> Vec<Ranking> {
    let mut hits = search(queries, docs, k);
    for ranking in &mut hits {
        for h in ranking.iter_mut() {
            h.doc = rows[h.doc as usize];
        }
        // Renumbering can change the order of tied scores.
        ranking.sort_unstable_by(rank_order);
    }
    hits
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_k_beyond_the_corpus_ranks_the_whole_corpus() {
        let docs = ndarray::array![[1.0f32, 0.0], [0.0, 1.0], [0.6, 0.8]];
        let hits = search(
            ndarray::array![[0.0f32, 1.0]].view(),
            docs.view(),
            1_000_000_000,
        );
        assert_eq!(hits[0].len(), 3);
    }

    use super::*;
    use rand::{Rng, SeedableRng};

    /// Sort every score: the slow, obvious search.
    fn brute(q: ArrayView2<'_, f32>, d: ArrayView2<'_, f32>, k: usize) -> Vec<Ranking> {
        q.rows()
            .into_iter()
            .map(|qr| {
                let mut all: Vec<Hit> = d
                    .rows()
                    .into_iter()
                    .enumerate()
                    .map(|(j, dr)| Hit {
                        doc: j as u32,
                        score: qr.dot(&dr),
                    })
                    .collect();
                all.sort_by(rank_order);
                all.truncate(k);
                all
            })
            .collect()
    }

    #[test]
    fn matches_brute_force_across_blocks() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = DOC_BLOCK + 1_000;
        // Values on a coarse grid, so that exact ties occur and the tie rule is exercised.
        let docs = Array2::from_shape_fn((n, 8), |_| rng.random_range(-2i32..=2) as f32);
        let queries = Array2::from_shape_fn((5, 8), |_| rng.random_range(-2i32..=2) as f32);
        for k in [1, 10, 100] {
            let fast = search(queries.view(), docs.view(), k);
            let slow = brute(queries.view(), docs.view(), k);
            for (f, s) in fast.iter().zip(&slow) {
                let fd: Vec<u32> = f.iter().map(|h| h.doc).collect();
                let sd: Vec<u32> = s.iter().map(|h| h.doc).collect();
                assert_eq!(fd, sd, "k = {k}");
            }
        }
    }

    #[test]
    fn ties_go_to_the_lower_index_and_k_may_exceed_n() {
        let docs = ndarray::array![[1.0f32], [1.0], [2.0], [1.0]];
        let hits = search(ndarray::array![[1.0f32]].view(), docs.view(), 10);
        let order: Vec<u32> = hits[0].iter().map(|h| h.doc).collect();
        assert_eq!(order, vec![2, 0, 1, 3]);
    }

    #[test]
    fn subset_hits_carry_the_original_indices() {
        let docs = ndarray::array![[1.0f32], [3.0]];
        let hits = search_subset(ndarray::array![[1.0f32]].view(), docs.view(), &[7, 4], 2);
        assert_eq!(
            hits[0].iter().map(|h| h.doc).collect::<Vec<_>>(),
            vec![4, 7]
        );
    }
}
