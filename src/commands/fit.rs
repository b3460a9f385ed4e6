//! `shimkit fit`: pairs from two tables, a shim, an artifact.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use shimkit_data::{ReadOptions, TableSource, pair_tables, read_table};
use shimkit_trainer::{CandidateRecord, Direction, FitConfig, Shim, ShimMeta, artifact, hash};

use crate::cli::FitArgs;

pub fn run(args: &FitArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let cfg = FitConfig {
        method: args.method,
        lambda: parse_auto(&args.lambda, "--lambda")?,
        rank: parse_auto::<usize>(&args.rank, "--rank")?,
        val_frac: args.val_frac,
        seed: args.seed,
        min_pairs: args.min_pairs,
        ..FitConfig::default()
    };
    let options = ReadOptions::with_columns(args.columns.columns());
    let old =
        read_table(&TableSource::from_paths(&args.old)?, &options).context("reading --old")?;
    let new =
        read_table(&TableSource::from_paths(&args.new)?, &options).context("reading --new")?;
    let pairs = pair_tables(&old, &new)?;
    let old_name = args
        .old_name
        .clone()
        .unwrap_or_else(|| model_name(&args.old[0]));
    let new_name = args
        .new_name
        .clone()
        .unwrap_or_else(|| model_name(&args.new[0]));
    let (x, y, source, target) = match args.direction {
        Direction::OldToNew => (&pairs.old, &pairs.new, &old_name, &new_name),
        Direction::NewToOld => (&pairs.new, &pairs.old, &new_name, &old_name),
    };
    let read_s = started.elapsed().as_secs_f64();
    let outcome = shimkit_trainer::fit(x.view(), y.view(), &pairs.ids, &cfg)?;

    let mut meta = ShimMeta::new(
        outcome.chosen.method.as_str(),
        args.direction,
        x.ncols(),
        y.ncols(),
    );
    meta.source_model = source.clone();
    meta.target_model = target.clone();
    meta.lambda = outcome.chosen.lambda;
    meta.rank = outcome.chosen.rank;
    meta.pairs = outcome.pairs;
    meta.train_ids_fingerprint = hash::fingerprint(&pairs.ids);
    meta.heldout_cosine = Some(outcome.chosen.heldout_cosine);
    meta.heldout_pairs = outcome.heldout_pairs;
    meta.candidates = outcome
        .candidates
        .iter()
        .map(CandidateRecord::from)
        .collect();
    let shim = Shim::new(
        outcome.map.weight.mapv(|v| v as f32),
        outcome.map.bias.mapv(|v| v as f32),
        meta,
    );
    artifact::save(&shim, &args.out).with_context(|| format!("writing {}", args.out.display()))?;
    let total_s = started.elapsed().as_secs_f64();

    if args.json {
        let report = json!({
            "out": args.out,
            "pairs": pairs.len(),
            "only_old": pairs.only_old,
            "only_new": pairs.only_new,
            "direction": args.direction,
            "source": {"model": source, "dim": x.ncols()},
            "target": {"model": target, "dim": y.ncols()},
            "train_pairs": outcome.train_pairs,
            "heldout_pairs": outcome.heldout_pairs,
            "candidates": outcome.candidates,
            "chosen": outcome.chosen,
            "seconds": {"read": read_s, "total": total_s},
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if !quiet {
        println!(
            "pairs      {} joined by id ({} only in --old, {} only in --new)",
            pairs.len(),
            pairs.only_old,
            pairs.only_new
        );
        println!(
            "direction  {} : {source} ({}-d) -> {target} ({}-d)",
            args.direction,
            x.ncols(),
            y.ncols()
        );
        println!(
            "split      {} pairs to fit, {} held out (seed {}); inputs L2-normalised",
            outcome.train_pairs, outcome.heldout_pairs, args.seed
        );
        println!(
            "{:<12} {:>12} {:>8} {:>12} {:>12}",
            "method", "lambda", "rank", "parameters", "held-out cos"
        );
        for c in &outcome.candidates {
            println!(
                "{:<12} {:>12} {:>8} {:>12} {:>12.4}{}",
                c.method.as_str(),
                c.lambda
                    .map(|l| format!("{l:.3e}"))
                    .unwrap_or_else(|| "-".into()),
                c.rank.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
                c.parameters,
                c.heldout_cosine,
                if c.method == outcome.chosen.method {
                    "  <- chosen"
                } else {
                    ""
                }
            );
        }
        println!(
            "wrote      {} ({}, refitted on all {} pairs) in {total_s:.2} s (reading {read_s:.2} s)",
            args.out.display(),
            outcome.chosen.method,
            outcome.pairs
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `auto` or a value.
fn parse_auto<T: std::str::FromStr>(text: &str, flag: &str) -> anyhow::Result<Option<T>> {
    if text == "auto" {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| anyhow::anyhow!("{flag} must be auto or a number, not {text:?}"))
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
