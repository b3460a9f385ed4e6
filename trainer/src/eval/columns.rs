//! Scoring document sets that are not `evaluate`'s own paths, exactly as it scores its
//! paths: a store's columns as they stand in the middle of a migration (the new column
//! part re-embedded, part projected), each searched with one model's queries.
//!
//! The baselines are `evaluate`'s (old queries against `data.old_docs`, new queries
//! against `data.new_docs`, the full re-embed every retention is a share of), the depth and
//! the metrics are its, and the intervals come from the same resamples of the queries
//! (`Resamples::new(queries, resamples, seed)`), so a column holding what one of
//! `evaluate`'s paths searches gets that path's figures.

use ndarray::ArrayView2;

use super::bootstrap::Resamples;
use super::config::MIN_DEPTH;
use super::data::EvalData;
use super::paths::Path;
use super::report::{PathKind, PathResult};
use super::run::recall_at;
use super::scoring::{score_all, summarise};
use super::searcher::{Docs, Searcher};
use crate::error::Result;

/// Whose queries search a column.
#[derive(Debug, Clone, Copy)]
pub enum QueryModel<'a> {
    Old,
    New,
    /// The new model's queries mapped into the column's space (a query-side shim), one
    /// row a query of `data`, unit length.
    Mapped(ArrayView2<'a, f32>),
}

/// One document set to score.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    pub name: &'a str,
    pub kind: PathKind,
    /// Share of the corpus it holds re-embedded by the new model.
    pub reembedded: f64,
    pub queries: QueryModel<'a>,
    /// Unit-length vectors; with `rows`, the corpus documents (rows of `data`) they are.
    pub vectors: ArrayView2<'a, f32>,
    /// Which of `data`'s documents the vectors are, when not all of them (a document with
    /// no vector in a column is not in its index).
    pub rows: Option<&'a [u32]>,
}

/// `[no-migration, full-reembed, columns...]`, scored at cutoff `k`.
pub fn score_columns(
    data: &EvalData,
    columns: &[Column<'_>],
    k: usize,
    resamples: usize,
    seed: u64,
    searcher: &dyn Searcher,
) -> Result<Vec<PathResult>> {
    score_columns_against(data, columns, k, resamples, seed, searcher, None)
}

/// [`score_columns`] with `searcher` an approximate index, and each path's recall@k
/// against `exact` search of the same documents (`ann_recall`), as `evaluate_against`
/// reports it. The metrics are the approximate index's.
pub fn score_columns_against(
    data: &EvalData,
    columns: &[Column<'_>],
    k: usize,
    resamples: usize,
    seed: u64,
    searcher: &dyn Searcher,
    exact: Option<&dyn Searcher>,
) -> Result<Vec<PathResult>> {
    let depth = k.max(MIN_DEPTH);
    let mut recalls = Vec::new();
    let mut search = |name: &str, queries: ArrayView2<'_, f32>, vectors, rows| {
        let docs = Docs {
            name,
            vectors,
            rows,
            offsets: None,
        };
        let hits = searcher.search(queries, docs, depth)?;
        if let Some(exact) = exact {
            recalls.push(recall_at(&hits, &exact.search(queries, docs, depth)?, k));
        }
        Ok::<_, crate::TrainError>(hits)
    };
    let none_hits = search("old", data.old_queries.view(), data.old_docs.view(), None)?;
    let full_hits = search("new", data.new_queries.view(), data.new_docs.view(), None)?;
    let resamples = Resamples::new(data.query_ids.len(), resamples, seed);
    let full = score_all(&full_hits, &full_hits, data, k);
    let none = score_all(&none_hits, &full_hits, data, k);
    let full_ndcg: Vec<f64> = full.iter().map(|s| s.ndcg).collect();
    let none_ndcg: Vec<f64> = none.iter().map(|s| s.ndcg).collect();
    let path = |name: &str, kind, reembedded, hits| Path {
        name: name.to_owned(),
        kind,
        reembedded,
        hits,
    };
    let mut out = vec![
        summarise(
            path("no-migration", PathKind::NoMigration, 0.0, none_hits),
            &none,
            &full_ndcg,
            &none_ndcg,
            &resamples,
        ),
        summarise(
            path(
                "full-reembed",
                PathKind::FullReembed,
                1.0,
                full_hits.clone(),
            ),
            &full,
            &full_ndcg,
            &none_ndcg,
            &resamples,
        ),
    ];
    for c in columns {
        let queries = match c.queries {
            QueryModel::Old => data.old_queries.view(),
            QueryModel::New => data.new_queries.view(),
            QueryModel::Mapped(q) => {
                if q.dim() != (data.query_ids.len(), c.vectors.ncols()) {
                    return Err(crate::TrainError::Invalid {
                        what: "queries",
                        message: format!(
                            "{}: {} mapped queries of {} dimensions for {} queries and documents of {}",
                            c.name,
                            q.nrows(),
                            q.ncols(),
                            data.query_ids.len(),
                            c.vectors.ncols()
                        ),
                    });
                }
                q
            }
        };
        let hits = search(c.name, queries, c.vectors, c.rows)?;
        let scores = score_all(&hits, &full_hits, data, k);
        out.push(summarise(
            path(c.name, c.kind, c.reembedded, hits),
            &scores,
            &full_ndcg,
            &none_ndcg,
            &resamples,
        ));
    }
    if exact.is_some() {
        for (r, recall) in out.iter_mut().zip(recalls) {
            r.ann_recall = Some(recall);
        }
    }
    Ok(out)
}
