//! Evaluation of migration paths on labelled queries.
//!
//! Given both models' embeddings of a corpus and of test queries, and graded judgements,
//! this module fits shims on a seeded sample of documents (a query is never trained on and
//! scored: query pairs are cross-fitted over folds),
//! builds every way of serving new-model queries (no migration, full re-embed, query-side
//! and doc-side shims, backfills, read-through with rank fusion, a naive dual index), and
//! scores each by exact search with the BEIR metrics, with paired-bootstrap intervals on
//! its retention of the full re-embed's nDCG. The verdict goes by the interval's lower
//! bound. Reading files and rendering the report are the caller's.
//!
//! - [`config`]: what to evaluate and what comes back;
//! - [`shims`]: the shims fitted on the training documents, keyed by side and method;
//! - [`query_pairs`]: query-side shims cross-fitted with pairs of the scored queries;
//! - [`paths`]: every path, one small builder a family, over one shared context;
//! - [`searcher`]: the seam to the index searched (exact in process, or a database);
//! - [`scoring`], [`metrics`], [`bootstrap`]: the scores and their intervals;
//! - [`blend`]: a backfill's re-embedded vectors blended with their projections;
//! - [`curve`], [`cost`], [`recommend`], [`report`]: the rest of the report;
//! - [`columns`]: other document sets (a store's columns mid-migration) scored as the
//!   paths are.

mod blend;
mod bootstrap;
mod columns;
mod config;
mod cost;
mod csls;
mod curve;
mod data;
pub mod metrics;
mod paths;
mod query_pairs;
mod recommend;
mod report;
mod run;
mod scoring;
mod search;
mod searcher;
mod shims;
mod timing;

pub use blend::{
    BLEND_WEIGHTS, BackfillBlend, BlendChoice, BlendScore, blend_rows, choose_alpha, choose_blends,
};
pub use bootstrap::Resamples;
pub use columns::{Column, QueryModel, score_columns, score_columns_against};
pub use config::{EvalConfig, RRF_K, default_train_pairs, sample_order, training_order};
pub use cost::{CostInputs, CostReport, ReembedCost, ShimTimings};
pub use csls::{CSLS_K, csls_offsets};
pub use data::{AlignNotes, EvalData};
pub use paths::{Baselines, Context, FAMILIES, Family, Path};
pub use query_pairs::{
    CrossFitted, FoldRecord, QueryPairGain, QueryPairsReport, cross_fit, query_fold,
};
pub use recommend::recommend;
pub use report::{
    CurvePoint, CurveSide, EvalReport, FitRecord, PathKind, PathResult, Recommendation,
};
pub use run::{Evaluation, evaluate, evaluate_against, evaluate_with};
pub use search::{Hit, Ranking, TopK, rank_order, search, search_offset, search_subset};
pub use searcher::{Docs, Exact, Searcher};
pub use shims::{MethodShims, ShimKey, Side, fit_config, fit_shim};
