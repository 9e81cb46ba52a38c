//! Logs and traces. Logs: JSON lines on stdout by default, `LOG_FORMAT=pretty` for a
//! terminal; `RUST_LOG` filters. Traces: when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, every
//! span is exported over OTLP/gRPC; the W3C trace context of the submitting request is
//! stored with the plan and becomes the parent of the worker's `plan` span, so one trace
//! covers submit → plan run → nodes → provider calls.

use std::collections::HashMap;

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_sdk::{propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Keeps the trace exporter alive; flushes it when dropped.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.shutdown();
        }
    }
}

/// Services log to stdout; the CLI logs to stderr so that its stdout stays the itinerary.
pub fn init(format: LogFormat, to_stderr: bool) -> Telemetry {
    let provider = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .and_then(|endpoint| {
            use opentelemetry_otlp::WithExportConfig;
            match opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint.clone())
                .build()
            {
                Ok(exporter) => Some(
                    SdkTracerProvider::builder()
                        .with_batch_exporter(exporter)
                        .with_resource(resource())
                        .build(),
                ),
                Err(e) => {
                    eprintln!("traces disabled: cannot export to {endpoint}: {e}");
                    None
                }
            }
        });
    install(format, to_stderr, provider.clone());
    Telemetry { provider }
}

/// Installs the subscriber with a given trace provider (tests use an in-memory exporter).
pub fn install(format: LogFormat, to_stderr: bool, provider: Option<SdkTracerProvider>) {
    global::set_text_map_propagator(TraceContextPropagator::new());
    // The CLI keeps quiet unless asked; services log their own work at info.
    let default = if to_stderr { "warn" } else { "warn,planner=info" };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let writer = fmt::writer::BoxMakeWriter::new(move || -> Box<dyn std::io::Write> {
        if to_stderr {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    });
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => fmt::layer().compact().with_writer(writer).with_filter(filter).boxed(),
    };
    let traces = provider.map(|p| {
        let tracer = p.tracer("travel-planner");
        global::set_tracer_provider(p);
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(EnvFilter::new("planner=info"))
            .boxed()
    });
    // try_init: a second initialisation (tests, `dev`) is ignored; the first one wins.
    let _ = tracing_subscriber::registry().with(logs).with(traces).try_init();
}

fn resource() -> opentelemetry_sdk::Resource {
    opentelemetry_sdk::Resource::builder()
        .with_service_name("travel-planner")
        .build()
}

/// The current span's trace context as W3C headers (`traceparent`, `tracestate`), to store
/// with work that another process will pick up.
pub fn current_trace_context() -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    let cx = tracing::Span::current().context();
    global::get_text_map_propagator(|p| p.inject_context(&cx, &mut carrier));
    carrier
}

/// Makes `span` a child of the stored trace context, if there is one.
pub fn continue_trace(span: &tracing::Span, carrier: &HashMap<String, String>) {
    if carrier.is_empty() {
        return;
    }
    let cx = global::get_text_map_propagator(|p| p.extract(carrier));
    let _ = span.set_parent(cx);
}
