//! `shimkit serve`: the projection service (crate `shimkit-server`) on a tokio runtime.

use std::process::ExitCode;

use anyhow::Context;
use shimkit_server::config::PartialConfig;

use crate::cli::ServeArgs;

pub fn run(args: &ServeArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let flags = PartialConfig {
        addr: args.addr.clone(),
        shims: args.shims.clone(),
        api_key_file: args.api_key_file.clone(),
        max_body_bytes: args.max_body_bytes,
        max_batch: args.max_batch,
    };
    let file = match &args.config {
        Some(path) => PartialConfig::from_toml_file(path)?,
        None => PartialConfig::default(),
    };
    let config = flags.or(file).resolve()?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = args.workers {
        anyhow::ensure!(n > 0, "--workers must be at least 1");
        runtime.worker_threads(n);
    }
    let runtime = runtime.build().context("starting the async runtime")?;
    let shims = config.shims.clone();
    runtime.block_on(shimkit_server::serve(config, |addr| {
        if !quiet {
            eprintln!(
                "shimkit serve: listening on http://{addr} (shims from {})",
                shims.display()
            );
        }
    }))?;
    Ok(ExitCode::SUCCESS)
}
