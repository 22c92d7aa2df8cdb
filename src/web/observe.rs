//! Request metrics (Prometheus) and request spans that never carry a client address.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::Error;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process-wide Prometheus recorder, installed on first use.
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let latency_buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets(&latency_buckets)
            .expect("static non-empty buckets");
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed (only possible in embedding programs): keep a
            // private one so /metrics still renders.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Counts every request and its latency by route template (never by raw path).
pub async fn track_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let start = Instant::now();
    let method = req.method().to_string();
    let response = next.call(req).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_string());
    let status = response.status().as_u16();
    let elapsed = start.elapsed().as_secs_f64();
    let labels = [("method", method), ("route", route)];
    metrics::counter!(
        "http_requests_total",
        &[
            ("method", labels[0].1.clone()),
            ("route", labels[1].1.clone()),
            ("status", status.to_string()),
        ]
    )
    .increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed);
    if status >= 500 {
        tracing::error!(status, route = %labels[1].1, "server error");
    } else {
        // The access log, at debug level: method, route template (never the raw path, which
        // may carry codes and ids), status and time; never the client's address.
        tracing::debug!(
            method = %labels[0].1,
            route = %labels[1].1,
            status,
            ms = elapsed * 1000.0,
            "request served"
        );
    }
    Ok(response)
}

/// Root span of every request: method, route and request id, without the client's address.
pub struct PrivateRootSpan;

impl RootSpanBuilder for PrivateRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        tracing::info_span!(
            "request",
            method = %request.method(),
            route = %route,
            status = tracing::field::Empty,
            request_id = %uuid::Uuid::now_v7(),
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        if let Ok(response) = outcome {
            span.record("status", response.status().as_u16());
        }
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
