//! `backfill:<f>:<method>`: a share f of the documents re-embedded (the training documents
//! first), the rest projected by the doc-side shim; one index.

use super::{Context, Path};
use crate::error::Result;
use crate::eval::report::PathKind;
use crate::eval::searcher::Docs;

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
