//! `backfill:<f>:<method>`: a share f of the documents re-embedded (the training documents
//! first), the rest projected by the doc-side shim; one index. `backfill+blend:<f>:<method>`:
//! the same, each re-embedded vector blended with its projection (see `eval::blend`).
//! `backfill+refit:<f>:<method>`: beyond the training share, the doc-side shim refitted on
//! every re-embedded document (as `migrate run` refits), the rest projected by it, and the
//! re-embedded vectors blended with their new projections, α chosen the same way.

use ndarray::{Array2, ArrayView2, Axis};

use super::{Context, Path};
use crate::error::Result;
use crate::eval::blend::{blend_rows, choose_alpha};
use crate::eval::report::PathKind;
use crate::eval::searcher::Docs;
use crate::eval::shims::{Side, fit_config, fit_shim};

pub fn paths(ctx: &Context<'_>) -> Result<Vec<Path>> {
    let n = ctx.data.doc_ids.len();
    let mut out = Vec::new();
    for &f in &ctx.cfg.backfill {
        let m = (f * n as f64).round() as usize;
        for shims in ctx.methods {
            let mut mixed = shims.projected.clone();
            for &i in &ctx.order[..m] {
                mixed.row_mut(i).assign(&ctx.data.new_docs.row(i));
            }
            let name = format!("backfill:{f}:{}", shims.method);
            out.push(Path {
                hits: ctx.search(ctx.data.new_queries.view(), Docs::all(&name, mixed.view()))?,
                name,
                kind: PathKind::Backfill,
                reembedded: m as f64 / n as f64,
            });
        }
    }
    Ok(out)
}

pub fn blended(ctx: &Context<'_>) -> Result<Vec<Path>> {
    let n = ctx.data.doc_ids.len();
    let mut out = Vec::new();
    for b in ctx.blends {
        let Some(shims) = ctx.methods.iter().find(|m| m.method == b.method) else {
            continue;
        };
        let rows = &ctx.order[..((b.share * n as f64).round() as usize).min(n)];
        let mut mixed = shims.projected.clone();
        let truth = ctx.data.new_docs.select(Axis(0), rows);
        store_blended(&mut mixed, rows, truth.view(), b.choice.alpha);
        let name = format!("backfill+blend:{}:{}", b.share, b.method);
        out.push(Path {
            hits: ctx.search(ctx.data.new_queries.view(), Docs::all(&name, mixed.view()))?,
            name,
            kind: PathKind::Backfill,
            reembedded: rows.len() as f64 / n as f64,
        });
    }
    Ok(out)
}

pub fn refitted(ctx: &Context<'_>) -> Result<Vec<Path>> {
    let d = ctx.data;
    let n = d.doc_ids.len();
    let mut out = Vec::new();
    for &f in &ctx.cfg.backfill {
        let m = ((f * n as f64).round() as usize).min(n);
        // Up to the training share the refit would see the same pairs; at f = 1 nothing is
        // projected.
        if m <= ctx.train.len() || m >= n {
            continue;
        }
        let rows = &ctx.order[..m];
        let ids: Vec<String> = rows.iter().map(|&i| d.doc_ids[i].clone()).collect();
        let old = d.old_docs.select(Axis(0), rows);
        let truth = d.new_docs.select(Axis(0), rows);
        for shims in ctx.methods {
            let (shim, _) = fit_shim(
                old.view(),
                truth.view(),
                &ids,
                &fit_config(ctx.cfg, shims.method),
                Side::Doc,
                (&ctx.cfg.old_name, &ctx.cfg.new_name),
            )?;
            let mut mixed = shim.apply(d.old_docs.view(), true)?;
            let projected = mixed.select(Axis(0), rows);
            let alpha = choose_alpha(truth.view(), projected.view(), &ids, f, ctx.cfg.seed).alpha;
            store_blended(&mut mixed, rows, truth.view(), alpha);
            let name = format!("backfill+refit:{f}:{}", shims.method);
            out.push(Path {
                hits: ctx.search(d.new_queries.view(), Docs::all(&name, mixed.view()))?,
                name,
                kind: PathKind::Backfill,
                reembedded: m as f64 / n as f64,
            });
        }
    }
    Ok(out)
}

/// Replaces the projected rows `rows` of `index` by unit(α·truth + (1 − α)·projected),
/// `truth` holding those rows' re-embedded vectors in the same order.
fn store_blended(index: &mut Array2<f32>, rows: &[usize], truth: ArrayView2<'_, f32>, alpha: f64) {
    let projected = index.select(Axis(0), rows);
    let blended = blend_rows(truth, projected.view(), alpha);
    for (r, &i) in rows.iter().enumerate() {
        index.row_mut(i).assign(&blended.row(r));
    }
}
