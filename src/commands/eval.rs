//! `shimkit eval`: score every migration path on an evaluation set, print the table, write
//! the JSON and HTML reports, and apply the gate.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use shimkit_data::{EvalSet, ReadOptions, Split, write_atomic};
use shimkit_trainer::artifact;
use shimkit_trainer::eval::{
    AlignNotes, CostInputs, EvalConfig, EvalData, Evaluation, Exact, evaluate, evaluate_against,
    evaluate_with,
};

use crate::cli::{EvalArgs, EvalOptions, SearchArgs};
use crate::report::{html, table};

/// Exit code when the gate fails.
pub const GATE_FAILED: u8 = 3;

pub fn run(args: &EvalArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let evaluation = run_eval(
        &args.dataset,
        &args.old,
        &args.new,
        &args.options,
        Some(&args.search),
        quiet,
    )?;
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    finish(&evaluation, &args.options, &command, quiet)
}

/// Reads the set, evaluates, and writes the requested files; returns the evaluation.
pub fn run_eval(
    dataset: &Path,
    old: &str,
    new: &str,
    opts: &EvalOptions,
    search: Option<&SearchArgs>,
    quiet: bool,
) -> anyhow::Result<Evaluation> {
    let started = Instant::now();
    if let Some(g) = opts.gate
        && !(0.0..=2.0).contains(&g)
    {
        anyhow::bail!("--gate {g}: expected a share of the full re-embed's nDCG, such as 0.9");
    }
    if opts.k == 0 {
        anyhow::bail!("--k must be at least 1");
    }
    if old == new {
        anyhow::bail!("--old and --new are both {old:?}: compare two different models");
    }
    let set = EvalSet::open(dataset)?;
    for p in &set.problems {
        tracing::warn!("{}: {p}", set.dir.display());
    }
    let read = ReadOptions::with_columns(opts.columns.columns());
    let load = |model: &str, split: Split| {
        set.load(model, split, &read)
            .with_context(|| format!("reading {} of {model}", split.file_name(model)))
    };
    let old_docs = load(old, Split::Corpus)?;
    let new_docs = load(new, Split::Corpus)?;
    let old_queries = load(old, Split::Queries)?;
    let new_queries = load(new, Split::Queries)?;
    let qrels = set.qrels()?;
    let (data, notes) = EvalData::align(&old_docs, &new_docs, &old_queries, &new_queries, &qrels)?;
    drop((old_docs, new_docs, old_queries, new_queries));
    if notes.docs_only_old + notes.docs_only_new > 0 {
        tracing::warn!(
            "{} documents only in {old} and {} only in {new} are left out",
            notes.docs_only_old,
            notes.docs_only_new
        );
    }
    if !quiet {
        eprintln!(
            "read {} documents and {} scored queries in {:.1} s; fitting and searching...",
            notes.docs,
            notes.queries_scored,
            started.elapsed().as_secs_f64()
        );
    }
    let cfg = EvalConfig {
        methods: opts.methods.clone(),
        train_pairs: opts.train_pairs,
        sample: opts.sample,
        backfill: opts.backfill.clone(),
        seed: opts.seed,
        k: opts.k,
        resamples: opts.resamples,
        curve: opts.curve.clone(),
        target: opts.gate.unwrap_or(0.95),
        csls: opts.csls,
        no_query_bias: opts.no_query_bias,
        query_pair_folds: opts.query_pair_folds,
        landmarks: opts.landmarks.landmarks()?,
        cost: CostInputs {
            docs: opts.cost_docs,
            tokens_per_doc: opts.tokens_per_doc,
            usd_per_million_tokens: opts.usd_per_mtok,
            embed_docs_per_second: opts.embed_docs_per_sec,
        },
        old_name: old.to_owned(),
        new_name: new.to_owned(),
        memory_budget: crate::system::memory_budget(&opts.max_memory)?,
    };
    let name = set
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| set.dir.display().to_string());
    let mut evaluation = evaluate_in(&data, &notes, &cfg, &name, search).map_err(|e| match e {
        shimkit_trainer::TrainError::TooFewPairs { .. } => anyhow::anyhow!(
            "{e}: the shims are fitted on --train-pairs documents (default min(2000, half the corpus)), and this set gives {} documents with both embeddings",
            notes.docs
        ),
        shimkit_trainer::TrainError::TooMuchMemory { .. } => {
            anyhow::anyhow!("{e} (--max-memory sets the limit)")
        }
        e => e.into(),
    })?;
    evaluation.report.seconds = started.elapsed().as_secs_f64();
    Ok(evaluation)
}

/// Evaluates with exact search in process, or with the searches run in PostgreSQL
/// (exactly, or through HNSW with each path's recall against exact search).
fn evaluate_in(
    data: &EvalData,
    notes: &AlignNotes,
    cfg: &EvalConfig,
    name: &str,
    search: Option<&SearchArgs>,
) -> shimkit_trainer::Result<Evaluation> {
    use crate::stores::postgres::PgSearcher;
    use shimkit_postgres::{Hnsw, SearchMode};
    let Some((url, args)) = search.and_then(|s| s.search.as_deref().map(|u| (u, s))) else {
        return evaluate(data, notes, cfg, name);
    };
    let index = PgSearcher::open(url).map_err(|e| shimkit_trainer::TrainError::Invalid {
        what: "--search",
        message: format!("{e:#}"),
    })?;
    if args.ann == "hnsw" {
        let ann = PgSearcher::new(
            index,
            SearchMode::Hnsw(Hnsw {
                m: args.hnsw_m,
                ef_construction: args.hnsw_ef_construction,
                ef_search: args.ef_search,
            }),
        );
        // Recall against exact search in process: the same neighbours as exact search in
        // the database (to float rounding), without reading every row once per query.
        evaluate_against(data, notes, cfg, name, &ann, Some(&Exact))
    } else {
        evaluate_with(
            data,
            notes,
            cfg,
            name,
            &PgSearcher::new(index, SearchMode::Exact),
        )
    }
}

/// Prints the table, writes the files, and turns the gate into an exit code.
pub fn finish(
    evaluation: &Evaluation,
    opts: &EvalOptions,
    command: &str,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let report = &evaluation.report;
    if let Some(dir) = &opts.save_shims {
        save_shims(evaluation, dir)?;
    }
    if let Some(path) = &opts.json {
        let mut json = report.to_json();
        json["command"] = serde_json::Value::String(command.to_owned());
        let text = serde_json::to_string_pretty(&json)?;
        write_atomic(path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &opts.html {
        let page = html::render(report, command)?;
        write_atomic(path, page.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if !quiet {
        print!("{}", table::render(report));
        for (what, path) in [("JSON", &opts.json), ("HTML", &opts.html)] {
            if let Some(p) = path {
                println!("{what} report: {}", p.display());
            }
        }
    }
    let Some(gate) = opts.gate else {
        return Ok(ExitCode::SUCCESS);
    };
    let r = &report.recommendation;
    if r.ci95[0] >= gate {
        println!(
            "gate passed: {} keeps at least {gate} of the full re-embed's nDCG@{} (lower bound {:.3})",
            r.path, report.k, r.ci95[0]
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "gate FAILED: the best path without re-embedding, {}, keeps {:.3} (95% CI {:.3}–{:.3}) of the full re-embed's nDCG@{}; its lower bound is under {gate}",
            r.path, r.retention, r.ci95[0], r.ci95[1], report.k
        );
        Ok(ExitCode::from(GATE_FAILED))
    }
}

/// Every fitted shim as `<dir>/<side>-<method>.safetensors`, and the training ids.
fn save_shims(evaluation: &Evaluation, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (key, shim) in &evaluation.shims {
        let path = dir.join(format!("{}.safetensors", key.file_stem()));
        artifact::save(shim, &path).with_context(|| format!("writing {}", path.display()))?;
    }
    let ids = evaluation.train_ids.join("\n") + "\n";
    let path = dir.join("train_ids.txt");
    write_atomic(&path, ids.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
