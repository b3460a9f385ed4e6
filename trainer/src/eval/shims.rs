//! The shims an evaluation fits: one per method and side, on the training documents.

use std::fmt;
use std::time::Instant;

use ndarray::{Array2, ArrayView2};

use super::config::EvalConfig;
use super::report::FitRecord;
use crate::direction::Direction;
use crate::error::Result;
use crate::fit::{FitConfig, FitOutcome, fit};
use crate::method::Method;
use crate::shim::Shim;

/// Which way a shim maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// New-model queries mapped into the old index (new → old).
    Query,
    /// The old index projected into the new space (old → new).
    Doc,
}

impl Side {
    pub fn direction(self) -> Direction {
        match self {
            Side::Query => Direction::NewToOld,
            Side::Doc => Direction::OldToNew,
        }
    }
}

/// One fitted shim of an evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ShimKey {
    pub side: Side,
    pub method: Method,
}

impl ShimKey {
    /// The name of the path that searches with this shim alone: `shim-query:ridge`.
    pub fn path(self) -> String {
        match self.side {
            Side::Query => format!("shim-query:{}", self.method),
            Side::Doc => format!("shim-doc:{}", self.method),
        }
    }

    /// The file stem `--save-shims` writes it under: `query-side-ridge`.
    pub fn file_stem(self) -> String {
        match self.side {
            Side::Query => format!("query-side-{}", self.method),
            Side::Doc => format!("doc-side-{}", self.method),
        }
    }
}

impl fmt::Display for ShimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// One method's pair of shims, and their outputs on what the paths search.
#[derive(Debug, Clone)]
pub struct MethodShims {
    pub method: Method,
    pub query: Shim,
    pub doc: Shim,
    /// The scored new-model queries mapped into the old space by `query`.
    pub mapped_queries: Array2<f32>,
    /// The old corpus projected into the new space by `doc`.
    pub projected: Array2<f32>,
}

/// The training pairs, both ways.
pub struct TrainingPairs<'a> {
    pub old: ArrayView2<'a, f32>,
    pub new: ArrayView2<'a, f32>,
    pub ids: &'a [String],
}

/// Every method of `cfg.methods` fitted both ways, in that order; a method one direction
/// could not fit (too few pairs to tune it) is left out of both, with the reason logged.
/// Returns the shims and what each fit recorded.
pub fn fit_both_sides(
    pairs: &TrainingPairs<'_>,
    cfg: &EvalConfig,
    new_queries: ArrayView2<'_, f32>,
    old_docs: ArrayView2<'_, f32>,
) -> Result<(Vec<MethodShims>, Vec<FitRecord>)> {
    let query = fit_methods(pairs.new, pairs.old, pairs.ids, cfg, Side::Query)?;
    let mut doc = fit_methods(pairs.old, pairs.new, pairs.ids, cfg, Side::Doc)?;
    let mut shims = Vec::new();
    let mut records = Vec::new();
    for (method, (q_shim, q_rec)) in query {
        let Some(i) = doc.iter().position(|(m, _)| *m == method) else {
            continue;
        };
        let (_, (d_shim, d_rec)) = doc.remove(i);
        records.push(q_rec);
        records.push(d_rec);
        shims.push(MethodShims {
            method,
            mapped_queries: q_shim.apply(new_queries, true)?,
            projected: d_shim.apply(old_docs, true)?,
            query: q_shim,
            doc: d_shim,
        });
    }
    Ok((shims, records))
}

/// The fit settings an evaluation uses for `method`.
pub fn fit_config(cfg: &EvalConfig, method: Method) -> FitConfig {
    FitConfig {
        method,
        seed: cfg.seed,
        landmarks: cfg.landmarks,
        memory_budget: cfg.memory_budget,
        ..FitConfig::default()
    }
}

/// The names of the models a shim of `side` maps from and to.
fn models(cfg: &EvalConfig, side: Side) -> (&str, &str) {
    match side {
        Side::Query => (&cfg.new_name, &cfg.old_name),
        Side::Doc => (&cfg.old_name, &cfg.new_name),
    }
}

/// One shim a method, for each of `cfg.methods`. When several methods (or `auto`) are
/// asked for, one `auto` fit tunes and scores them all and each is refitted from its
/// statistics ([`FitOutcome::refit`]): the same shims as separate fits, for the cost of
/// one.
pub(super) fn fit_methods(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    ids: &[String],
    cfg: &EvalConfig,
    side: Side,
) -> Result<Vec<(Method, (Shim, FitRecord))>> {
    let shared = cfg.methods.len() > 1 || cfg.methods.contains(&Method::Auto);
    if !shared {
        return cfg
            .methods
            .iter()
            .map(|&method| {
                let fcfg = fit_config(cfg, method);
                Ok((method, fit_shim(x, y, ids, &fcfg, side, models(cfg, side))?))
            })
            .collect();
    }
    let direction = side.direction();
    let (source, target) = models(cfg, side);
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
    outcome: &FitOutcome,
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

/// One method fitted alone, one side.
pub fn fit_shim(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    ids: &[String],
    cfg: &FitConfig,
    side: Side,
    (source, target): (&str, &str),
) -> Result<(Shim, FitRecord)> {
    let t = Instant::now();
    let outcome = fit(x, y, ids, cfg)?;
    let seconds = t.elapsed().as_secs_f64();
    let direction = side.direction();
    let shim = Shim::from_outcome(&outcome, direction, source, target);
    Ok((
        shim,
        record(&outcome, cfg.method, direction, seconds, false),
    ))
}
