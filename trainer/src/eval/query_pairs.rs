//! Query pairs in an evaluation (`--query-pair-folds K`): query-side shims fitted on the
//! training documents together with pairs of scored queries, cross-fitted so that no query
//! is scored by a shim that saw it.
//!
//! The scored queries are cut into K folds by a seeded hash of their id; for each fold,
//! every method is fitted on the training documents and the queries of the other folds
//! (their share of the weight chosen on those queries alone, see
//! [`crate::query_pairs`]), and maps that fold's queries. Each query's mapped vector thus
//! comes from a shim fitted on (K − 1)/K of the other queries: with K = 2, half the queries
//! as pairs. The paths are `shim-query-qp:<method>`; the report adds each fold's chosen
//! share and each method's gain over the same method fitted on documents alone
//! (`shim-query:<method>`), with its paired 95% interval.

use ndarray::{Array2, Axis};
use serde::Serialize;

use super::bootstrap::Resamples;
use super::config::EvalConfig;
use super::data::EvalData;
use super::report::PathResult;
use super::shims::{Side, fit_config, fit_methods};
use crate::error::{Result, TrainError};
use crate::fit::query_pairs::{Pairs, QueryShare, blend, choose_share};
use crate::hash::{fnv1a, mix, stream};
use crate::method::Method;

/// One method's scored queries, each mapped by the shim of the fold it was held out of.
#[derive(Debug, Clone)]
pub struct CrossFitted {
    pub method: Method,
    pub mapped_queries: Array2<f32>,
}

impl CrossFitted {
    /// The name of its path: `shim-query-qp:ridge`.
    pub fn path(&self) -> String {
        format!("shim-query-qp:{}", self.method)
    }
}

/// One fold's fit.
#[derive(Debug, Clone, Serialize)]
pub struct FoldRecord {
    /// Scored queries held out of this fold's fit (and mapped by it).
    pub held_out: usize,
    /// How the fit weighed the other folds' query pairs against the documents.
    pub share: QueryShare,
}

/// A method's gain from query pairs: `shim-query-qp:<method>` against `shim-query:<method>`.
#[derive(Debug, Clone, Serialize)]
pub struct QueryPairGain {
    pub path: String,
    pub against: String,
    /// Retention of the full re-embed's nDCG, with and without query pairs.
    pub retention: f64,
    pub retention_without: f64,
    /// Mean per-query nDCG gain, and its paired 95% bootstrap interval.
    pub delta_ndcg: f64,
    pub ci95_delta_ndcg: [f64; 2],
}

/// What `--query-pair-folds` adds to the report.
#[derive(Debug, Clone, Serialize)]
pub struct QueryPairsReport {
    pub folds: usize,
    pub per_fold: Vec<FoldRecord>,
    pub gains: Vec<QueryPairGain>,
}

/// Refuses fold counts that would leave a fold empty, or nothing to fit on.
pub(super) fn check_folds(folds: usize, queries: usize) -> Result<()> {
    if folds < 2 || folds > queries {
        return Err(TrainError::Invalid {
            what: "--query-pair-folds",
            message: format!("{folds} folds of {queries} scored queries; between 2 and {queries}"),
        });
    }
    Ok(())
}

/// The fold of `folds` a scored query is held out in.
pub fn query_fold(id: &str, seed: u64, folds: usize) -> usize {
    (mix(seed, stream::QUERY_PAIR_FOLD, fnv1a(id.as_bytes())) % folds as u64) as usize
}

/// Every method of `cfg.methods` cross-fitted over `folds` folds of the scored queries,
/// with the training documents `train` (rows of `data`). A method the shared fit of a fold
/// could not refit is left out (as `evaluate` leaves it out of its paths); a fit that fails
/// outright fails the evaluation.
pub fn cross_fit(
    data: &EvalData,
    cfg: &EvalConfig,
    train: &[usize],
    folds: usize,
) -> Result<(Vec<CrossFitted>, Vec<FoldRecord>)> {
    let n = data.query_ids.len();
    check_folds(folds, n)?;
    let fold: Vec<usize> = data
        .query_ids
        .iter()
        .map(|id| query_fold(id, cfg.seed, folds))
        .collect();
    let doc_ids: Vec<String> = train.iter().map(|&i| data.doc_ids[i].clone()).collect();
    let (doc_new, doc_old) = (
        data.new_docs.select(Axis(0), train),
        data.old_docs.select(Axis(0), train),
    );
    let docs = Pairs {
        x: doc_new.view(),
        y: doc_old.view(),
        ids: &doc_ids,
    };
    let old_dim = data.old_queries.ncols();
    let mut mapped: Vec<(Method, Array2<f32>, usize)> = cfg
        .methods
        .iter()
        .map(|&m| (m, Array2::zeros((n, old_dim)), 0))
        .collect();
    let mut records = Vec::new();
    for k in 0..folds {
        let (rest, held): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| fold[i] != k);
        if held.is_empty() {
            continue;
        }
        let ids: Vec<String> = rest.iter().map(|&i| data.query_ids[i].clone()).collect();
        let (q_new, q_old) = (
            data.new_queries.select(Axis(0), &rest),
            data.old_queries.select(Axis(0), &rest),
        );
        let queries = Pairs {
            x: q_new.view(),
            y: q_old.view(),
            ids: &ids,
        };
        let share = choose_share(Some(&docs), &queries, &fit_config(cfg, Method::Auto))?;
        let (x, y, blend_ids) = blend(Some(&docs), &queries, share.doc_repeat, share.query_repeat);
        let fitted = fit_methods(x.view(), y.view(), &blend_ids, cfg, Side::Query)?;
        let held_new = data.new_queries.select(Axis(0), &held);
        for (method, (shim, _)) in fitted {
            let Some(slot) = mapped.iter_mut().find(|(m, _, _)| *m == method) else {
                continue;
            };
            let rows = shim.apply(held_new.view(), true)?;
            for (r, &i) in held.iter().enumerate() {
                slot.1.row_mut(i).assign(&rows.row(r));
            }
            slot.2 += 1;
        }
        records.push(FoldRecord {
            held_out: held.len(),
            share,
        });
    }
    let fitted_folds = records.len();
    let cross: Vec<CrossFitted> = mapped
        .into_iter()
        .filter(|(method, _, done)| {
            let every = *done == fitted_folds;
            if !every {
                tracing::warn!(
                    "shim-query-qp:{method} is left out: a fold's pairs could not fit it"
                );
            }
            every
        })
        .map(|(method, mapped_queries, _)| CrossFitted {
            method,
            mapped_queries,
        })
        .collect();
    Ok((cross, records))
}

/// Each cross-fitted path's gain over its method fitted on documents alone.
pub fn gains(
    results: &[PathResult],
    cross: &[CrossFitted],
    resamples: &Resamples,
) -> Vec<QueryPairGain> {
    cross
        .iter()
        .filter_map(|c| {
            let path = c.path();
            let against = format!("shim-query:{}", c.method);
            let with = results.iter().find(|r| r.name == path)?;
            let without = results.iter().find(|r| r.name == against)?;
            let delta = with
                .per_query_ndcg
                .iter()
                .zip(&without.per_query_ndcg)
                .map(|(a, b)| a - b)
                .sum::<f64>()
                / with.per_query_ndcg.len().max(1) as f64;
            Some(QueryPairGain {
                retention: with.retention,
                retention_without: without.retention,
                delta_ndcg: delta,
                ci95_delta_ndcg: resamples
                    .difference_ci(&with.per_query_ndcg, &without.per_query_ndcg),
                path,
                against,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_cover_every_query_and_depend_on_the_seed() {
        let ids: Vec<String> = (0..225).map(|i| (i + 1).to_string()).collect();
        let a: Vec<usize> = ids.iter().map(|id| query_fold(id, 0, 2)).collect();
        let b: Vec<usize> = ids.iter().map(|id| query_fold(id, 1, 2)).collect();
        let ones = a.iter().filter(|&&f| f == 1).count();
        assert!(a.iter().all(|&f| f < 2));
        assert!((80..145).contains(&ones), "{ones} of 225 in fold 1");
        assert_ne!(a, b);
    }
}
