//! A minimal OTLP/gRPC receiver, on the protocol's own definitions (`opentelemetry-proto`):
//! see what the nodes export without installing a collector, and the receiver the telemetry
//! test and the tracing benchmark run.
//!
//! ```text
//! cargo run --release --example otlp_receiver -- [--listen 127.0.0.1:4317] [--out spans.jsonl]
//! ```
//!
//! Prints `listening on http://ADDR` first (port 0 picks a free one), then writes one JSON
//! line per span (`service`, `name`, `trace`, `id`, `parent` in hex, `seq` when the span has
//! one, `start_ns`, `end_ns`) and per metric data set (`service`, `metric`) to `--out`
//! (stdout by default), flushed after every export request.

use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

type Out = Arc<Mutex<Box<dyn Write + Send>>>;

#[derive(Clone)]
struct Receiver(Out);

fn service_of(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn int_of(attributes: &[KeyValue], key: &str) -> Option<i64> {
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::IntValue(v) => Some(*v),
            _ => None,
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    fn write(&self, lines: Vec<serde_json::Value>) -> Result<(), tonic::Status> {
        let mut out = self
            .0
            .lock()
            .map_err(|_| tonic::Status::internal("poisoned"))?;
        for line in lines {
            writeln!(out, "{line}").map_err(|e| tonic::Status::internal(e.to_string()))?;
        }
        out.flush()
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut lines = Vec::new();
        for resource in request.into_inner().resource_spans {
            let service = service_of(resource.resource.as_ref());
            for span in resource.scope_spans.into_iter().flat_map(|s| s.spans) {
                lines.push(json!({
                    "service": service,
                    "name": span.name,
                    "trace": hex(&span.trace_id),
                    "id": hex(&span.span_id),
                    "parent": hex(&span.parent_span_id),
                    "seq": int_of(&span.attributes, "seq"),
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                }));
            }
        }
        self.write(lines)?;
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        let mut lines = Vec::new();
        for resource in request.into_inner().resource_metrics {
            let service = service_of(resource.resource.as_ref());
            for metric in resource.scope_metrics.into_iter().flat_map(|s| s.metrics) {
                lines.push(json!({ "service": service, "metric": metric.name }));
            }
        }
        self.write(lines)?;
        Ok(tonic::Response::new(ExportMetricsServiceResponse::default()))
    }
}

fn main() -> eyre::Result<()> {
    let mut listen = "127.0.0.1:4317".to_owned();
    let mut out: Box<dyn Write + Send> = Box::new(std::io::stdout());
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| eyre::eyre!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--out" => {
                let path = value()?;
                let file = std::fs::File::create(&path)
                    .map_err(|e| eyre::eyre!("cannot write {path}: {e}"))?;
                out = Box::new(std::io::BufWriter::new(file));
            }
            other => eyre::bail!("unknown argument {other} (--listen ADDR, --out FILE)"),
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&listen)
            .await
            .map_err(|e| eyre::eyre!("cannot listen on {listen}: {e}"))?;
        println!("listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        let receiver = Receiver(Arc::new(Mutex::new(out)));
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .add_service(MetricsServiceServer::new(receiver))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await?;
        Ok(())
    })
}
