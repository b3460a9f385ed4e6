//! `shimkit migrate status|cutover|rollback SPEC`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;
use shimkit_postgres::cutover::{CutoverOptions, cutover, rollback};

use crate::cli::MigrateCommand;
use shimkit_postgres::migration::History;

use crate::migrate::score::ScoringShims;
use crate::migrate::{MigrationSpec, Status, open};

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
                        "stopping: {why} ({:.1}% of the table re-embedded; cutover date {})",
                        100.0 * share,
                        spec.cutover
                    );
                }
                break;
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Status(args) => {
            let spec = MigrationSpec::read(&args.spec)?;
            let status = open(&spec)?.1;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&status.to_json())?);
            } else {
                print!("{}", status.render());
            }
            Ok(ExitCode::SUCCESS)
        }
        MigrateCommand::Cutover(args) => {
            let spec = MigrationSpec::read(&args.spec)?;
            let mut history = locked(&spec, "a cycle is running; cut over when it has ended")?;
            let status = Status {
                cycles: history.cycles()?,
                events: history.events()?,
                ..Status::empty(&spec)
            };
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
            let mut history = locked(&spec, "a cycle is running; roll back when it has ended")?;
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
    let mut history = locked(spec, "another `migrate run` of this migration is running")?;
    // After a cutover the new column's name holds the old vectors (kept for a rollback):
    // loading or projecting into it would overwrite them.
    let events = history.events()?;
    let status = Status {
        events,
        ..Status::empty(spec)
    };
    if status.cut_over() {
        bail!(
            "{}: the migration has cut over, so no cycle runs (`shimkit migrate rollback` resumes it)",
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
    let started = std::time::Instant::now();
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
    let loaded_at = started.elapsed().as_secs_f64();
    let (reembedded, _) =
        shimkit_postgres::migration::reembedded_rows(history.session(), &spec.store.new)?;
    let shims = match &spec.backfill.shim {
        Some(path) => {
            let shim = shimkit_trainer::artifact::load(path)
                .with_context(|| format!("backfill.shim: reading {}", path.display()))?;
            project_the_rest(spec, &shim, path)?;
            Some(ScoringShims {
                report: json!({"given": path.display().to_string(), "doc_method": shim.meta.method}),
                doc_side: shim,
                query_side: None,
            })
        }
        None => match crate::migrate::shim::refresh(spec, &mut history, reembedded)? {
            Some(m) => {
                // The backfill is keyed by the artifact's bytes: a file of them.
                let dir = tempfile::tempdir().context("a directory for the migration's shim")?;
                let path =
                    dir.path()
                        .join(format!("{}-shim-v{}.safetensors", spec.key(), m.version));
                std::fs::write(&path, &m.doc_side_bytes)
                    .with_context(|| format!("writing {}", path.display()))?;
                project_the_rest(spec, &m.doc_side, &path)?;
                if !quiet {
                    println!("shim       {}", shim_line(&m.report));
                }
                Some(ScoringShims {
                    doc_side: m.doc_side,
                    query_side: Some(m.query_side),
                    report: m.report,
                })
            }
            None => None,
        },
    };
    let projected_at = started.elapsed().as_secs_f64();
    let score = crate::migrate::score::score_store(spec, shims.as_ref())?;
    let mut report = score.to_json(spec);
    let total = started.elapsed().as_secs_f64();
    // Where the cycle's time went: what an operator sizes the interval and the window by.
    report["seconds"] = json!({
        "load": loaded_at,
        "shim_and_projection": projected_at - loaded_at,
        "score": total - projected_at,
        "total": total,
    });
    let record = history.append_cycle(score.share, score.decision, &report)?;
    let share = record.share;
    if !quiet {
        let status = Status {
            cycles: vec![record],
            ..Status::empty(spec)
        };
        print!("{}", status.render());
    }
    Ok(share)
}

/// What a cycle did about the migration's shim, in a line.
fn shim_line(report: &serde_json::Value) -> String {
    let version = &report["version"];
    let refit = &report["refit"];
    let cosine = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |c| format!("{c:.4}"));
    match refit.get("adopted").and_then(serde_json::Value::as_bool) {
        None => format!("version {version} (no new re-embedded pairs)"),
        Some(true) if refit["current_heldout_cosine"].is_null() => format!(
            "version {version}: fitted on {} re-embedded pairs (held-out cosine {})",
            refit["pairs"],
            cosine(&refit["heldout_cosine"])
        ),
        Some(true) => format!(
            "version {version}: refitted on {} re-embedded pairs (held-out cosine {} against {})",
            refit["pairs"],
            cosine(&refit["heldout_cosine"]),
            cosine(&refit["current_heldout_cosine"])
        ),
        Some(false) => format!(
            "version {version} kept: a refit on {} pairs scored {} on the held-out pairs against {}",
            refit["pairs"],
            cosine(&refit["heldout_cosine"]),
            cosine(&refit["current_heldout_cosine"])
        ),
    }
}

/// The migration's history, under its lock: one cycle, cutover or rollback at a time.
fn locked(spec: &MigrationSpec, busy: &str) -> anyhow::Result<History> {
    let (mut history, _) = open(spec)?;
    if !history.try_lock()? {
        bail!("{}: {busy} (it holds the migration's lock)", spec.key());
    }
    Ok(history)
}

/// Fills the new column's rows that hold no re-embedded vector with `shim`'s projection of
/// the old column. The backfill is resumable and never overwrites a re-embedded vector;
/// once it has finished, later cycles find it done, and another shim (a refit) projects
/// those rows again.
fn project_the_rest(
    spec: &MigrationSpec,
    shim: &shimkit_trainer::Shim,
    path: &std::path::Path,
) -> anyhow::Result<()> {
    use crate::stores::Location;
    use crate::stores::postgres::{BackfillOptions, project_into};
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
    let project = |options: &BackfillOptions| {
        project_into(
            shim,
            path,
            &Location::Postgres(Box::new(old.clone())),
            &shimkit_data::Columns::new(old.id.clone(), old.vector.clone()),
            &spec.store.new,
            options,
        )
    };
    match project(&options) {
        // The column was projected by the shim before this one: project it again.
        Err(e) if format!("{e:#}").contains("with another shim") => project(&BackfillOptions {
            restart: true,
            ..options
        }),
        done => done,
    }
}
