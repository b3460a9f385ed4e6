//! `shimkit fit`: pairs from two tables, a shim, an artifact.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use shimkit_data::{
    AlignedItem, AlignedReader, BatchReader, ReadOptions, TableSource, pair_tables,
};
use shimkit_trainer::query_pairs::{self, Pairs, QueryShare};
use shimkit_trainer::{Direction, FitConfig, FitOutcome, PairAccumulator, Shim, artifact};

use crate::cli::{FitArgs, parse_auto};
use crate::engine::{Engine, runtime};
use crate::progress::rows_bar;
use crate::stores::Location;

pub fn run(args: &FitArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let cfg = FitConfig {
        method: args.method,
        lambda: parse_auto(&args.lambda, "--lambda")?,
        rank: parse_auto::<usize>(&args.rank, "--rank")?,
        val_frac: args.val_frac,
        seed: args.seed,
        min_pairs: args.min_pairs,
        landmarks: args.landmarks.landmarks()?,
        mlp: shimkit_trainer::mlp::MlpConfig {
            hidden: args.mlp_hidden,
            epochs: args.mlp_epochs,
            learning_rate: args.mlp_lr,
            weight_decay: args.mlp_weight_decay,
            contrastive_weight: args.mlp_contrastive,
            temperature: args.mlp_temperature,
            ..Default::default()
        },
        memory_budget: crate::system::memory_budget(&args.max_memory)?,
        ..FitConfig::default()
    };
    let engine = Engine::from_args(&args.engine)?;
    let cfg = FitConfig {
        linear_only: engine.is_some(),
        ..cfg
    };
    cfg.validate()?;
    // Without document pairs, the query pairs' tables name the models.
    let (old_paths, new_paths) = match &args.query_pairs {
        Some(q) if args.old.is_empty() => (&q[..1], &q[1..]),
        _ => (&args.old[..], &args.new[..]),
    };
    let old_location = Location::parse(old_paths, "--old")?;
    let new_location = Location::parse(new_paths, "--new")?;
    let name_of = |location: &Location, paths: &[std::path::PathBuf]| match location {
        Location::Postgres(t) => format!("{}.{}", t.table.name, t.vector),
        Location::Files(_) => paths.first().map(|p| model_name(p)).unwrap_or_default(),
    };
    let old_name = args
        .old_name
        .clone()
        .unwrap_or_else(|| name_of(&old_location, old_paths));
    let new_name = args
        .new_name
        .clone()
        .unwrap_or_else(|| name_of(&new_location, new_paths));
    let (source, target) = match args.direction {
        Direction::OldToNew => (&old_name, &new_name),
        Direction::NewToOld => (&new_name, &old_name),
    };
    let bar = rows_bar(0, quiet, "fitting");
    let columns = args.columns.columns();
    let mut with_queries = None;
    let fitted = match (&old_location, &new_location) {
        _ if args.query_pairs.is_some() => {
            anyhow::ensure!(
                engine.is_none(),
                "--query-pairs fits in memory; it does not go with --engine"
            );
            let (fitted, queries) = fit_query_pairs(args, &columns, &cfg).map_err(hint)?;
            with_queries = Some(queries);
            fitted
        }
        (Location::Files(old), Location::Files(new)) if engine.is_some() => {
            let engine = engine.as_ref().expect("matched");
            fit_with_engine(engine, old, new, &columns, args.direction, &cfg).map_err(hint)?
        }
        _ if engine.is_some() => {
            anyhow::bail!("--engine reads Parquet files; a PostgreSQL table goes without it")
        }
        (Location::Files(old), Location::Files(new)) => {
            let options = ReadOptions::with_columns(columns.clone());
            let old_source = TableSource::from_paths(old)?;
            let new_source = TableSource::from_paths(new)?;
            check_before_reading(&old_source, &new_source, args.direction, &cfg, &options)?;
            match fit_aligned(
                &old_source,
                &new_source,
                args.direction,
                &cfg,
                &options,
                &bar,
            )
            .map_err(hint)?
            {
                Some(f) => f,
                None => fit_joined(&old_location, &new_location, &columns, args.direction, &cfg)
                    .map_err(hint)?,
            }
        }
        (Location::Postgres(old), Location::Postgres(new))
            if shimkit_postgres::PgPairReader::can_pair(old, new) =>
        {
            fit_pg_pairs(old, new, args.direction, &cfg, &bar).map_err(hint)?
        }
        _ => fit_joined(&old_location, &new_location, &columns, args.direction, &cfg)
            .map_err(hint)?,
    };
    bar.finish_and_clear();
    let outcome = fitted.outcome;
    let (d_in, d_out) = outcome.map.weight.dim();
    let mut shim = Shim::from_outcome(&outcome, args.direction, source, target);
    if args.drop_bias {
        shim.drop_bias();
    }
    artifact::save(&shim, &args.out).with_context(|| format!("writing {}", args.out.display()))?;
    let total_s = started.elapsed().as_secs_f64();

    if args.json {
        let report = json!({
            "out": args.out,
            "pairs": outcome.pairs,
            "only_old": fitted.only_old,
            "only_new": fitted.only_new,
            "pairing": fitted.pairing,
            "direction": args.direction,
            "source": {"model": source, "dim": d_in},
            "target": {"model": target, "dim": d_out},
            "train_pairs": outcome.train_pairs,
            "heldout_pairs": outcome.heldout_pairs,
            "scored_pairs": outcome.scored_pairs,
            "candidates": outcome.candidates,
            "chosen": outcome.chosen,
            "query_pairs": with_queries,
            "seconds": total_s,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !quiet {
        // With query pairs the fit's rows repeat pairs; these are the pairs themselves.
        let (doc_pairs, unit) = match &with_queries {
            Some(q) => (q.share.doc_pairs, "rows (repeats included)"),
            None => (outcome.pairs, "pairs"),
        };
        println!(
            "pairs      {doc_pairs} by id, {} ({} only in --old, {} only in --new)",
            fitted.pairing, fitted.only_old, fitted.only_new
        );
        println!(
            "direction  {} : {source} ({d_in}-d) -> {target} ({d_out}-d)",
            args.direction
        );
        if let Some(q) = &with_queries {
            println!("{}", q.describe());
        }
        let scored = if outcome.scored_pairs < outcome.heldout_pairs {
            format!(
                ", scored on {} of them (lowest id hash)",
                outcome.scored_pairs
            )
        } else {
            String::new()
        };
        println!(
            "split      {} {unit} to fit, {} held out{scored} (seed {}); inputs L2-normalised",
            outcome.train_pairs, outcome.heldout_pairs, args.seed
        );
        println!("{}", candidates_header());
        for c in &outcome.candidates {
            println!(
                "{}{}{}",
                candidate_row(
                    c.method.as_str(),
                    c.lambda,
                    c.rank,
                    c.parameters,
                    c.heldout_cosine
                ),
                if c.method == outcome.chosen.method {
                    "  <- chosen"
                } else {
                    ""
                },
                c.adapter.map(|p| format!("  ({p})")).unwrap_or_default()
            );
        }
        println!(
            "wrote      {} ({}, refitted on all {} {unit}) in {total_s:.2} s",
            args.out.display(),
            outcome.chosen.method,
            outcome.pairs
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What the footers already say: too few rows to pair, or dimensions whose fit would not
/// fit in memory. Both are refused before a row is read.
fn check_before_reading(
    old: &TableSource,
    new: &TableSource,
    direction: Direction,
    cfg: &FitConfig,
    options: &ReadOptions,
) -> anyhow::Result<()> {
    let old_reader = BatchReader::open(old, options.clone())?;
    let new_reader = BatchReader::open(new, options.clone())?;
    let rows = old_reader.total_rows().min(new_reader.total_rows());
    let min = cfg.min_pairs.max(2);
    if rows < min as u64 {
        return Err(hint(
            shimkit_trainer::TrainError::TooFewPairs {
                pairs: rows as usize,
                min,
            }
            .into(),
        ));
    }
    if let (Some(d_old), Some(d_new)) = (old_reader.dim(), new_reader.dim()) {
        let (d_in, d_out) = match direction {
            Direction::OldToNew => (d_old, d_new),
            Direction::NewToOld => (d_new, d_old),
        };
        // Reading holds a row group's column chunk and its decoded values, per table.
        let reading: f64 = [(&old_reader, d_old), (&new_reader, d_new)]
            .iter()
            .map(|(r, d)| {
                let rows = r
                    .layouts()
                    .iter()
                    .flat_map(|l| l.row_group_rows.iter().copied())
                    .max()
                    .unwrap_or(0);
                2.0 * rows as f64 * *d as f64 * 4.0
            })
            .sum();
        cfg.check_memory(d_in, d_out, reading)
            .map_err(|e| hint(e.into()))?;
    }
    Ok(())
}

/// Says which flag changes a limit the fit ran into.
fn hint(e: anyhow::Error) -> anyhow::Error {
    use shimkit_trainer::TrainError;
    match e.downcast_ref::<TrainError>() {
        Some(TrainError::TooFewPairs { .. }) => {
            anyhow::anyhow!("{e}; --min-pairs changes the limit")
        }
        Some(TrainError::TooMuchMemory { .. }) => {
            anyhow::anyhow!("{e} (--max-memory sets the limit)")
        }
        _ => e,
    }
}

/// A fit and how its pairs were formed.
struct Fitted {
    outcome: FitOutcome,
    only_old: usize,
    only_new: usize,
    pairing: &'static str,
}

/// One streamed pass over both tables when they list the same ids in the same order:
/// memory stays at the statistics' size whatever the number of pairs. `None` when the
/// tables are not row-aligned.
fn fit_aligned(
    old: &TableSource,
    new: &TableSource,
    direction: Direction,
    cfg: &FitConfig,
    options: &ReadOptions,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Option<Fitted>> {
    let old_reader = BatchReader::open(old, options.clone())?;
    let new_reader = BatchReader::open(new, options.clone())?;
    bar.set_length(old_reader.total_rows());
    let mut acc: Option<PairAccumulator> = None;
    for item in AlignedReader::new(old_reader, new_reader) {
        match item? {
            AlignedItem::Pairs { ids, old, new } => {
                let (x, y) = match direction {
                    Direction::OldToNew => (old, new),
                    Direction::NewToOld => (new, old),
                };
                if acc.is_none() {
                    acc = Some(PairAccumulator::new(x.ncols(), y.ncols(), cfg.clone())?);
                }
                if let Some(acc) = acc.as_mut() {
                    acc.add(&ids, x.view(), y.view())?;
                }
                bar.inc(ids.len() as u64);
            }
            AlignedItem::Misaligned {
                index,
                old_id,
                new_id,
            } => {
                tracing::info!(
                    index,
                    ?old_id,
                    ?new_id,
                    "the tables are not row-aligned; joining them by id in memory"
                );
                return Ok(None);
            }
        }
    }
    let Some(acc) = acc else { return Ok(None) };
    Ok(Some(Fitted {
        outcome: acc.finish()?,
        only_old: 0,
        only_new: 0,
        pairing: "streamed (row-aligned)",
    }))
}

/// What `--query-pairs` added to a fit: the queries' share of the weight, and the ids
/// of one query table only.
#[derive(serde::Serialize)]
struct QueryPairsFitted {
    #[serde(flatten)]
    share: QueryShare,
    only_old: usize,
    only_new: usize,
}

impl QueryPairsFitted {
    /// `fit`'s line on the query pairs: how many, their share, and every share tried.
    fn describe(&self) -> String {
        let s = &self.share;
        let tried = s
            .scores
            .iter()
            .map(|t| format!("{}: {:.4}", t.share, t.heldout_cosine))
            .collect::<Vec<_>>()
            .join(", ");
        let choice = if s.folds > 0 {
            format!(
                "; chosen by held-out cosine on {} folds of the query pairs ({tried})",
                s.folds
            )
        } else {
            " (no document pairs)".to_owned()
        };
        format!(
            "queries    {} query pairs by id ({} only in OLD, {} only in NEW), {:.2} of the weight{choice}",
            s.query_pairs, self.only_old, self.only_new, s.achieved
        )
    }
}

/// `--query-pairs`: the query pairs, and the document pairs of `--old` and `--new` when
/// given, read into memory and fitted together, the queries given the share of the
/// weight that scores best on held-out query pairs.
fn fit_query_pairs(
    args: &FitArgs,
    columns: &shimkit_data::Columns,
    cfg: &FitConfig,
) -> anyhow::Result<(Fitted, QueryPairsFitted)> {
    anyhow::ensure!(
        args.direction == Direction::NewToOld,
        "--query-pairs fits a query-side shim, which maps new-model queries into the old index: add --direction new-to-old"
    );
    anyhow::ensure!(
        args.old.is_empty() == args.new.is_empty(),
        "--old and --new go together (or, with --query-pairs, neither)"
    );
    let files = args.query_pairs.as_deref().unwrap_or_default();
    let read = |path: &std::path::PathBuf, which: &str| {
        Location::one(path, "--query-pairs")?
            .read_whole(columns)
            .with_context(|| format!("reading --query-pairs {which} ({})", path.display()))
    };
    let (Some(old_file), Some(new_file)) = (files.first(), files.get(1)) else {
        anyhow::bail!(
            "--query-pairs takes two tables: the old model's queries, then the new one's"
        );
    };
    let query_table = pair_tables(&read(old_file, "OLD")?, &read(new_file, "NEW")?)?;
    let docs = if args.old.is_empty() {
        None
    } else {
        let old = Location::parse(&args.old, "--old")?
            .read_whole(columns)
            .context("reading --old")?;
        let new = Location::parse(&args.new, "--new")?
            .read_whole(columns)
            .context("reading --new")?;
        Some(pair_tables(&old, &new)?)
    };
    let queries = Pairs {
        x: query_table.new.view(),
        y: query_table.old.view(),
        ids: &query_table.ids,
    };
    let doc_pairs = docs.as_ref().map(|d| Pairs {
        x: d.new.view(),
        y: d.old.view(),
        ids: &d.ids,
    });
    // The blend of the most repeated share tried is held beside the fit's own memory.
    let doc_n = doc_pairs.map_or(0, |d| d.ids.len());
    let rows = query_pairs::QUERY_SHARES
        .iter()
        .filter_map(|&s| query_pairs::repeats(doc_n, queries.ids.len(), s))
        .map(|(d, q)| d * doc_n + q * queries.ids.len())
        .max()
        .unwrap_or(0);
    let (d_in, d_out) = (queries.x.ncols(), queries.y.ncols());
    cfg.check_memory(d_in, d_out, rows as f64 * (d_in + d_out) as f64 * 4.0)?;
    let (outcome, share) = query_pairs::fit_with_query_pairs(doc_pairs.as_ref(), &queries, cfg)?;
    Ok((
        Fitted {
            outcome,
            only_old: docs.as_ref().map_or(0, |d| d.only_old),
            only_new: docs.as_ref().map_or(0, |d| d.only_new),
            pairing: if docs.is_some() {
                "joined in memory, with the query pairs"
            } else {
                "query pairs alone, joined in memory"
            },
        },
        QueryPairsFitted {
            share,
            only_old: query_table.only_old,
            only_new: query_table.only_new,
        },
    ))
}

/// Both tables in memory, joined by id whatever their orders.
fn fit_joined(
    old: &Location,
    new: &Location,
    columns: &shimkit_data::Columns,
    direction: Direction,
    cfg: &FitConfig,
) -> anyhow::Result<Fitted> {
    let old = old.read_whole(columns).context("reading --old")?;
    let new = new.read_whole(columns).context("reading --new")?;
    let pairs = pair_tables(&old, &new)?;
    drop((old, new));
    let (x, y) = match direction {
        Direction::OldToNew => (&pairs.old, &pairs.new),
        Direction::NewToOld => (&pairs.new, &pairs.old),
    };
    Ok(Fitted {
        outcome: shimkit_trainer::fit(x.view(), y.view(), &pairs.ids, cfg)?,
        only_old: pairs.only_old,
        only_new: pairs.only_new,
        pairing: "joined in memory",
    })
}

/// Both tables paired in an engine (side by side or joined by id), whose aggregate gathers the statistics; the fit
/// is finished here as a streamed one is.
fn fit_with_engine(
    engine: &Engine,
    old: &[std::path::PathBuf],
    new: &[std::path::PathBuf],
    columns: &shimkit_data::Columns,
    direction: Direction,
    cfg: &FitConfig,
) -> anyhow::Result<Fitted> {
    let rt = runtime()?;
    let ctx = rt.block_on(engine.context(&shimkit_engine::ShimSet::new()))?;
    let job = shimkit_engine::jobs::FitJob {
        old,
        new,
        columns,
        direction,
        cfg,
    };
    let stats = rt
        .block_on(shimkit_engine::jobs::fit_stats(&ctx, &job))
        .with_context(|| {
            format!(
                "gathering the fit's statistics on {}",
                engine.describe(&ctx)
            )
        })?;
    let acc = PairAccumulator::from_bytes(&stats.bytes, cfg.clone())?;
    let pairs = acc.pairs() as u64;
    Ok(Fitted {
        outcome: acc.finish()?,
        only_old: (stats.old_rows - pairs) as usize,
        only_new: (stats.new_rows - pairs) as usize,
        pairing: if stats.aligned {
            "read side by side in the engine (row-aligned)"
        } else {
            "joined by id in the engine"
        },
    })
}

/// Two columns of one database, joined there by id and streamed: memory stays at the
/// statistics' size whatever the number of pairs.
fn fit_pg_pairs(
    old: &shimkit_postgres::PgTable,
    new: &shimkit_postgres::PgTable,
    direction: Direction,
    cfg: &FitConfig,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Fitted> {
    let reader = shimkit_postgres::PgPairReader::open(old, new, Default::default())?;
    if let (Some(d_old), Some(d_new)) = (reader.old_shape.dim, reader.new_shape.dim) {
        let (d_in, d_out) = match direction {
            Direction::OldToNew => (d_old, d_new),
            Direction::NewToOld => (d_new, d_old),
        };
        cfg.check_memory(d_in, d_out, 0.0)?;
    }
    bar.set_length(reader.old_shape.estimated_rows);
    let mut acc: Option<PairAccumulator> = None;
    for batch in reader {
        let batch = batch?;
        let (x, y) = match direction {
            Direction::OldToNew => (batch.old, batch.new),
            Direction::NewToOld => (batch.new, batch.old),
        };
        if acc.is_none() {
            acc = Some(PairAccumulator::new(x.ncols(), y.ncols(), cfg.clone())?);
        }
        if let Some(acc) = acc.as_mut() {
            acc.add(&batch.ids, x.view(), y.view())?;
        }
        bar.inc(batch.ids.len() as u64);
    }
    let Some(acc) = acc else {
        anyhow::bail!("no id has a vector in both {} and {}", old, new);
    };
    let (only_old, only_new) = shimkit_postgres::count_unpaired(old, new)?;
    Ok(Fitted {
        outcome: acc.finish()?,
        only_old: only_old as usize,
        only_new: only_new as usize,
        pairing: "streamed (joined in PostgreSQL)",
    })
}

/// The heading of the candidates table (`fit`'s output, `inspect` of a shim).
pub(crate) fn candidates_header() -> String {
    format!(
        "{:<12} {:>12} {:>8} {:>12} {:>12}",
        "method", "lambda", "rank", "parameters", "held-out cos"
    )
}

/// One row of the candidates table.
pub(crate) fn candidate_row(
    method: &str,
    lambda: Option<f64>,
    rank: Option<usize>,
    parameters: usize,
    heldout_cosine: f64,
) -> String {
    format!(
        "{method:<12} {:>12} {:>8} {parameters:>12} {heldout_cosine:>12.4}",
        lambda.map_or_else(|| "-".into(), |l| format!("{l:.3e}")),
        rank.map_or_else(|| "-".into(), |r| r.to_string()),
    )
}

/// `corpus.minilm.parquet` → `minilm`; otherwise the file stem.
fn model_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    for prefix in ["corpus.", "queries."] {
        if let Some(rest) = stem.strip_prefix(prefix) {
            return rest.to_owned();
        }
    }
    stem
}
