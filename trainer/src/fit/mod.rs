//! Fitting a shim from pairs: split, tune, score on held-out pairs, choose, refit.
//!
//! Pairs are assigned to the validation split and to the K tuning folds by a seeded hash of
//! their id, so the split does not depend on row order and is reproducible from the seed.
//! Hyper-parameters (λ, rank) are tuned by K-fold error on the training split; each
//! candidate method is then scored by mean cosine on the validation split, which no fit
//! has seen; the chosen one is refitted on every pair.

use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use serde::Serialize;

use crate::adapter::{Adapter, AdapterParams};
pub use crate::method::Method;

mod adapters;
mod memory;
mod reservoir;
pub mod score;

pub use memory::{fit_peak_bytes, human as human_bytes};
pub use score::mean_cosine;

use adapters::{adapter_candidate, fit_adapter, with_own_affine};
use reservoir::Reservoir;

use crate::adapter::kernel;
use crate::adapter::mlp::MlpConfig;
use crate::error::{Result, TrainError};
use crate::hash::{Fingerprint, Part, Split, fnv1a, mix};
use crate::map::LinearMap;
use crate::methods;
use crate::stats::PairStats;

/// How to fit.
#[derive(Debug, Clone)]
pub struct FitConfig {
    pub method: Method,
    /// Fixed λ, or `None` to choose it by K-fold validation.
    pub lambda: Option<f64>,
    /// Fixed rank for `lowrank`, or `None` to choose it.
    pub rank: Option<usize>,
    /// Share of pairs held out to score the candidates.
    pub val_frac: f64,
    pub seed: u64,
    pub folds: usize,
    pub min_pairs: usize,
    /// Held-out pairs kept as vectors to score candidates on (the rest of the held-out
    /// split still counts in the refit): bounds memory on huge fits.
    pub max_heldout: usize,
    /// Training pairs kept as vectors for the non-linear adapters (a seeded sample by id
    /// hash when there are more): bounds their fits' memory and time.
    pub max_adapter_pairs: usize,
    /// Landmarks of a kernel shim (its cost a vector: m·(d_in + d_out)).
    pub landmarks: kernel::Landmarks,
    /// How the MLP adapter trains.
    pub mlp: MlpConfig,
    /// Bytes the fit may use; a fit whose estimated peak ([`fit_peak_bytes`]) is larger
    /// is refused before it allocates. `None` does not check.
    pub memory_budget: Option<u64>,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            method: Method::Auto,
            lambda: None,
            rank: None,
            val_frac: 0.2,
            seed: 0,
            folds: 5,
            min_pairs: 50,
            max_heldout: 20_000,
            max_adapter_pairs: 20_000,
            landmarks: kernel::Landmarks::default(),
            mlp: MlpConfig::default(),
            memory_budget: None,
        }
    }
}

impl FitConfig {
    /// Checks the settings a user can give, before any work.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &'static str, message: String| Err(TrainError::Invalid { what, message });
        if !(self.val_frac > 0.0 && self.val_frac < 1.0) {
            return bad("--val-frac", format!("{} is not in (0, 1)", self.val_frac));
        }
        if let Some(l) = self.lambda
            && !(l.is_finite() && l >= 0.0)
        {
            return bad("--lambda", format!("{l} is not a finite number ≥ 0"));
        }
        if self.rank == Some(0) {
            return bad("--rank", "a rank is at least 1".into());
        }
        if !self.method.is_linear() {
            self.mlp.validate()?;
        }
        Ok(())
    }

    /// Refuses a fit whose estimated peak memory, plus `reading` bytes the caller holds
    /// to read the pairs, is over the budget, with the estimate.
    pub fn check_memory(&self, d_in: usize, d_out: usize, reading: f64) -> Result<()> {
        let Some(budget) = self.memory_budget else {
            return Ok(());
        };
        let needed = fit_peak_bytes(d_in, d_out, self) + reading;
        if needed <= budget as f64 {
            return Ok(());
        }
        Err(TrainError::TooMuchMemory {
            method: self.method,
            d_in,
            d_out,
            needed: memory::human(needed),
            available: memory::human(budget as f64),
        })
    }
}

/// One method's showing on the validation split.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub method: Method,
    pub lambda: Option<f64>,
    pub rank: Option<usize>,
    /// Mean cosine between mapped and true vectors on the held-out pairs.
    pub heldout_cosine: f64,
    pub parameters: usize,
    /// The adapter's hyper-parameters (methods `kernel` and `cluster`).
    pub adapter: Option<AdapterParams>,
}

/// The outcome of a fit: the map refitted on all pairs, and how it was chosen.
#[derive(Debug, Clone)]
pub struct FitOutcome {
    /// The affine part of the chosen shim (all of it, for the linear methods).
    pub map: LinearMap,
    /// The chosen shim's non-linear part (methods `kernel`, `cluster` and `mlp`).
    pub adapter: Option<Adapter>,
    /// Every non-linear candidate's adapter refitted on all pairs.
    pub adapter_refits: Vec<Adapter>,
    pub chosen: Candidate,
    pub candidates: Vec<Candidate>,
    pub pairs: usize,
    pub train_pairs: usize,
    pub heldout_pairs: usize,
    /// Held-out pairs the candidates were scored on (at most `max_heldout`).
    pub scored_pairs: usize,
    /// `count:hash` of every pair's id, order-independent (see [`crate::hash::fingerprint`]).
    pub ids_fingerprint: String,
    /// Statistics of every pair, which the refit used.
    pub stats: PairStats,
}

impl FitOutcome {
    /// The outcome a fit of `method` alone would have given, when this fit scored it as a
    /// candidate: the same tuning, splits and refit, without a second pass over the pairs.
    pub fn refit(&self, method: Method) -> Result<Option<FitOutcome>> {
        let Some(c) = self.candidates.iter().find(|c| c.method == method) else {
            return Ok(None);
        };
        let adapter = self
            .adapter_refits
            .iter()
            .find(|a| a.method() == method)
            .cloned();
        let map = with_own_affine(
            build(method, &self.stats, c.lambda, c.rank)?,
            adapter.as_ref(),
        );
        Ok(Some(FitOutcome {
            map,
            adapter,
            adapter_refits: self.adapter_refits.clone(),
            chosen: c.clone(),
            candidates: vec![c.clone()],
            stats: self.stats.clone(),
            ids_fingerprint: self.ids_fingerprint.clone(),
            ..*self
        }))
    }
}

/// Ties closer than this go to the candidate with fewer parameters.
pub const TIE: f64 = 0.002;

/// Fits a shim mapping rows of `x` to rows of `y` (both are L2-normalised here first, as
/// retrieval uses them). `ids[i]` names pair i and decides its split.
pub fn fit(
    x: ArrayView2<'_, f32>,
    y: ArrayView2<'_, f32>,
    ids: &[String],
    cfg: &FitConfig,
) -> Result<FitOutcome> {
    if x.nrows() != ids.len() || y.nrows() != ids.len() {
        return Err(TrainError::Invalid {
            what: "pairs",
            message: format!(
                "{} ids for {} inputs and {} targets",
                ids.len(),
                x.nrows(),
                y.nrows()
            ),
        });
    }
    let mut acc = PairAccumulator::new(x.ncols(), y.ncols(), cfg.clone())?;
    acc.add(ids, x, y)?;
    acc.finish()
}

/// Rows gathered for one part of the split before they go through the GEMM together.
const FLUSH_ROWS: usize = 4096;

struct PartBuffer {
    stats: PairStats,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl PartBuffer {
    fn new(d_in: usize, d_out: usize) -> Self {
        PartBuffer {
            stats: PairStats::new(d_in, d_out),
            x: Vec::with_capacity(FLUSH_ROWS * d_in),
            y: Vec::with_capacity(FLUSH_ROWS * d_out),
        }
    }

    fn push(&mut self, x: &[f32], y: &[f32]) {
        self.x.extend_from_slice(x);
        self.y.extend_from_slice(y);
        if self.x.len() >= FLUSH_ROWS * self.stats.d_in() {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let rows = self.x.len() / self.stats.d_in().max(1);
        if rows > 0 {
            let x =
                ArrayView2::from_shape((rows, self.stats.d_in()), &self.x).expect("buffer shape");
            let y =
                ArrayView2::from_shape((rows, self.stats.d_out()), &self.y).expect("buffer shape");
            self.stats.add(x, y);
        }
        self.x.clear();
        self.y.clear();
    }
}

/// Gathers pairs batch by batch into what a fit needs, in memory that does not grow with
/// the number of pairs: per-fold statistics of the training split, statistics of the
/// held-out split, and the first `max_heldout` held-out pairs as vectors to score the
/// candidates on. Rows are L2-normalised on the way in.
pub struct PairAccumulator {
    cfg: FitConfig,
    folds: Vec<PartBuffer>,
    heldout: PartBuffer,
    kept_x: Vec<f32>,
    kept_y: Vec<f32>,
    /// Seeded id hashes of the kept held-out pairs, which put them in an order that does
    /// not depend on the input's.
    kept_keys: Vec<u64>,
    /// Training pairs kept for the adapters (empty unless one is fitted).
    reservoir: Reservoir,
    pairs: usize,
    split: Split,
    fingerprint: Fingerprint,
    scratch: (Vec<f32>, Vec<f32>),
}

impl PairAccumulator {
    /// Checks the settings, the dimensions and the memory the fit will need before
    /// allocating anything.
    pub fn new(d_in: usize, d_out: usize, cfg: FitConfig) -> Result<Self> {
        cfg.validate()?;
        if d_in == 0 || d_out == 0 {
            return Err(TrainError::Invalid {
                what: "pairs",
                message: "vectors have no dimensions".into(),
            });
        }
        cfg.check_memory(d_in, d_out, 0.0)?;
        let k = cfg.folds.max(2);
        Ok(PairAccumulator {
            folds: (0..k).map(|_| PartBuffer::new(d_in, d_out)).collect(),
            heldout: PartBuffer::new(d_in, d_out),
            kept_x: Vec::new(),
            kept_y: Vec::new(),
            kept_keys: Vec::new(),
            reservoir: Reservoir::new(
                if !cfg.method.is_linear() {
                    cfg.max_adapter_pairs
                } else {
                    0
                },
                d_in,
                d_out,
            ),
            pairs: 0,
            split: Split::new(cfg.seed, cfg.val_frac, k),
            fingerprint: Fingerprint::default(),
            scratch: (vec![0.0; d_in], vec![0.0; d_out]),
            cfg,
        })
    }

    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// Adds pairs: row i of `x` and of `y` embed `ids[i]`.
    pub fn add(
        &mut self,
        ids: &[String],
        x: ArrayView2<'_, f32>,
        y: ArrayView2<'_, f32>,
    ) -> Result<()> {
        let (d_in, d_out) = (self.heldout.stats.d_in(), self.heldout.stats.d_out());
        if x.ncols() != d_in
            || y.ncols() != d_out
            || x.nrows() != ids.len()
            || y.nrows() != ids.len()
        {
            return Err(TrainError::Invalid {
                what: "pairs",
                message: format!(
                    "a batch of {} ids with {}×{} inputs and {}×{} targets, expected {d_in} → {d_out}",
                    ids.len(),
                    x.nrows(),
                    x.ncols(),
                    y.nrows(),
                    y.ncols()
                ),
            });
        }
        let (sx, sy) = &mut self.scratch;
        for (i, id) in ids.iter().enumerate() {
            unit(x.row(i), sx);
            unit(y.row(i), sy);
            let h = fnv1a(id.as_bytes());
            self.fingerprint.add(h);
            match self.split.part(h) {
                Part::HeldOut => {
                    self.heldout.push(sx, sy);
                    if self.kept_x.len() < self.cfg.max_heldout * d_in {
                        self.kept_x.extend_from_slice(sx);
                        self.kept_y.extend_from_slice(sy);
                        self.kept_keys.push(mix(self.cfg.seed, 4, h));
                    }
                }
                Part::Fold(fold) => {
                    self.folds[fold].push(sx, sy);
                    self.reservoir.push(mix(self.cfg.seed, 4, h), fold, sx, sy);
                }
            }
        }
        self.pairs += ids.len();
        Ok(())
    }

    /// Tunes and scores every candidate, chooses, and refits the choice on all pairs.
    pub fn finish(mut self) -> Result<FitOutcome> {
        let min = self.cfg.min_pairs.max(2);
        if self.pairs < min {
            return Err(TrainError::TooFewPairs {
                pairs: self.pairs,
                min,
            });
        }
        self.folds.iter_mut().for_each(PartBuffer::flush);
        self.heldout.flush();
        let folds: Vec<PairStats> = self.folds.into_iter().map(|f| f.stats).collect();
        let mut train = PairStats::new(self.heldout.stats.d_in(), self.heldout.stats.d_out());
        folds.iter().for_each(|f| train.merge(f));
        let heldout = self.heldout.stats;
        if train.n < 2 || heldout.n == 0 {
            return Err(TrainError::TooFewPairs {
                pairs: self.pairs,
                min,
            });
        }
        let (d_in, d_out) = (train.d_in(), train.d_out());
        let kept = self.kept_x.len() / d_in;
        let x_val = Array2::from_shape_vec((kept, d_in), self.kept_x).expect("kept shape");
        let y_val = Array2::from_shape_vec((kept, d_out), self.kept_y).expect("kept shape");
        let mut by_key: Vec<usize> = (0..kept).collect();
        by_key.sort_unstable_by_key(|&i| (self.kept_keys[i], i));
        let (x_val, y_val) = (
            x_val.select(Axis(0), &by_key),
            y_val.select(Axis(0), &by_key),
        );
        let cfg = &self.cfg;
        let methods: Vec<Method> = match cfg.method {
            Method::Auto => Method::CONCRETE.to_vec(),
            m => vec![m],
        };
        let mut candidates = Vec::new();
        let mut ridge_lambda = None;
        let mut adapter_params: Vec<AdapterParams> = Vec::new();
        let reservoir = self.reservoir.sorted();
        for method in methods {
            let candidate = if method.is_linear() {
                tune_and_score(
                    method,
                    &train,
                    &folds,
                    cfg,
                    &mut ridge_lambda,
                    &x_val,
                    &y_val,
                )?
            } else {
                let found = adapter_candidate(
                    method,
                    &train,
                    &folds,
                    cfg,
                    &mut ridge_lambda,
                    &reservoir,
                    &x_val,
                    &y_val,
                );
                match found {
                    Ok((c, params)) => {
                        adapter_params.push(params);
                        c
                    }
                    // Under auto an adapter that cannot be fitted (too few pairs to tune
                    // it) is left out; asked for alone, it is an error.
                    Err(e) if cfg.method == Method::Auto => {
                        tracing::warn!("{method} left out of auto: {e}");
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            };
            tracing::info!(method = %method, cosine = candidate.heldout_cosine, "candidate scored");
            candidates.push(candidate);
        }
        let chosen = choose(&candidates).clone();
        let mut all = train.clone();
        all.merge(&heldout);
        let map = build(chosen.method, &all, chosen.lambda, chosen.rank)?;
        let mut adapter_refits = Vec::new();
        if !adapter_params.is_empty() {
            let base = methods::ridge(&all, ridge_lambda.unwrap_or(0.0))?;
            let x = ndarray::concatenate(Axis(0), &[reservoir.0.view(), x_val.view()])
                .expect("same width");
            let y = ndarray::concatenate(Axis(0), &[reservoir.1.view(), y_val.view()])
                .expect("same width");
            for params in &adapter_params {
                let tuned_on = reservoir.0.nrows();
                adapter_refits.push(fit_adapter(
                    *params,
                    &base,
                    ridge_lambda.unwrap_or(0.0),
                    x.view(),
                    y.view(),
                    tuned_on,
                    cfg,
                )?);
            }
        }
        let adapter = adapter_refits
            .iter()
            .find(|a| a.method() == chosen.method)
            .cloned();
        let map = with_own_affine(map, adapter.as_ref());
        Ok(FitOutcome {
            map,
            adapter,
            adapter_refits,
            chosen,
            candidates,
            pairs: self.pairs,
            train_pairs: train.n as usize,
            heldout_pairs: heldout.n as usize,
            scored_pairs: kept,
            ids_fingerprint: self.fingerprint.to_string(),
            stats: all,
        })
    }
}

/// Writes `row / ‖row‖` into `out`.
fn unit(row: ArrayView1<'_, f32>, out: &mut [f32]) {
    let owned;
    let r = match row.as_slice() {
        Some(r) => r,
        None => {
            owned = row.to_vec();
            &owned
        }
    };
    let norm = shimkit_data::squared_norm(r).sqrt();
    let inv = if norm > 0.0 { (1.0 / norm) as f32 } else { 0.0 };
    for (o, &v) in out.iter_mut().zip(r) {
        *o = v * inv;
    }
}

/// The best candidate by held-out cosine; within [`TIE`] of the best, the smallest.
pub fn choose(candidates: &[Candidate]) -> &Candidate {
    let best = candidates
        .iter()
        .map(|c| c.heldout_cosine)
        .fold(f64::NEG_INFINITY, f64::max);
    candidates
        .iter()
        .filter(|c| c.heldout_cosine >= best - TIE)
        .min_by_key(|c| c.parameters)
        .unwrap_or(&candidates[0])
}

fn tune_and_score(
    method: Method,
    train: &PairStats,
    folds: &[PairStats],
    cfg: &FitConfig,
    ridge_lambda: &mut Option<f64>,
    x_val: &Array2<f32>,
    y_val: &Array2<f32>,
) -> Result<Candidate> {
    let (d_in, d_out) = (train.d_in(), train.d_out());
    let mut lambda = None;
    let mut rank = None;
    if matches!(method, Method::Ridge | Method::Lowrank) {
        lambda = Some(ridge_lambda_for(train, folds, cfg, ridge_lambda)?);
    }
    if method == Method::Lowrank {
        let l = lambda.unwrap_or(0.0);
        rank = Some(match cfg.rank {
            Some(r) => r.clamp(1, d_in.min(d_out)),
            None => {
                let grid = methods::rank_grid(d_in, d_out);
                let errors = methods::lowrank_cv(train, folds, l, &grid)?;
                let grid_f: Vec<f64> = grid.iter().map(|&r| r as f64).collect();
                argmin(&grid_f, &errors) as usize
            }
        });
    }
    let map = build(method, train, lambda, rank)?;
    Ok(Candidate {
        method,
        lambda,
        rank,
        heldout_cosine: mean_cosine(&map, x_val, y_val),
        parameters: parameters(method, d_in, d_out, rank),
        adapter: None,
    })
}

/// The λ of ridge: given, already tuned for another candidate, or tuned now.
fn ridge_lambda_for(
    train: &PairStats,
    folds: &[PairStats],
    cfg: &FitConfig,
    ridge_lambda: &mut Option<f64>,
) -> Result<f64> {
    let l = match (cfg.lambda, *ridge_lambda) {
        (Some(l), _) => l,
        (None, Some(l)) => l,
        (None, None) => {
            let grid = methods::lambda_grid(train);
            let errors = methods::ridge_cv(train, folds, &grid)?;
            argmin(&grid, &errors)
        }
    };
    *ridge_lambda = Some(l);
    Ok(l)
}

/// Fits one concrete method with its hyper-parameters fixed.
pub fn build(
    method: Method,
    stats: &PairStats,
    lambda: Option<f64>,
    rank: Option<usize>,
) -> Result<LinearMap> {
    match method {
        // The adapters' affine part is the ridge map they are built on.
        Method::Ridge | Method::Kernel | Method::Cluster | Method::Mlp => {
            methods::ridge(stats, lambda.unwrap_or(0.0))
        }
        Method::Procrustes => methods::procrustes(stats),
        Method::Lowrank => {
            let r = rank.unwrap_or(stats.d_in().min(stats.d_out()));
            methods::lowrank(stats, lambda.unwrap_or(0.0), r)
        }
        Method::Auto => Err(TrainError::Invalid {
            what: "method",
            message: "auto is a choice among methods, not a method to build".into(),
        }),
    }
}

/// Free parameters of each method's map (the bias counted too).
pub fn parameters(method: Method, d_in: usize, d_out: usize, rank: Option<usize>) -> usize {
    let k = d_in.min(d_out);
    match method {
        Method::Ridge | Method::Kernel | Method::Cluster | Method::Mlp | Method::Auto => {
            d_in * d_out + d_out
        }
        // A semi-orthogonal matrix has d_in·d_out − k(k+1)/2 degrees of freedom; plus the scale.
        Method::Procrustes => d_in * d_out - k * (k + 1) / 2 + 1 + d_out,
        Method::Lowrank => rank.unwrap_or(k) * (d_in + d_out) + d_out,
    }
}

fn argmin(grid: &[f64], errors: &[f64]) -> f64 {
    let k = errors
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_finite())
        .min_by(|a, b| a.1.total_cmp(b.1))
        .map(|(k, _)| k)
        .unwrap_or(0);
    grid[k]
}

/// Training and validation rows, by seeded id hash: the split [`fit`] uses.
pub fn split(ids: &[String], cfg: &FitConfig) -> (Vec<usize>, Vec<usize>) {
    let split = Split::new(cfg.seed, cfg.val_frac, cfg.folds.max(2));
    (0..ids.len()).partition(|&i| split.part(fnv1a(ids[i].as_bytes())) != Part::HeldOut)
}
