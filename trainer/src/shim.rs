//! A fitted shim: the map and what it is.
//!
//! ```
//! use ndarray::array;
//! use shimkit_trainer::{Direction, Shim, ShimMeta};
//!
//! // A 2-d → 2-d shim that swaps the axes.
//! let shim = Shim::new(array![[0.0f32, 1.0], [1.0, 0.0]], array![0.0f32, 0.0], ShimMeta::new("swap", Direction::OldToNew, 2, 2));
//! let out = shim.apply(array![[3.0f32, 4.0]].view(), true).unwrap();
//! assert!((out[[0, 0]] - 0.8).abs() < 1e-6 && (out[[0, 1]] - 0.6).abs() < 1e-6);
//! ```

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use shimkit_data::normalize_rows;

use crate::adapter::{Adapter, AdapterParams};
use crate::direction::Direction;
use crate::error::{Result, TrainError};
#[cfg(feature = "train")]
use crate::{
    adapter::kernel::KernelParams,
    fit::{Candidate, FitOutcome},
};

/// Everything an artifact says about a shim besides its numbers.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShimMeta {
    pub method: String,
    pub direction: Direction,
    pub source_model: String,
    pub target_model: String,
    pub source_dim: usize,
    pub target_dim: usize,
    pub lambda: Option<f64>,
    pub rank: Option<usize>,
    pub pairs: usize,
    /// `count:hash` of the ids the final map was fitted on (order-independent).
    pub train_ids_fingerprint: String,
    /// Mean cosine on pairs the scored fit never saw.
    pub heldout_cosine: Option<f64>,
    pub heldout_pairs: usize,
    /// Every method considered, with its held-out score.
    pub candidates: Vec<CandidateRecord>,
    pub shimkit_version: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// Inputs are L2-normalised before the map, as they were when it was fitted.
    pub normalize_input: bool,
    /// Outputs are L2-normalised by default (`shimkit project --no-normalize` overrides).
    pub normalize_output: bool,
    /// The bias was set to zero after fitting (`shimkit fit --drop-bias`).
    #[serde(default)]
    pub bias_dropped: bool,
    /// The hyper-parameters of a `kernel`, `cluster` or `mlp` shim's adapter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<AdapterParams>,
}

/// A candidate's score as stored in the artifact.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CandidateRecord {
    pub method: String,
    pub lambda: Option<f64>,
    pub rank: Option<usize>,
    pub heldout_cosine: f64,
    pub parameters: usize,
}

#[cfg(feature = "train")]
impl From<&Candidate> for CandidateRecord {
    fn from(c: &Candidate) -> Self {
        CandidateRecord {
            method: c.method.to_string(),
            lambda: c.lambda,
            rank: c.rank,
            heldout_cosine: c.heldout_cosine,
            parameters: c.parameters,
        }
    }
}

impl ShimMeta {
    /// Metadata with defaults for everything a fit would fill in.
    pub fn new(method: &str, direction: Direction, source_dim: usize, target_dim: usize) -> Self {
        ShimMeta {
            method: method.to_owned(),
            direction,
            source_model: String::new(),
            target_model: String::new(),
            source_dim,
            target_dim,
            lambda: None,
            rank: None,
            pairs: 0,
            train_ids_fingerprint: String::new(),
            heldout_cosine: None,
            heldout_pairs: 0,
            candidates: Vec::new(),
            shimkit_version: env!("CARGO_PKG_VERSION").to_owned(),
            created: crate::clock::now_rfc3339(),
            normalize_input: true,
            normalize_output: true,
            adapter: None,
            bias_dropped: false,
        }
    }
}

/// `y = normalize(x)·weight + bias`, or its [`Adapter`] (a kernel residual added to it, or
/// per-cluster maps in its place), then optionally normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Shim {
    /// source_dim × target_dim.
    pub weight: Array2<f32>,
    pub bias: Array1<f32>,
    /// The non-linear part of a `kernel` or `cluster` shim.
    pub adapter: Option<Adapter>,
    pub meta: ShimMeta,
}

impl Shim {
    /// The shim a fit produced, with its metadata filled in from the fit.
    #[cfg(feature = "train")]
    pub fn from_outcome(
        outcome: &FitOutcome,
        direction: Direction,
        source_model: &str,
        target_model: &str,
    ) -> Self {
        let (d_in, d_out) = outcome.map.weight.dim();
        let mut meta = ShimMeta::new(outcome.chosen.method.as_str(), direction, d_in, d_out);
        meta.source_model = source_model.to_owned();
        meta.target_model = target_model.to_owned();
        meta.lambda = outcome.chosen.lambda;
        meta.rank = outcome.chosen.rank;
        meta.pairs = outcome.pairs;
        meta.train_ids_fingerprint = outcome.ids_fingerprint.clone();
        meta.heldout_cosine = Some(outcome.chosen.heldout_cosine);
        meta.heldout_pairs = outcome.heldout_pairs;
        meta.candidates = outcome
            .candidates
            .iter()
            .map(CandidateRecord::from)
            .collect();
        meta.adapter = match (&outcome.adapter, outcome.chosen.adapter) {
            // The refit may hold more landmarks than the candidate was tuned with.
            (Some(Adapter::Kernel(k)), Some(AdapterParams::Kernel(p))) => {
                Some(AdapterParams::Kernel(KernelParams {
                    landmarks: k.landmarks(),
                    ..p
                }))
            }
            (Some(_), params) => params,
            (None, _) => None,
        };
        let (weight, bias) = outcome.map.to_f32();
        let mut shim = Shim::new(weight, bias, meta);
        shim.adapter = outcome.adapter.clone();
        shim
    }

    pub fn new(weight: Array2<f32>, bias: Array1<f32>, meta: ShimMeta) -> Self {
        Shim {
            weight,
            bias,
            adapter: None,
            meta,
        }
    }

    /// Sets the affine bias to zero. For a query-side shim the bias only adds the same
    /// document prior b·d to every query's scores; ranking without it can be better
    /// (`shimkit eval --no-query-bias` measures it). Cluster maps keep their own biases.
    pub fn drop_bias(&mut self) {
        self.bias.fill(0.0);
        if let Some(Adapter::Mlp(m)) = &mut self.adapter {
            m.bias.fill(0.0);
        }
        self.meta.bias_dropped = true;
    }

    pub fn source_dim(&self) -> usize {
        self.weight.nrows()
    }

    /// Checks that a batch's vectors have the dimension this shim maps, naming the batch's
    /// first row where they do not.
    pub fn check_batch(&self, batch: &shimkit_data::EmbeddingBatch) -> Result<()> {
        if batch.vectors.ncols() == self.source_dim() {
            return Ok(());
        }
        Err(TrainError::InputDim {
            path: batch.file.clone(),
            row: batch.first_row,
            id: batch.ids.first().cloned().unwrap_or_default(),
            found: batch.vectors.ncols(),
            expected: self.source_dim(),
        })
    }

    pub fn target_dim(&self) -> usize {
        self.weight.ncols()
    }

    /// Maps rows of `x` into the target space; L2-normalises the outputs when `normalize`.
    pub fn apply(&self, x: ArrayView2<'_, f32>, normalize: bool) -> Result<Array2<f32>> {
        self.check_input(x.ncols())?;
        let out = if self.meta.normalize_input {
            self.map(normalize_rows(x.to_owned()).view(), normalize)
        } else {
            self.map(x, normalize)
        };
        check_output(out)
    }

    /// [`Shim::apply`] on rows the caller gives up: they are normalised in place, with no
    /// copy (a server's decoded batch, say).
    pub fn apply_owned(&self, x: Array2<f32>, normalize: bool) -> Result<Array2<f32>> {
        self.check_input(x.ncols())?;
        let input = if self.meta.normalize_input {
            normalize_rows(x)
        } else {
            x
        };
        check_output(self.map(input.view(), normalize))
    }

    fn check_input(&self, dim: usize) -> Result<()> {
        if dim != self.source_dim() {
            return Err(TrainError::Invalid {
                what: "input",
                message: format!(
                    "vectors have {dim} dimensions, the shim maps {}",
                    self.source_dim()
                ),
            });
        }
        Ok(())
    }

    /// The map itself, on rows already normalised as the shim wants them.
    fn map(&self, input: ArrayView2<'_, f32>, normalize: bool) -> Array2<f32> {
        let bias = self.bias.as_slice().expect("contiguous bias");
        let affine = || crate::gemm::project(input, self.weight.view(), Some(bias));
        let out = match &self.adapter {
            Some(adapter) => adapter.apply(input, affine),
            None => affine(),
        };
        if normalize { normalize_rows(out) } else { out }
    }
}

/// An output value that is not finite: weights whose products overflow float32 (a file can
/// hold values that are each finite but whose product is not) or, for a shim that does not
/// normalise its inputs, an input too large for them. An error, not an answer of NaN or
/// infinity, since a search cannot rank it.
fn check_output(out: Array2<f32>) -> Result<Array2<f32>> {
    match out.iter().position(|v| !v.is_finite()) {
        None => Ok(out),
        Some(i) => Err(TrainError::Invalid {
            what: "shim output",
            message: format!(
                "vector {}: the shim's output is not finite (its weights overflow float32 for this input)",
                i / out.ncols().max(1)
            ),
        }),
    }
}
