//! A Ballista scheduler that plans shimkit's jobs.

use std::net::SocketAddr;
use std::sync::Arc;

use ballista_scheduler::SessionBuilder;
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionConfig;
use shimkit_engine::ShimQueryPlanner;

use crate::codec::{ShimLogicalCodec, ShimPhysicalCodec};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub bind: SocketAddr,
    /// The host executors and clients are told to reach this scheduler by.
    pub external_host: String,
    /// After how long without a heartbeat an executor is taken for lost and its tasks
    /// are run again elsewhere.
    pub executor_timeout_seconds: u64,
}

/// The sessions the scheduler plans in: Ballista's, with shimkit's functions and its
/// planner for [`shimkit_engine::WriteParts`].
pub fn session_builder() -> SessionBuilder {
    Arc::new(|config: SessionConfig| {
        let state = ballista_core::utils::default_session_builder(config)?;
        let mut state = SessionStateBuilder::new_from_existing(state)
            .with_query_planner(Arc::new(ShimQueryPlanner))
            .build();
        crate::register_functions(&mut state)?;
        Ok(state)
    })
}

/// Runs the scheduler until the process is stopped.
pub async fn run_scheduler(options: &SchedulerOptions) -> Result<()> {
    let config = SchedulerConfig {
        bind_host: options.bind.ip().to_string(),
        bind_port: options.bind.port(),
        external_host: options.external_host.clone(),
        executor_timeout_seconds: options.executor_timeout_seconds,
        no_executors_grace_period_seconds: options.executor_timeout_seconds,
        expire_dead_executor_interval_seconds: options.executor_timeout_seconds.clamp(1, 15),
        grpc_server_max_decoding_message_size: crate::MAX_MESSAGE_BYTES as u32,
        grpc_server_max_encoding_message_size: crate::MAX_MESSAGE_BYTES as u32,
        grpc_client_max_message_size: crate::MAX_MESSAGE_BYTES as u32,
        override_session_builder: Some(session_builder()),
        override_logical_codec: Some(Arc::new(ShimLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(ShimPhysicalCodec::default())),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await?;
    ballista_scheduler::scheduler_process::start_server(cluster, options.bind, Arc::new(config))
        .await?;
    Ok(())
}
