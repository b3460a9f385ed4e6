//! The report as one self-contained HTML page: inline SVG charts drawn with plotters, no
//! script, no network.

use std::fmt::Write;

use anyhow::anyhow;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use shimkit_trainer::eval::{CurvePoint, CurveSide, EvalReport, PathKind};

pub fn render(r: &EvalReport, command: &str) -> anyhow::Result<String> {
    let k = r.k;
    let mut s = String::new();
    let title = format!("shimkit: {} {} → {}", r.dataset, r.old, r.new);
    let _ = write!(
        s,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        esc(&title)
    );
    let _ = write!(s, "<h1>{}</h1>", esc(&title));
    let d = &r.data;
    let _ = write!(
        s,
        "<p>{} documents, {} scored queries, {} training pairs (a seeded sample of documents; queries are never trained on), seed {}, {} bootstrap resamples.</p>",
        d.docs, d.queries_scored, r.train_pairs, r.seed, r.resamples
    );
    let rec = &r.recommendation;
    let class = if rec.meets_target { "ok" } else { "warn" };
    let _ = write!(
        s,
        "<div class=\"{class}\"><b>Recommendation: {}</b><br>{}</div>",
        esc(&rec.path),
        esc(&rec.reason)
    );
    for w in &rec.warnings {
        let _ = write!(s, "<div class=\"warn\">{}</div>", esc(w));
    }
    let _ = write!(s, "<h2>Retention of the full re-embed's nDCG@{k}</h2>");
    s.push_str(&retention_chart(r, rec.target)?);
    let _ = write!(
        s,
        "<h2>Paths</h2><table><tr><th>path</th><th>re-embedded</th><th>nDCG@{k}</th><th>Recall@{k}</th><th>Recall@100</th><th>MRR@{k}</th><th>overlap@{k}</th><th>retention</th><th>95% CI</th><th>beats no-migration</th></tr>"
    );
    for p in &r.paths {
        let beats = match p.kind {
            PathKind::NoMigration => "–",
            _ if p.beats_no_migration => "yes",
            _ => "<b>no</b>",
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{:.0}%</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}–{:.3}</td><td>{beats}</td></tr>",
            esc(&p.name),
            p.reembedded * 100.0,
            p.ndcg,
            p.recall,
            p.recall_100,
            p.mrr,
            p.overlap,
            p.retention,
            p.retention_ci[0],
            p.retention_ci[1]
        );
    }
    s.push_str("</table>");
    if !r.curve.is_empty() {
        s.push_str("<h2>Training-size curve (auto)</h2>");
        s.push_str(&curve_chart(r)?);
        s.push_str("<table><tr><th>pairs</th><th>query-side</th><th>method</th><th>doc-side</th><th>method</th></tr>");
        for c in &r.curve {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{:.3} ({:.3}–{:.3})</td><td>{}</td><td>{:.3} ({:.3}–{:.3})</td><td>{}</td></tr>",
                c.pairs,
                c.query_side.retention,
                c.query_side.ci95[0],
                c.query_side.ci95[1],
                esc(&c.query_side.method),
                c.doc_side.retention,
                c.doc_side.ci95[0],
                c.doc_side.ci95[1],
                esc(&c.doc_side.method)
            );
        }
        s.push_str("</table>");
    }
    let c = &r.cost;
    let _ = write!(
        s,
        "<h2>Cost</h2><p>At {} (stated inputs; flags of <code>shimkit eval</code>):</p><table><tr><th>re-embedded</th><th>tokens</th><th>US$</th><th>hours</th></tr>",
        esc(&super::cost_inputs(c))
    );
    for e in &c.reembed {
        let _ = write!(
            s,
            "<tr><td>{:.0}%</td><td>{:.3e}</td><td>{:.0}</td><td>{:.1}</td></tr>",
            e.fraction * 100.0,
            e.tokens,
            e.usd,
            e.hours
        );
    }
    let _ = write!(
        s,
        "</table><p>Shim, measured in this run: {}.</p>",
        esc(&super::shim_cost(c))
    );
    s.push_str("<h2>Fits</h2><table><tr><th>direction</th><th>method</th><th>chosen</th><th>λ</th><th>rank</th><th>held-out cosine</th><th>seconds</th></tr>");
    for f in &r.fits {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.4}</td><td>{:.2}</td></tr>",
            f.direction,
            f.method,
            f.chosen,
            f.lambda.map_or("–".into(), |l| format!("{l:.3e}")),
            f.rank.map_or("–".into(), |r| r.to_string()),
            f.heldout_cosine,
            f.seconds
        );
    }
    let _ = writeln!(
        s,
        "</table><h2>Reproduce</h2><pre>{}</pre><p>shimkit {}; {:.1} s.</p></body></html>",
        esc(command),
        env!("CARGO_PKG_VERSION"),
        r.seconds
    );
    Ok(s)
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}.ok{background:#e6f4e6;padding:.8em}\
.warn{background:#fbeaea;padding:.8em;margin:.3em 0}pre{background:#f4f4f4;padding:.8em;white-space:pre-wrap}";

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour(kind: PathKind) -> RGBColor {
    match kind {
        PathKind::NoMigration => RGBColor(150, 150, 150),
        PathKind::FullReembed => RGBColor(60, 60, 60),
        PathKind::ShimQuery => RGBColor(31, 119, 180),
        PathKind::ShimDoc => RGBColor(44, 160, 44),
        PathKind::Backfill => RGBColor(255, 127, 14),
        PathKind::ReadThrough => RGBColor(148, 103, 189),
        PathKind::DualIndexRaw => RGBColor(214, 39, 40),
    }
}

/// Horizontal bars of retention with 95% whiskers, first path on top; a dashed line at
/// the target.
fn retention_chart(r: &EvalReport, target: f64) -> anyhow::Result<String> {
    let n = r.paths.len();
    let names: Vec<String> = r.paths.iter().map(|p| p.name.clone()).collect();
    let top = r
        .paths
        .iter()
        .map(|p| p.retention_ci[1].max(p.retention))
        .filter(|v| v.is_finite())
        .fold(1.05f64, f64::max)
        + 0.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 60 + 26 * n as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(190)
            .build_cartesian_2d(0f64..top, (0..n).into_segmented())
            .map_err(|e| anyhow!("{e}"))?;
        let row = |i: usize| n - 1 - i;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 13))
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(j) if *j < n => names[n - 1 - *j].clone(),
                _ => String::new(),
            })
            .x_desc("retention (path nDCG / full re-embed nDCG)")
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .draw_series(
                r.paths
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.retention.is_finite())
                    .map(|(i, p)| {
                        let j = row(i);
                        let mut bar = Rectangle::new(
                            [
                                (0.0, SegmentValue::Exact(j)),
                                (p.retention, SegmentValue::Exact(j + 1)),
                            ],
                            colour(p.kind).mix(0.75).filled(),
                        );
                        bar.set_margin(4, 4, 0, 0);
                        bar
                    }),
            )
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .draw_series(
                r.paths
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.retention_ci.iter().all(|v| v.is_finite()))
                    .map(|(i, p)| {
                        let j = SegmentValue::CenterOf(row(i));
                        PathElement::new(
                            vec![(p.retention_ci[0], j.clone()), (p.retention_ci[1], j)],
                            BLACK.stroke_width(2),
                        )
                    }),
            )
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![
                    (target, SegmentValue::Exact(0)),
                    (target, SegmentValue::Exact(n)),
                ],
                RED.stroke_width(1),
            )))
            .map_err(|e| anyhow!("{e}"))?
            .label(format!("target {target}"));
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(svg)
}

type SidePick = fn(&CurvePoint) -> &CurveSide;

/// Retention against training pairs (log scale), both sides, with 95% whiskers.
fn curve_chart(r: &EvalReport) -> anyhow::Result<String> {
    let lo_x = r.curve.first().map_or(1, |c| c.pairs).max(1) as f64 * 0.8;
    let hi_x = r.curve.last().map_or(2, |c| c.pairs) as f64 * 1.25;
    let lo_y = r
        .curve
        .iter()
        .flat_map(|c| [c.query_side.ci95[0], c.doc_side.ci95[0]])
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::min)
        - 0.05;
    let hi_y = r
        .curve
        .iter()
        .flat_map(|c| [c.query_side.ci95[1], c.doc_side.ci95[1]])
        .filter(|v| v.is_finite())
        .fold(1.0f64, f64::max)
        + 0.02;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((lo_x..hi_x).log_scale(), lo_y..hi_y)
            .map_err(|e| anyhow!("{e}"))?;
        chart
            .configure_mesh()
            .label_style(("sans-serif", 13))
            .x_desc("training pairs")
            .y_desc("retention of full re-embed nDCG")
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        let sides: [(&str, RGBColor, SidePick); 2] = [
            ("query-side", colour(PathKind::ShimQuery), |c| &c.query_side),
            ("doc-side", colour(PathKind::ShimDoc), |c| &c.doc_side),
        ];
        for (label, col, pick) in sides {
            let points: Vec<(f64, f64)> = r
                .curve
                .iter()
                .map(|c| (c.pairs as f64, pick(c).retention))
                .filter(|p| p.1.is_finite())
                .collect();
            chart
                .draw_series(LineSeries::new(points.clone(), col.stroke_width(2)))
                .map_err(|e| anyhow!("{e}"))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&p| Circle::new(p, 4, col.filled())))
                .map_err(|e| anyhow!("{e}"))?;
            chart
                .draw_series(
                    r.curve
                        .iter()
                        .filter(|c| pick(c).ci95.iter().all(|v| v.is_finite()))
                        .map(|c| {
                            let x = c.pairs as f64;
                            PathElement::new(
                                vec![(x, pick(c).ci95[0]), (x, pick(c).ci95[1])],
                                col.stroke_width(1),
                            )
                        }),
                )
                .map_err(|e| anyhow!("{e}"))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(svg)
}
