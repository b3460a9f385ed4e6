//! The migration's own shims, when its spec names none: fitted on the first re-embedded
//! batch, and refitted on all re-embedded pairs so far whenever the refit scores better on
//! held-out pairs. Each adopted version is kept in the history (`shimkit.migration_shims`):
//! the doc-side shim (old to new) that keeps the rest of the new column projected, and the
//! query-side one (new to old) that the scoring's `shim-query` path maps queries with.
//!
//! The held-out pairs are a fixed share of the re-embedded ids, chosen by id hash with a
//! seed of their own, that no version is ever fitted on. The current version and a refit
//! are therefore scored on pairs neither has seen, and a pair stays held out as batches
//! arrive, so the comparison is the same question every cycle.

use anyhow::Context;
use ndarray::{Array2, Axis};
use serde_json::{Value, json};
use shimkit_postgres::PgPairReader;
use shimkit_postgres::migration::History;
use shimkit_trainer::{
    Direction, FitConfig, PairAccumulator, Shim, artifact, mean_row_cosine, normalize_rows, split,
};

use super::MigrationSpec;

/// The share of re-embedded pairs held out, and the seed of their id hash.
const HELDOUT_FRAC: f64 = 0.1;
const HELDOUT_SEED: u64 = 0x6d69_6772_6174_6500;
/// Held-out pairs kept for scoring, at most (the first by id order).
const MAX_HELDOUT: usize = 20_000;

/// The shims a cycle uses, and what it did about them.
pub struct MigrationShims {
    pub version: i64,
    pub doc_side: Shim,
    pub query_side: Shim,
    /// The doc-side artifact's bytes (a backfill is keyed by them).
    pub doc_side_bytes: Vec<u8>,
    /// For the cycle's report: the version, its pairs and held-out score, and the refit
    /// tried this cycle, if any.
    pub report: Value,
}

/// The held-out pairs seen while streaming, unit length.
struct HeldOut {
    old: Vec<f32>,
    new: Vec<f32>,
    rows: usize,
}

/// The migration's shims after this cycle's loads: the current version, or a refit on all
/// re-embedded pairs when it scores better on the held-out ones (the first fit is adopted
/// as it is). `None` while no pair is re-embedded, or too few to fit.
pub fn refresh(
    spec: &MigrationSpec,
    history: &mut History,
    reembedded: i64,
) -> anyhow::Result<Option<MigrationShims>> {
    let current = history.current_shim()?;
    let current = match current {
        Some(record) => Some((
            decode(&record.doc_side, record.version, "doc-side")?,
            decode(&record.query_side, record.version, "query-side")?,
            record,
        )),
        None => None,
    };
    if let Some((_, _, record)) = &current
        && record.pairs + record.heldout_pairs >= reembedded
    {
        let (doc, query, record) = current.expect("matched");
        return Ok(Some(kept(doc, query, record, Value::Null)));
    }
    if reembedded == 0 {
        return Ok(None);
    }

    let cfg = FitConfig {
        method: spec.backfill.method,
        ..FitConfig::default()
    };
    let outer = FitConfig {
        val_frac: HELDOUT_FRAC,
        seed: HELDOUT_SEED,
        ..FitConfig::default()
    };
    let reader =
        PgPairReader::open_filtered(&spec.store.old, &spec.store.new, Default::default(), true)?;
    let (mut doc_acc, mut query_acc) = (None::<PairAccumulator>, None::<PairAccumulator>);
    let mut held = HeldOut {
        old: Vec::new(),
        new: Vec::new(),
        rows: 0,
    };
    let (mut trained, mut heldout_pairs) = (0usize, 0usize);
    for batch in reader {
        let batch = batch?;
        let (train, out) = split(&batch.ids, &outer);
        if doc_acc.is_none() {
            let (d_old, d_new) = (batch.old.ncols(), batch.new.ncols());
            doc_acc = Some(PairAccumulator::new(d_old, d_new, cfg.clone())?);
            query_acc = Some(PairAccumulator::new(d_new, d_old, cfg.clone())?);
        }
        let ids: Vec<String> = train.iter().map(|&i| batch.ids[i].clone()).collect();
        let (old, new) = (
            batch.old.select(Axis(0), &train),
            batch.new.select(Axis(0), &train),
        );
        if let (Some(d), Some(q)) = (doc_acc.as_mut(), query_acc.as_mut()) {
            d.add(&ids, old.view(), new.view())?;
            q.add(&ids, new.view(), old.view())?;
        }
        trained += train.len();
        heldout_pairs += out.len();
        for &i in out.iter().take(MAX_HELDOUT.saturating_sub(held.rows)) {
            held.old.extend(batch.old.row(i).iter());
            held.new.extend(batch.new.row(i).iter());
            held.rows += 1;
        }
    }
    let (Some(doc_acc), Some(query_acc)) = (doc_acc, query_acc) else {
        return Ok(current.map(|(doc, query, record)| kept(doc, query, record, Value::Null)));
    };
    if trained < cfg.min_pairs.max(2) {
        let note = json!({"pairs": trained, "adopted": false,
            "why": format!("{trained} re-embedded pairs to fit on; at least {} are needed", cfg.min_pairs.max(2))});
        return Ok(current.map(|(doc, query, record)| kept(doc, query, record, note)));
    }
    let (old_names, new_names) = (&spec.eval.old_model, &spec.eval.new_model);
    let doc_outcome = doc_acc
        .finish()
        .context("fitting the migration's doc-side shim")?;
    let query_outcome = query_acc
        .finish()
        .context("fitting the migration's query-side shim")?;
    let doc = Shim::from_outcome(&doc_outcome, Direction::OldToNew, old_names, new_names);
    let query = Shim::from_outcome(&query_outcome, Direction::NewToOld, new_names, old_names);

    let dims = |v: &Vec<f32>, rows: usize| {
        let cols = v.len().checked_div(rows).unwrap_or(0);
        Array2::from_shape_vec((rows, cols), v.clone()).map(normalize_rows)
    };
    let held_old = dims(&held.old, held.rows)?;
    let held_new = dims(&held.new, held.rows)?;
    let score = |shim: &Shim| -> anyhow::Result<f64> {
        if held.rows == 0 {
            return Ok(f64::NAN);
        }
        Ok(mean_row_cosine(
            shim.apply(held_old.view(), true)?.view(),
            held_new.view(),
        ))
    };
    let candidate = score(&doc)?;
    let current_score = match &current {
        Some((current_doc, _, _)) => score(current_doc)?,
        None => f64::NAN,
    };
    // The first fit is adopted as it is; a refit only when it scores better.
    let adopt = current.is_none() || candidate > current_score;
    let refit = json!({
        "pairs": trained,
        "heldout_pairs": heldout_pairs,
        "heldout_scored": held.rows,
        "heldout_cosine": finite(candidate),
        "current_heldout_cosine": finite(current_score),
        "adopted": adopt,
    });
    if !adopt {
        let (doc, query, record) = current.expect("kept only when there is one");
        return Ok(Some(kept(doc, query, record, refit)));
    }
    let doc_bytes = artifact::to_bytes(&doc)?;
    let query_bytes = artifact::to_bytes(&query)?;
    let version = history.record_shim(
        trained as i64,
        heldout_pairs as i64,
        if candidate.is_finite() {
            candidate
        } else {
            0.0
        },
        &doc_bytes,
        &query_bytes,
    )?;
    Ok(Some(MigrationShims {
        report: json!({
            "version": version, "pairs": trained, "heldout_pairs": heldout_pairs,
            "heldout_cosine": finite(candidate), "refit": refit,
            "doc_method": doc.meta.method, "query_method": query.meta.method,
        }),
        version,
        doc_side: doc,
        query_side: query,
        doc_side_bytes: doc_bytes,
    }))
}

/// The current version kept, with what this cycle's refit (if any) found.
fn kept(
    doc: Shim,
    query: Shim,
    record: shimkit_postgres::migration::ShimRecord,
    refit: Value,
) -> MigrationShims {
    MigrationShims {
        report: json!({
            "version": record.version, "pairs": record.pairs,
            "heldout_pairs": record.heldout_pairs, "heldout_cosine": record.heldout_cosine,
            "refit": refit,
            "doc_method": doc.meta.method, "query_method": query.meta.method,
        }),
        version: record.version,
        doc_side: doc,
        query_side: query,
        doc_side_bytes: record.doc_side,
    }
}

fn decode(bytes: &[u8], version: i64, side: &str) -> anyhow::Result<Shim> {
    artifact::from_bytes(bytes).map_err(|e| {
        anyhow::anyhow!(
            "the migration's {side} shim, version {version}, in shimkit.migration_shims: {e}"
        )
    })
}

fn finite(x: f64) -> Value {
    if x.is_finite() { json!(x) } else { Value::Null }
}
