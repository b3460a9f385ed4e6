//! Filling a vector column batch by batch, resumably: `project` into a table, and `load`.
//!
//! Each batch is one transaction: its rows go to a temporary stage by binary `COPY`, one
//! statement writes them into the target column (with their provenance, `projected` or
//! `reembedded`), and a row in `shimkit.backfill_batches` records the batch, all committed
//! together. A run that stops anywhere (kill -9, a dropped connection, a restarted server)
//! leaves whole batches only; the next run folds the unbroken run of recorded batches into
//! its checkpoint, starts after the last one's input, and rewrites nothing twice except the
//! batches of a broken tail, whose writes are idempotent. Several writers, each with its
//! own connection, may work at once; the batches' order is the input's.
//!
//! A session-level advisory lock keeps two runs off one column; it dies with its
//! connection, so a killed run never leaves it held.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use ndarray::Array2;

use crate::catalog::{self, IdType, TableInfo, VectorType};
use crate::copy::{CopyError, CopyWriter};
use crate::error::{PgError, Result};
use crate::location::{PgTable, quote_ident};
use crate::session::Session;
use crate::state;

/// Where a vector in the new column came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Mapped from the old vector by a shim.
    Projected,
    /// Embedded by the new model.
    Reembedded,
}

impl Provenance {
    pub fn as_str(self) -> &'static str {
        match self {
            Provenance::Projected => "projected",
            Provenance::Reembedded => "reembedded",
        }
    }
}

/// The column that records each row's provenance beside a vector column.
pub fn provenance_column(vector: &str) -> String {
    format!("{vector}_source")
}

/// How rows reach the target table. Unless the caller says, a backfill updates the rows
/// of the table it reads, or of any other table that already holds rows; it inserts into
/// a table it creates, or one that is empty. A resumed backfill keeps its first run's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// The rows exist: `UPDATE` them (an id not in the table is counted, not written).
    Update,
    /// Insert rows, or update one already there.
    Upsert,
}

impl WriteMode {
    fn as_str(self) -> &'static str {
        match self {
            WriteMode::Update => "update",
            WriteMode::Upsert => "upsert",
        }
    }
}

/// What to fill, from what, and how.
#[derive(Debug, Clone)]
pub struct BackfillSpec {
    pub target: PgTable,
    pub dim: usize,
    pub vector_type: VectorType,
    /// The id type for a table that has to be created.
    pub id_type: IdType,
    /// The table the input is read from, when it is one in the same database: writing
    /// into it updates its rows.
    pub input_table: Option<crate::location::TableName>,
    /// How rows reach the target; `None` decides (see [`WriteMode`]).
    pub mode: Option<WriteMode>,
    /// Recorded beside each row in `<column>_source`; `None` records nothing (a plain
    /// import into a new table).
    pub provenance: Option<Provenance>,
    /// What is read, in words: a rerun with another input does not resume.
    pub input: String,
    /// The shim's fingerprint: a rerun with another shim does not resume.
    pub shim: String,
    /// Forget a checkpoint and start over.
    pub restart: bool,
    /// Connections writing at once.
    pub writers: usize,
    /// Keep a checkpoint (a `project`); `load` rewrites idempotently and keeps none.
    pub resumable: bool,
}

/// Where the run starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resume {
    /// Nothing written yet.
    Start,
    /// An earlier run committed this much.
    After {
        /// The input's rows consumed, NULLs included (a file input skips this many).
        input_rows: u64,
        /// The last input id consumed (an id-ordered input reads after it).
        last_id: Option<String>,
        rows_written: u64,
    },
    /// An earlier run finished; nothing is left to write.
    Finished { rows_written: u64 },
}

/// What happened to the target before the first row.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub mode: WriteMode,
    pub created_table: bool,
    pub added_column: bool,
    pub added_provenance: bool,
}

/// This run's counts (committed batches only).
#[derive(Debug, Default)]
pub struct Counts {
    pub written: AtomicU64,
    /// Ids of the input the target table does not have (update mode).
    pub not_in_table: AtomicU64,
    /// Rows left alone because they hold a re-embedded vector (a projection never
    /// overwrites one).
    pub kept_reembedded: AtomicU64,
}

/// What a finished run did.
#[derive(Debug, Clone, Copy)]
pub struct Finished {
    /// Rows this run wrote.
    pub written: u64,
    /// Input ids the target table does not have (update mode): not written.
    pub not_in_table: u64,
    /// Rows left alone because they hold a re-embedded vector.
    pub kept_reembedded: u64,
    /// Rows written over all runs of this backfill.
    pub total_written: u64,
}

/// A batch of rows to write, with where the input stands after it.
struct Job {
    seq: i64,
    ids: Vec<String>,
    vectors: Array2<f32>,
    input_rows: u64,
    last_id: Option<String>,
}

/// A backfill in progress.
pub struct Backfill {
    spec: BackfillSpec,
    /// Holds the advisory lock, and folds the checkpoint at the end.
    control: Session,
    target_key: String,
    senders: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    failure: Arc<Mutex<Option<PgError>>>,
    counts: Arc<Counts>,
    next_seq: i64,
    prepared: Prepared,
}

impl Backfill {
    /// Checks and prepares the target (creating the table or columns it lacks, refusing a
    /// column of another type or dimension before any write), takes the column's lock,
    /// and says where to start.
    pub fn open(mut spec: BackfillSpec) -> Result<(Backfill, Resume)> {
        let mut control = Session::open(&spec.target.db)?;
        if spec.resumable {
            state::ensure(&mut control)?;
        }
        let existing =
            catalog::find_table(&mut control.client, &control.db.clone(), &spec.target.table)?;
        let key = existing
            .as_ref()
            .map_or_else(|| spec.target.table.to_string(), |t| t.name.to_string());
        // A checkpoint outlives a dropped column or table; for a column that does not
        // exist yet it is stale, whatever it says.
        let column_is_new = existing
            .as_ref()
            .is_none_or(|t| t.column(&spec.target.vector).is_none());
        let recorded = match &existing {
            Some(t) if spec.resumable && !spec.restart && !column_is_new => {
                recorded_mode(&mut control, &key, t.oid, &spec)?
            }
            _ => None,
        };
        let mode = match (spec.mode, recorded) {
            (Some(m), _) => m,
            (None, Some(m)) => m,
            (None, None) => decide_mode(&mut control, &spec, existing.as_ref())?,
        };
        spec.mode = Some(mode);
        let (info, prepared) = prepare_target(&mut control, &spec, mode)?;
        let target_key = info.name.to_string();
        lock_column(&mut control, &spec, &target_key)?;
        let (resume, next_seq) = if spec.resumable {
            checkpoint(
                &mut control,
                &spec,
                &target_key,
                info.oid,
                mode,
                spec.restart || column_is_new,
            )?
        } else {
            (Resume::Start, 1)
        };
        let failure = Arc::new(Mutex::new(None));
        let counts = Arc::new(Counts::default());
        let (send, receive) = sync_channel::<Job>(spec.writers.max(1));
        let receive = Arc::new(Mutex::new(receive));
        let mut workers = Vec::new();
        if !matches!(resume, Resume::Finished { .. }) {
            let id_type = info.id_column(&control.db, &spec.target.id)?;
            for i in 0..spec.writers.max(1) {
                let writer = Writer::open(&spec, &info, id_type, &target_key, mode)?;
                let receive = receive.clone();
                let failure = failure.clone();
                let counts = counts.clone();
                let handle = std::thread::Builder::new()
                    .name(format!("shimkit-pg-write-{i}"))
                    .spawn(move || writer.run(&receive, &failure, &counts))
                    .map_err(|e| control_error(&spec, format!("cannot start a writer: {e}")))?;
                workers.push(handle);
            }
        }
        Ok((
            Backfill {
                spec,
                control,
                target_key,
                senders: Some(send),
                workers,
                failure,
                counts,
                next_seq,
                prepared,
            },
            resume,
        ))
    }

    /// What was created before the first row.
    pub fn prepared(&self) -> &Prepared {
        &self.prepared
    }

    /// Queues a batch; `input_rows` and `last_id` say where the input stands once it is
    /// written. Returns an earlier batch's failure, if any.
    pub fn write(
        &mut self,
        ids: Vec<String>,
        vectors: Array2<f32>,
        input_rows: u64,
        last_id: Option<String>,
    ) -> Result<()> {
        self.check_failure()?;
        if vectors.ncols() != self.spec.dim {
            return Err(control_error(
                &self.spec,
                format!(
                    "a batch of {}-dimensional vectors for a column of {}",
                    vectors.ncols(),
                    self.spec.dim
                ),
            ));
        }
        let job = Job {
            seq: self.next_seq,
            ids,
            vectors,
            input_rows,
            last_id,
        };
        self.next_seq += 1;
        let sender = self.senders.as_ref().expect("open until finish");
        if sender.send(job).is_err() {
            self.check_failure()?;
            return Err(control_error(&self.spec, "the writers stopped".into()));
        }
        Ok(())
    }

    /// This run's counts so far (committed batches).
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Waits for every batch, folds the checkpoint and marks the backfill finished.
    pub fn finish(mut self) -> Result<Finished> {
        self.drain()?;
        let this_run = Finished {
            written: self.counts.written.load(Ordering::Relaxed),
            not_in_table: self.counts.not_in_table.load(Ordering::Relaxed),
            kept_reembedded: self.counts.kept_reembedded.load(Ordering::Relaxed),
            total_written: self.counts.written.load(Ordering::Relaxed),
        };
        if !self.spec.resumable {
            return Ok(this_run);
        }
        let folded = fold(&mut self.control, &self.spec, &self.target_key)?;
        let err = self.control.err("marking the backfill finished");
        self.control
            .client
            .execute(
                "UPDATE shimkit.backfills SET finished = true, updated_at = now()
                 WHERE target_table = $1 AND target_column = $2",
                &[&self.target_key, &self.spec.target.vector],
            )
            .map_err(err)?;
        Ok(Finished {
            total_written: folded.rows_written,
            ..this_run
        })
    }

    /// Waits for the queued batches and ends the writers.
    fn drain(&mut self) -> Result<()> {
        self.senders.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.check_failure()
    }

    fn check_failure(&self) -> Result<()> {
        match self.failure.lock().map(|mut f| f.take()) {
            Ok(Some(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

impl Drop for Backfill {
    fn drop(&mut self) {
        // Unfinished: the writers end after the batch in hand; what they committed stays.
        self.senders.take();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}

/// One writing connection with its stage.
struct Writer {
    session: Session,
    spec: BackfillSpec,
    id_type: IdType,
    target_key: String,
    write_sql: String,
    /// Counts staged ids the target does not have (update mode).
    missing_sql: String,
    mode: WriteMode,
}

impl Writer {
    fn open(
        spec: &BackfillSpec,
        info: &TableInfo,
        id_type: IdType,
        target_key: &str,
        mode: WriteMode,
    ) -> Result<Writer> {
        let mut session = Session::open(&spec.target.db)?;
        let vector_sql = format!("{}({})", spec.vector_type.sql_name(), spec.dim);
        // A stage that spills to disk would cost more than the write: room for a batch.
        // Its vectors stay in its own pages, uncompressed (PLAIN), where a row fits a page:
        // they are read once, right away, and compressing or moving them to a TOAST table
        // made staging cost more than the write itself. A batch's commit need not wait for its WAL to reach disk:
        // its checkpoint row commits with it, so a batch a crash loses is one the next run
        // writes again; `finish` commits synchronously, which flushes every batch before it.
        // Without a checkpoint (`resumable` off) every commit waits.
        let commit = if spec.resumable { "off" } else { "on" };
        let vector_bytes = spec.dim * spec.vector_type.value_bytes() + 64;
        let storage = if vector_bytes < 7000 { "PLAIN" } else { "MAIN" };
        session.batch(
            "creating the stage table",
            &format!(
                "SET temp_buffers = '256MB';
                 SET synchronous_commit = {commit};
                 CREATE TEMP TABLE shimkit_stage (id {}, v {vector_sql}) ON COMMIT DELETE ROWS;
                 ALTER TABLE shimkit_stage ALTER COLUMN v SET STORAGE {storage}",
                id_type.sql_name()
            ),
        )?;
        let t = info.name.sql();
        let id = quote_ident(&spec.target.id);
        let v = quote_ident(&spec.target.vector);
        let p = quote_ident(&provenance_column(&spec.target.vector));
        // A projection never overwrites a re-embedded vector.
        let keep = match spec.provenance {
            Some(Provenance::Projected) => format!(" AND t.{p} IS DISTINCT FROM 'reembedded'"),
            _ => String::new(),
        };
        let write_sql = match (mode, spec.provenance) {
            (WriteMode::Update, Some(_)) => format!(
                "UPDATE {t} AS t SET {v} = s.v, {p} = $1 FROM shimkit_stage s WHERE t.{id} = s.id{keep}"
            ),
            (WriteMode::Update, None) => format!(
                "UPDATE {t} AS t SET {v} = s.v FROM shimkit_stage s WHERE t.{id} = s.id AND $1::text IS NOT NULL"
            ),
            (WriteMode::Upsert, Some(_)) => format!(
                "INSERT INTO {t} AS t ({id}, {v}, {p}) SELECT id, v, $1 FROM shimkit_stage
                 ON CONFLICT ({id}) DO UPDATE SET {v} = EXCLUDED.{v}, {p} = EXCLUDED.{p}
                 WHERE true{keep}"
            ),
            (WriteMode::Upsert, None) => format!(
                "INSERT INTO {t} AS t ({id}, {v}) SELECT id, v FROM shimkit_stage WHERE $1::text IS NOT NULL
                 ON CONFLICT ({id}) DO UPDATE SET {v} = EXCLUDED.{v}"
            ),
        };
        Ok(Writer {
            session,
            spec: spec.clone(),
            id_type,
            target_key: target_key.to_owned(),
            write_sql,
            missing_sql: format!(
                "SELECT count(*) FROM shimkit_stage s WHERE NOT EXISTS (SELECT 1 FROM {t} t WHERE t.{id} = s.id)"
            ),
            mode,
        })
    }

    fn run(
        mut self,
        jobs: &Mutex<Receiver<Job>>,
        failure: &Mutex<Option<PgError>>,
        counts: &Counts,
    ) {
        loop {
            let job = match jobs.lock() {
                Ok(rx) => rx.recv(),
                Err(_) => return,
            };
            let Ok(job) = job else { return };
            if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                return;
            }
            match self.write(&job, counts) {
                Ok(()) => {}
                Err(e) => {
                    if let Ok(mut f) = failure.lock() {
                        f.get_or_insert(e);
                    }
                    return;
                }
            }
        }
    }

    /// One batch, one transaction: stage, write, record.
    fn write(&mut self, job: &Job, counts: &Counts) -> Result<()> {
        let mut copy = CopyWriter::new();
        for (id, row) in job.ids.iter().zip(job.vectors.rows()) {
            copy.tuple(2);
            copy.id(id, self.id_type)
                .map_err(|e| self.value_error(e, id))?;
            let values = row
                .as_slice()
                .map(<[f32]>::to_vec)
                .unwrap_or_else(|| row.to_vec());
            copy.vector(&values, self.spec.vector_type)
                .map_err(|e| self.value_error(e, id))?;
        }
        let db = self.session.db.clone();
        let what = |step: &str| {
            format!(
                "writing column \"{}\" ({step}, batch from id {})",
                self.spec.target.vector,
                job.ids.first().map(String::as_str).unwrap_or("-")
            )
        };
        let mut tx = self
            .session
            .client
            .transaction()
            .map_err(|e| PgError::query(&db, what("begin"), &e))?;
        if self.mode == WriteMode::Update {
            // The stage has no statistics; a hash join would scan the whole table.
            tx.batch_execute("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off")
                .map_err(|e| PgError::query(&db, what("plan"), &e))?;
        }
        {
            let mut sink = tx
                .copy_in("COPY shimkit_stage (id, v) FROM STDIN (FORMAT binary)")
                .map_err(|e| PgError::query(&db, what("stage"), &e))?;
            copy.finish_to(&mut sink)
                .map_err(|e| io_lost(&db, what("stage"), e))?;
            sink.finish()
                .map_err(|e| PgError::query(&db, what("stage"), &e))?;
        }
        let n = tx
            .execute(
                &self.write_sql,
                &[&self.spec.provenance.map_or("", Provenance::as_str)],
            )
            .map_err(|e| PgError::query(&db, what("write"), &e))?;
        let staged = job.ids.len() as u64;
        let missing = if self.mode == WriteMode::Update && n < staged {
            tx.query_one(&self.missing_sql, &[])
                .map_err(|e| PgError::query(&db, what("count"), &e))?
                .get::<_, i64>(0) as u64
        } else {
            0
        };
        if self.spec.resumable {
            tx.execute(
                "INSERT INTO shimkit.backfill_batches
                 (target_table, target_column, seq, rows_written, input_rows, last_id)
                 VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &self.target_key,
                    &self.spec.target.vector,
                    &job.seq,
                    &(n as i64),
                    &(job.input_rows as i64),
                    &job.last_id,
                ],
            )
            .map_err(|e| PgError::query(&db, what("checkpoint"), &e))?;
        }
        tx.commit()
            .map_err(|e| PgError::query(&db, what("commit"), &e))?;
        counts.written.fetch_add(n, Ordering::Relaxed);
        counts.not_in_table.fetch_add(missing, Ordering::Relaxed);
        counts
            .kept_reembedded
            .fetch_add(staged.saturating_sub(n + missing), Ordering::Relaxed);
        Ok(())
    }

    fn value_error(&self, e: CopyError, id: &str) -> PgError {
        PgError::Row {
            db: self.session.db.clone(),
            table: self.spec.target.table.to_string(),
            row: format!("id {id}"),
            message: e.to_string(),
        }
    }
}

fn io_lost(db: &str, what: String, e: std::io::Error) -> PgError {
    PgError::Query {
        db: db.to_owned(),
        what,
        message: format!(
            "{e} (the connection was lost: everything committed is kept, and running the same command again continues from there)"
        ),
        lost: true,
    }
}

fn control_error(spec: &BackfillSpec, message: String) -> PgError {
    PgError::Table {
        db: spec.target.db.label().to_owned(),
        table: spec.target.table.to_string(),
        message,
    }
}

/// Creates what is missing and refuses what is wrong, before any row is written.
fn prepare_target(
    session: &mut Session,
    spec: &BackfillSpec,
    mode: WriteMode,
) -> Result<(TableInfo, Prepared)> {
    let db = session.db.clone();
    let target = &spec.target;
    let vector_sql = format!("{}({})", spec.vector_type.sql_name(), spec.dim);
    let provenance = provenance_column(&target.vector);
    if spec.provenance.is_some() && provenance.len() > 63 {
        return Err(control_error(
            spec,
            format!(
                "the column name \"{}\" leaves no room for its provenance column \"{provenance}\" (63 bytes at most)",
                target.vector
            ),
        ));
    }
    if spec.vector_type == VectorType::HalfVec && !catalog::has_halfvec(&mut session.client, &db)? {
        return Err(control_error(
            spec,
            format!(
                "halfvec needs pgvector 0.7 or later; this server has {}",
                session.pgvector
            ),
        ));
    }
    let mut prepared = Prepared {
        mode,
        created_table: false,
        added_column: false,
        added_provenance: false,
    };
    let info = match catalog::find_table(&mut session.client, &db, &target.table)? {
        Some(info) => info,
        None => {
            if mode == WriteMode::Update {
                return Err(PgError::NoTable {
                    db,
                    table: target.table.to_string(),
                });
            }
            let provenance_sql = match spec.provenance {
                Some(_) => format!(", {} text", quote_ident(&provenance)),
                None => String::new(),
            };
            session.batch(
                "creating the target table",
                &format!(
                    "CREATE TABLE {} ({} {} PRIMARY KEY, {} {vector_sql}{provenance_sql})",
                    target.table.sql(),
                    quote_ident(&target.id),
                    spec.id_type.sql_name(),
                    quote_ident(&target.vector),
                ),
            )?;
            prepared.created_table = true;
            catalog::table(&mut session.client, target)?
        }
    };
    if !matches!(info.kind, 'r' | 'p') {
        return Err(control_error(
            spec,
            "is not a table (a view?); shimkit writes only into tables".into(),
        ));
    }
    info.id_column(&db, &target.id)?;
    if !catalog::is_unique(&mut session.client, &db, &info, &target.id)? {
        return Err(control_error(
            spec,
            format!(
                "no unique index on \"{}\": writing each row exactly once needs one (CREATE UNIQUE INDEX ON {} ({}))",
                target.id,
                info.name.sql(),
                quote_ident(&target.id)
            ),
        ));
    }
    let mut alter = Vec::new();
    match info.column(&target.vector) {
        None => {
            alter.push(format!(
                "ADD COLUMN {} {vector_sql}",
                quote_ident(&target.vector)
            ));
            prepared.added_column = true;
        }
        Some(column) => match column.vector_type() {
            Some((kind, Some(dim))) if kind == spec.vector_type && dim == spec.dim => {}
            _ => {
                return Err(PgError::ColumnType {
                    db,
                    table: info.name.to_string(),
                    column: target.vector.clone(),
                    found: column.sql_type.clone(),
                    expected: format!("the vectors to write are {vector_sql}; nothing was written"),
                });
            }
        },
    }
    match info.column(&provenance) {
        _ if spec.provenance.is_none() => {}
        None => {
            alter.push(format!("ADD COLUMN {} text", quote_ident(&provenance)));
            prepared.added_provenance = true;
        }
        Some(c) if c.id_type() == Some(IdType::Text) => {}
        Some(c) => {
            return Err(PgError::ColumnType {
                db,
                table: info.name.to_string(),
                column: provenance,
                found: c.sql_type.clone(),
                expected: "shimkit records each row's provenance there as text".into(),
            });
        }
    }
    if !alter.is_empty() {
        session.batch(
            "adding the new column",
            &format!("ALTER TABLE {} {}", info.name.sql(), alter.join(", ")),
        )?;
        let info = catalog::table(&mut session.client, target)?;
        return Ok((info, prepared));
    }
    Ok((info, prepared))
}

/// Takes the column's advisory lock for this session, or says who holds it.
fn lock_column(session: &mut Session, spec: &BackfillSpec, key: &str) -> Result<()> {
    let err = session.err("taking the column's lock");
    let name = format!("shimkit backfill {key}.{}", spec.target.vector);
    let got: bool = session
        .client
        .query_one(
            "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
            &[&name],
        )
        .map_err(err)?
        .get(0);
    if !got {
        return Err(control_error(
            spec,
            format!(
                "another shimkit run is writing column \"{}\" right now; wait for it, or stop it (its batches are kept)",
                spec.target.vector
            ),
        ));
    }
    Ok(())
}

/// The checkpoint's totals once the unbroken run of batches is folded in.
#[derive(Debug, Clone, Default)]
struct Folded {
    rows_written: u64,
    input_rows: u64,
    last_id: Option<String>,
    next_seq: i64,
    finished: bool,
}

/// Folds the unbroken run of recorded batches into the checkpoint row and forgets the
/// rest (their rows are written again, idempotently).
fn fold(session: &mut Session, spec: &BackfillSpec, key: &str) -> Result<Folded> {
    let db = session.db.clone();
    let column = &spec.target.vector;
    let err = |e: postgres::Error| PgError::query(&db, "reading the backfill's checkpoint", &e);
    let mut tx = session.client.transaction().map_err(err)?;
    let row = tx
        .query_opt(
            "SELECT rows_written, input_rows, last_id, next_seq, finished FROM shimkit.backfills
             WHERE target_table = $1 AND target_column = $2 FOR UPDATE",
            &[&key, column],
        )
        .map_err(err)?;
    let Some(row) = row else {
        return Ok(Folded::default());
    };
    let mut folded = Folded {
        rows_written: row.get::<_, i64>(0) as u64,
        input_rows: row.get::<_, i64>(1) as u64,
        last_id: row.get(2),
        next_seq: row.get(3),
        finished: row.get(4),
    };
    let batches = tx
        .query(
            "SELECT seq, rows_written, input_rows, last_id FROM shimkit.backfill_batches
             WHERE target_table = $1 AND target_column = $2 ORDER BY seq",
            &[&key, column],
        )
        .map_err(err)?;
    for b in &batches {
        let seq: i64 = b.get(0);
        if seq != folded.next_seq {
            break;
        }
        folded.rows_written += b.get::<_, i64>(1) as u64;
        folded.input_rows = b.get::<_, i64>(2) as u64;
        folded.last_id = b.get(3);
        folded.next_seq += 1;
    }
    tx.execute(
        "DELETE FROM shimkit.backfill_batches WHERE target_table = $1 AND target_column = $2",
        &[&key, column],
    )
    .map_err(err)?;
    tx.execute(
        "UPDATE shimkit.backfills SET rows_written = $3, input_rows = $4, last_id = $5,
             next_seq = $6, updated_at = now()
         WHERE target_table = $1 AND target_column = $2",
        &[
            &key,
            column,
            &(folded.rows_written as i64),
            &(folded.input_rows as i64),
            &folded.last_id,
            &folded.next_seq,
        ],
    )
    .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok(folded)
}

/// Where this run starts: a new checkpoint, a resumed one, or a refusal to resume
/// another input's or another shim's backfill.
fn checkpoint(
    session: &mut Session,
    spec: &BackfillSpec,
    key: &str,
    table_oid: u32,
    mode: WriteMode,
    start_over: bool,
) -> Result<(Resume, i64)> {
    let column = &spec.target.vector;
    let err = session.err("reading the backfill's checkpoint");
    let existing = session
        .client
        .query_opt(
            "SELECT input, shim, table_oid FROM shimkit.backfills WHERE target_table = $1 AND target_column = $2",
            &[&key, column],
        )
        .map_err(err)?;
    let fresh = |session: &mut Session| -> Result<(Resume, i64)> {
        let err = session.err("starting the backfill's checkpoint");
        session
            .client
            .execute(
                "DELETE FROM shimkit.backfill_batches WHERE target_table = $1 AND target_column = $2",
                &[&key, column],
            )
            .map_err(err)?;
        let err = session.err("starting the backfill's checkpoint");
        session
            .client
            .execute(
                "INSERT INTO shimkit.backfills (target_table, target_column, input, shim, mode, table_oid)
                 VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (target_table, target_column) DO UPDATE SET
                   input = EXCLUDED.input, shim = EXCLUDED.shim, mode = EXCLUDED.mode,
                   table_oid = EXCLUDED.table_oid, rows_written = 0,
                   input_rows = 0, last_id = NULL, next_seq = 1, finished = false,
                   started_at = now(), updated_at = now()",
                &[&key, column, &spec.input, &spec.shim, &mode.as_str(), &table_oid],
            )
            .map_err(err)?;
        Ok((Resume::Start, 1))
    };
    let Some(row) = existing else {
        return fresh(session);
    };
    let recorded_oid: Option<u32> = row.get(2);
    if start_over || recorded_oid.is_some_and(|oid| oid != table_oid) {
        return fresh(session);
    }
    let (input, shim): (String, String) = (row.get(0), row.get(1));
    let folded = fold(session, spec, key)?;
    if input != spec.input || shim != spec.shim {
        let what = if input != spec.input {
            format!("from another input ({input})")
        } else {
            format!("with another shim ({shim})")
        };
        return Err(control_error(
            spec,
            format!(
                "column \"{column}\" was being filled {what}: {} rows written; pass --restart to start over",
                folded.rows_written
            ),
        ));
    }
    if folded.finished {
        return Ok((
            Resume::Finished {
                rows_written: folded.rows_written,
            },
            folded.next_seq,
        ));
    }
    if folded.next_seq == 1 {
        return Ok((Resume::Start, 1));
    }
    Ok((
        Resume::After {
            input_rows: folded.input_rows,
            last_id: folded.last_id,
            rows_written: folded.rows_written,
        },
        folded.next_seq,
    ))
}

/// The mode a resumable backfill of the same input and shim started with.
fn recorded_mode(
    session: &mut Session,
    key: &str,
    table_oid: u32,
    spec: &BackfillSpec,
) -> Result<Option<WriteMode>> {
    let err = session.err("reading the backfill's checkpoint");
    let row = session
        .client
        .query_opt(
            "SELECT mode FROM shimkit.backfills
             WHERE target_table = $1 AND target_column = $2 AND input = $3 AND shim = $4
               AND (table_oid IS NULL OR table_oid = $5)",
            &[
                &key,
                &spec.target.vector,
                &spec.input,
                &spec.shim,
                &table_oid,
            ],
        )
        .map_err(err)?;
    Ok(row.and_then(|r| match r.get::<_, String>(0).as_str() {
        "update" => Some(WriteMode::Update),
        "upsert" => Some(WriteMode::Upsert),
        _ => None,
    }))
}

/// Update the rows of the table read, or of a table that has rows; insert into a table
/// that is missing or empty.
fn decide_mode(
    session: &mut Session,
    spec: &BackfillSpec,
    target: Option<&TableInfo>,
) -> Result<WriteMode> {
    let Some(target) = target else {
        return Ok(WriteMode::Upsert);
    };
    if let Some(input) = &spec.input_table
        && let Some(read) = catalog::find_table(&mut session.client, &session.db.clone(), input)?
        && read.oid == target.oid
    {
        return Ok(WriteMode::Update);
    }
    let err = session.err("looking at the target table");
    let has_rows: bool = session
        .client
        .query_one(
            &format!("SELECT EXISTS (SELECT 1 FROM {})", target.name.sql()),
            &[],
        )
        .map_err(err)?
        .get(0);
    Ok(if has_rows {
        WriteMode::Update
    } else {
        WriteMode::Upsert
    })
}

/// How many of `ids` the target table lacks, and the first of them: checked before a
/// `load` writes anything.
pub fn ids_not_in(location: &PgTable, ids: &[String]) -> Result<(u64, Option<String>)> {
    let mut session = Session::open(&location.db)?;
    let info = session.table(location)?;
    let id_type = info.id_column(&session.db, &location.id)?;
    session.batch(
        "staging ids",
        &format!("CREATE TEMP TABLE shimkit_ids (id {})", id_type.sql_name()),
    )?;
    let mut copy = CopyWriter::new();
    for id in ids {
        copy.tuple(1);
        copy.id(id, id_type).map_err(|e| PgError::Row {
            db: session.db.clone(),
            table: info.name.to_string(),
            row: format!("id {id}"),
            message: e.to_string(),
        })?;
    }
    let db = session.db.clone();
    let err = |e: postgres::Error| PgError::query(&db, "staging ids", &e);
    let mut sink = session
        .client
        .copy_in("COPY shimkit_ids FROM STDIN (FORMAT binary)")
        .map_err(err)?;
    copy.finish_to(&mut sink)
        .map_err(|e| io_lost(&db, "staging ids".into(), e))?;
    sink.finish().map_err(err)?;
    let row = session
        .client
        .query_one(
            &format!(
                "SELECT count(*), min(s.id::text) FROM shimkit_ids s
                 WHERE NOT EXISTS (SELECT 1 FROM {} t WHERE t.{} = s.id)",
                info.name.sql(),
                quote_ident(&location.id)
            ),
            &[],
        )
        .map_err(err)?;
    Ok((row.get::<_, i64>(0) as u64, row.get(1)))
}
