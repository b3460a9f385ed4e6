//! A Ballista executor that runs shimkit's tasks.

use std::sync::Arc;

use ballista_core::registry::BallistaFunctionRegistry;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use datafusion::execution::SessionStateBuilder;

use crate::codec::{ShimLogicalCodec, ShimPhysicalCodec};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    pub scheduler_host: String,
    pub scheduler_port: u16,
    pub bind_host: String,
    /// The host the scheduler, other executors and clients reach this one by.
    pub external_host: String,
    /// Arrow Flight: where results and shuffle data are fetched from.
    pub flight_port: u16,
    /// Where the scheduler sends tasks.
    pub grpc_port: u16,
    /// Tasks run at once.
    pub cores: usize,
    pub heartbeat_seconds: u64,
    /// Shuffle files; a temporary directory of Ballista's when `None`.
    pub work_dir: Option<String>,
}

/// Runs the executor until the process is stopped or the scheduler stops it.
pub async fn run_executor(options: &ExecutorOptions) -> Result<()> {
    let mut state = SessionStateBuilder::new().with_default_features().build();
    crate::register_functions(&mut state)?;
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: Some(options.external_host.clone()),
        port: options.flight_port,
        grpc_port: options.grpc_port,
        scheduler_host: options.scheduler_host.clone(),
        scheduler_port: options.scheduler_port,
        vcores: options.cores.max(1),
        executor_heartbeat_interval_seconds: options.heartbeat_seconds.max(1),
        work_dir: options.work_dir.clone(),
        print_thread_info: false,
        grpc_max_decoding_message_size: crate::MAX_MESSAGE_BYTES as u32,
        grpc_max_encoding_message_size: crate::MAX_MESSAGE_BYTES as u32,
        override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(&state))),
        override_logical_codec: Some(Arc::new(ShimLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(ShimPhysicalCodec::default())),
        ..Default::default()
    };
    start_executor_process(Arc::new(config)).await?;
    Ok(())
}
