//! `shimkit demo`: the README's main command. Evaluates every path on the bundled
//! Cranfield set, minilm -> mpnet, and writes the HTML and JSON reports.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{DemoArgs, EvalOptions};
use crate::commands::eval::{finish, run_eval};

/// The bundled set: next to the working directory in a clone, else where it was built.
fn bundled() -> PathBuf {
    let local = PathBuf::from("data/cranfield");
    if local.is_dir() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/cranfield")
    }
}

/// `EvalOptions` at their defaults, as `shimkit eval` would parse them.
#[derive(Parser)]
struct Defaults {
    #[command(flatten)]
    options: EvalOptions,
}

pub fn run(args: &DemoArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let dataset = args.dataset.clone().unwrap_or_else(bundled);
    let mut opts = Defaults::parse_from(["demo"]).options;
    std::fs::create_dir_all(&args.out_dir)?;
    opts.json = Some(args.out_dir.join("report.json"));
    opts.html = Some(args.out_dir.join("report.html"));
    if !quiet {
        println!(
            "shimkit demo: migrating {} from minilm (384-d) to mpnet (768-d) without re-embedding\n",
            dataset.display()
        );
    }
    let evaluation = run_eval(&dataset, "minilm", "mpnet", &opts, None, quiet)?;
    let command = format!(
        "shimkit eval --dataset {} --old minilm --new mpnet --json {} --html {}",
        dataset.display(),
        args.out_dir.join("report.json").display(),
        args.out_dir.join("report.html").display()
    );
    finish(&evaluation, &opts, &command, quiet)
}
