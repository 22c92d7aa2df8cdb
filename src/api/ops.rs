//! Operations and static endpoints: liveness, readiness, Prometheus metrics, the storefront
//! script, and the API's own description.

use actix_web::http::header;
use actix_web::HttpResponse;
use serde_json::json;

use crate::api::App;
use crate::web::problem::{ApiError, ApiResult};

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers and every migration is applied.
pub async fn readyz(app: App) -> ApiResult<HttpResponse> {
    if app.ready().await {
        Ok(HttpResponse::Ok()
            .json(json!({"status": "ready", "database": "ok", "migrations": "applied"})))
    } else {
        Err(ApiError::Unavailable(
            "database unreachable or migrations pending".into(),
        ))
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(app: App) -> HttpResponse {
    let (connections, idle, max) = app.pool_state();
    metrics::gauge!("db_pool_connections").set(f64::from(connections));
    metrics::gauge!("db_pool_idle_connections").set(f64::from(idle));
    metrics::gauge!("db_pool_max_size").set(f64::from(max));
    let queue = app.read(crate::core::outbox::gauges).await;
    if let Ok((counts, oldest_age)) = queue {
        use crate::domain::outbox::{JobKind, JobStatus};
        for kind in JobKind::ALL {
            for status in JobStatus::ALL {
                let n = counts
                    .iter()
                    .find(|(k, s, _)| k == kind && s == status)
                    .map_or(0, |c| c.2);
                metrics::gauge!("outbox_jobs", "kind" => kind.as_str(), "status" => status.as_str())
                    .set(n as f64);
            }
        }
        metrics::gauge!("outbox_oldest_pending_seconds").set(oldest_age);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::web::observe::prometheus().render())
}

/// The storefront script (see `assets/t.js`).
const SCRIPT: &str = include_str!("../../assets/t.js");

/// `GET /t.js`: the first-party script storefronts add to their pages to keep click ids from
/// landing URLs until checkout.
pub async fn tracking_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        ))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(SCRIPT)
}
