//! `shimkit migrate status|cutover|rollback SPEC`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;
use shimkit_postgres::Session;
use shimkit_postgres::cutover::{CutoverOptions, cutover, rollback};
use shimkit_postgres::migration::History;

use crate::cli::MigrateCommand;
use crate::migrate::{MigrationSpec, Status, plan};

pub fn run(command: MigrateCommand, quiet: bool) -> anyhow::Result<ExitCode> {
    match command {
        MigrateCommand::Run(args) => {
            let spec = MigrationSpec::read(&args.spec)?;
            loop {
                let share = cycle(&spec, quiet)?;
                let today = crate::migrate::spec::Date::today();
                let why = if share >= 1.0 {
                    "the backfill is complete"
                } else if today > spec.cutover {
                    "the window has ended"
                } else if args.once {
                    break;
                } else {
                    std::thread::sleep(std::time::Duration::from_secs_f64(args.interval));
                    continue;
                };
                if !quiet {
                    println!(
                        "stopping: {why} ({} of the table re-embedded; cutover date {})",
                        share, spec.cutover
                    );
                }
                break;
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Status(args) => {
            let spec = MigrationSpec::read(&args.spec)?;
            let status = read_status(&spec)?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&status.to_json())?);
            } else {
                print!("{}", status.render());
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Cutover(args) => {
            let spec = MigrationSpec::read(&args.spec)?;
            let (mut history, status) = open(&spec)?;
            let holds = status.gate_holds();
            if !holds && !args.force {
                let why = match status.cycles.last() {
                    None => "no cycle has been scored yet".to_owned(),
                    Some(c) => format!(
                        "cycle {} decided {:?}: the gate (retention ≥ {} at its {}% lower bound) does not hold",
                        c.cycle,
                        c.decision,
                        spec.gate.target,
                        100.0 * spec.gate.confidence
                    ),
                };
                bail!(
                    "{}: cutover refused: {why} (--force overrides, and is recorded)",
                    spec.key()
                );
            }
            let done = cutover(
                &spec.store.old,
                &spec.store.new.vector,
                CutoverOptions {
                    allow_missing: args.allow_missing,
                },
            )?;
            history.record_event(
                "cutover",
                !holds,
                &json!({"renames": done.renames, "cycle": status.cycles.last().map(|c| c.cycle)}),
            )?;
            if !quiet {
                println!(
                    "cut over {}: the application's column \"{}\" now holds what \"{}\" held{}",
                    done.table,
                    done.reads,
                    done.switched_to,
                    if holds {
                        ""
                    } else {
                        " (forced: the gate did not hold)"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Rollback(args) => {
            let spec = MigrationSpec::read(&args.spec)?;
            let (mut history, _) = open(&spec)?;
            let undone = rollback(&spec.store.old)?;
            history.record_event("rollback", false, &json!({"renames": undone.renames}))?;
            if !quiet {
                println!(
                    "rolled back {}: \"{}\" is the column it was before the cutover",
                    undone.table, undone.reads
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// One cycle: loads, scores, decides, records; the re-embedded share after it.
fn cycle(spec: &MigrationSpec, quiet: bool) -> anyhow::Result<f64> {
    let (mut history, _) = open(spec)?;
    if !history.try_lock()? {
        bail!(
            "{}: another `migrate run` of this migration is running (it holds its lock)",
            spec.key()
        );
    }
    let loaded: std::collections::HashSet<String> = history
        .loaded_files()?
        .into_iter()
        .map(|f| f.name)
        .collect();
    let incoming = &spec.backfill.incoming;
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(incoming)
        .with_context(|| format!("backfill.incoming: reading {}", incoming.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "parquet") && p.is_file())
        .collect();
    files.sort();
    if let Some(path) = &spec.backfill.shim {
        project_the_rest(spec, path)?;
    }
    let columns = shimkit_data::Columns::default();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if loaded.contains(&name) {
            continue;
        }
        let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0) as i64;
        let rows = crate::stores::postgres::load(
            std::slice::from_ref(&file),
            &columns,
            &spec.store.new,
            1,
            // Batches small enough for the pace to be kept within a second or so.
            spec.backfill
                .rows_per_second
                .map_or(4096, |r| (r as usize).clamp(1, 4096)),
            spec.backfill.rows_per_second,
            true,
        )
        .with_context(|| format!("loading {}", file.display()))?;
        history.record_file(&name, bytes, rows as i64)?;
        if !quiet {
            println!("loaded     {name}: {rows} re-embedded vectors");
        }
    }
    let score = crate::migrate::score::score_store(spec)?;
    let record = history.append_cycle(score.share, score.decision, &score.to_json(spec))?;
    let share = record.share;
    if !quiet {
        let status = Status {
            key: spec.key(),
            plan: plan(spec),
            cycles: vec![record],
            events: Vec::new(),
        };
        print!("{}", status.render());
    }
    Ok(share)
}

/// Fills the new column's rows that hold no re-embedded vector with `path`'s projection of
/// the old column. The backfill is resumable and never overwrites a re-embedded vector;
/// once it has finished, later cycles find it done.
fn project_the_rest(spec: &MigrationSpec, path: &std::path::Path) -> anyhow::Result<()> {
    use crate::stores::Location;
    use crate::stores::postgres::{BackfillOptions, project_into};
    let shim = shimkit_trainer::artifact::load(path)
        .with_context(|| format!("backfill.shim: reading {}", path.display()))?;
    let options = BackfillOptions {
        // Projections are cheap to make and to undo: the pace is the re-embedded vectors'.
        rate: None,
        writers: 1,
        batch_rows: 4096,
        restart: false,
        normalize: true,
        halfvec: false,
        index: None,
        metric: shimkit_postgres::index::Metric::Cosine,
        quiet: true,
    };
    let old = &spec.store.old;
    project_into(
        &shim,
        path,
        &Location::Postgres(Box::new(old.clone())),
        &shimkit_data::Columns::new(old.id.clone(), old.vector.clone()),
        &spec.store.new,
        &options,
    )
}

fn open(spec: &MigrationSpec) -> anyhow::Result<(History, Status)> {
    let session = Session::open(&spec.store.old.db)
        .with_context(|| format!("opening the database of {}", spec.path.display()))?;
    let mut history = History::open(session, &spec.key())?;
    let status = Status {
        key: spec.key(),
        plan: plan(spec),
        cycles: history.cycles()?,
        events: history.events()?,
    };
    Ok((history, status))
}

/// The history of `spec`'s migration.
pub fn read_status(spec: &MigrationSpec) -> anyhow::Result<Status> {
    Ok(open(spec)?.1)
}
