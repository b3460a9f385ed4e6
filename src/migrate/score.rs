//! Scoring the eval set against the store as it stands: the old column with the old
//! model's queries, the new column (part re-embedded, part projected, some rows perhaps
//! still empty) with the new model's, each a share of the full re-embed's nDCG, with the
//! same figures and intervals `shimkit eval` gives ([`score_columns`]); and the decision.
//!
//! The full re-embed is the reference every retention is a share of, so the eval set
//! carries its documents embedded by the new model (`corpus.<new_model>.parquet`): the
//! documents the eval set judges, which is what a team re-embeds first to have an eval
//! set at all. The table supplies everything else.

use std::collections::HashMap;

use anyhow::Context;
use ndarray::Array2;
use serde_json::{Value, json};
use shimkit_data::{EvalSet, ReadOptions, Split, normalize_rows};
use shimkit_postgres::SearchMode;
use shimkit_postgres::Session;
use shimkit_trainer::Shim;
use shimkit_trainer::eval::{
    Column, EvalData, Exact, PathKind, PathResult, QueryModel, score_columns, score_columns_against,
};

use super::spec::Search;
use crate::stores::postgres::PgSearcher;

use super::MigrationSpec;

/// The shims a cycle scores: the doc-side one (given by the spec, or the migration's own),
/// and the migration's query-side one.
pub struct ScoringShims {
    pub doc_side: Shim,
    pub query_side: Option<Shim>,
    /// What the cycle's report says of them.
    pub report: Value,
}

/// One cycle's figures and what they decide.
#[derive(Debug, Clone)]
pub struct CycleScore {
    /// Re-embedded rows over all rows of the table.
    pub share: f64,
    pub reembedded_rows: i64,
    pub rows: i64,
    /// `[no-migration (the old column, old queries), full-reembed, new-column]`, then with
    /// shims `shim-doc` (every document projected) and `shim-query` (new queries mapped
    /// into the old column's space). Their names stay the same from cycle to cycle while
    /// the shim is refitted (its method is in the cycle's `shim`), so each is one series.
    pub paths: Vec<PathResult>,
    /// The shims' part of the report (`null` without).
    pub shims: Value,
    pub gate_holds: bool,
    pub decision: &'static str,
}

impl CycleScore {
    /// The cycle as the history records it (the keys of `eval`'s report for each path).
    pub fn to_json(&self, spec: &MigrationSpec) -> Value {
        json!({
            "share": self.share,
            "reembedded_rows": self.reembedded_rows,
            "rows": self.rows,
            "decision": self.decision,
            "gate_holds": self.gate_holds,
            "gate": spec.gate,
            "k": spec.eval.k,
            "paths": self.paths.iter().map(|p| p.to_json(spec.eval.k)).collect::<Vec<_>>(),
            "shim": self.shims,
        })
    }
}

/// Scores the store's columns on the eval set (and the shims' paths), and decides.
pub fn score_store(
    spec: &MigrationSpec,
    shims: Option<&ScoringShims>,
) -> anyhow::Result<CycleScore> {
    let e = &spec.eval;
    let set = EvalSet::open(&e.dataset)?;
    let read = ReadOptions::default();
    let load = |model: &str, split: Split| {
        set.load(model, split, &read).with_context(|| {
            format!(
                "eval.dataset: reading {} of {model}",
                split.file_name(model)
            )
        })
    };
    let old_queries = load(&e.old_model, Split::Queries)?;
    let new_queries = load(&e.new_model, Split::Queries)?;
    let reference = load(&e.new_model, Split::Corpus).context(
        "the full re-embed every retention is a share of: the eval set's documents embedded by the new model",
    )?;
    let old_column = shimkit_postgres::read_all(&spec.store.old, Default::default())?;
    let (data, notes) = EvalData::align(
        &old_column,
        &reference,
        &old_queries,
        &new_queries,
        &set.qrels()?,
    )?;
    if notes.docs_only_new > 0 {
        tracing::warn!(
            "{} documents of the eval set are not in {}",
            notes.docs_only_new,
            spec.store.old.label()
        );
    }
    drop((old_column, reference, old_queries, new_queries));

    // The new column as it is: a row with no vector yet is not in its index.
    let (rows, vectors) = new_column(spec, &data)?;
    let mut session = Session::open(&spec.store.new.db)?;
    let (reembedded, total) =
        shimkit_postgres::migration::reembedded_rows(&mut session, &spec.store.new)?;
    let share = if total > 0 {
        reembedded as f64 / total as f64
    } else {
        0.0
    };
    // The old column with the old model's queries is the `no-migration` baseline itself.
    let mut columns = vec![Column {
        name: "new-column",
        kind: PathKind::Backfill,
        reembedded: share,
        queries: QueryModel::New,
        vectors: vectors.view(),
        rows: Some(&rows),
    }];
    let projected = match shims {
        Some(s) => Some((
            "shim-doc".to_owned(),
            s.doc_side.apply(data.old_docs.view(), true)?,
        )),
        None => None,
    };
    if let Some((name, docs)) = &projected {
        columns.push(Column {
            name,
            kind: PathKind::ShimDoc,
            reembedded: 0.0,
            queries: QueryModel::New,
            vectors: docs.view(),
            rows: None,
        });
    }
    let mapped = match shims.and_then(|s| s.query_side.as_ref()) {
        Some(q) => Some((
            "shim-query".to_owned(),
            q.apply(data.new_queries.view(), true)?,
        )),
        None => None,
    };
    if let Some((name, queries)) = &mapped {
        columns.push(Column {
            name,
            kind: PathKind::ShimQuery,
            reembedded: 0.0,
            queries: QueryModel::Mapped(queries.view()),
            vectors: data.old_docs.view(),
            rows: None,
        });
    }
    let paths = match e.search {
        Search::Memory => score_columns(&data, &columns, e.k, e.resamples, e.seed, &Exact)?,
        Search::Exact => {
            let index = PgSearcher::open_db(&spec.store.old.db)?;
            let exact = PgSearcher::new(index, SearchMode::Exact);
            score_columns(&data, &columns, e.k, e.resamples, e.seed, &exact)?
        }
        // The recall reference is exact search in process: the same neighbours as exact
        // search in the store (to float rounding), at a fraction of its cost on a large
        // table (BENCHMARKS.md, issue 17).
        Search::Hnsw(h) => score_columns_against(
            &data,
            &columns,
            e.k,
            e.resamples,
            e.seed,
            &PgSearcher::new(
                PgSearcher::open_db(&spec.store.old.db)?,
                SearchMode::Hnsw(h),
            ),
            Some(&Exact),
        )?,
    };
    let new = &paths[2];
    let gate_holds = new.retention_ci[0] >= spec.gate.target;
    // Worse than staying put, beyond the noise (the paired interval of the difference
    // lies below zero): the cutover waits.
    let regresses = new.delta_vs_no_migration_ci[1] < 0.0;
    let decision = if gate_holds {
        "pull-forward"
    } else if regresses {
        "hold"
    } else {
        "continue"
    };
    Ok(CycleScore {
        shims: shims.map_or(Value::Null, |s| s.report.clone()),
        share,
        reembedded_rows: reembedded,
        rows: total,
        paths,
        gate_holds,
        decision,
    })
}

/// The new column's vectors of the eval set's documents, and which documents they are.
fn new_column(spec: &MigrationSpec, data: &EvalData) -> anyhow::Result<(Vec<u32>, Array2<f32>)> {
    let column = match shimkit_postgres::read_all(&spec.store.new, Default::default()) {
        Ok(t) => t,
        // An empty column scores as an index with nothing in it.
        Err(shimkit_postgres::PgError::Table { message, .. })
            if message.contains("holds no vectors") =>
        {
            return Ok((Vec::new(), Array2::zeros((0, data.new_docs.ncols()))));
        }
        Err(e) => return Err(e.into()),
    };
    if column.vectors.ncols() != data.new_docs.ncols() {
        anyhow::bail!(
            "{}: column \"{}\" holds {}-dimensional vectors, but the eval set's {} documents are {}-dimensional",
            spec.store.new.label(),
            spec.store.new.vector,
            column.vectors.ncols(),
            spec.eval.new_model,
            data.new_docs.ncols()
        );
    }
    let index: HashMap<&str, usize> = column
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let (mut rows, mut picked) = (Vec::new(), Vec::new());
    for (row, id) in data.doc_ids.iter().enumerate() {
        if let Some(&i) = index.get(id.as_str()) {
            rows.push(row as u32);
            picked.push(i);
        }
    }
    let vectors = normalize_rows(column.vectors.select(ndarray::Axis(0), &picked));
    Ok((rows, vectors))
}
