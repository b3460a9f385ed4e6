//! What an evaluation found: one row a path, the training-size curve, the cost model and
//! the recommendation. [`EvalReport::to_json`] is the public JSON interface; its names
//! and keys stay stable.

use serde::Serialize;
use serde_json::{Value, json};

use crate::eval::blend::BackfillBlend;
use crate::eval::cost::CostReport;
use crate::eval::data::AlignNotes;
use crate::eval::query_pairs::QueryPairsReport;

/// How a path serves new-model queries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PathKind {
    NoMigration,
    FullReembed,
    ShimQuery,
    ShimDoc,
    Backfill,
    ReadThrough,
    DualIndexRaw,
}

impl PathKind {
    /// Paths that need no document re-embedded.
    pub fn is_free(self) -> bool {
        matches!(
            self,
            PathKind::NoMigration | PathKind::ShimQuery | PathKind::ShimDoc
        )
    }
}

/// One path's scores, means over the scored queries.
#[derive(Debug, Clone)]
pub struct PathResult {
    pub name: String,
    pub kind: PathKind,
    /// Share of the corpus this path re-embeds with the new model.
    pub reembedded: f64,
    pub ndcg: f64,
    pub recall: f64,
    pub recall_100: f64,
    pub mrr: f64,
    pub overlap: f64,
    /// nDCG@k over the full re-embed's.
    pub retention: f64,
    pub retention_ci: [f64; 2],
    pub beats_no_migration: bool,
    /// 95% interval of the mean per-query nDCG@k gain over no-migration.
    pub delta_vs_no_migration_ci: [f64; 2],
    /// Per-query nDCG@k, in the order of the scored queries (for the bootstrap and plots).
    pub per_query_ndcg: Vec<f64>,
    /// With an approximate index: the share of the path's top k that exact search of the
    /// same path also returns (recall@k against exact).
    pub ann_recall: Option<f64>,
    /// For a backfill: 95% interval of the mean per-query nDCG@k gain over the pure
    /// doc-side shim of its method (`shim-doc:<method>`), which it must not fall below.
    pub delta_vs_shim_doc_ci: Option<[f64; 2]>,
}

/// One shim fitted for the report.
#[derive(Debug, Clone, Serialize)]
pub struct FitRecord {
    pub direction: String,
    pub method: String,
    pub chosen: String,
    pub lambda: Option<f64>,
    pub rank: Option<usize>,
    pub heldout_cosine: f64,
    pub pairs: usize,
    /// Wall time to obtain this shim; for a method refitted from the `auto` fit that
    /// tuned it, that fit's time (shared with the others) plus the refit.
    pub seconds: f64,
    pub refit_from_auto: bool,
}

/// The best shim of each side at one training size.
#[derive(Debug, Clone, Serialize)]
pub struct CurvePoint {
    pub pairs: usize,
    pub query_side: CurveSide,
    pub doc_side: CurveSide,
}

#[derive(Debug, Clone, Serialize)]
pub struct CurveSide {
    /// The method `auto` chose at this size.
    pub method: String,
    pub ndcg: f64,
    pub retention: f64,
    pub ci95: [f64; 2],
}

/// The path to take, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Recommendation {
    /// The best path that re-embeds nothing (a shim, or staying on the old model), by the
    /// lower bound of its retention interval.
    pub path: String,
    pub retention: f64,
    pub ci95: [f64; 2],
    pub target: f64,
    pub meets_target: bool,
    /// When the recommended path misses the target: the cheapest path that meets it.
    pub fallback: Option<String>,
    pub reason: String,
    /// Shims that lose to staying on the old model, called out.
    pub warnings: Vec<String>,
}

/// Everything `shimkit eval` reports.
#[derive(Debug, Clone)]
pub struct EvalReport {
    pub dataset: String,
    pub old: String,
    pub new: String,
    pub seed: u64,
    pub k: usize,
    pub train_pairs: usize,
    /// How the training documents were chosen (`random` or `shimkit`).
    pub sample: String,
    pub resamples: usize,
    pub data: AlignNotes,
    pub fits: Vec<FitRecord>,
    pub paths: Vec<PathResult>,
    pub curve: Vec<CurvePoint>,
    pub cost: CostReport,
    pub recommendation: Recommendation,
    /// With `--query-pair-folds`: each fold's share of query pairs, and their gains.
    pub query_pairs: Option<QueryPairsReport>,
    /// The weight of the true vectors in each `backfill+blend` path.
    pub blends: Vec<BackfillBlend>,
    pub seconds: f64,
}

impl PathResult {
    /// The path as the report's JSON has it; metric keys carry the cutoff (`ndcg@10`).
    pub fn to_json(&self, k: usize) -> Value {
        let p = self;
        let mut m = serde_json::Map::new();
        m.insert("name".into(), json!(p.name));
        m.insert("kind".into(), json!(p.kind));
        m.insert("reembedded".into(), json!(p.reembedded));
        m.insert(format!("ndcg@{k}"), json!(p.ndcg));
        m.insert(format!("recall@{k}"), json!(p.recall));
        m.insert("recall@100".into(), json!(p.recall_100));
        m.insert(format!("mrr@{k}"), json!(p.mrr));
        m.insert(format!("overlap@{k}"), json!(p.overlap));
        m.insert(format!("retention_ndcg@{k}"), json!(p.retention));
        m.insert(format!("ci95_retention_ndcg@{k}"), json!(p.retention_ci));
        m.insert("beats_no_migration".into(), json!(p.beats_no_migration));
        m.insert(
            format!("ci95_delta_ndcg@{k}_vs_no_migration"),
            json!(p.delta_vs_no_migration_ci),
        );
        if let Some(r) = p.ann_recall {
            m.insert(format!("ann_recall@{k}"), json!(r));
        }
        if let Some(ci) = p.delta_vs_shim_doc_ci {
            m.insert(format!("ci95_delta_ndcg@{k}_vs_shim_doc"), json!(ci));
        }
        Value::Object(m)
    }
}

impl EvalReport {
    pub fn path(&self, name: &str) -> Option<&PathResult> {
        self.paths.iter().find(|p| p.name == name)
    }

    /// The report as JSON. Metric keys carry the cutoff (`ndcg@10` at the default k = 10).
    pub fn to_json(&self) -> Value {
        let k = self.k;
        let paths: Vec<Value> = self.paths.iter().map(|p| p.to_json(k)).collect();
        let mut report = json!({
            "dataset": self.dataset,
            "old": self.old,
            "new": self.new,
            "seed": self.seed,
            "k": k,
            "train_pairs": self.train_pairs,
            "sample": self.sample,
            "bootstrap_resamples": self.resamples,
            "data": self.data,
            "fits": self.fits,
            "paths": paths,
            "curve": self.curve,
            "cost": self.cost,
            "recommendation": self.recommendation,
            "backfill_blends": self.blends,
            "seconds": self.seconds,
            "shimkit_version": env!("CARGO_PKG_VERSION"),
        });
        if let Some(q) = &self.query_pairs {
            report["query_pairs"] = json!(q);
        }
        report
    }
}
