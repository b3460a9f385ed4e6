//! Running an evaluation: fit the shims on a seeded sample of documents, build every
//! migration path's rankings, score them, and decide.

use std::time::Instant;

use ndarray::{Array2, ArrayView2, Axis};

use crate::adapter::Adapter;
use crate::direction::Direction;
use crate::error::{Result, TrainError};
use crate::eval::bootstrap::Resamples;
use crate::eval::cost::{CostInputs, CostReport, ShimTimings};
use crate::eval::csls::{CSLS_K, csls_offsets};
use crate::eval::data::{AlignNotes, EvalData};
use crate::eval::metrics::{QueryScores, score_query};
use crate::eval::recommend::recommend;
use crate::eval::report::{CurvePoint, CurveSide, EvalReport, FitRecord, PathKind, PathResult};
use crate::eval::search::{Hit, Ranking, rank_order, search, search_offset, search_subset};
use crate::fit::{FitConfig, Method, fit};
use crate::hash::{fnv1a, mix};
use crate::shim::Shim;

/// Reciprocal-rank fusion constant (Cormack et al. 2009; the value every RRF uses).
pub const RRF_K: f64 = 60.0;

/// Documents retrieved per query: enough for Recall@100.
const MIN_DEPTH: usize = 100;

/// How to evaluate.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub methods: Vec<Method>,
    /// Training documents; `None` for min(2000, half the corpus).
    pub train_pairs: Option<usize>,
    /// Shares of the corpus re-embedded in the backfill, read-through and dual-index paths.
    pub backfill: Vec<f64>,
    pub seed: u64,
    pub k: usize,
    pub resamples: usize,
    /// Training sizes of the curve (those below the training budget, and the budget).
    pub curve: Vec<usize>,
    /// Retention the recommended path should keep (the gate's value when one is given).
    pub target: f64,
    /// Also score every shim path with the CSLS hubness correction (`shim-query+csls:*`).
    pub csls: bool,
    /// Also score every query-side shim without its bias (`shim-query-nobias:*`).
    pub no_query_bias: bool,
    /// Landmarks of the kernel shims.
    pub landmarks: crate::kernel::Landmarks,
    pub cost: CostInputs,
    pub old_name: String,
    pub new_name: String,
    /// Bytes each fit may use (see [`FitConfig::memory_budget`]).
    pub memory_budget: Option<u64>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            methods: Method::ALL.to_vec(),
            train_pairs: None,
            backfill: vec![0.25, 0.5],
            seed: 0,
            k: 10,
            resamples: 1000,
            curve: vec![100, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000],
            target: 0.95,
            csls: false,
            no_query_bias: false,
            landmarks: crate::kernel::Landmarks::default(),
            cost: CostInputs::default(),
            old_name: "old".into(),
            new_name: "new".into(),
            memory_budget: None,
        }
    }
}

/// The report, and the shims behind it (named like their paths' methods).
pub struct Evaluation {
    pub report: EvalReport,
    /// (`doc-side:<method>` or `query-side:<method>`, shim).
    pub shims: Vec<(String, Shim)>,
    /// Ids of the training documents, in sampling order.
    pub train_ids: Vec<String>,
}

/// The documents in the seeded order used to sample training pairs and to choose which
/// documents a backfill re-embeds first: by a hash of (seed, id), so the order does not
/// depend on row order and is reproducible from Python (`hash::mix(seed, 3, fnv1a(id))`).
pub fn sample_order(ids: &[String], seed: u64) -> Vec<usize> {
    let mut keyed: Vec<(u64, usize)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (mix(seed, 3, fnv1a(id.as_bytes())), i))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// The default training budget: min(2000, half the corpus).
pub fn default_train_pairs(docs: usize) -> usize {
    2000.min(docs / 2)
}

/// Most memory the bootstrap's draws may take.
const MAX_RESAMPLE_BYTES: f64 = 1024.0 * 1024.0 * 1024.0;

struct Built {
    name: String,
    kind: PathKind,
    reembedded: f64,
    hits: Vec<Ranking>,
}

pub fn evaluate(
    data: &EvalData,
    notes: &AlignNotes,
    cfg: &EvalConfig,
    dataset: &str,
) -> Result<Evaluation> {
    let started = Instant::now();
    let n = data.doc_ids.len();
    let order = sample_order(&data.doc_ids, cfg.seed);
    let train_n = cfg
        .train_pairs
        .unwrap_or_else(|| default_train_pairs(n))
        .min(n);
    for &f in &cfg.backfill {
        if !(0.0..=1.0).contains(&f) {
            return Err(TrainError::Invalid {
                what: "backfill",
                message: format!("fraction {f} is not between 0 and 1"),
            });
        }
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
    let depth = cfg.k.max(MIN_DEPTH);
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
    let mut built = vec![
        Built {
            name: "no-migration".into(),
            kind: PathKind::NoMigration,
            reembedded: 0.0,
            hits: search(data.old_queries.view(), data.old_docs.view(), depth),
        },
        Built {
            name: "full-reembed".into(),
            kind: PathKind::FullReembed,
            reembedded: 1.0,
            hits: search(data.new_queries.view(), data.new_docs.view(), depth),
        },
    ];

    let mut fits = Vec::new();
    let mut shims = Vec::new();
    let mut query_side = Vec::new();
    let mut doc_side = Vec::new();
    let mut projected = Vec::new();
    let (mut csls_query, mut csls_doc) = (Vec::new(), Vec::new());
    let mut nobias_query = Vec::new();
    let query_fits = fit_methods(
        new_train.view(),
        old_train.view(),
        &train_ids,
        cfg,
        Direction::NewToOld,
        (&cfg.new_name, &cfg.old_name),
    )?;
    let doc_fits = fit_methods(
        old_train.view(),
        new_train.view(),
        &train_ids,
        cfg,
        Direction::OldToNew,
        (&cfg.old_name, &cfg.new_name),
    )?;
    // A method fitted in one direction only (too few pairs to tune it in the other) is
    // left out of both, with the reason already logged.
    let paired: Vec<_> = query_fits
        .into_iter()
        .filter_map(|(m, q)| {
            let d = doc_fits.iter().position(|(dm, _)| *dm == m)?;
            Some((m, q, doc_fits[d].1.clone()))
        })
        .collect();
    for (method, (q_shim, q_rec), (d_shim, d_rec)) in paired {
        fits.push(q_rec);
        fits.push(d_rec);
        let mapped_queries = q_shim.apply(data.new_queries.view(), true)?;
        query_side.push(Built {
            name: format!("shim-query:{method}"),
            kind: PathKind::ShimQuery,
            reembedded: 0.0,
            hits: search(mapped_queries.view(), data.old_docs.view(), depth),
        });
        let corpus = d_shim.apply(data.old_docs.view(), true)?;
        doc_side.push(Built {
            name: format!("shim-doc:{method}"),
            kind: PathKind::ShimDoc,
            reembedded: 0.0,
            hits: search(data.new_queries.view(), corpus.view(), depth),
        });
        if cfg.no_query_bias && !matches!(q_shim.adapter, Some(Adapter::Cluster(_))) {
            // The bias adds b·d to every document's score, the same for every query: a
            // prior toward the old space's mean direction. Ranking without it.
            let mut unbiased = q_shim.clone();
            unbiased.drop_bias();
            let mapped = unbiased.apply(data.new_queries.view(), true)?;
            nobias_query.push(Built {
                name: format!("shim-query-nobias:{method}"),
                kind: PathKind::ShimQuery,
                reembedded: 0.0,
                hits: search(mapped.view(), data.old_docs.view(), depth),
            });
        }
        if cfg.csls {
            // Query-side: old documents penalised by their closeness to the mapped
            // training documents; doc-side: projected documents by their closeness to the
            // training documents' real new vectors. A document is never its own neighbour.
            let mapped_train = q_shim.apply(new_train.view(), true)?;
            let same = |i: usize, j: usize| train[j] == i;
            let offsets = csls_offsets(data.old_docs.view(), mapped_train.view(), CSLS_K, same);
            csls_query.push(Built {
                name: format!("shim-query+csls:{method}"),
                kind: PathKind::ShimQuery,
                reembedded: 0.0,
                hits: search_offset(
                    mapped_queries.view(),
                    data.old_docs.view(),
                    Some(&offsets),
                    depth,
                ),
            });
            let offsets = csls_offsets(corpus.view(), new_train.view(), CSLS_K, same);
            csls_doc.push(Built {
                name: format!("shim-doc+csls:{method}"),
                kind: PathKind::ShimDoc,
                reembedded: 0.0,
                hits: search_offset(
                    data.new_queries.view(),
                    corpus.view(),
                    Some(&offsets),
                    depth,
                ),
            });
        }
        projected.push((method, corpus));
        shims.push((format!("query-side:{method}"), q_shim));
        shims.push((format!("doc-side:{method}"), d_shim));
    }
    built.extend(query_side);
    built.extend(doc_side);
    built.extend(nobias_query);
    built.extend(csls_query);
    built.extend(csls_doc);

    for &f in &cfg.backfill {
        let m = (f * n as f64).round() as usize;
        for (method, corpus) in &projected {
            let mut mixed = corpus.clone();
            for &i in &order[..m] {
                mixed.row_mut(i).assign(&data.new_docs.row(i));
            }
            built.push(Built {
                name: format!("backfill:{f}:{method}"),
                kind: PathKind::Backfill,
                reembedded: m as f64 / n as f64,
                hits: search(data.new_queries.view(), mixed.view(), depth),
            });
        }
    }
    for &f in &cfg.backfill {
        let m = (f * n as f64).round() as usize;
        let (new_part, old_part) = two_indexes(data, &order, m, depth);
        let reembedded = m as f64 / n as f64;
        built.push(Built {
            name: format!("read-through:{f}"),
            kind: PathKind::ReadThrough,
            reembedded,
            hits: fuse(&new_part, &old_part, depth, |r, _| {
                1.0 / (RRF_K + (r + 1) as f64)
            }),
        });
        built.push(Built {
            name: format!("dual-index-raw:{f}"),
            kind: PathKind::DualIndexRaw,
            reembedded,
            hits: fuse(&new_part, &old_part, depth, |_, h| h.score as f64),
        });
    }

    let resamples = Resamples::new(data.query_ids.len(), cfg.resamples, cfg.seed);
    let reference = built[1].hits.clone();
    let scores: Vec<Vec<QueryScores>> = built
        .iter()
        .map(|b| score_all(&b.hits, &reference, data, cfg.k))
        .collect();
    let full_ndcg: Vec<f64> = scores[1].iter().map(|s| s.ndcg).collect();
    let none_ndcg: Vec<f64> = scores[0].iter().map(|s| s.ndcg).collect();
    let paths: Vec<PathResult> = built
        .into_iter()
        .zip(&scores)
        .map(|(b, s)| summarise(b, s, &full_ndcg, &none_ndcg, &resamples))
        .collect();

    let find = |name: &str| shims.iter().find(|(n, _)| n == name).map(|(_, s)| s);
    let budget = find("query-side:auto").zip(find("doc-side:auto"));
    let curve = curve(
        data, cfg, &order, train_n, depth, &reference, &full_ndcg, &resamples, budget,
    )?;
    let timings = measure(data, &shims, &fits);
    let cost = CostReport::new(cfg.cost.clone(), timings, &cfg.backfill);
    let recommendation = recommend(&paths, cfg.target);
    let report = EvalReport {
        dataset: dataset.to_owned(),
        old: cfg.old_name.clone(),
        new: cfg.new_name.clone(),
        seed: cfg.seed,
        k: cfg.k,
        train_pairs: train_n,
        resamples: cfg.resamples,
        data: notes.clone(),
        fits,
        paths,
        curve,
        cost,
        recommendation,
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Evaluation {
        report,
        shims,
        train_ids,
    })
}

/// The fit settings an evaluation uses for `method`.
fn fit_config(cfg: &EvalConfig, method: Method) -> FitConfig {
    FitConfig {
        method,
        seed: cfg.seed,
        landmarks: cfg.landmarks,
        memory_budget: cfg.memory_budget,
        ..FitConfig::default()
    }
}

/// One shim a method, for each of `cfg.methods`. When several methods (or `auto`) are
/// asked for, one `auto` fit tunes and scores them all and each is refitted from its
/// statistics ([`crate::FitOutcome::refit`]): the same shims as separate fits, for the
/// cost of one.
fn fit_methods(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    ids: &[String],
    cfg: &EvalConfig,
    direction: Direction,
    (source, target): (&str, &str),
) -> Result<Vec<(Method, (Shim, FitRecord))>> {
    let shared = cfg.methods.len() > 1 || cfg.methods.contains(&Method::Auto);
    if !shared {
        return cfg
            .methods
            .iter()
            .map(|&method| {
                let fcfg = fit_config(cfg, method);
                Ok((
                    method,
                    fit_shim(x, y, ids, &fcfg, direction, (source, target))?,
                ))
            })
            .collect();
    }
    let t = Instant::now();
    let fcfg = fit_config(cfg, Method::Auto);
    let auto = fit(x, y, ids, &fcfg)?;
    let auto_seconds = t.elapsed().as_secs_f64();
    cfg.methods
        .iter()
        .filter_map(|&method| {
            let t = Instant::now();
            let outcome = match method {
                Method::Auto => auto.clone(),
                m => match auto.refit(m) {
                    Ok(Some(o)) => o,
                    Ok(None) => {
                        tracing::warn!("{m} is left out of the {direction} paths: it could not be fitted on these pairs");
                        return None;
                    }
                    Err(e) => return Some(Err(e)),
                },
            };
            // A refitted method could not exist without the shared fit that tuned it.
            let seconds = match method {
                Method::Auto => auto_seconds,
                _ => auto_seconds + t.elapsed().as_secs_f64(),
            };
            let shim = Shim::from_outcome(&outcome, direction, source, target);
            let rec = record(&outcome, method, direction, seconds, method != Method::Auto);
            Some(Ok((method, (shim, rec))))
        })
        .collect()
}

fn record(
    outcome: &crate::FitOutcome,
    method: Method,
    direction: Direction,
    seconds: f64,
    refit_from_auto: bool,
) -> FitRecord {
    FitRecord {
        direction: direction.to_string(),
        method: method.to_string(),
        chosen: outcome.chosen.method.to_string(),
        lambda: outcome.chosen.lambda,
        rank: outcome.chosen.rank,
        heldout_cosine: outcome.chosen.heldout_cosine,
        pairs: outcome.pairs,
        seconds,
        refit_from_auto,
    }
}

fn fit_shim(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    ids: &[String],
    cfg: &FitConfig,
    direction: Direction,
    (source, target): (&str, &str),
) -> Result<(Shim, FitRecord)> {
    let t = Instant::now();
    let outcome = fit(x, y, ids, cfg)?;
    let seconds = t.elapsed().as_secs_f64();
    let shim = Shim::from_outcome(&outcome, direction, source, target);
    Ok((
        shim,
        record(&outcome, cfg.method, direction, seconds, false),
    ))
}

/// The new index holds the first `m` documents of `order`, the old index the rest; each is
/// searched with its own model's queries.
fn two_indexes(
    data: &EvalData,
    order: &[usize],
    m: usize,
    depth: usize,
) -> (Vec<Ranking>, Vec<Ranking>) {
    let part = |rows: &[usize], docs: &Array2<f32>, queries: &Array2<f32>| {
        let ids: Vec<u32> = rows.iter().map(|&i| i as u32).collect();
        let sub = docs.select(Axis(0), rows);
        search_subset(queries.view(), sub.view(), &ids, depth)
    };
    let (new_rows, old_rows) = order.split_at(m);
    (
        part(new_rows, &data.new_docs, &data.new_queries),
        part(old_rows, &data.old_docs, &data.old_queries),
    )
}

/// Merges two rankings of disjoint documents per query by a score of (rank, hit).
fn fuse(
    a: &[Ranking],
    b: &[Ranking],
    depth: usize,
    score: impl Fn(usize, &Hit) -> f64,
) -> Vec<Ranking> {
    a.iter()
        .zip(b)
        .map(|(ra, rb)| {
            let mut merged: Vec<Hit> = ra
                .iter()
                .enumerate()
                .chain(rb.iter().enumerate())
                .map(|(r, h)| Hit {
                    doc: h.doc,
                    score: score(r, h) as f32,
                })
                .collect();
            merged.sort_unstable_by(rank_order);
            merged.truncate(depth);
            merged
        })
        .collect()
}

fn score_all(
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

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, c) = v.fold((0.0, 0usize), |(s, c), x| (s + x, c + 1));
    if c == 0 { f64::NAN } else { s / c as f64 }
}

fn summarise(
    b: Built,
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
    }
}

#[allow(clippy::too_many_arguments)]
fn curve(
    data: &EvalData,
    cfg: &EvalConfig,
    order: &[usize],
    train_n: usize,
    depth: usize,
    reference: &[Ranking],
    full: &[f64],
    resamples: &Resamples,
    budget: Option<(&Shim, &Shim)>,
) -> Result<Vec<CurvePoint>> {
    let min = FitConfig::default().min_pairs;
    let mut sizes: Vec<usize> = cfg
        .curve
        .iter()
        .copied()
        .filter(|&s| s >= min && s < train_n)
        .collect();
    sizes.push(train_n);
    sizes.dedup();
    let full_mean = mean(full.iter().copied());
    let side = |hits: Vec<Ranking>, method: String| {
        let ndcg: Vec<f64> = score_all(&hits, reference, data, cfg.k)
            .iter()
            .map(|q| q.ndcg)
            .collect();
        let m = mean(ndcg.iter().copied());
        CurveSide {
            method,
            ndcg: m,
            retention: m / full_mean,
            ci95: resamples.ratio_ci(&ndcg, full),
        }
    };
    let fcfg = fit_config(cfg, Method::Auto);
    let mut points = Vec::new();
    for size in sizes {
        let (q, d) = match budget {
            // The full budget's auto shims are the ones the paths above use.
            Some((q, d)) if size == train_n => (q.clone(), d.clone()),
            _ => {
                let rows = &order[..size];
                let ids: Vec<String> = rows.iter().map(|&i| data.doc_ids[i].clone()).collect();
                let old = data.old_docs.select(Axis(0), rows);
                let new = data.new_docs.select(Axis(0), rows);
                let names = (cfg.new_name.as_str(), cfg.old_name.as_str());
                let (q, _) = fit_shim(
                    new.view(),
                    old.view(),
                    &ids,
                    &fcfg,
                    Direction::NewToOld,
                    names,
                )?;
                let names = (cfg.old_name.as_str(), cfg.new_name.as_str());
                let (d, _) = fit_shim(
                    old.view(),
                    new.view(),
                    &ids,
                    &fcfg,
                    Direction::OldToNew,
                    names,
                )?;
                (q, d)
            }
        };
        let mapped = q.apply(data.new_queries.view(), true)?;
        let corpus = d.apply(data.old_docs.view(), true)?;
        points.push(CurvePoint {
            pairs: size,
            query_side: side(
                search(mapped.view(), data.old_docs.view(), depth),
                q.meta.method.clone(),
            ),
            doc_side: side(
                search(data.new_queries.view(), corpus.view(), depth),
                d.meta.method.clone(),
            ),
        });
    }
    Ok(points)
}

/// Times the doc-side projection and the query-side map of the first method's shims.
fn measure(data: &EvalData, shims: &[(String, Shim)], fits: &[FitRecord]) -> ShimTimings {
    let slowest = fits.iter().max_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let mut t = ShimTimings {
        fit_seconds: slowest.map_or(0.0, |f| f.seconds),
        fit_pairs: slowest.map_or(0, |f| f.pairs),
        ..Default::default()
    };
    let find = |prefix: &str| shims.iter().find(|(n, _)| n.starts_with(prefix));
    if let Some((_, shim)) = find("doc-side:") {
        t.project_vectors_per_second = throughput(shim, data.old_docs.view());
    }
    if let Some((_, shim)) = find("query-side:") {
        let rate = throughput(shim, data.new_queries.view());
        t.query_map_microseconds = if rate > 0.0 { 1e6 / rate } else { f64::NAN };
    }
    t
}

/// Vectors per second through `shim.apply`, repeated until 0.2 s have passed.
fn throughput(shim: &Shim, x: ArrayView2<'_, f32>) -> f64 {
    if x.nrows() == 0 {
        return 0.0;
    }
    let t = Instant::now();
    let mut done = 0usize;
    while t.elapsed().as_secs_f64() < 0.2 {
        if shim.apply(x, true).is_err() {
            return 0.0;
        }
        done += x.nrows();
    }
    done as f64 / t.elapsed().as_secs_f64()
}
