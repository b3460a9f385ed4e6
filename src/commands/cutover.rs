//! `shimkit cutover`: which PostgreSQL column the application reads.

use std::process::ExitCode;

use anyhow::Context;
use shimkit_postgres::PgTable;
use shimkit_postgres::cutover::{CutoverOptions, cutover, rollback};

use crate::cli::CutoverArgs;

pub fn run(args: &CutoverArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let table = PgTable::parse(&args.url).context("the table URL")?;
    let (verb, done) = if args.rollback {
        ("rolled back", rollback(&table)?)
    } else {
        let to = args.to.as_deref().unwrap_or_default();
        let options = CutoverOptions {
            allow_missing: args.allow_missing,
        };
        ("cut over", cutover(&table, to, options)?)
    };
    if !quiet {
        let renames: Vec<String> = if args.rollback {
            done.renames
                .iter()
                .rev()
                .map(|(from, to)| format!("{to} -> {from}"))
                .collect()
        } else {
            done.renames
                .iter()
                .map(|(from, to)| format!("{from} -> {to}"))
                .collect()
        };
        println!("{verb} {}: {}", done.table, renames.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
