//! `shimkit inspect`: what a table or an evaluation set holds, and whether it is valid
//! (shim artifacts: [`super::inspect_shim`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde::Serialize;
use shimkit_data::{Coverage, EvalSet, ReadOptions, Split, TableSource, TableSummary, summarize};
use shimkit_trainer::human_bytes;

use crate::cli::InspectArgs;
use crate::progress::rows_bar;

pub fn run(args: &InspectArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let options = ReadOptions {
        columns: args.columns.columns(),
        check_duplicates: !args.no_dup_check,
        ..ReadOptions::default()
    };
    if let Some(url) = args
        .path
        .to_str()
        .filter(|p| shimkit_postgres::is_postgres_url(p))
    {
        let table = shimkit_postgres::PgTable::parse(url)?;
        let ok = crate::stores::postgres::inspect(&table, args.json)?;
        return Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    if super::inspect_shim::is_shim(&args.path) {
        super::inspect_shim::run(&args.path, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if is_eval_set(&args.path) {
        let report = inspect_set(&args.path, &options, quiet)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            print_set(&report);
        }
        return Ok(if report.problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let summary = inspect_table(&args.path, options, quiet)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_table(&summary);
    }
    if let Some(problem) = &summary.problem {
        eprintln!("error: {problem}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn is_eval_set(path: &Path) -> bool {
    path.is_dir() && (path.join("qrels.tsv").is_file() || path.join("MANIFEST.json").is_file())
}

fn inspect_table(path: &Path, options: ReadOptions, quiet: bool) -> anyhow::Result<TableSummary> {
    let source = TableSource::new(path)?;
    let total: u64 = shimkit_data::layouts(&source, &options.columns)?
        .iter()
        .map(|l| l.rows)
        .sum();
    let bar = rows_bar(total, quiet, "checking");
    let summary = summarize(&source, options, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    Ok(summary)
}

#[derive(Debug, Serialize)]
struct SetReport {
    path: PathBuf,
    dataset: Option<String>,
    license: Option<String>,
    models: Vec<String>,
    tables: Vec<SetTable>,
    qrels: QrelsReport,
    texts: Vec<TextsReport>,
    coverage: Option<Coverage>,
    /// Everything that makes the set unusable or partly usable; empty when all is well.
    problems: Vec<String>,
}

#[derive(Debug, Serialize)]
struct SetTable {
    model: String,
    split: Split,
    summary: TableSummary,
}

/// One of the set's JSONL text files.
#[derive(Debug, Serialize)]
struct TextsReport {
    file: String,
    records: usize,
    /// Embedded ids (of the first model) with no line in the file.
    embedded_without_text: usize,
}

#[derive(Debug, Serialize)]
struct QrelsReport {
    rows: usize,
    queries: usize,
    queries_with_relevant: usize,
    grades: BTreeMap<i32, usize>,
}

fn inspect_set(dir: &Path, options: &ReadOptions, quiet: bool) -> anyhow::Result<SetReport> {
    let set = EvalSet::open(dir)?;
    let mut problems = set.problems.clone();
    let mut tables = Vec::new();
    for model in set.models() {
        for split in [Split::Corpus, Split::Queries] {
            let path = set.path(&model, split)?;
            let summary = inspect_table(&path, options.clone(), quiet)
                .with_context(|| format!("model {model:?}"))?;
            if let Some(p) = &summary.problem {
                problems.push(p.clone());
            }
            tables.push(SetTable {
                model: model.clone(),
                split,
                summary,
            });
        }
    }
    let qrels = set.qrels()?;
    let coverage = match set.check_coverage(&options.columns) {
        Ok(c) => {
            if c.qrels_unknown_queries > 0 {
                problems.push(format!(
                    "qrels.tsv judges {} query id(s) that have no query embedding",
                    c.qrels_unknown_queries
                ));
            }
            if c.qrels_unknown_docs > 0 {
                problems.push(format!(
                    "qrels.tsv judges {} document id(s) that are not in the corpus",
                    c.qrels_unknown_docs
                ));
            }
            Some(c)
        }
        Err(e) => {
            problems.push(e.to_string());
            None
        }
    };
    let mut texts = Vec::new();
    for (file, split) in [
        ("corpus.jsonl", Split::Corpus),
        ("queries.jsonl", Split::Queries),
    ] {
        let path = dir.join(file);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        match shimkit_data::read_texts(&path) {
            Ok(records) => {
                let embedded = match set.models().first() {
                    Some(model) => shimkit_data::read_ids(
                        &TableSource::new(set.path(model, split)?)?,
                        &options.columns,
                    )?,
                    None => Vec::new(),
                };
                let have: std::collections::HashSet<&str> =
                    records.iter().map(|r| r.id.as_str()).collect();
                let missing = embedded
                    .iter()
                    .filter(|id| !have.contains(id.as_str()))
                    .count();
                if missing > 0 {
                    problems.push(format!("{file} has no text for {missing} embedded id(s)"));
                }
                texts.push(TextsReport {
                    file: file.to_owned(),
                    records: records.len(),
                    embedded_without_text: missing,
                });
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let text = |key: &str| {
        set.manifest
            .as_ref()
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    Ok(SetReport {
        path: dir.to_path_buf(),
        dataset: text("dataset"),
        license: text("license"),
        models: set.models(),
        tables,
        qrels: QrelsReport {
            rows: qrels.rows(),
            queries: qrels.queries.len(),
            queries_with_relevant: qrels.queries_with_relevant(),
            grades: qrels.grade_counts(),
        },
        coverage,
        texts,
        problems,
    })
}

fn print_table(s: &TableSummary) {
    println!("table     {}", s.path.display());
    println!("rows      {}", s.rows);
    match s.dim {
        Some(d) => println!("dim       {d}"),
        None => println!("dim       unknown"),
    }
    println!("ids       {}", s.id_type);
    println!("vectors   {} (elements {})", s.vector_type, s.element_type);
    let bytes: u64 = s.files.iter().map(|f| f.bytes).sum();
    let groups: usize = s.files.iter().map(|f| f.row_groups).sum();
    println!(
        "files     {} ({}, {groups} row group(s))",
        s.files.len(),
        human_bytes(bytes as f64)
    );
    for f in &s.files {
        println!(
            "  {}  {} rows, {} row group(s), {}, {}",
            f.path.display(),
            f.rows,
            f.row_groups,
            human_bytes(f.bytes as f64),
            f.compression.join("/")
        );
    }
    if let Some(n) = &s.norms {
        println!(
            "norms     min {:.4}  mean {:.4}  max {:.4}  std {:.2e}  unit-length rows {}/{}",
            n.min, n.mean, n.max, n.std, n.unit_rows, s.rows_checked
        );
    }
    match &s.problem {
        None => println!("valid     yes ({} rows checked)", s.rows_checked),
        Some(p) => println!("valid     NO: {p}"),
    }
}

fn print_set(r: &SetReport) {
    println!("evaluation set  {}", r.path.display());
    if let Some(d) = &r.dataset {
        println!("dataset         {d}");
    }
    if let Some(l) = &r.license {
        println!("license         {l}");
    }
    println!("models          {}", r.models.join(", "));
    println!();
    println!(
        "{:<14} {:<8} {:>10} {:>6}  {:<8} {:>10} {:>9}  valid",
        "model", "split", "rows", "dim", "element", "size", "mean|v|"
    );
    for t in &r.tables {
        let s = &t.summary;
        let split = match t.split {
            Split::Corpus => "corpus",
            Split::Queries => "queries",
        };
        println!(
            "{:<14} {:<8} {:>10} {:>6}  {:<8} {:>10} {:>9}  {}",
            t.model,
            split,
            s.rows,
            s.dim.map(|d| d.to_string()).unwrap_or_else(|| "?".into()),
            s.element_type,
            human_bytes(s.files.iter().map(|f| f.bytes).sum::<u64>() as f64),
            s.norms
                .as_ref()
                .map(|n| format!("{:.4}", n.mean))
                .unwrap_or_else(|| "-".into()),
            if s.problem.is_none() { "yes" } else { "NO" }
        );
    }
    println!();
    let grades: Vec<String> = r
        .qrels
        .grades
        .iter()
        .map(|(g, n)| format!("{g}: {n}"))
        .collect();
    println!(
        "qrels           {} judgements over {} queries ({} with a relevant document); grades {}",
        r.qrels.rows,
        r.qrels.queries,
        r.qrels.queries_with_relevant,
        grades.join(", ")
    );
    if let Some(c) = &r.coverage {
        println!(
            "coverage        every model embeds the same {} documents and {} queries; {} queries have no relevant judgement",
            c.docs, c.queries, c.queries_without_relevant
        );
    }
    for t in &r.texts {
        println!(
            "texts           {} holds {} texts ({} embedded ids without one)",
            t.file, t.records, t.embedded_without_text
        );
    }
    if r.problems.is_empty() {
        println!("problems        none");
    } else {
        println!("problems");
        for p in &r.problems {
            println!("  - {p}");
        }
    }
}
