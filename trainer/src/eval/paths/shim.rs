//! The shim paths: new-model queries mapped into the old index, or the old index projected
//! into the new space; and their variants (without the query-side bias, with CSLS).

use super::{Context, Path};
use crate::adapter::Adapter;
use crate::error::Result;
use crate::eval::csls::{CSLS_K, csls_offsets};
use crate::eval::report::PathKind;
use crate::eval::searcher::Docs;
use crate::eval::shims::{ShimKey, Side};

/// `shim-query:<method>`: mapped queries against the old index, unchanged.
pub fn query_side(ctx: &Context<'_>) -> Result<Vec<Path>> {
    ctx.methods
        .iter()
        .map(|m| {
            let key = ShimKey {
                side: Side::Query,
                method: m.method,
            };
            Ok(Path {
                name: key.path(),
                kind: PathKind::ShimQuery,
                reembedded: 0.0,
                hits: ctx.search(
                    m.mapped_queries.view(),
                    Docs::all("old", ctx.data.old_docs.view()),
                )?,
            })
        })
        .collect()
}

/// `shim-query-qp:<method>` (with `--query-pair-folds`): each query mapped by the shim of
/// the fold it was held out of, against the old index unchanged.
pub fn query_side_query_pairs(ctx: &Context<'_>) -> Result<Vec<Path>> {
    ctx.query_pairs
        .iter()
        .map(|c| {
            Ok(Path {
                name: c.path(),
                kind: PathKind::ShimQuery,
                reembedded: 0.0,
                hits: ctx.search(
                    c.mapped_queries.view(),
                    Docs::all("old", ctx.data.old_docs.view()),
                )?,
            })
        })
        .collect()
}

/// `shim-doc:<method>`: new-model queries against the projected old index.
pub fn doc_side(ctx: &Context<'_>) -> Result<Vec<Path>> {
    ctx.methods
        .iter()
        .map(|m| {
            let name = ShimKey {
                side: Side::Doc,
                method: m.method,
            }
            .path();
            Ok(Path {
                hits: ctx.search(
                    ctx.data.new_queries.view(),
                    Docs::all(&name, m.projected.view()),
                )?,
                name,
                kind: PathKind::ShimDoc,
                reembedded: 0.0,
            })
        })
        .collect()
}

/// `shim-query-nobias:<method>` (with `--no-query-bias`): the bias adds b·d to every
/// document's score, the same for every query, a prior toward the old space's mean
/// direction; this ranks without it. Cluster shims have no single bias to drop.
pub fn query_side_without_bias(ctx: &Context<'_>) -> Result<Vec<Path>> {
    if !ctx.cfg.no_query_bias {
        return Ok(Vec::new());
    }
    ctx.methods
        .iter()
        .filter(|m| !matches!(m.query.adapter, Some(Adapter::Cluster(_))))
        .map(|m| {
            let mut unbiased = m.query.clone();
            unbiased.drop_bias();
            let mapped = unbiased.apply(ctx.data.new_queries.view(), true)?;
            Ok(Path {
                name: format!("shim-query-nobias:{}", m.method),
                kind: PathKind::ShimQuery,
                reembedded: 0.0,
                hits: ctx.search(mapped.view(), Docs::all("old", ctx.data.old_docs.view()))?,
            })
        })
        .collect()
}

/// `shim-query+csls:<method>` (with `--csls`): old documents penalised by their closeness
/// to the mapped training documents. A document is never its own neighbour.
pub fn query_side_csls(ctx: &Context<'_>) -> Result<Vec<Path>> {
    if !ctx.cfg.csls {
        return Ok(Vec::new());
    }
    let same = |i: usize, j: usize| ctx.train[j] == i;
    ctx.methods
        .iter()
        .map(|m| {
            let mapped_train = m.query.apply(ctx.new_train.view(), true)?;
            let offsets = csls_offsets(ctx.data.old_docs.view(), mapped_train.view(), CSLS_K, same);
            let docs = Docs {
                offsets: Some(&offsets),
                ..Docs::all("old", ctx.data.old_docs.view())
            };
            Ok(Path {
                name: format!("shim-query+csls:{}", m.method),
                kind: PathKind::ShimQuery,
                reembedded: 0.0,
                hits: ctx.search(m.mapped_queries.view(), docs)?,
            })
        })
        .collect()
}

/// `shim-doc+csls:<method>` (with `--csls`): projected documents penalised by their
/// closeness to the training documents' real new vectors.
pub fn doc_side_csls(ctx: &Context<'_>) -> Result<Vec<Path>> {
    if !ctx.cfg.csls {
        return Ok(Vec::new());
    }
    let same = |i: usize, j: usize| ctx.train[j] == i;
    ctx.methods
        .iter()
        .map(|m| {
            let offsets = csls_offsets(m.projected.view(), ctx.new_train.view(), CSLS_K, same);
            let name = format!("shim-doc+csls:{}", m.method);
            let docs = Docs {
                offsets: Some(&offsets),
                ..Docs::all(&name, m.projected.view())
            };
            Ok(Path {
                hits: ctx.search(ctx.data.new_queries.view(), docs)?,
                name,
                kind: PathKind::ShimDoc,
                reembedded: 0.0,
            })
        })
        .collect()
}
