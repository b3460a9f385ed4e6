//! Running an evaluation: fit the shims on a seeded sample of documents, build every
//! migration path's rankings, score them, and decide.

use std::time::Instant;

use ndarray::Axis;

use super::blend::choose_blends;
use super::bootstrap::Resamples;
use super::config::{EvalConfig, MIN_DEPTH, default_train_pairs, training_order};
use super::cost::CostReport;
use super::curve::curve;
use super::data::{AlignNotes, EvalData};
use super::paths::{Baselines, Context, FAMILIES, Path};
use super::query_pairs::{QueryPairsReport, check_folds, cross_fit, gains};
use super::recommend::recommend;
use super::report::{EvalReport, PathKind, PathResult};
use super::scoring::{score_all, summarise};
use super::search::Ranking;
use super::searcher::{Exact, Searcher};
use super::shims::{ShimKey, Side, TrainingPairs, fit_both_sides};
use super::timing::measure;
use crate::error::{Result, TrainError};
use crate::method::Method;
use crate::shim::Shim;

/// Most memory the bootstrap's draws may take.
const MAX_RESAMPLE_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

/// The report, and the shims behind it (named like their paths' methods).
pub struct Evaluation {
    pub report: EvalReport,
    /// Every fitted shim, query side then doc side for each method, in `methods` order.
    pub shims: Vec<(ShimKey, Shim)>,
    /// Ids of the training documents, in sampling order.
    pub train_ids: Vec<String>,
}

/// Evaluates every path with exact search in process.
pub fn evaluate(
    data: &EvalData,
    notes: &AlignNotes,
    cfg: &EvalConfig,
    dataset: &str,
) -> Result<Evaluation> {
    evaluate_with(data, notes, cfg, dataset, &Exact)
}

/// Evaluates every path, its searches run by `searcher`.
pub fn evaluate_with(
    data: &EvalData,
    notes: &AlignNotes,
    cfg: &EvalConfig,
    dataset: &str,
    searcher: &dyn Searcher,
) -> Result<Evaluation> {
    evaluate_against(data, notes, cfg, dataset, searcher, None)
}

/// Evaluates every path with `searcher` (an approximate index), and also with `exact`, to
/// report each path's recall@k against exact search (`ann_recall`). The metrics are the
/// approximate index's.
pub fn evaluate_against(
    data: &EvalData,
    notes: &AlignNotes,
    cfg: &EvalConfig,
    dataset: &str,
    searcher: &dyn Searcher,
    exact: Option<&dyn Searcher>,
) -> Result<Evaluation> {
    let started = Instant::now();
    check(data, cfg)?;
    let n = data.doc_ids.len();
    let train_n = cfg
        .train_pairs
        .unwrap_or_else(|| default_train_pairs(n))
        .min(n);
    let order = training_order(
        data.old_docs.view(),
        &data.doc_ids,
        train_n,
        cfg.sample,
        cfg.seed,
    );
    let train = &order[..train_n];
    let train_ids: Vec<String> = train.iter().map(|&i| data.doc_ids[i].clone()).collect();
    let old_train = data.old_docs.select(Axis(0), train);
    let new_train = data.new_docs.select(Axis(0), train);
    tracing::info!(
        docs = n,
        queries = data.query_ids.len(),
        train_n,
        "evaluating"
    );
    let pairs = TrainingPairs {
        old: old_train.view(),
        new: new_train.view(),
        ids: &train_ids,
    };
    let (methods, fits) =
        fit_both_sides(&pairs, cfg, data.new_queries.view(), data.old_docs.view())?;
    let (query_pairs, query_pair_folds) = match cfg.query_pair_folds {
        Some(folds) => cross_fit(data, cfg, train, folds)?,
        None => (Vec::new(), Vec::new()),
    };
    let blends = choose_blends(data, cfg, &order, &methods);
    let ctx = Context {
        data,
        cfg,
        order: &order,
        train,
        new_train: &new_train,
        methods: &methods,
        query_pairs: &query_pairs,
        blends: &blends,
        depth: cfg.k.max(MIN_DEPTH),
        searcher,
    };
    let baselines = Baselines::build(&ctx)?;
    let paths = build_paths(&ctx)?;
    // The same paths searched exactly: each path's top k against its exact top k.
    let recalls = match exact {
        Some(exact) => {
            let ctx = Context {
                searcher: exact,
                ..ctx
            };
            let exact_baselines = Baselines::build(&ctx)?;
            let exact_paths = build_paths(&ctx)?;
            let mut recalls = vec![
                recall_at(
                    &baselines.no_migration.hits,
                    &exact_baselines.no_migration.hits,
                    cfg.k,
                ),
                recall_at(
                    &baselines.full_reembed.hits,
                    &exact_baselines.full_reembed.hits,
                    cfg.k,
                ),
            ];
            recalls.extend(
                paths
                    .iter()
                    .zip(&exact_paths)
                    .map(|(p, e)| recall_at(&p.hits, &e.hits, cfg.k)),
            );
            Some(recalls)
        }
        None => None,
    };

    let resamples = Resamples::new(data.query_ids.len(), cfg.resamples, cfg.seed);
    let reference = &baselines.full_reembed.hits;
    let full = score_all(reference, reference, data, cfg.k);
    let none = score_all(&baselines.no_migration.hits, reference, data, cfg.k);
    let full_ndcg: Vec<f64> = full.iter().map(|s| s.ndcg).collect();
    let none_ndcg: Vec<f64> = none.iter().map(|s| s.ndcg).collect();
    let result = |path: Path| {
        let scores = score_all(&path.hits, reference, data, cfg.k);
        summarise(path, &scores, &full_ndcg, &none_ndcg, &resamples)
    };
    let mut results: Vec<PathResult> = vec![
        summarise(
            baselines.no_migration.clone(),
            &none,
            &full_ndcg,
            &none_ndcg,
            &resamples,
        ),
        summarise(
            baselines.full_reembed.clone(),
            &full,
            &full_ndcg,
            &none_ndcg,
            &resamples,
        ),
    ];
    results.extend(paths.into_iter().map(result));
    if let Some(recalls) = recalls {
        for (r, recall) in results.iter_mut().zip(recalls) {
            r.ann_recall = Some(recall);
        }
    }

    compare_backfills_to_shim_doc(&mut results, &resamples);

    let auto = methods.iter().find(|m| m.method == Method::Auto);
    let curve = curve(&ctx, reference, &full_ndcg, &resamples, auto)?;
    let timings = measure(data, &methods, &fits);
    let cost = CostReport::new(cfg.cost.clone(), timings, &cfg.backfill);
    let recommendation = recommend(&results, cfg.target);
    let query_pairs = cfg.query_pair_folds.map(|folds| QueryPairsReport {
        folds,
        gains: gains(&results, &query_pairs, &resamples),
        per_fold: query_pair_folds,
    });
    let report = EvalReport {
        dataset: dataset.to_owned(),
        old: cfg.old_name.clone(),
        new: cfg.new_name.clone(),
        seed: cfg.seed,
        k: cfg.k,
        train_pairs: train_n,
        sample: cfg.sample.to_string(),
        resamples: cfg.resamples,
        data: notes.clone(),
        fits,
        paths: results,
        curve,
        cost,
        recommendation,
        query_pairs,
        blends,
        seconds: started.elapsed().as_secs_f64(),
    };
    let shims = methods
        .into_iter()
        .flat_map(|m| {
            let key = |side| ShimKey {
                side,
                method: m.method,
            };
            [(key(Side::Query), m.query), (key(Side::Doc), m.doc)]
        })
        .collect();
    Ok(Evaluation {
        report,
        shims,
        train_ids,
    })
}

/// Each backfill's paired gain over the pure doc-side shim of its method: replacing
/// projections by re-embedded vectors should never lose.
fn compare_backfills_to_shim_doc(results: &mut [PathResult], resamples: &Resamples) {
    let shim_doc: Vec<(String, Vec<f64>)> = results
        .iter()
        .filter(|r| r.kind == PathKind::ShimDoc)
        .map(|r| (r.name.clone(), r.per_query_ndcg.clone()))
        .collect();
    for r in results.iter_mut().filter(|r| r.kind == PathKind::Backfill) {
        let Some(method) = r.name.rsplit(':').next() else {
            continue;
        };
        let against = format!("shim-doc:{method}");
        if let Some((_, base)) = shim_doc.iter().find(|(n, _)| *n == against) {
            r.delta_vs_shim_doc_ci = Some(resamples.difference_ci(&r.per_query_ndcg, base));
        }
    }
}

fn build_paths(ctx: &Context<'_>) -> Result<Vec<Path>> {
    let mut paths = Vec::new();
    for family in FAMILIES {
        paths.extend(family(ctx)?);
    }
    Ok(paths)
}

/// Mean over queries of the share of the exact top k the approximate top k holds.
pub(super) fn recall_at(approximate: &[Ranking], exact: &[Ranking], k: usize) -> f64 {
    let per_query = approximate.iter().zip(exact).map(|(a, e)| {
        let want: Vec<u32> = e.iter().take(k).map(|h| h.doc).collect();
        if want.is_empty() {
            return 1.0;
        }
        let found = a.iter().take(k).filter(|h| want.contains(&h.doc)).count();
        found as f64 / want.len() as f64
    });
    let n = approximate.len().max(1) as f64;
    per_query.sum::<f64>() / n
}

/// The settings that would make the evaluation meaningless or not fit in memory.
fn check(data: &EvalData, cfg: &EvalConfig) -> Result<()> {
    for &f in &cfg.backfill {
        if !(0.0..=1.0).contains(&f) {
            return Err(TrainError::Invalid {
                what: "backfill",
                message: format!("fraction {f} is not between 0 and 1"),
            });
        }
    }
    if let Some(folds) = cfg.query_pair_folds {
        check_folds(folds, data.query_ids.len())?;
    }
    // The draws are held in memory: one u32 per query per resample.
    let draws = cfg.resamples as f64 * data.query_ids.len() as f64 * 4.0;
    if cfg.resamples == 0 || draws > MAX_RESAMPLE_BYTES {
        return Err(TrainError::Invalid {
            what: "--resamples",
            message: format!(
                "{} resamples of {} queries; between 1 and {} fit in memory",
                cfg.resamples,
                data.query_ids.len(),
                (MAX_RESAMPLE_BYTES / 4.0 / data.query_ids.len().max(1) as f64) as u64
            ),
        });
    }
    Ok(())
}
