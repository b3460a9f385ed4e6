//! `shimkit sql`: a query over Parquet tables, with shimkit's functions registered.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use shimkit_data::StagingDir;
use shimkit_engine::ShimSet;

use crate::cli::SqlArgs;
use crate::engine::{Engine, runtime};

/// `NAME=VALUE` of a repeatable flag.
fn name_value<'a>(text: &'a str, flag: &str) -> anyhow::Result<(&'a str, &'a str)> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() && !value.is_empty() => Ok((name, value)),
        _ => bail!("{flag} {text:?}: expected NAME=PATH"),
    }
}

pub fn run(args: &SqlArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let engine = Engine::from_args(&args.engine)?.unwrap_or(Engine::Local { partitions: None });
    let mut shims = ShimSet::new();
    for spec in &args.shims {
        let (name, path) = name_value(spec, "--shim")?;
        shims = shims.with_file(name, path.as_ref(), true)?;
    }
    runtime()?.block_on(async {
        let ctx = engine.context(&shims).await?;
        for spec in &args.tables {
            let (name, path) = name_value(spec, "--table")?;
            register(&ctx, name, PathBuf::from(path)).await?;
        }
        let df = ctx.sql(&args.query).await.context("planning the query")?;
        match &args.output {
            None => {
                let batches = df.collect().await.context("running the query")?;
                let table = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?;
                println!("{table}");
                if !quiet {
                    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                    eprintln!("{rows} rows");
                }
            }
            Some(out) => {
                shimkit_engine::tables::check_replaceable(out)?;
                let staging = StagingDir::create(out)?;
                let parts = shimkit_engine::write_parts(&ctx, df, staging.path())
                    .await
                    .context("running the query")?;
                staging.commit()?;
                if !quiet {
                    let rows: u64 = parts.iter().map(|p| p.rows).sum();
                    eprintln!(
                        "wrote {rows} rows in {} files to {}",
                        parts.len(),
                        out.display()
                    );
                }
            }
        }
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A table of any columns: `shimkit sql` does not ask for an id and a vector.
async fn register(
    ctx: &datafusion::prelude::SessionContext,
    name: &str,
    path: PathBuf,
) -> anyhow::Result<()> {
    let meta =
        std::fs::metadata(&path).with_context(|| format!("--table {name}={}", path.display()))?;
    let mut url = std::fs::canonicalize(&path)?.to_string_lossy().into_owned();
    if meta.is_dir() {
        url.push('/');
    }
    ctx.register_parquet(
        name,
        &url,
        datafusion::prelude::ParquetReadOptions::default(),
    )
    .await
    .with_context(|| format!("--table {name}={}: cannot read as Parquet", path.display()))?;
    Ok(())
}
