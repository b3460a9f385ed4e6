//! Compatibility shims between embedding spaces.
//!
//! This crate's one concern is the shim: a map from one embedding model's space into
//! another's, learned from paired embeddings of the same items. It fits the closed-form
//! shims (ridge regression, orthogonal Procrustes, reduced-rank regression, and `auto`,
//! which picks among them on held-out pairs), applies them ([`Shim::apply`]), and saves
//! them as portable `.safetensors` artifacts ([`artifact`]).
//!
//! The fits work from [`PairStats`], sufficient statistics accumulated in f64 over batches,
//! so they need memory for d×d matrices, not for the pairs; hyper-parameters are tuned by
//! exact K-fold validation on per-fold statistics.
//!
//! ```
//! use ndarray::Array2;
//! use shimkit_trainer::{FitConfig, Method, fit};
//!
//! // 200 pairs where y is x with its two axes swapped.
//! let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32 + 1.0);
//! let y = Array2::from_shape_fn((200, 2), |(i, j)| x[[i, 1 - j]]);
//! let ids: Vec<String> = (0..200).map(|i| i.to_string()).collect();
//! let out = fit(x.view(), y.view(), &ids, &FitConfig { method: Method::Procrustes, ..Default::default() }).unwrap();
//! assert!(out.chosen.heldout_cosine > 0.999);
//! ```

pub mod adapter;
pub mod artifact;
pub mod cluster;
mod direction;
mod error;
pub mod eval;
mod fit;
mod gemm;
pub mod hash;
pub mod kernel;
mod linalg;
mod map;
pub mod methods;
pub mod mlp;
mod shim;
mod stats;

pub use direction::Direction;
pub use error::{Result, TrainError};
pub use fit::{
    Candidate, FitConfig, FitOutcome, Method, PairAccumulator, TIE, build, choose, fit,
    fit_peak_bytes, human_bytes, mean_cosine, parameters, split,
};
pub use gemm::{accumulate_gram, project};
pub use linalg::{sym_eigen, thin_svd};
pub use map::LinearMap;
pub use shim::{CandidateRecord, Shim, ShimMeta};
pub use shimkit_data::normalize_rows;
pub use stats::{Centred, PairStats};
