//! Prometheus metrics (OpenMetrics text on `GET /metrics`).
//!
//! - `shimkit_requests_total{route, method, code}`: every answered request;
//! - `shimkit_errors_total{code}`: answers with a 4xx or 5xx status;
//! - `shimkit_request_duration_seconds{route}`: whole-request latency;
//! - `shimkit_projection_duration_seconds{shim}`: time inside the shim (decode to encode);
//! - `shimkit_vectors_projected_total{shim}`;
//! - `shimkit_shims_loaded`, `shimkit_aliases`, `shimkit_generation`;
//! - `shimkit_reload_failures_total`: files that failed to load on a reload;
//! - `shimkit_key_file_loaded`: 1 while the API key file is loaded, 0 after it failed to
//!   load (keyed routes are then refused);
//! - `shimkit_connections_refused_total`: connections refused at the connection limit;
//! - `shimkit_inflight_bytes`: memory held by large requests (see `budget`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ShimLabels {
    shim: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// 10 µs to ~20 s in doublings: single vectors sit in the first buckets, big batches in
/// the last.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1e-5, 2.0, 22))
}

/// The service's counters, gauges and histograms, and the registry that renders them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<CodeLabels, Counter>,
    request_seconds: Histograms<RouteLabels>,
    projection_seconds: Histograms<ShimLabels>,
    vectors: Family<ShimLabels, Counter>,
    shims_loaded: Gauge,
    aliases: Gauge,
    generation: Gauge,
    reload_failures: Counter,
    key_file_loaded: Gauge,
    connections_refused: Counter,
    inflight_bytes: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("shimkit");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("requests", "Answered requests", requests.clone());
        let errors = Family::<CodeLabels, Counter>::default();
        registry.register("errors", "Answers with an error status", errors.clone());
        let request_seconds: Histograms<RouteLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "request_duration_seconds",
            "Request latency inside the server",
            request_seconds.clone(),
        );
        let projection_seconds: Histograms<ShimLabels> =
            Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "projection_duration_seconds",
            "Time to decode, project and encode one request's vectors",
            projection_seconds.clone(),
        );
        let vectors = Family::<ShimLabels, Counter>::default();
        registry.register("vectors_projected", "Vectors projected", vectors.clone());
        let shims_loaded = Gauge::default();
        registry.register("shims_loaded", "Shims being served", shims_loaded.clone());
        let aliases = Gauge::default();
        registry.register("aliases", "Aliases being served", aliases.clone());
        let generation = Gauge::default();
        registry.register(
            "generation",
            "Changes published since start (reloads, alias switches)",
            generation.clone(),
        );
        let reload_failures = Counter::default();
        registry.register(
            "reload_failures",
            "Files that failed to load on a reload",
            reload_failures.clone(),
        );
        let key_file_loaded = Gauge::default();
        registry.register(
            "key_file_loaded",
            "1 while the API key file is loaded; 0 after it failed to load (keyed routes refused)",
            key_file_loaded.clone(),
        );
        key_file_loaded.set(1);
        let connections_refused = Counter::default();
        registry.register(
            "connections_refused",
            "Connections refused at the connection limit",
            connections_refused.clone(),
        );
        let inflight_bytes = Gauge::default();
        registry.register(
            "inflight_bytes",
            "Memory held by large requests",
            inflight_bytes.clone(),
        );
        Metrics {
            registry,
            key_file_loaded,
            connections_refused,
            inflight_bytes,
            requests,
            errors,
            request_seconds,
            projection_seconds,
            vectors,
            shims_loaded,
            aliases,
            generation,
            reload_failures,
        }
    }

    pub fn record_request(&self, route: &str, method: &str, code: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                code,
            })
            .inc();
        if code >= 400 {
            self.errors.get_or_create(&CodeLabels { code }).inc();
        }
        self.request_seconds
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    pub fn record_projection(&self, shim: &str, vectors: usize, seconds: f64) {
        let labels = ShimLabels {
            shim: shim.to_owned(),
        };
        self.vectors.get_or_create(&labels).inc_by(vectors as u64);
        self.projection_seconds
            .get_or_create(&labels)
            .observe(seconds);
    }

    pub fn set_state(&self, shims: usize, aliases: usize, generation: u64) {
        self.shims_loaded.set(shims as i64);
        self.aliases.set(aliases as i64);
        self.generation.set(generation as i64);
    }

    pub fn record_reload_failures(&self, n: usize) {
        self.reload_failures.inc_by(n as u64);
    }

    pub fn set_key_file_loaded(&self, loaded: bool) {
        self.key_file_loaded.set(i64::from(loaded));
    }

    pub fn record_connection_refused(&self) {
        self.connections_refused.inc();
    }

    pub fn set_inflight_bytes(&self, bytes: usize) {
        self.inflight_bytes.set(bytes as i64);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
