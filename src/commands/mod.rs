//! One module a subcommand; each takes its parsed arguments and returns an exit code.

mod gen_set;
mod inspect;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let quiet = cli.global.quiet;
    match cli.command {
        Command::Inspect(args) => inspect::run(&args, quiet),
        Command::Gen(args) => gen_set::run(&args, quiet),
    }
}
