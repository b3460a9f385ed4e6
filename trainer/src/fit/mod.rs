//! Fitting a shim from pairs: split, tune, score on held-out pairs, choose, refit.
//!
//! Pairs are assigned to the validation split and to the K tuning folds by a seeded hash of
//! their id, so the split does not depend on row order and is reproducible from the seed.
//! Hyper-parameters (λ, rank) are tuned by K-fold error on the training split; each
//! candidate method is then scored by mean cosine on the validation split, which no fit
//! has seen; the chosen one is refitted on every pair.

use ndarray::ArrayView2;
use serde::Serialize;

use crate::adapter::{Adapter, AdapterParams};
pub use crate::method::Method;

mod accumulate;
mod adapters;
mod choose;
mod kept;
pub(crate) mod kmeans;
mod memory;
pub mod query_pairs;
mod reservoir;
pub mod score;
mod wire;

pub use accumulate::{GRID_ROWS, PairAccumulator};
pub use choose::{build, choose, parameters};
pub use memory::{fit_peak_bytes, human as human_bytes};
pub use score::{TIE, mean_cosine, mean_row_cosine};

use adapters::with_own_affine;

use crate::adapter::kernel;
use crate::adapter::mlp::MlpConfig;
use crate::error::{Result, TrainError};
use crate::hash::{Part, Split, fnv1a};
use crate::map::LinearMap;
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
    /// Held-out pairs kept as vectors to score candidates on, those of lowest seeded id
    /// hash (the rest of the held-out split still counts in the refit): bounds memory on
    /// huge fits, and does not depend on the rows' order.
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
    /// `auto` chooses among the linear methods only, and no sample of pairs is kept for
    /// the adapters: a fit from statistics gathered elsewhere (an engine's aggregate) has
    /// none.
    pub linear_only: bool,
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
            linear_only: false,
        }
    }
}

impl FitConfig {
    /// Whether the fit keeps a sample of training pairs for the non-linear adapters.
    pub fn fits_adapters(&self) -> bool {
        !self.method.is_linear() && !self.linear_only
    }

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
        if self.linear_only && !(self.method.is_linear() || self.method == Method::Auto) {
            return bad(
                "--method",
                format!(
                    "{} is not fitted from statistics alone: ridge, procrustes, lowrank or auto (among those three)",
                    self.method
                ),
            );
        }
        if self.fits_adapters() {
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

/// Training and validation rows, by seeded id hash: the split [`fit`] uses.
pub fn split(ids: &[String], cfg: &FitConfig) -> (Vec<usize>, Vec<usize>) {
    let split = Split::new(cfg.seed, cfg.val_frac, cfg.folds.max(2));
    (0..ids.len()).partition(|&i| split.part(fnv1a(ids[i].as_bytes())) != Part::HeldOut)
}
