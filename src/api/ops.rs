//! Operations endpoints: liveness, readiness, Prometheus metrics.

use actix_web::{web, HttpResponse};
use serde_json::json;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `GET /healthz`: the process is up.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers and every migration is applied.
pub async fn readyz(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let ready = state
        .db(|conn| Ok(crate::db::is_ready(conn)))
        .await
        .unwrap_or(false);
    if ready {
        Ok(HttpResponse::Ok()
            .json(json!({"status": "ready", "database": "ok", "migrations": "applied"})))
    } else {
        Err(ApiError::Unavailable(
            "database unreachable or migrations pending".into(),
        ))
    }
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.state();
    metrics::gauge!("db_pool_connections").set(pool.connections as f64);
    metrics::gauge!("db_pool_idle_connections").set(pool.idle_connections as f64);
    metrics::gauge!("db_pool_max_size").set(state.pool.max_size() as f64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::observe::prometheus().render())
}
