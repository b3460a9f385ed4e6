//! The verdict: which path to take, judged on the lower bound of its retention interval,
//! so that a path is recommended only when the data say it is good enough.

use crate::eval::report::{PathKind, PathResult, Recommendation};

/// Picks the path that re-embeds nothing (a shim, or staying on the old model) with the
/// highest lower bound of retention; when it misses `target`, names the cheapest path that
/// meets it (the smallest backfill, else the full re-embed).
pub fn recommend(paths: &[PathResult], target: f64) -> Recommendation {
    let warnings: Vec<String> = paths
        .iter()
        .filter(|p| {
            matches!(p.kind, PathKind::ShimQuery | PathKind::ShimDoc) && !p.beats_no_migration
        })
        .map(|p| {
            format!(
                "{} (nDCG {:.4}) loses to staying on the old model: do not ship it",
                p.name, p.ndcg
            )
        })
        .collect();
    // A shim cross-fitted on the scored queries themselves (`shim-query-qp:*`) is measured,
    // not recommended: the held-out set would no longer be held out.
    let best = paths
        .iter()
        .filter(|p| p.kind.is_free() && !p.name.starts_with("shim-query-qp:"))
        .max_by(|a, b| {
            a.retention_ci[0]
                .total_cmp(&b.retention_ci[0])
                // Equal bounds (identical shims): the earlier path, so the order decides.
                .then(std::cmp::Ordering::Greater)
        });
    let Some(best) = best else {
        return Recommendation {
            path: "full-reembed".into(),
            retention: 1.0,
            ci95: [1.0, 1.0],
            target,
            meets_target: true,
            fallback: None,
            reason: "no path without re-embedding was evaluated".into(),
            warnings,
        };
    };
    let lower = best.retention_ci[0];
    let meets_target = lower >= target;
    let fallback = (!meets_target).then(|| {
        paths
            .iter()
            .filter(|p| p.kind == PathKind::Backfill && p.retention_ci[0] >= target)
            .min_by(|a, b| {
                a.reembedded
                    .total_cmp(&b.reembedded)
                    .then(b.retention_ci[0].total_cmp(&a.retention_ci[0]))
            })
            .map_or_else(|| "full-reembed".to_owned(), |p| p.name.clone())
    });
    let kept = format!(
        "{} keeps {:.3} of the full re-embed's nDCG (95% CI {:.3}–{:.3})",
        best.name, best.retention, best.retention_ci[0], best.retention_ci[1]
    );
    let reason = match (&fallback, best.kind) {
        (None, PathKind::NoMigration) => format!(
            "{kept}: the new model does not measurably beat the old one on these queries, so staying put is as good as migrating"
        ),
        (None, _) => format!("{kept}, at least the target {target} with 95% confidence"),
        (Some(f), _) => format!(
            "{kept}; its lower bound is under the target {target}, so no path without re-embedding is safe: {f} is the cheapest path that meets the target"
        ),
    };
    Recommendation {
        path: best.name.clone(),
        retention: best.retention,
        ci95: best.retention_ci,
        target,
        meets_target,
        fallback,
        reason,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(
        name: &str,
        kind: PathKind,
        reembedded: f64,
        ret: f64,
        lo: f64,
        beats: bool,
    ) -> PathResult {
        PathResult {
            name: name.into(),
            kind,
            reembedded,
            ndcg: ret * 0.4,
            recall: 0.0,
            recall_100: 0.0,
            mrr: 0.0,
            overlap: 0.0,
            retention: ret,
            retention_ci: [lo, ret + 0.03],
            beats_no_migration: beats,
            delta_vs_no_migration_ci: [0.0, 0.0],
            per_query_ndcg: vec![],
            ann_recall: None,
            delta_vs_shim_doc_ci: None,
        }
    }

    #[test]
    fn picks_the_free_path_with_the_best_lower_bound_and_a_fallback() {
        let paths = vec![
            path(
                "no-migration",
                PathKind::NoMigration,
                0.0,
                0.90,
                0.85,
                false,
            ),
            path("full-reembed", PathKind::FullReembed, 1.0, 1.0, 1.0, true),
            path(
                "shim-query:ridge",
                PathKind::ShimQuery,
                0.0,
                0.85,
                0.80,
                false,
            ),
            path("shim-doc:ridge", PathKind::ShimDoc, 0.0, 0.93, 0.89, true),
            path(
                "backfill:0.5:ridge",
                PathKind::Backfill,
                0.5,
                0.97,
                0.955,
                true,
            ),
            path(
                "backfill:0.25:ridge",
                PathKind::Backfill,
                0.25,
                0.96,
                0.94,
                true,
            ),
        ];
        let r = recommend(&paths, 0.95);
        assert_eq!(r.path, "shim-doc:ridge");
        assert!(!r.meets_target);
        assert_eq!(r.fallback.as_deref(), Some("backfill:0.5:ridge"));
        assert_eq!(r.warnings.len(), 1);
        assert!(r.warnings[0].starts_with("shim-query:ridge"));
        let r = recommend(&paths, 0.99);
        assert_eq!(r.fallback.as_deref(), Some("full-reembed"));
        let r = recommend(&paths, 0.85);
        assert!(r.meets_target && r.fallback.is_none());
    }
}
