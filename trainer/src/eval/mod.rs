//! Evaluation of migration paths on labelled queries.
//!
//! Given both models' embeddings of a corpus and of test queries, and graded judgements,
//! this module fits shims on a seeded sample of documents (queries are never trained on),
//! builds every way of serving new-model queries (no migration, full re-embed, query-side
//! and doc-side shims, backfills, read-through with rank fusion, a naive dual index), and
//! scores each by exact search with the BEIR metrics, with paired-bootstrap intervals on
//! its retention of the full re-embed's nDCG. The verdict goes by the interval's lower
//! bound. Reading files and rendering the report are the caller's.

mod bootstrap;
mod cost;
mod csls;
mod data;
pub mod metrics;
mod recommend;
mod report;
mod run;
mod search;

pub use bootstrap::Resamples;
pub use cost::{CostInputs, CostReport, ReembedCost, ShimTimings};
pub use csls::{CSLS_K, csls_offsets};
pub use data::{AlignNotes, EvalData};
pub use recommend::recommend;
pub use report::{
    CurvePoint, CurveSide, EvalReport, FitRecord, PathKind, PathResult, Recommendation,
};
pub use run::{EvalConfig, Evaluation, RRF_K, default_train_pairs, evaluate, sample_order};
pub use search::{Hit, Ranking, TopK, rank_order, search, search_offset, search_subset};
