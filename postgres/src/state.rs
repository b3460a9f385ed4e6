//! What shimkit remembers in the database itself, in a schema of its own (`shimkit`): where
//! each backfill stands, each cutover's renames, and each migration's history, so that a
//! rerun on any machine resumes and a rollback restores.

use crate::error::Result;
use crate::session::Session;

const TABLES: &str = "
CREATE SCHEMA IF NOT EXISTS shimkit;
CREATE TABLE IF NOT EXISTS shimkit.backfills (
    target_table  text NOT NULL,
    target_column text NOT NULL,
    -- What is read and what maps it: a rerun with another input or shim must not resume.
    input         text NOT NULL,
    shim          text NOT NULL,
    -- update (rows exist) or upsert (rows are inserted), kept for a resumed run.
    mode          text NOT NULL DEFAULT 'update',
    -- Batches folded in: rows written, the input's rows consumed, the last input id.
    rows_written  bigint NOT NULL DEFAULT 0,
    input_rows    bigint NOT NULL DEFAULT 0,
    last_id       text,
    next_seq      bigint NOT NULL DEFAULT 1,
    finished      boolean NOT NULL DEFAULT false,
    started_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (target_table, target_column)
);
-- The table's identity: a checkpoint of a table dropped and made again is stale.
ALTER TABLE shimkit.backfills ADD COLUMN IF NOT EXISTS table_oid oid;
-- One row a committed batch, written in the batch's own transaction.
CREATE TABLE IF NOT EXISTS shimkit.backfill_batches (
    target_table  text NOT NULL,
    target_column text NOT NULL,
    seq           bigint NOT NULL,
    rows_written  bigint NOT NULL,
    input_rows    bigint NOT NULL,
    last_id       text,
    PRIMARY KEY (target_table, target_column, seq)
);
CREATE TABLE IF NOT EXISTS shimkit.cutovers (
    target_table  text PRIMARY KEY,
    -- The column the application reads, and which column was renamed to it.
    reads         text NOT NULL,
    switched_to   text NOT NULL,
    -- [[from, to], ...] in the order they were applied.
    renames       text NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
-- A migration run as an operation (`shimkit migrate`): the incoming files loaded, each
-- cycle's figures and decision, and each cutover, rollback and override.
CREATE TABLE IF NOT EXISTS shimkit.migration_files (
    migration     text NOT NULL,
    file          text NOT NULL,
    bytes         bigint NOT NULL,
    rows          bigint NOT NULL,
    loaded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (migration, file)
);
CREATE TABLE IF NOT EXISTS shimkit.migration_cycles (
    migration     text NOT NULL,
    cycle         integer NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    share         double precision NOT NULL,
    decision      text NOT NULL,
    report        jsonb NOT NULL,
    PRIMARY KEY (migration, cycle)
);
CREATE TABLE IF NOT EXISTS shimkit.migration_events (
    id            bigserial PRIMARY KEY,
    migration     text NOT NULL,
    at            timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind          text NOT NULL,
    forced        boolean NOT NULL DEFAULT false,
    detail        jsonb NOT NULL
);
-- The shims a migration fitted on its re-embedded pairs (when its spec names none): each
-- version's artifacts, both directions, and what it scored on the held-out pairs.
CREATE TABLE IF NOT EXISTS shimkit.migration_shims (
    migration     text NOT NULL,
    version       integer NOT NULL,
    fitted_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    pairs         bigint NOT NULL,
    heldout_pairs bigint NOT NULL,
    heldout_cosine double precision NOT NULL,
    doc_side      bytea NOT NULL,
    query_side    bytea NOT NULL,
    PRIMARY KEY (migration, version)
);
";

/// Creates the schema and its tables where missing. Two runs starting at once may race
/// on `IF NOT EXISTS`; the loser tries once more.
pub fn ensure(session: &mut Session) -> Result<()> {
    match session.batch("creating the shimkit schema", TABLES) {
        Ok(()) => Ok(()),
        Err(_) => session.batch("creating the shimkit schema", TABLES),
    }
}
