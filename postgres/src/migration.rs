//! A migration's history, kept in the database beside the table it migrates: which
//! incoming files were loaded, each cycle's figures and decision, and each cutover,
//! rollback and override.
//!
//! A migration is named by its key (the table and the column being filled). Cycles are
//! numbered in the transaction that records them, under a lock of the migration's own, so
//! two runs can never record one cycle twice; a file is recorded once its rows are all
//! written, so a run stopped mid-file loads that file again (its writes are idempotent:
//! the same vectors into the same rows) and never one recorded before.

use crate::error::{PgError, Result};
use crate::session::Session;
use crate::state;

/// One incoming file as recorded when loaded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadedFile {
    /// The file's name in the incoming directory.
    pub name: String,
    pub bytes: i64,
    pub rows: i64,
    pub loaded_at: String,
}

/// One recorded cycle.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CycleRecord {
    pub cycle: i64,
    pub at: String,
    /// The re-embedded share of the table after the cycle's loads.
    pub share: f64,
    pub decision: String,
    /// The cycle's figures, as `migrate status --json` prints them.
    pub report: serde_json::Value,
}

/// A shim the migration fitted on its re-embedded pairs, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ShimRecord {
    pub version: i64,
    pub fitted_at: String,
    /// Re-embedded pairs it was fitted on (the held-out ones excluded).
    pub pairs: i64,
    /// Held-out pairs it was scored on when adopted, and its mean cosine on them.
    pub heldout_pairs: i64,
    pub heldout_cosine: f64,
    /// The artifacts (`.safetensors` bytes): old to new, and new to old.
    pub doc_side: Vec<u8>,
    pub query_side: Vec<u8>,
}

/// A cutover, rollback or override, as recorded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EventRecord {
    pub at: String,
    pub kind: String,
    /// Whether the gate was overridden (`--force`).
    pub forced: bool,
    pub detail: serde_json::Value,
}

/// The advisory lock of one migration (two keys: a fixed class, and the key's hash).
fn lock_key(key: &str) -> i32 {
    let mut h: u32 = 0x811c9dc5;
    for b in key.bytes() {
        h = (h ^ b as u32).wrapping_mul(0x01000193);
    }
    h as i32
}

const LOCK_CLASS: i32 = 0x5348_4d47; // "SHMG"

/// The history's reader and writer for one migration.
pub struct History {
    session: Session,
    key: String,
}

impl History {
    /// Opens the history of migration `key`, creating shimkit's tables where missing.
    pub fn open(session: Session, key: &str) -> Result<History> {
        let mut session = session;
        state::ensure(&mut session)?;
        Ok(History {
            session,
            key: key.to_owned(),
        })
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Holds the migration's lock until this connection closes: one `migrate run` at a
    /// time. `false` when another run holds it.
    pub fn try_lock(&mut self) -> Result<bool> {
        let err = self.session.err("taking the migration's lock");
        Ok(self
            .session
            .client
            .query_one(
                "SELECT pg_try_advisory_lock($1, $2)",
                &[&LOCK_CLASS, &lock_key(&self.key)],
            )
            .map_err(err)?
            .get(0))
    }

    /// The files loaded so far, oldest first.
    pub fn loaded_files(&mut self) -> Result<Vec<LoadedFile>> {
        let err = self.session.err("reading the loaded files");
        let rows = self
            .session
            .client
            .query(
                "SELECT file, bytes, rows, loaded_at::text FROM shimkit.migration_files
                 WHERE migration = $1 ORDER BY loaded_at, file",
                &[&self.key],
            )
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| LoadedFile {
                name: r.get(0),
                bytes: r.get(1),
                rows: r.get(2),
                loaded_at: r.get(3),
            })
            .collect())
    }

    /// Records a file whose rows are all written. Recording one twice keeps the first.
    pub fn record_file(&mut self, name: &str, bytes: i64, rows: i64) -> Result<()> {
        let err = self.session.err("recording a loaded file");
        self.session
            .client
            .execute(
                "INSERT INTO shimkit.migration_files (migration, file, bytes, rows)
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                &[&self.key, &name, &bytes, &rows],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Appends a cycle, numbered one after the last, and returns its record.
    pub fn append_cycle(
        &mut self,
        share: f64,
        decision: &str,
        report: &serde_json::Value,
    ) -> Result<CycleRecord> {
        let db = self.session.db.clone();
        let err = move |e: postgres::Error| PgError::query(&db, "recording a cycle", &e);
        let mut tx = self.session.client.transaction().map_err(err.clone())?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, $2)",
            &[&(LOCK_CLASS ^ 1), &lock_key(&self.key)],
        )
        .map_err(err.clone())?;
        let text = report.to_string();
        let (key, decision_text): (&str, &str) = (&self.key, decision);
        let row = tx
            .query_one(
                "INSERT INTO shimkit.migration_cycles (migration, cycle, share, decision, report)
                 SELECT $1, coalesce(max(cycle), 0) + 1, $2, $3, $4::text::jsonb
                 FROM shimkit.migration_cycles WHERE migration = $1
                 RETURNING cycle::bigint, at::text",
                &[&key, &share, &decision_text, &text],
            )
            .map_err(err.clone())?;
        tx.commit().map_err(err)?;
        Ok(CycleRecord {
            cycle: row.get(0),
            at: row.get(1),
            share,
            decision: decision.to_owned(),
            report: report.clone(),
        })
    }

    /// Records a shim the migration adopts, numbered one after the last; its version.
    pub fn record_shim(
        &mut self,
        pairs: i64,
        heldout_pairs: i64,
        heldout_cosine: f64,
        doc_side: &[u8],
        query_side: &[u8],
    ) -> Result<i64> {
        let err = self.session.err("recording the migration's shim");
        let row = self
            .session
            .client
            .query_one(
                "INSERT INTO shimkit.migration_shims
                   (migration, version, pairs, heldout_pairs, heldout_cosine, doc_side, query_side)
                 SELECT $1, coalesce(max(version), 0) + 1, $2, $3, $4, $5, $6
                 FROM shimkit.migration_shims WHERE migration = $1
                 RETURNING version::bigint",
                &[
                    &self.key,
                    &pairs,
                    &heldout_pairs,
                    &heldout_cosine,
                    &doc_side,
                    &query_side,
                ],
            )
            .map_err(err)?;
        Ok(row.get(0))
    }

    /// The shim adopted last, if any.
    pub fn current_shim(&mut self) -> Result<Option<ShimRecord>> {
        let err = self.session.err("reading the migration's shim");
        let row = self
            .session
            .client
            .query_opt(
                "SELECT version::bigint, fitted_at::text, pairs, heldout_pairs, heldout_cosine,
                        doc_side, query_side
                 FROM shimkit.migration_shims WHERE migration = $1
                 ORDER BY version DESC LIMIT 1",
                &[&self.key],
            )
            .map_err(err)?;
        Ok(row.map(|r| ShimRecord {
            version: r.get(0),
            fitted_at: r.get(1),
            pairs: r.get(2),
            heldout_pairs: r.get(3),
            heldout_cosine: r.get(4),
            doc_side: r.get(5),
            query_side: r.get(6),
        }))
    }

    /// Every cycle, first to last.
    pub fn cycles(&mut self) -> Result<Vec<CycleRecord>> {
        let err = self.session.err("reading the migration's cycles");
        let rows = self
            .session
            .client
            .query(
                "SELECT cycle::bigint, at::text, share, decision, report::text
                 FROM shimkit.migration_cycles WHERE migration = $1 ORDER BY cycle",
                &[&self.key],
            )
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let report: String = r.get(4);
                CycleRecord {
                    cycle: r.get(0),
                    at: r.get(1),
                    share: r.get(2),
                    decision: r.get(3),
                    report: serde_json::from_str(&report).unwrap_or(serde_json::Value::Null),
                }
            })
            .collect())
    }

    /// Records a cutover, rollback or override.
    pub fn record_event(
        &mut self,
        kind: &str,
        forced: bool,
        detail: &serde_json::Value,
    ) -> Result<()> {
        let err = self.session.err("recording an event");
        let text = detail.to_string();
        self.session
            .client
            .execute(
                "INSERT INTO shimkit.migration_events (migration, kind, forced, detail)
                 VALUES ($1, $2, $3, $4::text::jsonb)",
                &[&self.key, &kind, &forced, &text],
            )
            .map_err(err)?;
        Ok(())
    }

    /// Every event, first to last.
    pub fn events(&mut self) -> Result<Vec<EventRecord>> {
        let err = self.session.err("reading the migration's events");
        let rows = self
            .session
            .client
            .query(
                "SELECT at::text, kind, forced, detail::text FROM shimkit.migration_events
                 WHERE migration = $1 ORDER BY at, id",
                &[&self.key],
            )
            .map_err(err)?;
        Ok(rows
            .iter()
            .map(|r| {
                let detail: String = r.get(3);
                EventRecord {
                    at: r.get(0),
                    kind: r.get(1),
                    forced: r.get(2),
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                }
            })
            .collect())
    }
}

/// Rows of `column`'s table whose vector in it was re-embedded (by its provenance column),
/// and all rows.
pub fn reembedded_rows(session: &mut Session, column: &crate::PgTable) -> Result<(i64, i64)> {
    let info = session.table(column)?;
    let source = crate::backfill::provenance_column(&column.vector);
    let reembedded = if info.column(&source).is_some() {
        format!(
            "count(*) FILTER (WHERE {} = 'reembedded')",
            crate::quote_ident(&source)
        )
    } else {
        "0::bigint".to_owned()
    };
    let err = session.err("counting re-embedded rows");
    let row = session
        .client
        .query_one(
            &format!("SELECT {reembedded}, count(*) FROM {}", info.name.sql()),
            &[],
        )
        .map_err(err)?;
    Ok((row.get(0), row.get(1)))
}
