//! Gathering pairs into what a fit needs, batch by batch, in memory that does not grow with
//! the number of pairs; and finishing the fit: tune, score, choose, refit.

use ndarray::{ArrayView1, ArrayView2, Axis};

use super::adapters::{adapter_candidate, fit_adapter, with_own_affine};
use super::choose::{build, choose, tune_and_score};
use super::kept::Kept;
use super::reservoir::Reservoir;
use super::{FitConfig, FitOutcome};
use crate::adapter::AdapterParams;
use crate::error::{Result, TrainError};
use crate::hash::{Fingerprint, Part, Split, fnv1a, mix, stream};
use crate::method::Method;
use crate::methods;
use crate::stats::PairStats;

/// Rows gathered before every part of the split puts its share through the GEMM. The
/// products are formed in f32, one flush at a time, so what a flush holds decides the
/// rounding; counting flushes by the rows added (not by each part's own fill, nor by the
/// batches passed in) means that two accumulators fed the same rows from a multiple of
/// this many rows on form the same products bit for bit, however the rows were batched.
/// That is what lets an engine's partitions, each starting at such a row, give the
/// statistics of one streamed pass (their f64 sums then differ only in order).
pub const GRID_ROWS: usize = 16384;

pub(super) struct PartBuffer {
    pub(super) stats: PairStats,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl PartBuffer {
    pub(super) fn new(d_in: usize, d_out: usize) -> Self {
        PartBuffer {
            stats: PairStats::new(d_in, d_out),
            x: Vec::new(),
            y: Vec::new(),
        }
    }

    fn push(&mut self, x: &[f32], y: &[f32]) {
        self.x.extend_from_slice(x);
        self.y.extend_from_slice(y);
    }

    pub(super) fn flush(&mut self) {
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
/// held-out split, and the `max_heldout` held-out pairs of lowest seeded id hash as vectors to score the
/// candidates on. Rows are L2-normalised on the way in.
pub struct PairAccumulator {
    pub(super) cfg: FitConfig,
    pub(super) folds: Vec<PartBuffer>,
    pub(super) heldout: PartBuffer,
    /// The held-out pairs of lowest seeded id hash, at most `max_heldout`.
    pub(super) kept: Kept,
    /// Training pairs kept for the adapters (empty unless one is fitted).
    pub(super) reservoir: Reservoir,
    pub(super) pairs: usize,
    pub(super) split: Split,
    pub(super) fingerprint: Fingerprint,
    pub(super) scratch: (Vec<f32>, Vec<f32>),
    /// Rows added since the last flush ([`GRID_ROWS`]).
    pub(super) unflushed: usize,
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
            kept: Kept::new(cfg.max_heldout, d_in, d_out),
            reservoir: Reservoir::new(
                if cfg.fits_adapters() {
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
            unflushed: 0,
            cfg,
        })
    }

    pub fn pairs(&self) -> usize {
        self.pairs
    }

    /// Every part's buffered rows through the GEMM.
    pub(super) fn flush(&mut self) {
        self.folds.iter_mut().for_each(PartBuffer::flush);
        self.heldout.flush();
        self.unflushed = 0;
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
        for (i, id) in ids.iter().enumerate() {
            let (sx, sy) = &mut self.scratch;
            unit(x.row(i), sx);
            unit(y.row(i), sy);
            let h = fnv1a(id.as_bytes());
            self.fingerprint.add(h);
            match self.split.part(h) {
                Part::HeldOut => {
                    self.heldout.push(sx, sy);
                    self.kept.push(mix(self.cfg.seed, stream::KEEP, h), sx, sy);
                }
                Part::Fold(fold) => {
                    self.folds[fold].push(sx, sy);
                    self.reservoir
                        .push(mix(self.cfg.seed, stream::KEEP, h), fold, sx, sy);
                }
            }
            self.unflushed += 1;
            if self.unflushed == GRID_ROWS {
                self.flush();
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
        self.flush();
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
        let kept = self.kept.len();
        let (x_val, y_val) = self.kept.sorted();
        let cfg = &self.cfg;
        let methods: Vec<Method> = match cfg.method {
            Method::Auto => Method::CONCRETE
                .into_iter()
                .filter(|m| m.is_linear() || !cfg.linear_only)
                .collect(),
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
