//! One module a subcommand; each takes its parsed arguments and returns an exit code.

mod cluster;
mod cutover;
mod demo;
mod embed;
mod eval;
mod export;
mod fit;
mod gen_set;
mod inspect;
mod inspect_shim;
mod load;
mod migrate;
mod project;
mod sample;
mod serve;
mod sql;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let quiet = cli.global.quiet;
    match cli.command {
        Command::Inspect(args) => inspect::run(&args, quiet),
        Command::Gen(args) => gen_set::run(&args, quiet),
        Command::Embed(args) => embed::run(&args, quiet),
        Command::Sample(args) => sample::run(&args, quiet),
        Command::Fit(args) => fit::run(&args, quiet),
        Command::Export(args) => export::run(&args, quiet),
        Command::Project(args) => project::run(&args, quiet),
        Command::Load(args) => load::run(&args, quiet),
        Command::Cutover(args) => cutover::run(&args, quiet),
        Command::Migrate(command) => migrate::run(command, quiet),
        Command::Eval(args) => eval::run(&args, quiet),
        Command::Demo(args) => demo::run(&args, quiet),
        Command::Serve(args) => serve::run(&args, quiet),
        Command::Sql(args) => sql::run(&args, quiet),
        Command::Cluster(args) => cluster::run(&args, quiet),
    }
}
