//! `shimkit`: change embedding models without re-embedding everything.
//!
//! Parses the command line, runs one subcommand, and turns its outcome into an exit code:
//! 0 for success, 1 for an error (the message names the file and what is wrong), 2 for a
//! command line clap rejects, 3 for an `eval --gate` that failed, 130 and 143 for Ctrl-C
//! and SIGTERM (after removing the unfinished output).

mod cli;
mod commands;
mod engine;
mod migrate;
mod progress;
mod report;
mod stores;
mod system;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A decoder that panics on a malformed file gives an error naming the file, not a
    // crash report.
    shimkit_data::install_panic_filter();
    let cli = cli::Cli::parse();
    init_logging(&cli.global);
    // `serve` shuts down gracefully on its own; every other command may be writing output.
    if !matches!(cli.command, cli::Command::Serve(_)) {
        system::clean_up_on_interrupt();
    }
    match commands::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", message(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, each said once: many errors already print their cause in
/// their own message (`file: No such file or directory`), and anyhow's `{:#}` would repeat it.
fn message(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain().map(ToString::to_string) {
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}

fn init_logging(global: &cli::GlobalArgs) {
    let level = match (global.quiet, global.verbose) {
        (true, _) => tracing::Level::ERROR,
        (false, 0) => tracing::Level::WARN,
        (false, 1) => tracing::Level::INFO,
        (false, 2) => tracing::Level::DEBUG,
        (false, _) => tracing::Level::TRACE,
    };
    tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
