//! Every way of serving new-model queries, each family of paths a small builder over one
//! shared [`Context`].
//!
//! The two baselines are named fields of [`Baselines`]: staying put (old queries against
//! the old index) and the full re-embed (new queries against a re-embedded corpus), whose
//! rankings are the reference every other path is scored against. The families (the shim
//! paths, their variants, backfills, two indexes) are listed in [`FAMILIES`], in the order
//! the report shows them; adding a path is its builder and a line there.

use ndarray::{Array2, ArrayView2};

use super::blend::BackfillBlend;
use super::config::EvalConfig;
use super::data::EvalData;
use super::query_pairs::CrossFitted;
use super::report::PathKind;
use super::search::Ranking;
use super::searcher::{Docs, Searcher};
use super::shims::MethodShims;
use crate::error::Result;

mod backfill;
mod shim;
mod two_indexes;

/// What every family builds from.
pub struct Context<'a> {
    pub data: &'a EvalData,
    pub cfg: &'a EvalConfig,
    /// Every document in sampling order: the training documents first, then the order in
    /// which a backfill re-embeds.
    pub order: &'a [usize],
    /// The training documents (the first rows of `order`) and their new-model vectors.
    pub train: &'a [usize],
    pub new_train: &'a Array2<f32>,
    /// Every method fitted both ways, in `cfg.methods` order.
    pub methods: &'a [MethodShims],
    /// Query-side shims cross-fitted with query pairs (`--query-pair-folds`), else empty.
    pub query_pairs: &'a [CrossFitted],
    /// The blend of each backfill share and method.
    pub blends: &'a [BackfillBlend],
    /// Documents retrieved per query.
    pub depth: usize,
    pub searcher: &'a dyn Searcher,
}

impl Context<'_> {
    /// The best `depth` documents of `docs` for each query.
    pub fn search(&self, queries: ArrayView2<'_, f32>, docs: Docs<'_>) -> Result<Vec<Ranking>> {
        self.searcher.search(queries, docs, self.depth)
    }
}

/// One migration path's rankings of the scored queries.
#[derive(Debug, Clone)]
pub struct Path {
    pub name: String,
    pub kind: PathKind,
    /// Share of the corpus re-embedded by the new model.
    pub reembedded: f64,
    pub hits: Vec<Ranking>,
}

/// The two paths every other one is measured against.
pub struct Baselines {
    /// Old-model queries against the old index.
    pub no_migration: Path,
    /// New-model queries against the corpus re-embedded: the reference rankings.
    pub full_reembed: Path,
}

impl Baselines {
    pub fn build(ctx: &Context<'_>) -> Result<Baselines> {
        let d = ctx.data;
        Ok(Baselines {
            no_migration: Path {
                name: "no-migration".into(),
                kind: PathKind::NoMigration,
                reembedded: 0.0,
                hits: ctx.search(d.old_queries.view(), Docs::all("old", d.old_docs.view()))?,
            },
            full_reembed: Path {
                name: "full-reembed".into(),
                kind: PathKind::FullReembed,
                reembedded: 1.0,
                hits: ctx.search(d.new_queries.view(), Docs::all("new", d.new_docs.view()))?,
            },
        })
    }
}

/// A family of paths.
pub type Family = fn(&Context<'_>) -> Result<Vec<Path>>;

/// Every family, in the order of the report.
pub const FAMILIES: &[Family] = &[
    shim::query_side,
    shim::query_side_query_pairs,
    shim::doc_side,
    shim::query_side_without_bias,
    shim::query_side_csls,
    shim::doc_side_csls,
    backfill::paths,
    backfill::blended,
    backfill::refitted,
    two_indexes::paths,
];
