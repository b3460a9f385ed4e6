//! The training-size curve: `auto` fitted on the first 100, 250, 500, … training documents,
//! both sides, each scored as its shim path is.

use ndarray::Axis;

use super::bootstrap::Resamples;
use super::paths::Context;
use super::report::{CurvePoint, CurveSide};
use super::scoring::{mean, score_all};
use super::search::Ranking;
use super::searcher::Docs;
use super::shims::{MethodShims, Side, fit_config, fit_shim};
use crate::error::Result;
use crate::fit::FitConfig;
use crate::method::Method;

/// One point a training size, the last at the whole training budget, whose `auto` shims
/// (`budget`, when the evaluation fitted them) are those of the paths.
pub(super) fn curve(
    ctx: &Context<'_>,
    reference: &[Ranking],
    full: &[f64],
    resamples: &Resamples,
    budget: Option<&MethodShims>,
) -> Result<Vec<CurvePoint>> {
    let (data, cfg, order, train_n) = (ctx.data, ctx.cfg, ctx.order, ctx.train.len());
    let min = FitConfig::default().min_pairs;
    let mut sizes: Vec<usize> = cfg
        .curve
        .iter()
        .copied()
        .filter(|&s| s >= min && s < train_n)
        .collect();
    sizes.push(train_n);
    sizes.dedup();
    let full_mean = mean(full.iter().copied());
    let side = |hits: Vec<Ranking>, method: String| {
        let ndcg: Vec<f64> = score_all(&hits, reference, data, cfg.k)
            .iter()
            .map(|q| q.ndcg)
            .collect();
        let m = mean(ndcg.iter().copied());
        CurveSide {
            method,
            ndcg: m,
            retention: m / full_mean,
            ci95: resamples.ratio_ci(&ndcg, full),
        }
    };
    let fcfg = fit_config(cfg, Method::Auto);
    let mut points = Vec::new();
    for size in sizes {
        let (q, d) = match budget {
            Some(b) if size == train_n => (b.query.clone(), b.doc.clone()),
            _ => {
                let rows = &order[..size];
                let ids: Vec<String> = rows.iter().map(|&i| data.doc_ids[i].clone()).collect();
                let old = data.old_docs.select(Axis(0), rows);
                let new = data.new_docs.select(Axis(0), rows);
                let names = (cfg.new_name.as_str(), cfg.old_name.as_str());
                let (q, _) = fit_shim(new.view(), old.view(), &ids, &fcfg, Side::Query, names)?;
                let names = (cfg.old_name.as_str(), cfg.new_name.as_str());
                let (d, _) = fit_shim(old.view(), new.view(), &ids, &fcfg, Side::Doc, names)?;
                (q, d)
            }
        };
        let mapped = q.apply(data.new_queries.view(), true)?;
        let corpus = d.apply(data.old_docs.view(), true)?;
        let name = format!("curve:{size}");
        points.push(CurvePoint {
            pairs: size,
            query_side: side(
                ctx.search(mapped.view(), Docs::all("old", data.old_docs.view()))?,
                q.meta.method.clone(),
            ),
            doc_side: side(
                ctx.search(data.new_queries.view(), Docs::all(&name, corpus.view()))?,
                d.meta.method.clone(),
            ),
        });
    }
    Ok(points)
}
