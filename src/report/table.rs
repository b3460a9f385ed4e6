//! The report as plain text: one row a path, then the curve, the cost and the verdict.

use std::fmt::Write;

use shimkit_trainer::eval::EvalReport;

pub fn render(r: &EvalReport) -> String {
    let mut s = String::new();
    let k = r.k;
    let d = &r.data;
    let _ = writeln!(
        s,
        "{}: {} -> {}  |  {} documents, {} scored queries, {} training pairs ({} sample), seed {}",
        r.dataset, r.old, r.new, d.docs, d.queries_scored, r.train_pairs, r.sample, r.seed
    );
    let _ = writeln!(s);
    let ann = r.paths.iter().any(|p| p.ann_recall.is_some());
    let _ = write!(
        s,
        "{:<26} {:>6} {:>8} {:>8} {:>8} {:>8} {:>7} {:>9}  {:<13} {:>5}",
        "path",
        "re-emb",
        format!("nDCG@{k}"),
        format!("R@{k}"),
        "R@100",
        format!("MRR@{k}"),
        format!("ovl@{k}"),
        "retention",
        "95% CI",
        ">old"
    );
    let _ = writeln!(
        s,
        "{}",
        if ann {
            format!(" {:>9}", format!("ann R@{k}"))
        } else {
            String::new()
        }
    );
    for p in &r.paths {
        let _ = write!(
            s,
            "{:<26} {:>5.0}% {:>8.4} {:>8.4} {:>8.4} {:>8.4} {:>7.3} {:>9.3}  {:<13} {:>5}",
            p.name,
            p.reembedded * 100.0,
            p.ndcg,
            p.recall,
            p.recall_100,
            p.mrr,
            p.overlap,
            p.retention,
            format!("{:.3}-{:.3}", p.retention_ci[0], p.retention_ci[1]),
            match p.kind {
                shimkit_trainer::eval::PathKind::NoMigration => "-",
                _ if p.beats_no_migration => "yes",
                _ => "NO",
            }
        );
        let _ = match (ann, p.ann_recall) {
            (true, Some(recall)) => writeln!(s, " {recall:>9.3}"),
            _ => writeln!(s),
        };
    }
    let _ = writeln!(s);
    let fits: Vec<String> = r
        .fits
        .iter()
        .filter(|f| f.method == "auto")
        .map(|f| {
            format!(
                "{} chose {} (held-out cosine {:.4}, {:.2} s)",
                f.direction, f.chosen, f.heldout_cosine, f.seconds
            )
        })
        .collect();
    if !fits.is_empty() {
        let _ = writeln!(s, "auto: {}", fits.join("; "));
    }
    if !r.curve.is_empty() {
        let _ = writeln!(
            s,
            "\ntraining-size curve (auto; retention of the full re-embed's nDCG@{k}):"
        );
        let _ = writeln!(
            s,
            "{:>8}  {:>22}  {:>22}",
            "pairs", "query-side", "doc-side"
        );
        for c in &r.curve {
            let side = |x: &shimkit_trainer::eval::CurveSide| {
                format!("{:.3} [{:.3}-{:.3}]", x.retention, x.ci95[0], x.ci95[1])
            };
            let _ = writeln!(
                s,
                "{:>8}  {:>22}  {:>22}",
                c.pairs,
                side(&c.query_side),
                side(&c.doc_side)
            );
        }
    }
    if let Some(q) = &r.query_pairs {
        let shares: Vec<String> = q
            .per_fold
            .iter()
            .map(|f| format!("{:.2}", f.share.achieved))
            .collect();
        let _ = writeln!(
            s,
            "\nquery pairs ({} folds of the scored queries; their share of each fold's fit: {}):",
            q.folds,
            shares.join(", ")
        );
        for g in &q.gains {
            let _ = writeln!(
                s,
                "  {:<24} {:.3} against {} {:.3}: nDCG@{k} {:+.4} (95% CI {:+.4} to {:+.4})",
                g.path,
                g.retention,
                g.against,
                g.retention_without,
                g.delta_ndcg,
                g.ci95_delta_ndcg[0],
                g.ci95_delta_ndcg[1]
            );
        }
    }
    if !r.blends.is_empty() {
        let _ = writeln!(
            s,
            "\nbackfill+blend: each re-embedded vector blended with its projection, α·true + (1 − α)·projected,\nα chosen on the re-embedded documents alone:"
        );
        let mut shares: Vec<f64> = r.blends.iter().map(|b| b.share).collect();
        shares.dedup();
        for share in shares {
            let chosen: Vec<String> = r
                .blends
                .iter()
                .filter(|b| b.share == share)
                .map(|b| format!("{} {:.2}", b.method, b.choice.alpha))
                .collect();
            let _ = writeln!(s, "  {share}: α = {}", chosen.join(", "));
        }
    }
    if r.paths
        .iter()
        .any(|p| p.name.starts_with("backfill+refit:"))
    {
        let _ = writeln!(
            s,
            "backfill+refit: beyond the training share, the doc-side shim refitted on every re-embedded document,\nthe rest projected by it, the re-embedded vectors blended with their new projections the same way"
        );
    }
    let c = &r.cost;
    let _ = writeln!(s, "\ncost at {}:", super::cost_inputs(c));
    for e in &c.reembed {
        let _ = writeln!(
            s,
            "  re-embed {:>4.0}%: ${:>10.0}  {:>8.1} h",
            e.fraction * 100.0,
            e.usd,
            e.hours
        );
    }
    let _ = writeln!(s, "  shim: {}", super::shim_cost(c));
    let rec = &r.recommendation;
    let _ = writeln!(s, "\nrecommendation: {}", rec.path);
    let _ = writeln!(s, "  {}", rec.reason);
    for w in &rec.warnings {
        let _ = writeln!(s, "  warning: {w}");
    }
    let _ = writeln!(s, "\n({:.1} s)", r.seconds);
    s
}
