//! Projecting into a column with a paced, resumable backfill, and loading re-embedded
//! vectors: the commands' side of [`shimkit_postgres::Backfill`].

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use shimkit_data::{BatchReader, Columns, ReadOptions, TableSource};
use shimkit_postgres::index::{IndexKind, Metric, build_index};
use shimkit_postgres::{
    Backfill, BackfillSpec, IdType, PgTable, Provenance, Resume, VectorType, WriteMode,
};
use shimkit_trainer::Shim;

use crate::progress::rows_bar;
use crate::stores::{Batches, Location};

/// How a backfill runs.
#[derive(Debug, Clone)]
pub struct BackfillOptions {
    /// Rows per second at most.
    pub rate: Option<f64>,
    pub writers: usize,
    pub batch_rows: usize,
    pub restart: bool,
    pub normalize: bool,
    pub halfvec: bool,
    pub index: Option<IndexKind>,
    pub metric: Metric,
    pub quiet: bool,
}

/// `shimkit project --output postgresql://...`: every row of `input` through the shim,
/// into `target`'s column, resuming an interrupted run.
pub fn project_into(
    shim: &Shim,
    shim_path: &Path,
    input: &Location,
    columns: &Columns,
    target: &PgTable,
    options: &BackfillOptions,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let (input_label, input_table, id_type, estimated_rows) = match input {
        Location::Postgres(source) => {
            let same_db = source.db.label() == target.db.label();
            if same_db && source.table == target.table && source.vector == target.vector {
                bail!(
                    "--output names the column --input reads ({}); write the projections to another column (&vector=...)",
                    source.vector
                );
            }
            let shape = shimkit_postgres::column_shape(source)?;
            if let Some(dim) = shape.dim
                && dim != shim.source_dim()
            {
                bail!(
                    "{}: column \"{}\" is {}-dimensional, but the shim {} maps {}-dimensional vectors",
                    source.label(),
                    source.vector,
                    dim,
                    shim_path.display(),
                    shim.source_dim()
                );
            }
            (
                format!("{} column {}", source.label(), source.vector),
                same_db.then(|| shape.table.clone()),
                shape.id_type,
                shape.estimated_rows,
            )
        }
        Location::Files(paths) => {
            let source = TableSource::from_paths(paths)?;
            let reader = BatchReader::open(&source, ReadOptions::with_columns(columns.clone()))?;
            (
                files_label(paths, reader.total_rows()),
                None,
                IdType::Text,
                reader.total_rows(),
            )
        }
    };
    let spec = BackfillSpec {
        target: target.clone(),
        dim: shim.target_dim(),
        vector_type: if options.halfvec {
            VectorType::HalfVec
        } else {
            VectorType::Vector
        },
        id_type,
        input_table,
        mode: None,
        provenance: Some(Provenance::Projected),
        input: input_label,
        shim: shim_fingerprint(shim_path, options.normalize)?,
        restart: options.restart,
        writers: options.writers.max(1),
        resumable: true,
    };
    let (mut backfill, resume) = Backfill::open(spec)?;
    let prepared = backfill.prepared().clone();
    if !options.quiet {
        let mut notes = Vec::new();
        if prepared.created_table {
            notes.push(format!("created table {}", target.table));
        }
        if prepared.added_column {
            notes.push(format!("added column \"{}\"", target.vector));
        }
        if !notes.is_empty() {
            eprintln!("{}", notes.join("; "));
        }
    }
    let (skip_rows, after, done_before) = match &resume {
        Resume::Finished { rows_written } => {
            if !options.quiet {
                println!(
                    "{} column \"{}\" is already filled ({rows_written} rows, finished earlier); --restart writes it again",
                    target.label(),
                    target.vector
                );
            }
            drop(backfill);
            return finish_index(target, options);
        }
        Resume::Start => (0, None, 0),
        Resume::After {
            input_rows,
            last_id,
            rows_written,
        } => {
            if !options.quiet {
                eprintln!(
                    "resuming: {rows_written} rows were written by an earlier run{}",
                    last_id
                        .as_ref()
                        .map(|id| format!(", up to id {id}"))
                        .unwrap_or_default()
                );
            }
            (*input_rows, last_id.clone(), *rows_written)
        }
    };
    let mut read_stats = None;
    let batches: Batches = match input {
        Location::Postgres(source) => {
            let reader = shimkit_postgres::PgReader::open(
                source,
                shimkit_postgres::ReadOptions {
                    batch_rows: options.batch_rows.max(1),
                    after,
                    check_duplicates: true,
                },
            )?;
            read_stats = Some(reader.stats());
            Box::new(reader)
        }
        Location::Files(_) => input.batches(columns, options.batch_rows.max(1))?,
    };
    let bar = rows_bar(estimated_rows, options.quiet, "backfilling");
    bar.set_position(skip_rows);
    let mut pacer = Pacer::new(options.rate);
    // A file input resumes by skipping the rows an earlier run consumed; a table input
    // resumes after the last id.
    let mut to_skip = if matches!(input, Location::Files(_)) {
        skip_rows
    } else {
        0
    };
    let mut consumed = 0u64;
    for batch in shimkit_data::Prefetch::new(batches, 2) {
        let batch = batch?;
        shim.check_batch(&batch)?;
        let (ids, vectors) = if to_skip > 0 {
            let n = batch.ids.len() as u64;
            if n <= to_skip {
                to_skip -= n;
                continue;
            }
            let from = to_skip as usize;
            to_skip = 0;
            (
                batch.ids[from..].to_vec(),
                batch.vectors.slice(ndarray::s![from.., ..]).to_owned(),
            )
        } else {
            (batch.ids, batch.vectors)
        };
        let rows = ids.len() as u64;
        let out = shim.apply_owned(vectors, options.normalize)?;
        pacer.wait(rows);
        consumed += rows;
        let last = ids.last().cloned();
        backfill.write(ids, out, skip_rows + consumed, last)?;
        bar.inc(rows);
    }
    let finished = backfill.finish()?;
    let (this_run, total) = (finished.written, finished.total_written);
    let (not_in_table, kept) = (finished.not_in_table, finished.kept_reembedded);
    bar.finish_and_clear();
    if !options.quiet {
        let secs = started.elapsed().as_secs_f64();
        println!(
            "projected {this_run} rows into {} column \"{}\" ({} mode) in {secs:.2} s ({:.0} rows/s); {total} rows in all{}",
            target.label(),
            target.vector,
            match prepared.mode {
                WriteMode::Update => "update",
                WriteMode::Upsert => "insert",
            },
            this_run as f64 / secs.max(1e-9),
            if done_before > 0 {
                format!(" ({done_before} from earlier runs)")
            } else {
                String::new()
            }
        );
        let nulls = read_stats.map_or(0, |s| s.null_vectors.load(Ordering::Relaxed));
        if nulls > 0 {
            println!("skipped {nulls} rows whose input vector is NULL");
        }
        if kept > 0 {
            println!("kept {kept} re-embedded vectors (a projection never replaces one)");
        }
        if not_in_table > 0 {
            println!("{not_in_table} input ids are not in the table: not written");
        }
    }
    finish_index(target, options)
}

fn finish_index(target: &PgTable, options: &BackfillOptions) -> anyhow::Result<()> {
    let Some(kind) = options.index else {
        return Ok(());
    };
    let outcome = build_index(target, kind, options.metric)?;
    if !options.quiet {
        if outcome.existed {
            println!(
                "index {} ({}) is already on the column",
                outcome.name,
                kind.method()
            );
        } else {
            println!(
                "built index {} ({}) in {:.1} s",
                outcome.name,
                kind.method(),
                outcome.seconds
            );
        }
    }
    Ok(())
}

/// `shimkit load`: re-embedded vectors of some documents into the new column of a table,
/// replacing their projections (every id must be in the table: checked before any write);
/// or, when the table does not exist, a new table made from the file. Returns the rows
/// written; at most `rate` rows a second when given.
pub fn load(
    input: &[std::path::PathBuf],
    columns: &Columns,
    target: &PgTable,
    writers: usize,
    batch_rows: usize,
    rate: Option<f64>,
    quiet: bool,
) -> anyhow::Result<u64> {
    let started = Instant::now();
    let source = TableSource::from_paths(input)?;
    let existing = shimkit_postgres::table_exists(target)?;
    if existing {
        let ids = shimkit_data::read_ids(&source, columns)?;
        let (missing, first) = shimkit_postgres::ids_not_in(target, &ids)?;
        if missing > 0 {
            bail!(
                "{}: {missing} of the {} ids in {} are not in the table (e.g. id {}); nothing was written",
                target.label(),
                ids.len(),
                source.label().display(),
                first.unwrap_or_default()
            );
        }
    }
    let options = ReadOptions {
        columns: columns.clone(),
        batch_rows: batch_rows.max(1),
        ..ReadOptions::default()
    };
    let reader = BatchReader::open(&source, options)?;
    let total = reader.total_rows();
    let mut batches = reader.peekable();
    let dim = match batches.peek() {
        Some(Ok(b)) => b.vectors.ncols(),
        Some(Err(_)) => match batches.next() {
            Some(Err(e)) => return Err(e.into()),
            _ => 0,
        },
        None => bail!("{}: the table is empty", source.label().display()),
    };
    let vector_type = if existing {
        shimkit_postgres::column_type(target)?.unwrap_or(VectorType::Vector)
    } else {
        VectorType::Vector
    };
    let spec = BackfillSpec {
        target: target.clone(),
        dim,
        vector_type,
        id_type: IdType::Text,
        input_table: None,
        mode: Some(if existing {
            WriteMode::Update
        } else {
            WriteMode::Upsert
        }),
        provenance: existing.then_some(Provenance::Reembedded),
        input: source.label().display().to_string(),
        shim: String::new(),
        restart: false,
        writers: writers.max(1),
        resumable: false,
    };
    let (mut backfill, _) = Backfill::open(spec)?;
    let bar = rows_bar(total, quiet, "loading");
    let mut pacer = Pacer::new(rate);
    for batch in batches {
        let batch = batch?;
        let rows = batch.ids.len() as u64;
        backfill.write(batch.ids, batch.vectors, 0, None)?;
        bar.inc(rows);
        pacer.wait(rows);
    }
    let written = backfill.finish()?.written;
    bar.finish_and_clear();
    if !quiet {
        println!(
            "{} {written} vectors into {} column \"{}\" in {:.2} s",
            if existing {
                "loaded re-embedded"
            } else {
                "created the table with"
            },
            target.label(),
            target.vector,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(written)
}

/// `name (size bytes, rows)` of each file: a rerun over other files does not resume.
fn files_label(paths: &[std::path::PathBuf], rows: u64) -> String {
    let files: Vec<String> = paths
        .iter()
        .map(|p| {
            let full = p.canonicalize().unwrap_or_else(|_| p.clone());
            let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            format!("{} ({size} bytes)", full.display())
        })
        .collect();
    format!("{}; {rows} rows", files.join(", "))
}

/// The shim's bytes and whether outputs are normalised: a backfill resumes only with both
/// unchanged.
fn shim_fingerprint(path: &Path, normalize: bool) -> anyhow::Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(format!(
        "fnv1a:{:016x}{}",
        shimkit_trainer::hash::fnv1a(&bytes),
        if normalize { "" } else { " (not normalised)" }
    ))
}

/// Sleeps so that the rows written so far never run ahead of the rate.
struct Pacer {
    rate: Option<f64>,
    started: Instant,
    rows: u64,
}

impl Pacer {
    fn new(rate: Option<f64>) -> Self {
        Pacer {
            rate: rate.filter(|r| *r > 0.0),
            started: Instant::now(),
            rows: 0,
        }
    }

    fn wait(&mut self, rows: u64) {
        self.rows += rows;
        if let Some(rate) = self.rate {
            let due = Duration::from_secs_f64(self.rows as f64 / rate);
            if let Some(ahead) = due.checked_sub(self.started.elapsed()) {
                std::thread::sleep(ahead);
            }
        }
    }
}
