//! Blending a backfill's re-embedded vectors with their projections, so that replacing a
//! projection by the true vector does not cost retention.
//!
//! In one index, re-embedded and projected vectors are not on the same footing: a
//! projection is a regression's output, smoother than a true vector, so a query's scores
//! against the two kinds are distributed differently and the mix ranks worse than either
//! alone (Cranfield: `shim-doc:cluster` 0.990 but `backfill:0.5:cluster` 0.973). Storing
//! each re-embedded document as unit(α·true + (1 − α)·projected) puts the two kinds back
//! on one footing; α = 1 is the plain backfill.
//!
//! α is chosen on the re-embedded documents alone (the pairs a team has): a share f of
//! them, by a seeded hash of their id, plays the re-embedded part of the index and the rest
//! the projected part, each document's true vector is a query, and α is the weight whose
//! index gives the top 10 (itself left out) closest to the top 10 of the true vectors
//! (mean overlap@10). When every document is re-embedded, α = 1 gives the true index and is
//! kept. The projections are the shim's own, in-sample for its training documents (which
//! a backfill re-embeds first), so they are closer to the true vectors than the index's
//! other projections; on Cranfield this chose the same α as cross-fitted projections
//! (0.5 at a share of 0.5, 0.6 at 0.75; numpy, ridge, two seeds).

use ndarray::{Array2, ArrayView2, Axis};
use serde::Serialize;

use super::config::EvalConfig;
use super::data::EvalData;
use super::shims::MethodShims;
use crate::hash::{fnv1a, mix, stream};
use crate::method::Method;
use crate::normalize_rows;

/// The weights of the true vector tried, from the plain backfill down; a re-embedded
/// document keeps at least half its own vector.
pub const BLEND_WEIGHTS: [f64; 5] = [1.0, 0.9, 0.75, 0.6, 0.5];

/// Documents the choice searches among, and queries it asks: a seeded sample by id hash
/// beyond these, so that the choice costs the same on a large corpus.
const MAX_INDEX: usize = 10_000;
const MAX_QUERIES: usize = 2_000;

/// Neighbours compared.
const TOP: usize = 10;

/// One weight's showing.
#[derive(Debug, Clone, Serialize)]
pub struct BlendScore {
    pub alpha: f64,
    /// Mean overlap@10 with the true vectors' neighbours.
    pub overlap: f64,
}

/// The weight chosen for one backfill share and one method.
#[derive(Debug, Clone, Serialize)]
pub struct BlendChoice {
    pub alpha: f64,
    pub scores: Vec<BlendScore>,
}

/// The weight chosen for one backfill of the evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct BackfillBlend {
    /// Share of the corpus re-embedded.
    pub share: f64,
    pub method: Method,
    #[serde(flatten)]
    pub choice: BlendChoice,
}

/// A weight for every backfill share and method of the evaluation: the re-embedded
/// documents are the first of `order`, projected by each method's doc-side shim.
pub fn choose_blends(
    data: &EvalData,
    cfg: &EvalConfig,
    order: &[usize],
    methods: &[MethodShims],
) -> Vec<BackfillBlend> {
    let n = data.doc_ids.len();
    let mut out = Vec::new();
    for &share in &cfg.backfill {
        let rows = &order[..((share * n as f64).round() as usize).min(n)];
        let ids: Vec<String> = rows.iter().map(|&i| data.doc_ids[i].clone()).collect();
        let truth = data.new_docs.select(Axis(0), rows);
        for m in methods {
            let projected = m.projected.select(Axis(0), rows);
            out.push(BackfillBlend {
                share,
                method: m.method,
                choice: choose_alpha(truth.view(), projected.view(), &ids, share, cfg.seed),
            });
        }
    }
    out
}

/// unit(α·`reembedded` + (1 − α)·`projected`), row by row.
pub fn blend_rows(
    reembedded: ArrayView2<'_, f32>,
    projected: ArrayView2<'_, f32>,
    alpha: f64,
) -> Array2<f32> {
    let (a, b) = (alpha as f32, (1.0 - alpha) as f32);
    normalize_rows(&reembedded * a + &projected * b)
}

/// Chooses α for an index holding a share `share` of re-embedded documents, from the
/// re-embedded documents' true vectors (`reembedded`, unit rows), their projections by the
/// shim (`projected`, unit rows) and their ids (see the module).
pub fn choose_alpha(
    reembedded: ArrayView2<'_, f32>,
    projected: ArrayView2<'_, f32>,
    ids: &[String],
    share: f64,
    seed: u64,
) -> BlendChoice {
    if share >= 1.0 || ids.len() <= TOP {
        return BlendChoice {
            alpha: 1.0,
            scores: Vec::new(),
        };
    }
    // A seeded order of the documents by id hash: the index is its head, the queries the
    // head of that.
    let mut order: Vec<(u64, usize)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (mix(seed, stream::BLEND, fnv1a(id.as_bytes())), i))
        .collect();
    order.sort_unstable();
    let index: Vec<usize> = order.iter().take(MAX_INDEX).map(|&(_, i)| i).collect();
    let queries = index.len().min(MAX_QUERIES);
    // Which documents play the re-embedded part: a second hash, so the part does not
    // follow the sample order.
    let cut = (share * u64::MAX as f64) as u64;
    let plays_reembedded: Vec<bool> = index
        .iter()
        .map(|&i| mix(seed, stream::BLEND_PART, fnv1a(ids[i].as_bytes())) < cut)
        .collect();
    let truth = reembedded.select(Axis(0), &index);
    let proj = projected.select(Axis(0), &index);
    let asked = truth.slice(ndarray::s![..queries, ..]);
    let true_top = neighbours(asked, truth.view());
    let scores: Vec<BlendScore> = BLEND_WEIGHTS
        .iter()
        .map(|&alpha| {
            let mut mixed = proj.clone();
            let blended = blend_rows(truth.view(), proj.view(), alpha);
            for (r, &re) in plays_reembedded.iter().enumerate() {
                if re {
                    mixed.row_mut(r).assign(&blended.row(r));
                }
            }
            let top = neighbours(asked, mixed.view());
            let overlap = top
                .iter()
                .zip(&true_top)
                .map(|(a, b)| a.iter().filter(|d| b.contains(d)).count() as f64 / TOP as f64)
                .sum::<f64>()
                / queries as f64;
            BlendScore { alpha, overlap }
        })
        .collect();
    // Ties go to the larger weight: closer to the true vectors.
    let alpha = scores
        .iter()
        .fold(None::<&BlendScore>, |best, s| match best {
            Some(b) if s.overlap <= b.overlap + 1e-12 => Some(b),
            _ => Some(s),
        })
        .map_or(1.0, |s| s.alpha);
    BlendChoice { alpha, scores }
}

/// The `TOP` best documents of `index` for each row of `queries`, query `q` being document
/// `q` of the index (left out of its own list).
fn neighbours(queries: ArrayView2<'_, f32>, index: ArrayView2<'_, f32>) -> Vec<Vec<usize>> {
    let scores = queries.dot(&index.t());
    scores
        .axis_iter(Axis(0))
        .enumerate()
        .map(|(q, row)| {
            let mut ranked: Vec<usize> = (0..row.len()).filter(|&d| d != q).collect();
            let by_score = |a: &usize, b: &usize| row[*b].total_cmp(&row[*a]).then(a.cmp(b));
            if ranked.len() > TOP {
                ranked.select_nth_unstable_by(TOP - 1, by_score);
                ranked.truncate(TOP);
            }
            ranked.sort_unstable_by(by_score);
            ranked
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_rows(n: usize, d: usize, salt: usize) -> Array2<f32> {
        normalize_rows(Array2::from_shape_fn((n, d), |(i, j)| {
            (((i * 7919 + j * 104_729 + salt * 31) % 1000) as f32 / 500.0) - 1.0
        }))
    }

    #[test]
    fn a_perfect_projection_or_a_whole_backfill_keeps_the_true_vectors() {
        let ids: Vec<String> = (0..200).map(|i| format!("d{i}")).collect();
        let truth = unit_rows(200, 16, 1);
        let same = choose_alpha(truth.view(), truth.view(), &ids, 0.5, 0);
        assert_eq!(same.alpha, 1.0);
        assert!(same.scores.iter().all(|s| (s.overlap - 1.0).abs() < 1e-12));
        let other = unit_rows(200, 16, 2);
        let whole = choose_alpha(truth.view(), other.view(), &ids, 1.0, 0);
        assert_eq!(whole.alpha, 1.0);
    }

    #[test]
    fn neighbours_leave_the_query_out_and_rank_by_score() {
        let index = normalize_rows(Array2::from_shape_fn((12, 2), |(i, j)| {
            if j == 0 { 1.0 } else { i as f32 * 0.1 }
        }));
        let top = neighbours(index.slice(ndarray::s![..1, ..]), index.view());
        // Document 0 is itself; the closest others are 1, 2, … in order.
        assert_eq!(top[0], (1..=10).collect::<Vec<_>>());
    }

    #[test]
    fn a_blend_is_unit_length_and_between_its_parts() {
        let a = unit_rows(5, 8, 3);
        let b = unit_rows(5, 8, 4);
        let m = blend_rows(a.view(), b.view(), 0.6);
        for r in 0..5 {
            let norm: f32 = m.row(r).iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
            assert!(m.row(r).dot(&a.row(r)) > b.row(r).dot(&a.row(r)));
        }
        assert_eq!(
            blend_rows(a.view(), b.view(), 1.0),
            normalize_rows(a.clone())
        );
    }
}
