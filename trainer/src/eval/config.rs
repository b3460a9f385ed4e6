//! What an evaluation is asked to do, and what it gives back.

use crate::hash::{fnv1a, mix, stream};
use crate::method::Method;

use super::cost::CostInputs;

/// Reciprocal-rank fusion constant (Cormack et al. 2009; the value every RRF uses).
pub const RRF_K: f64 = 60.0;

/// Documents retrieved per query: enough for Recall@100.
pub(super) const MIN_DEPTH: usize = 100;

/// How to evaluate.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    pub methods: Vec<Method>,
    /// Training documents; `None` for min(2000, half the corpus).
    pub train_pairs: Option<usize>,
    /// How the training documents are chosen (and which a backfill re-embeds first).
    pub sample: crate::sample::SampleStrategy,
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
    /// Cross-fit query-side shims with pairs of the scored queries over this many folds
    /// (`shim-query-qp:*`).
    pub query_pair_folds: Option<usize>,
    /// Landmarks of the kernel shims.
    pub landmarks: crate::kernel::Landmarks,
    pub cost: CostInputs,
    pub old_name: String,
    pub new_name: String,
    /// Bytes each fit may use (see [`crate::FitConfig::memory_budget`]).
    pub memory_budget: Option<u64>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            methods: Method::ALL.to_vec(),
            train_pairs: None,
            sample: crate::sample::SampleStrategy::Random,
            backfill: vec![0.25, 0.5],
            seed: 0,
            k: 10,
            resamples: 1000,
            curve: vec![100, 250, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000],
            target: 0.95,
            csls: false,
            no_query_bias: false,
            query_pair_folds: None,
            landmarks: crate::kernel::Landmarks::default(),
            cost: CostInputs::default(),
            old_name: "old".into(),
            new_name: "new".into(),
            memory_budget: None,
        }
    }
}

/// The documents in the seeded order used to sample training pairs and to choose which
/// documents a backfill re-embeds first: by a hash of (seed, id), so the order does not
/// depend on row order and is reproducible from Python (`hash::mix(seed, 3, fnv1a(id))`).
pub fn sample_order(ids: &[String], seed: u64) -> Vec<usize> {
    let mut keyed: Vec<(u64, usize)> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (mix(seed, stream::SAMPLE, fnv1a(id.as_bytes())), i))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// The documents in the order an evaluation trains on and backfills them: the first
/// `train_n` chosen by `strategy`, then the rest in [`sample_order`].
pub fn training_order(
    old_docs: ndarray::ArrayView2<'_, f32>,
    ids: &[String],
    train_n: usize,
    strategy: crate::sample::SampleStrategy,
    seed: u64,
) -> Vec<usize> {
    let hashed = sample_order(ids, seed);
    match strategy {
        crate::sample::SampleStrategy::Random => hashed,
        crate::sample::SampleStrategy::Shimkit => {
            let mut order = crate::sample::choose_documents(old_docs, ids, train_n, seed);
            let mut taken = vec![false; ids.len()];
            for &i in &order {
                taken[i] = true;
            }
            order.extend(hashed.into_iter().filter(|&i| !taken[i]));
            order
        }
    }
}

/// The default training budget: min(2000, half the corpus).
pub fn default_train_pairs(docs: usize) -> usize {
    2000.min(docs / 2)
}
