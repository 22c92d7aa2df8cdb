//! Outgoing webhooks: the brand's endpoints, their deliveries, redelivery and ping.

use actix_web::{web, HttpResponse};

use crate::api::App;
use crate::core::auth::Principal;
use crate::core::hooks::{self, HookInput, HookUpdate};
use crate::domain::hooks::DeliveryStatus;
use crate::domain::ids::{DeliveryId, WebhookId};
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json, List, PageQuery, Query, StatusPageQuery};
use crate::web::problem::ApiResult;

/// `POST /api/v1/webhooks`: the answer holds the signing secret, shown once.
pub async fn create_webhook(
    app: App,
    principal: Principal,
    body: Json<HookInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (sealer, policy) = (app.sealer(), app.hook_policy());
    let view = app
        .read(move |conn| hooks::create(conn, &sealer, policy, &brand_id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(view))
}

/// `GET /api/v1/webhooks`
pub async fn list_webhooks(
    app: App,
    principal: Principal,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let page = query.0.page()?;
    let p = page.clone();
    let rows = app
        .read(move |conn| hooks::list(conn, &brand_id, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(rows, &page, |r| r.id.to_string(), |r| r)))
}

/// `GET /api/v1/webhooks/{webhook_id}`
pub async fn get_webhook(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path, WebhookId::parse)?;
    let view = app
        .read(move |conn| hooks::get(conn, &brand_id, &id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PATCH /api/v1/webhooks/{webhook_id}`: also disables and re-enables it.
pub async fn update_webhook(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<HookUpdate>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, WebhookId::parse)?;
    let policy = app.hook_policy();
    let view = app
        .read(move |conn| hooks::update(conn, policy, &brand_id, &id, body.0))
        .await?;
    app.nudge_outbox();
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/webhooks/{webhook_id}`
pub async fn delete_webhook(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, WebhookId::parse)?;
    app.read(move |conn| hooks::delete(conn, &brand_id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/webhooks/{webhook_id}/deliveries`: newest first.
pub async fn list_deliveries(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<StatusPageQuery<DeliveryStatus>>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path, WebhookId::parse)?;
    let (status, page) = query.0.split()?;
    let p = page.clone();
    let rows = app
        .read(move |conn| hooks::deliveries(conn, &brand_id, &id, status, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(rows, &page, |r| r.id.to_string(), |r| r)))
}

/// `POST /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver`: the same event
/// (id and body) as a new delivery, queued.
pub async fn redeliver(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path.0, WebhookId::parse)?;
    let delivery_id = path_id(&path.1, DeliveryId::parse)?;
    let view = app
        .read(move |conn| hooks::redeliver(conn, &brand_id, &id, &delivery_id))
        .await?;
    app.nudge_outbox();
    Ok(HttpResponse::Accepted().json(view))
}

/// `POST /api/v1/webhooks/{webhook_id}/ping`: sends a signed `ping` now and answers how the
/// endpoint answered.
pub async fn ping(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, WebhookId::parse)?;
    let view = app.ping_webhook(brand_id, id).await?;
    Ok(HttpResponse::Ok().json(view))
}
