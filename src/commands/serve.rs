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
        max_answer_bytes: args.max_answer_bytes,
        max_inflight_bytes: args.max_inflight_bytes,
        max_connections: args.max_connections,
        header_timeout_secs: args.header_timeout,
        body_timeout_secs: args.body_timeout,
    };
    let file = match &args.config {
        Some(path) => PartialConfig::from_toml_file(path)?,
        None => PartialConfig::default(),
    };
    let mut merged = flags.or(file);
    let migration = match &args.migration {
        Some(path) => Some(crate::migrate::source(path)?),
        None => None,
    };
    // A dashboard alone serves no shims: an empty directory stands in for one.
    let _no_shims = match (&migration, &merged.shims) {
        (Some(_), None) => {
            let dir = tempfile::tempdir().context("making an empty shim directory")?;
            merged.shims = Some(dir.path().to_path_buf());
            Some(dir)
        }
        _ => None,
    };
    let config = merged.resolve()?;
    shimkit_server::heap::keep_freed();
    raise_open_file_limit(config.connections.max_connections);
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if let Some(n) = args.workers {
        anyhow::ensure!(n > 0, "--workers must be at least 1");
        runtime.worker_threads(n);
    }
    let runtime = runtime.build().context("starting the async runtime")?;
    let shims = config.shims.clone();
    let dashboard = migration.is_some();
    runtime.block_on(shimkit_server::serve_with(config, migration, |addr| {
        if !quiet {
            if dashboard {
                eprintln!("shimkit serve: the migration's dashboard is on http://{addr}/dashboard");
            }
            match &_no_shims {
                Some(_) => eprintln!("shimkit serve: listening on http://{addr} (no shims)"),
                None => eprintln!(
                    "shimkit serve: listening on http://{addr} (shims from {})",
                    shims.display()
                ),
            }
        }
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// Each connection is a file descriptor: the soft limit (often 1024) is raised to the hard
/// one, and a connection limit that the descriptors cannot hold is reported.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn raise_open_file_limit(max_connections: usize) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct passed, nothing else.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return;
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            let _ = libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            let _ = libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        }
    }
    // Shim files, the listener, logs and refusals in flight need descriptors too.
    let needed = max_connections as u64 + 512;
    if limit.rlim_cur < needed {
        tracing::warn!(
            "--max-connections {max_connections} needs about {needed} file descriptors, but the limit is {}: connections beyond it fail at accept",
            limit.rlim_cur
        );
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn raise_open_file_limit(_: usize) {}
