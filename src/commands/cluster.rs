//! `shimkit cluster scheduler|executor`: Ballista's processes, with shimkit's functions.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;

use anyhow::{Context, bail};
use shimkit_cluster::{ExecutorOptions, SchedulerOptions};

use crate::cli::{ClusterArgs, ClusterRole};
use crate::engine::runtime;

fn host_port(text: &str, flag: &str) -> anyhow::Result<(String, u16)> {
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => {
            let port = port
                .parse()
                .with_context(|| format!("{flag} {text:?}: the port is not a number"))?;
            Ok((host.trim_matches(['[', ']']).to_owned(), port))
        }
        _ => bail!("{flag} {text:?}: expected HOST:PORT"),
    }
}

fn socket(text: &str, flag: &str) -> anyhow::Result<SocketAddr> {
    text.to_socket_addrs()
        .with_context(|| format!("{flag} {text:?}"))?
        .next()
        .with_context(|| format!("{flag} {text:?}: resolves to no address"))
}

pub fn run(args: &ClusterArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let rt = runtime()?;
    match &args.role {
        ClusterRole::Scheduler(a) => {
            let bind = socket(&a.bind, "--bind")?;
            if a.executor_timeout == 0 {
                bail!("--executor-timeout 0: at least one second");
            }
            let options = SchedulerOptions {
                bind,
                external_host: a
                    .external_host
                    .clone()
                    .unwrap_or_else(|| bind.ip().to_string()),
                executor_timeout_seconds: a.executor_timeout,
            };
            if !quiet {
                eprintln!("Ballista scheduler with shimkit's functions on {bind}");
            }
            rt.block_on(shimkit_cluster::run_scheduler(&options))
                .with_context(|| format!("scheduler on {bind}"))?;
        }
        ClusterRole::Executor(a) => {
            let (scheduler_host, scheduler_port) = host_port(&a.scheduler, "--scheduler")?;
            let (bind_host, flight_port) = host_port(&a.bind, "--bind")?;
            let grpc_port = match a.grpc_port {
                Some(p) => p,
                None => flight_port
                    .checked_add(1)
                    .context("--bind: no port after it for --grpc-port; give one")?,
            };
            if a.cores == Some(0) {
                bail!("--cores 0: at least one");
            }
            // Fail now, naming the address, rather than after Ballista's retries.
            shimkit_cluster::check_reachable(&a.scheduler, std::time::Duration::from_secs(5))?;
            let options = ExecutorOptions {
                scheduler_host,
                scheduler_port,
                external_host: a.external_host.clone().unwrap_or_else(|| bind_host.clone()),
                bind_host,
                flight_port,
                grpc_port,
                cores: a
                    .cores
                    .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
                heartbeat_seconds: a.heartbeat,
                work_dir: a.work_dir.as_ref().map(|p| p.display().to_string()),
            };
            if !quiet {
                eprintln!(
                    "Ballista executor with shimkit's functions on {}:{} (tasks on port {}), {} cores, scheduler {}",
                    options.bind_host, flight_port, grpc_port, options.cores, a.scheduler
                );
            }
            rt.block_on(shimkit_cluster::run_executor(&options))
                .with_context(|| format!("executor on {}", a.bind))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
