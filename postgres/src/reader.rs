//! Reading vector columns as a stream of batches, in constant memory.
//!
//! With a unique index on the id column the table is read in id order, a bounded chunk per
//! statement (`WHERE id > last ORDER BY id LIMIT n`): no snapshot is held for the whole
//! read, the read can start after a given id (a resumed backfill does), and every chunk
//! is one binary `COPY`. Without one, the table is read in one `COPY`, and duplicate ids
//! are looked for first. A connection of its own reads ahead on a thread of its own.
//!
//! [`PgReader`] reads one column; [`PgPairReader`] reads two (the old and the new model's
//! vectors of the same ids, from one table or two joined by id) for a streamed fit.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use ndarray::Array2;
use shimkit_data::{DataError, EmbeddingBatch};

use crate::catalog::{self, IdType, TableInfo, VectorType};
use crate::copy::{CopyError, CopyReader, decode_id, decode_vector};
use crate::error::{PgError, Result};
use crate::location::{PgTable, quote_ident};
use crate::session::{Session, id_literal};

/// Bytes of vectors one chunk statement fetches.
const CHUNK_BYTES: usize = 32 << 20;

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Most rows in one batch handed on.
    pub batch_rows: usize,
    /// Read only ids after this one (in the id column's order): where a resumed run starts.
    pub after: Option<String>,
    /// Look for duplicate ids when no unique index rules them out.
    pub check_duplicates: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            batch_rows: 4096,
            after: None,
            check_duplicates: true,
        }
    }
}

/// What a reader knows before its first row.
#[derive(Debug, Clone)]
pub struct ColumnShape {
    pub id_type: IdType,
    pub vector_type: VectorType,
    /// The declared dimension (`vector(768)`), `None` when unconstrained.
    pub dim: Option<usize>,
    /// Whether the table is read in id order (a unique index on the id column).
    pub ordered: bool,
    /// The planner's estimate of the table's rows (for progress bars).
    pub estimated_rows: u64,
    /// The table as the catalog resolved it.
    pub table: crate::location::TableName,
}

/// Counts the reader keeps while it reads.
#[derive(Debug, Default)]
pub struct ReadStats {
    /// Rows whose vector is NULL: skipped, and counted here.
    pub null_vectors: AtomicU64,
    /// Rows handed on.
    pub rows: AtomicU64,
}

/// Rows with one or more vector columns.
struct RowBatch {
    ids: Vec<String>,
    vectors: Vec<Array2<f32>>,
    first_row: u64,
}

/// A vector column read in batches; an iterator of the data layer's batches.
pub struct PgReader {
    shape: ColumnShape,
    stats: Arc<ReadStats>,
    stream: Stream,
    label: PathBuf,
}

impl PgReader {
    /// Connects, checks the columns, and starts reading ahead.
    pub fn open(location: &PgTable, options: ReadOptions) -> Result<PgReader> {
        let mut session = Session::open(&location.db)?;
        let info = session.table(location)?;
        let (shape, column) = describe(&mut session, location, &info)?;
        if !shape.ordered && options.check_duplicates {
            check_unique_ids(&mut session, location)?;
        }
        if options.after.is_some() && !shape.ordered {
            return Err(needs_unique(&session.db, location));
        }
        if shape.ordered {
            check_no_null_ids(&mut session, location)?;
        }
        let plan = Plan {
            from: format!("{} t", info.name.sql()),
            id_sql: format!("t.{}", quote_ident(&location.id)),
            conditions: Vec::new(),
            vectors: vec![column],
            id_type: shape.id_type,
            ordered: shape.ordered,
        };
        let stats = Arc::new(ReadStats::default());
        let stream = Stream::start(session, location, plan, options, stats.clone())?;
        Ok(PgReader {
            shape,
            stats,
            stream,
            label: PathBuf::from(location.label()),
        })
    }

    pub fn shape(&self) -> &ColumnShape {
        &self.shape
    }

    /// Counts so far (final once the iterator has ended).
    pub fn stats(&self) -> Arc<ReadStats> {
        self.stats.clone()
    }
}

impl Iterator for PgReader {
    type Item = shimkit_data::Result<EmbeddingBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.stream.next()?;
        Some(batch.map(|mut b| EmbeddingBatch {
            ids: b.ids,
            vectors: b.vectors.swap_remove(0),
            file: self.label.clone(),
            first_row: b.first_row,
        }))
    }
}

/// Pairs of vectors of the same ids: two columns of one table, or of two tables in one
/// database joined by id. Rows where either vector is NULL are not pairs.
pub struct PgPairReader {
    pub old_shape: ColumnShape,
    pub new_shape: ColumnShape,
    stream: Stream,
}

/// One batch of pairs.
pub struct PairBatch {
    pub ids: Vec<String>,
    pub old: Array2<f32>,
    pub new: Array2<f32>,
}

impl PgPairReader {
    /// Whether two locations can be read as pairs by one statement.
    pub fn can_pair(old: &PgTable, new: &PgTable) -> bool {
        old.db.label() == new.db.label()
    }

    /// Connects, checks both columns, and starts reading pairs in the old table's id
    /// order. Both id columns need a unique index when the tables differ.
    pub fn open(old: &PgTable, new: &PgTable, options: ReadOptions) -> Result<PgPairReader> {
        Self::open_filtered(old, new, options, false)
    }

    /// [`open`](Self::open), reading with `reembedded_only` only the rows whose new vector
    /// was re-embedded (its provenance column says so), not projected: the pairs a
    /// migration fits its shim on.
    pub fn open_filtered(
        old: &PgTable,
        new: &PgTable,
        options: ReadOptions,
        reembedded_only: bool,
    ) -> Result<PgPairReader> {
        let mut session = Session::open(&old.db)?;
        let old_info = session.table(old)?;
        let new_info = session.table(new)?;
        let (old_shape, mut old_column) = describe(&mut session, old, &old_info)?;
        let (new_shape, mut new_column) = describe(&mut session, new, &new_info)?;
        let same_table = old_info.oid == new_info.oid;
        if !old_shape.ordered {
            return Err(needs_unique(&session.db, old));
        }
        let (from, conditions) = if same_table {
            if old.id != new.id {
                return Err(PgError::Table {
                    db: session.db.clone(),
                    table: old_info.name.to_string(),
                    message: format!(
                        "one table read with two id columns (\"{}\" and \"{}\")",
                        old.id, new.id
                    ),
                });
            }
            old_column.sql = format!("t.{}", quote_ident(&old.vector));
            new_column.sql = format!("t.{}", quote_ident(&new.vector));
            (format!("{} t", old_info.name.sql()), Vec::new())
        } else {
            if !new_shape.ordered {
                return Err(needs_unique(&session.db, new));
            }
            if old_shape.id_type != new_shape.id_type {
                return Err(PgError::Table {
                    db: session.db.clone(),
                    table: new_info.name.to_string(),
                    message: format!(
                        "ids are {} here but {} in {}: they cannot be joined",
                        new_shape.id_type.sql_name(),
                        old_shape.id_type.sql_name(),
                        old_info.name
                    ),
                });
            }
            old_column.sql = format!("t.{}", quote_ident(&old.vector));
            new_column.sql = format!("n.{}", quote_ident(&new.vector));
            (
                format!(
                    "{} t JOIN {} n ON n.{} = t.{}",
                    old_info.name.sql(),
                    new_info.name.sql(),
                    quote_ident(&new.id),
                    quote_ident(&old.id)
                ),
                Vec::new(),
            )
        };
        let mut conditions = conditions;
        conditions.push(format!("{} IS NOT NULL", old_column.sql));
        conditions.push(format!("{} IS NOT NULL", new_column.sql));
        if reembedded_only {
            let alias = if same_table { "t" } else { "n" };
            conditions.push(format!(
                "{alias}.{} = '{}'",
                quote_ident(&crate::backfill::provenance_column(&new.vector)),
                crate::backfill::Provenance::Reembedded.as_str()
            ));
        }
        let plan = Plan {
            from,
            id_sql: format!("t.{}", quote_ident(&old.id)),
            conditions,
            vectors: vec![old_column, new_column],
            id_type: old_shape.id_type,
            ordered: true,
        };
        let stream = Stream::start(session, old, plan, options, Arc::new(ReadStats::default()))?;
        Ok(PgPairReader {
            old_shape,
            new_shape,
            stream,
        })
    }
}

impl Iterator for PgPairReader {
    type Item = shimkit_data::Result<PairBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        let batch = self.stream.next()?;
        Some(batch.map(|mut b| {
            let new = b.vectors.pop().unwrap_or_default();
            let old = b.vectors.pop().unwrap_or_default();
            PairBatch {
                ids: b.ids,
                old,
                new,
            }
        }))
    }
}

/// The id and vector columns' types, refused when they are not what shimkit reads.
fn describe(
    session: &mut Session,
    location: &PgTable,
    info: &TableInfo,
) -> Result<(ColumnShape, VectorColumn)> {
    let id_type = info.id_column(&session.db, &location.id)?;
    let (vector_type, dim) = info.vector_column(&session.db, &location.vector)?;
    let ordered = catalog::is_unique(&mut session.client, &session.db, info, &location.id)?;
    let estimated_rows = estimated_rows(session, info.oid)?;
    Ok((
        ColumnShape {
            id_type,
            vector_type,
            dim,
            ordered,
            estimated_rows,
            table: info.name.clone(),
        },
        VectorColumn {
            name: location.vector.clone(),
            table: info.name.to_string(),
            sql: format!("t.{}", quote_ident(&location.vector)),
            vector_type,
            dim,
        },
    ))
}

fn needs_unique(db: &str, location: &PgTable) -> PgError {
    PgError::Table {
        db: db.to_owned(),
        table: location.table.to_string(),
        message: format!(
            "reading in id order needs a unique index on \"{}\" (CREATE UNIQUE INDEX ON {} ({}))",
            location.id,
            location.table.sql(),
            quote_ident(&location.id)
        ),
    }
}

/// A vector column in a statement.
#[derive(Debug, Clone)]
struct VectorColumn {
    name: String,
    table: String,
    sql: String,
    vector_type: VectorType,
    dim: Option<usize>,
}

/// What one reading thread selects.
struct Plan {
    from: String,
    id_sql: String,
    conditions: Vec<String>,
    vectors: Vec<VectorColumn>,
    id_type: IdType,
    ordered: bool,
}

/// Batches arriving from a reading thread.
struct Stream {
    batches: Receiver<shimkit_data::Result<RowBatch>>,
    worker: Option<JoinHandle<()>>,
}

impl Stream {
    fn start(
        mut session: Session,
        location: &PgTable,
        plan: Plan,
        options: ReadOptions,
        stats: Arc<ReadStats>,
    ) -> Result<Stream> {
        let (send, batches) = sync_channel(2);
        let job = Job {
            db: session.db.clone(),
            table: location.table.to_string(),
            plan,
            options,
            stats,
            send,
        };
        let worker = std::thread::Builder::new()
            .name("shimkit-pg-read".into())
            .spawn(move || {
                if let Err(Stop::Failed(e)) = job.read_all(&mut session.client) {
                    let _ = job.send.send(Err(DataError::Store(e)));
                }
            })
            .map_err(|e| PgError::Table {
                db: location.db.label().to_owned(),
                table: location.table.to_string(),
                message: format!("cannot start the reading thread: {e}"),
            })?;
        Ok(Stream {
            batches,
            worker: Some(worker),
        })
    }

    fn next(&mut self) -> Option<shimkit_data::Result<RowBatch>> {
        match self.batches.recv() {
            Ok(item) => Some(item),
            Err(_) => {
                if let Some(w) = self.worker.take() {
                    let _ = w.join();
                }
                None
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // The worker stops at its next send once the receiver is gone; its connection
        // closes with it. Waiting would block on a statement in flight.
        self.worker.take();
    }
}

/// What the reading thread reads, and where it sends it.
struct Job {
    db: String,
    table: String,
    plan: Plan,
    options: ReadOptions,
    stats: Arc<ReadStats>,
    send: SyncSender<shimkit_data::Result<RowBatch>>,
}

/// Why the reading thread stopped early.
enum Stop {
    /// The consumer is gone.
    Hungup,
    Failed(Box<PgError>),
}

impl From<PgError> for Stop {
    fn from(e: PgError) -> Self {
        Stop::Failed(Box::new(e))
    }
}

impl Job {
    fn read_all(&self, client: &mut postgres::Client) -> std::result::Result<(), Stop> {
        let plan = &self.plan;
        let mut batch = Batch::new(self.options.batch_rows.max(1), plan.vectors.len());
        let select: Vec<&str> = std::iter::once(plan.id_sql.as_str())
            .chain(plan.vectors.iter().map(|v| v.sql.as_str()))
            .collect();
        let select = select.join(", ");
        let conditions = |extra: Option<String>| -> String {
            let all: Vec<String> = extra
                .into_iter()
                .chain(plan.conditions.iter().cloned())
                .collect();
            if all.is_empty() {
                String::new()
            } else {
                format!("WHERE {}", all.join(" AND "))
            }
        };
        if !plan.ordered {
            let sql = format!(
                "COPY (SELECT {select} FROM {} {}) TO STDOUT (FORMAT binary)",
                plan.from,
                conditions(None)
            );
            self.copy_chunk(client, &sql, &mut batch)?;
        } else {
            let per_row: usize = plan
                .vectors
                .iter()
                .map(|v| v.dim.unwrap_or(1024).max(1) * v.vector_type.value_bytes())
                .sum();
            let chunk = (CHUNK_BYTES / per_row.max(1)).clamp(1000, 1_000_000);
            let mut after = self.options.after.clone();
            loop {
                let filter = match &after {
                    Some(last) => Some(format!(
                        "{} > {}",
                        plan.id_sql,
                        id_literal(last, plan.id_type).map_err(|m| self.table_error(m))?
                    )),
                    None => None,
                };
                let sql = format!(
                    "COPY (SELECT {select} FROM {} {} ORDER BY {} LIMIT {chunk}) TO STDOUT (FORMAT binary)",
                    plan.from,
                    conditions(filter),
                    plan.id_sql
                );
                let (rows, last) = self.copy_chunk(client, &sql, &mut batch)?;
                if rows < chunk as u64 {
                    break;
                }
                after = last;
            }
        }
        batch.flush(&self.send)
    }

    /// Runs one COPY, adding its rows to `batch` (sending full ones); returns the rows it
    /// read (NULL vectors included) and the last id.
    fn copy_chunk(
        &self,
        client: &mut postgres::Client,
        sql: &str,
        batch: &mut Batch,
    ) -> std::result::Result<(u64, Option<String>), Stop> {
        let names: Vec<&str> = self.plan.vectors.iter().map(|v| v.name.as_str()).collect();
        let what = format!("reading column \"{}\"", names.join("\", \""));
        let reader = client
            .copy_out(sql)
            .map_err(|e| PgError::query(&self.db, &what, &e))?;
        let fields = 1 + self.plan.vectors.len();
        let mut tuples =
            CopyReader::new(std::io::BufReader::with_capacity(1 << 20, reader), fields);
        let mut rows = 0u64;
        let mut last: Option<String> = None;
        'tuples: loop {
            match tuples.next_tuple() {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(self.copy_error(e, last.as_deref()).into()),
            }
            rows += 1;
            let Some(id_bytes) = tuples.field(0) else {
                return Err(self
                    .row_error(
                        format!("row {}", self.stats.rows.load(Ordering::Relaxed)),
                        "the id is NULL".into(),
                    )
                    .into());
            };
            let id = decode_id(id_bytes, self.plan.id_type)
                .map_err(|e| self.copy_error(e, last.as_deref()))?;
            for i in 0..self.plan.vectors.len() {
                if tuples.field(1 + i).is_none() {
                    self.stats.null_vectors.fetch_add(1, Ordering::Relaxed);
                    last = Some(id);
                    continue 'tuples;
                }
            }
            for (i, column) in self.plan.vectors.iter().enumerate() {
                let values = &mut batch.values[i];
                let bytes = tuples.field(1 + i).unwrap_or_default();
                let dim = decode_vector(bytes, column.vector_type, values)
                    .map_err(|e| self.copy_error(e, Some(&id)))?;
                let expected = *batch.dims[i].get_or_insert(dim);
                let row = &values[values.len() - dim..];
                let problem = if dim != expected {
                    Some(format!(
                        "a vector of {dim} dimensions, but earlier rows have {expected}"
                    ))
                } else if row.iter().all(|&v| v == 0.0) {
                    Some("an all-zero vector, which has no direction to map".to_owned())
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Err(PgError::Row {
                        db: self.db.clone(),
                        table: column.table.clone(),
                        row: format!("id {id}"),
                        message: format!("column \"{}\" holds {problem}", column.name),
                    }
                    .into());
                }
            }
            batch.ids.push(id.clone());
            self.stats.rows.fetch_add(1, Ordering::Relaxed);
            last = Some(id);
            if batch.ids.len() >= batch.capacity {
                batch.flush(&self.send)?;
            }
        }
        Ok((rows, last))
    }

    fn row_error(&self, row: String, message: String) -> PgError {
        PgError::Row {
            db: self.db.clone(),
            table: self.table.clone(),
            row,
            message,
        }
    }

    fn table_error(&self, message: String) -> PgError {
        PgError::Table {
            db: self.db.clone(),
            table: self.table.clone(),
            message,
        }
    }

    fn copy_error(&self, e: CopyError, near: Option<&str>) -> PgError {
        let message = match e {
            CopyError::Io(io) => {
                // The client reports a failed statement or a lost connection as I/O.
                return PgError::Query {
                    db: self.db.clone(),
                    what: format!("reading table {}", self.table),
                    message: format!(
                        "{io} (the connection was lost or the statement failed; running the same command again continues from what was committed)"
                    ),
                    lost: true,
                };
            }
            other => other.to_string(),
        };
        match near {
            Some(id) => self.row_error(format!("after id {id}"), message),
            None => self.table_error(message),
        }
    }
}

/// Rows gathered for the next batch.
struct Batch {
    ids: Vec<String>,
    values: Vec<Vec<f32>>,
    dims: Vec<Option<usize>>,
    capacity: usize,
    first_row: u64,
}

impl Batch {
    fn new(capacity: usize, columns: usize) -> Self {
        Batch {
            ids: Vec::with_capacity(capacity),
            values: vec![Vec::new(); columns],
            dims: vec![None; columns],
            capacity,
            first_row: 0,
        }
    }

    fn flush(
        &mut self,
        send: &SyncSender<shimkit_data::Result<RowBatch>>,
    ) -> std::result::Result<(), Stop> {
        if self.ids.is_empty() {
            return Ok(());
        }
        let rows = self.ids.len();
        let vectors = self
            .values
            .iter_mut()
            .zip(&self.dims)
            .map(|(values, dim)| {
                let values = std::mem::take(values);
                Array2::from_shape_vec((rows, dim.unwrap_or(0)), values)
                    .expect("each row added dim values")
            })
            .collect();
        let batch = RowBatch {
            ids: std::mem::replace(&mut self.ids, Vec::with_capacity(self.capacity)),
            vectors,
            first_row: self.first_row,
        };
        self.first_row += rows as u64;
        send.send(Ok(batch)).map_err(|_| Stop::Hungup)
    }
}

/// The planner's row estimate (0 when the table was never analyzed).
fn estimated_rows(session: &mut Session, oid: u32) -> Result<u64> {
    let err = session.err("estimating the table's rows");
    let row = session
        .client
        .query_one(
            "SELECT reltuples::float8 FROM pg_class WHERE oid = $1",
            &[&oid],
        )
        .map_err(err)?;
    let estimate: f64 = row.get(0);
    Ok(estimate.max(0.0) as u64)
}

/// Reading in id order pages with `id > last`, which no NULL id satisfies: without this
/// check such rows would be left out in silence. The unique index answers it.
fn check_no_null_ids(session: &mut Session, location: &PgTable) -> Result<()> {
    let id = quote_ident(&location.id);
    let err = session.err(format!("looking for NULL ids in \"{}\"", location.id));
    let nulls: i64 = session
        .client
        .query_one(
            &format!(
                "SELECT count(*) FROM {} WHERE {id} IS NULL",
                location.table.sql()
            ),
            &[],
        )
        .map_err(err)?
        .get(0);
    if nulls > 0 {
        return Err(PgError::Table {
            db: session.db.clone(),
            table: location.table.to_string(),
            message: format!(
                "{nulls} rows have a NULL id in column \"{}\"; every row needs an id to be read and written back",
                location.id
            ),
        });
    }
    Ok(())
}

/// Without a unique index, one aggregate finds a duplicate id before any row is used.
fn check_unique_ids(session: &mut Session, location: &PgTable) -> Result<()> {
    let id = quote_ident(&location.id);
    let err = session.err(format!("looking for duplicate ids in \"{}\"", location.id));
    let row = session
        .client
        .query_opt(
            &format!(
                "SELECT {id}::text, count(*) FROM {} WHERE {id} IS NOT NULL GROUP BY {id} HAVING count(*) > 1 LIMIT 1",
                location.table.sql()
            ),
            &[],
        )
        .map_err(err)?;
    if let Some(row) = row {
        let dup: String = row.get(0);
        let count: i64 = row.get(1);
        return Err(PgError::Row {
            db: session.db.clone(),
            table: location.table.to_string(),
            row: format!("id {dup}"),
            message: format!(
                "the id appears {count} times in column \"{}\"; ids must be unique",
                location.id
            ),
        });
    }
    Ok(())
}

/// Every row of a column in memory (for a join with a table kept elsewhere).
pub fn read_all(location: &PgTable, options: ReadOptions) -> Result<shimkit_data::EmbeddingTable> {
    let reader = PgReader::open(location, options)?;
    let mut ids = Vec::new();
    let mut values = Vec::new();
    let mut dim = 0;
    for batch in reader {
        let batch = batch?;
        dim = batch.vectors.ncols();
        ids.extend(batch.ids);
        values.extend_from_slice(batch.vectors.as_slice().unwrap_or(&[]));
    }
    let rows = ids.len();
    if rows == 0 {
        return Err(PgError::Table {
            db: location.db.label().to_owned(),
            table: location.table.to_string(),
            message: format!("column \"{}\" holds no vectors", location.vector),
        });
    }
    let vectors = Array2::from_shape_vec((rows, dim), values).expect("rows × dim values");
    Ok(shimkit_data::EmbeddingTable {
        ids,
        vectors,
        source: PathBuf::from(location.label()),
    })
}

/// The id and vector columns' types and the table's size estimate, without reading rows.
pub fn column_shape(location: &PgTable) -> Result<ColumnShape> {
    let mut session = Session::open(&location.db)?;
    let info = session.table(location)?;
    Ok(describe(&mut session, location, &info)?.0)
}

/// Rows with a vector in one column and none for the same id in the other: `(only old,
/// only new)`, as a fit reports them.
pub fn count_unpaired(old: &PgTable, new: &PgTable) -> Result<(u64, u64)> {
    let mut session = Session::open(&old.db)?;
    let old_info = session.table(old)?;
    let new_info = session.table(new)?;
    let (ov, nv) = (quote_ident(&old.vector), quote_ident(&new.vector));
    let (oi, ni) = (quote_ident(&old.id), quote_ident(&new.id));
    let (ot, nt) = (old_info.name.sql(), new_info.name.sql());
    let sql = if old_info.oid == new_info.oid {
        format!(
            "SELECT count(*) FILTER (WHERE {ov} IS NOT NULL AND {nv} IS NULL),
                    count(*) FILTER (WHERE {nv} IS NOT NULL AND {ov} IS NULL) FROM {ot}"
        )
    } else {
        format!(
            "SELECT (SELECT count(*) FROM {ot} t WHERE t.{ov} IS NOT NULL AND NOT EXISTS
                        (SELECT 1 FROM {nt} n WHERE n.{ni} = t.{oi} AND n.{nv} IS NOT NULL)),
                    (SELECT count(*) FROM {nt} n WHERE n.{nv} IS NOT NULL AND NOT EXISTS
                        (SELECT 1 FROM {ot} t WHERE t.{oi} = n.{ni} AND t.{ov} IS NOT NULL))"
        )
    };
    let err = session.err("counting unpaired rows");
    let row = session.client.query_one(&sql, &[]).map_err(err)?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
}

/// Whether the table exists.
pub fn table_exists(location: &PgTable) -> Result<bool> {
    let mut session = Session::open(&location.db)?;
    Ok(catalog::find_table(&mut session.client, &session.db.clone(), &location.table)?.is_some())
}

/// The vector column's type, `None` when the column does not exist yet.
pub fn column_type(location: &PgTable) -> Result<Option<VectorType>> {
    let mut session = Session::open(&location.db)?;
    let info = session.table(location)?;
    if info.column(&location.vector).is_none() {
        return Ok(None);
    }
    Ok(Some(info.vector_column(&session.db, &location.vector)?.0))
}
