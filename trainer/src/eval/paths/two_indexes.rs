//! Two indexes at once: a share f of the documents in a new index, the rest in the old;
//! each query embedded by both models, both indexes searched, and the two lists merged:
//! by reciprocal rank (`read-through:<f>`), or by raw cosine (`dual-index-raw:<f>`, which
//! shows why scores from two spaces do not compare).

use ndarray::{Array2, Axis};

use super::{Context, Path};
use crate::error::Result;
use crate::eval::config::RRF_K;
use crate::eval::report::PathKind;
use crate::eval::search::{Hit, Ranking, rank_order};
use crate::eval::searcher::Docs;

pub fn paths(ctx: &Context<'_>) -> Result<Vec<Path>> {
    let n = ctx.data.doc_ids.len();
    let mut out = Vec::new();
    for &f in &ctx.cfg.backfill {
        let m = (f * n as f64).round() as usize;
        let (new_rows, old_rows) = ctx.order.split_at(m);
        let d = ctx.data;
        let new_part = part(ctx, "new", new_rows, &d.new_docs, &d.new_queries)?;
        let old_part = part(ctx, "old", old_rows, &d.old_docs, &d.old_queries)?;
        let reembedded = m as f64 / n as f64;
        out.push(Path {
            name: format!("read-through:{f}"),
            kind: PathKind::ReadThrough,
            reembedded,
            hits: fuse(&new_part, &old_part, ctx.depth, |r, _| {
                1.0 / (RRF_K + (r + 1) as f64)
            }),
        });
        out.push(Path {
            name: format!("dual-index-raw:{f}"),
            kind: PathKind::DualIndexRaw,
            reembedded,
            hits: fuse(&new_part, &old_part, ctx.depth, |_, h| h.score as f64),
        });
    }
    Ok(out)
}

/// One index over some of the documents, searched with its own model's queries.
fn part(
    ctx: &Context<'_>,
    name: &str,
    rows: &[usize],
    docs: &Array2<f32>,
    queries: &Array2<f32>,
) -> Result<Vec<Ranking>> {
    let ids: Vec<u32> = rows.iter().map(|&i| i as u32).collect();
    let sub = docs.select(Axis(0), rows);
    let subset = Docs {
        rows: Some(&ids),
        ..Docs::all(name, sub.view())
    };
    ctx.search(queries.view(), subset)
}

/// Merges two rankings of disjoint documents per query by a score of (rank, hit).
fn fuse(
    a: &[Ranking],
    b: &[Ranking],
    depth: usize,
    score: impl Fn(usize, &Hit) -> f64,
) -> Vec<Ranking> {
    a.iter()
        .zip(b)
        .map(|(ra, rb)| {
            let mut merged: Vec<Hit> = ra
                .iter()
                .enumerate()
                .chain(rb.iter().enumerate())
                .map(|(r, h)| Hit {
                    doc: h.doc,
                    score: score(r, h) as f32,
                })
                .collect();
            merged.sort_unstable_by(rank_order);
            merged.truncate(depth);
            merged
        })
        .collect()
}
