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
    keep_freed_memory();
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

/// A batch request allocates and frees buffers of several MiB. glibc gives freed memory
/// at the top of its heap back to the kernel once it passes the trim threshold (by
/// default twice the largest buffer freed so far), so each batch of 1,024 vectors paid
/// page faults on ~20 MiB of fresh pages: octet-stream batches ran at 117–137k vectors/s,
/// and at 142–149k with these settings (BENCHMARKS.md). The cost is resident memory: up
/// to 128 MiB of freed heap is kept for the next request.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // Setting either parameter turns off glibc's own adjustment of both, so both are set:
    // buffers up to 32 MiB (glibc's ceiling for this one) come from the heap, not mmap.
    // SAFETY: mallopt only changes allocator parameters, and runs before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn keep_freed_memory() {}
