//! `shimkit load`: re-embedded vectors into a PostgreSQL column.

use std::process::ExitCode;

use anyhow::Context;
use shimkit_postgres::PgTable;

use crate::cli::LoadArgs;

pub fn run(args: &LoadArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let target = PgTable::parse(&args.output).context("--output")?;
    crate::stores::postgres::load(
        &args.input,
        &args.columns.columns(),
        &target,
        args.writers,
        args.batch_rows,
        None,
        quiet,
    )?;
    Ok(ExitCode::SUCCESS)
}
