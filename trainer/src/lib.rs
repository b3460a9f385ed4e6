//! Compatibility shims between embedding spaces: the shim itself, and (with the `train`
//! feature, on by default) fitting and evaluating shims.
//!
//! A shim is a map from one embedding model's space into another's, learned from paired
//! embeddings of the same items. This crate owns:
//!
//! - **the shim at run time**, always: [`Shim`] and [`Shim::apply`], the artifact format
//!   ([`artifact`]), the non-linear [`adapter`]s (each owning its tensors, checks and
//!   apply), the projection kernels, and the export of a linear shim as a
//!   sentence-transformers `Dense` module ([`export`]). This is all a consumer that only applies shims
//!   needs (`shimkit serve`, and the engine and database integrations to come); built
//!   without `train`, the crate has no candle and no fitting code.
//! - **fitting**, with `train`: the closed-form shims (ridge, Procrustes, reduced-rank)
//!   from sufficient statistics accumulated in f64 ([`PairStats`]), the adapters' fits
//!   (kernel ridge, cluster maps, an MLP trained with candle), and `auto`, which picks on
//!   held-out pairs ([`fit`], [`PairAccumulator`]); query-side shims fitted with query
//!   pairs as well as document pairs ([`query_pairs`]); which documents to re-embed first
//!   ([`sample`]);
//! - **evaluation of migration paths**, with `train` ([`eval`]).
//!
//! It does not read or write tables (that is `shimkit-data`) and does not serve HTTP (that
//! is `shimkit-server`).
//!
//! ```
//! # #[cfg(feature = "train")] {
//! use ndarray::Array2;
//! use shimkit_trainer::{FitConfig, Method, fit};
//!
//! // 200 pairs where y is x with its two axes swapped.
//! let x = Array2::from_shape_fn((200, 2), |(i, j)| ((i * 7 + j * 3) % 11) as f32 + 1.0);
//! let y = Array2::from_shape_fn((200, 2), |(i, j)| x[[i, 1 - j]]);
//! let ids: Vec<String> = (0..200).map(|i| i.to_string()).collect();
//! let out = fit(x.view(), y.view(), &ids, &FitConfig { method: Method::Procrustes, ..Default::default() }).unwrap();
//! assert!(out.chosen.heldout_cosine > 0.999);
//! # }
//! ```

pub mod adapter;
pub mod artifact;
mod clock;
mod direction;
mod error;
pub mod export;
mod gemm;
pub mod hash;
mod method;
mod shim;

#[cfg(feature = "train")]
pub mod eval;
#[cfg(feature = "train")]
mod fit;
#[cfg(feature = "train")]
mod linalg;
#[cfg(feature = "train")]
mod map;
#[cfg(feature = "train")]
pub mod methods;
#[cfg(feature = "train")]
pub mod sample;
#[cfg(feature = "train")]
mod stats;

pub use adapter::{cluster, kernel, mlp};
pub use clock::now_rfc3339;
pub use direction::Direction;
pub use error::{Result, TrainError};
pub use gemm::project;
pub use method::Method;
pub use shim::{CandidateRecord, Shim, ShimMeta};
pub use shimkit_data::normalize_rows;

#[cfg(feature = "train")]
pub use fit::query_pairs;
#[cfg(feature = "train")]
pub use fit::{
    Candidate, FitConfig, FitOutcome, GRID_ROWS, PairAccumulator, TIE, build, choose, fit,
    fit_peak_bytes, human_bytes, mean_cosine, mean_row_cosine, parameters, split,
};
#[cfg(feature = "train")]
pub use linalg::{sym_eigen, thin_svd};
#[cfg(feature = "train")]
pub use map::LinearMap;
#[cfg(feature = "train")]
pub use stats::{Centred, PairStats, accumulate_gram};
