//! Logs and OpenTelemetry for every node.
//!
//! Every node gets a log subscriber on stderr (`RUST_LOG` filters it; by default warnings and
//! errors, dora's node API errors only), so what the runtime and the handlers `tracing::warn!`
//! reaches the user. When an
//! OTLP endpoint is configured (`DORA_OTLP_ENDPOINT`, the variable the dora daemon and
//! coordinator read too, or the standard `OTEL_EXPORTER_OTLP_ENDPOINT`), the node also
//! exports over OTLP/gRPC:
//!
//! - **spans**: per message a `receive` span (node, input, `seq`, `t_ns`), its `compute` child
//!   (the handler) and a `send` span per output (`wdp_tensor::dora::send`). The `receive` span's
//!   parent is the trace context the sender put in the message's metadata
//!   (`open_telemetry_context`), and dora puts the active span's context into every output sent
//!   while it is entered, so one frame is one trace from the radio packet to the sink;
//! - **metrics**: `wdp.node.latency` (ms, receive to handled, per node) and `wdp.node.messages`
//!   (per node and outcome: handled, dropped, unknown), exported every
//!   `OTEL_METRIC_EXPORT_INTERVAL` ms (60 000 by default) and at stop.
//!
//! Without an endpoint no span is recorded and nothing leaves the process: the `info` spans
//! are disabled by the `warn` log filter and cost a level check.

use dora_node_api::Metadata;
use opentelemetry::metrics::{Counter, Histogram};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{global, KeyValue};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The variables that name the OTLP endpoint, first set wins.
pub const ENDPOINT_VARS: [&str; 2] = ["DORA_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"];

/// Crates whose own spans and events stay out of the export (transport internals).
const QUIET: [&str; 7] = ["h2", "hyper", "tonic", "tower", "tokio", "reqwest", "zenoh"];

/// The node's exporters; flushed and shut down when dropped (at the end of [`crate::run`]).
pub struct Telemetry {
    exporters: Option<Exporters>,
}

struct Exporters {
    traces: SdkTracerProvider,
    meters: SdkMeterProvider,
    // The gRPC client's connection tasks run here; it must outlive the providers.
    _runtime: tokio::runtime::Runtime,
}

/// A node's metric instruments (no-ops without an endpoint); the exported resource names the
/// node.
#[derive(Clone)]
pub(crate) struct Instruments {
    latency: Histogram<f64>,
    messages: Counter<u64>,
}

impl Instruments {
    pub(crate) fn new() -> Self {
        let meter = global::meter("wdp-node");
        Self {
            latency: meter
                .f64_histogram("wdp.node.latency")
                .with_unit("ms")
                .with_description("receive to handled, per message")
                .build(),
            messages: meter
                .u64_counter("wdp.node.messages")
                .with_description("messages by outcome: handled, dropped, unknown")
                .build(),
        }
    }

    pub(crate) fn latency(&self, ms: f64) {
        self.latency.record(ms, &[]);
    }

    pub(crate) fn count(&self, outcome: &'static str, n: u64) {
        self.messages.add(n, &[KeyValue::new("outcome", outcome)]);
    }
}

impl Telemetry {
    /// Sets up the node's logs and, when an endpoint is configured, its exporters; `name` (the
    /// dataflow's node id) is the service name its spans and metrics carry. A second call in one process (tests that
    /// run several nodes) keeps the first subscriber and exports nothing more.
    pub fn init(name: &str) -> Self {
        let endpoint = ENDPOINT_VARS
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|e| !e.is_empty()));
        let logs = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .with_filter(log_filter());
        let Some(endpoint) = endpoint else {
            let _ = tracing_subscriber::registry().with(logs).try_init();
            return Self { exporters: None };
        };
        match Exporters::start(name, &endpoint) {
            Ok(exporters) => {
                let tracer = exporters.traces.tracer("wdp-node");
                let spans = tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(export_filter());
                if tracing_subscriber::registry()
                    .with(logs)
                    .with(spans)
                    .try_init()
                    .is_err()
                {
                    return Self { exporters: None };
                }
                global::set_text_map_propagator(TraceContextPropagator::new());
                global::set_meter_provider(exporters.meters.clone());
                crate::announce(&format!(
                    "{name}: exporting traces and metrics to {endpoint}"
                ));
                Self {
                    exporters: Some(exporters),
                }
            }
            Err(e) => {
                let _ = tracing_subscriber::registry().with(logs).try_init();
                crate::announce(&format!(
                    "{name}: not exporting to {endpoint} (OTLP set-up failed: {e:#})"
                ));
                Self { exporters: None }
            }
        }
    }
}

impl Exporters {
    fn start(name: &str, endpoint: &str) -> eyre::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp")
            .enable_all()
            .build()?;
        let _entered = runtime.enter();
        let resource = Resource::builder()
            .with_service_name(name.to_owned())
            .build();
        let spans = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        let metrics = opentelemetry_otlp::MetricExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()?;
        Ok(Self {
            traces: SdkTracerProvider::builder()
                .with_resource(resource.clone())
                .with_batch_exporter(spans)
                .build(),
            meters: SdkMeterProvider::builder()
                .with_resource(resource)
                .with_periodic_exporter(metrics)
                .build(),
            _runtime: runtime,
        })
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(e) = &self.exporters {
            // What the batch and the periodic reader still hold goes out before the process ends.
            let _ = e.meters.force_flush();
            let _ = e.traces.force_flush();
            let _ = e.meters.shutdown();
            let _ = e.traces.shutdown();
        }
    }
}

/// `RUST_LOG` when set, else warnings and errors, transport crates quiet, and dora's node API
/// at errors only: it warns about its first large sends as a diagnostic of a Windows hang
/// (dora-rs/dora#2742), a dozen lines per node and run.
fn log_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        let filter = quiet(EnvFilter::new("warn"));
        match "dora_node_api=error".parse() {
            Ok(d) => filter.add_directive(d),
            Err(_) => filter,
        }
    })
}

/// What is exported: `info` spans and events, transport crates left out.
fn export_filter() -> EnvFilter {
    quiet(EnvFilter::new("info"))
}

fn quiet(mut filter: EnvFilter) -> EnvFilter {
    for krate in QUIET {
        if let Ok(d) = format!("{krate}=off").parse() {
            filter = filter.add_directive(d);
        }
    }
    filter
}

/// The span of one received message, its parent the sender's trace context.
pub(crate) fn receive_span(node: &str, input: &str, metadata: &Metadata) -> tracing::Span {
    let int = |key: &str| match metadata.parameters.get(key) {
        Some(dora_node_api::Parameter::Integer(v)) => Some(*v),
        _ => None,
    };
    let span = tracing::info_span!(
        "receive",
        otel.name = %format_args!("receive {input}"),
        node,
        input,
        seq = tracing::field::Empty,
        t_ns = tracing::field::Empty,
    );
    if span.is_disabled() {
        return span;
    }
    if let Some(seq) = int("seq") {
        span.record("seq", seq);
    }
    if let Some(t) = int("t_ns") {
        span.record("t_ns", t);
    }
    let parent = metadata.open_telemetry_context();
    if !parent.is_empty() {
        let _ = span.set_parent(dora_tracing::telemetry::deserialize_context(&parent));
    }
    span
}
