//! Scoring a path's rankings: the metrics of every query against the judgements, their
//! means, and the retention of the full re-embed's nDCG with its bootstrap interval.

use super::bootstrap::Resamples;
use super::data::EvalData;
use super::metrics::{QueryScores, score_query};
use super::paths::Path;
use super::report::PathResult;
use super::search::Ranking;

pub(super) fn score_all(
    hits: &[Ranking],
    reference: &[Ranking],
    data: &EvalData,
    k: usize,
) -> Vec<QueryScores> {
    hits.iter()
        .zip(reference)
        .zip(&data.judged)
        .map(|((h, r), j)| score_query(h, r, j, k))
        .collect()
}

pub(super) fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, c) = v.fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
    if c == 0 { f64::NAN } else { s / c as f64 }
}

pub(super) fn summarise(
    b: Path,
    s: &[QueryScores],
    full: &[f64],
    none: &[f64],
    resamples: &Resamples,
) -> PathResult {
    let ndcg: Vec<f64> = s.iter().map(|q| q.ndcg).collect();
    let m = mean(ndcg.iter().copied());
    let full_mean = mean(full.iter().copied());
    let none_mean = mean(none.iter().copied());
    PathResult {
        name: b.name,
        kind: b.kind,
        reembedded: b.reembedded,
        ndcg: m,
        recall: mean(s.iter().map(|q| q.recall)),
        recall_100: mean(s.iter().map(|q| q.recall_100)),
        mrr: mean(s.iter().map(|q| q.mrr)),
        overlap: mean(s.iter().map(|q| q.overlap)),
        retention: m / full_mean,
        retention_ci: resamples.ratio_ci(&ndcg, full),
        beats_no_migration: m > none_mean,
        delta_vs_no_migration_ci: resamples.difference_ci(&ndcg, none),
        per_query_ndcg: ndcg,
        ann_recall: None,
        delta_vs_shim_doc_ci: None,
    }
}
