//! Discount codes: read and changed by the brand, looked up by storefronts at checkout.

use actix_web::{web, HttpResponse};

use crate::api::App;
use crate::core::admin::codes::{self, LookupQuery, UpdateCode};
use crate::core::auth::Principal;
use crate::domain::ids::CodeId;
use crate::domain::scope::Access;
use crate::web::extract::{path_id, Json, Query};
use crate::web::problem::ApiResult;

/// `GET /api/v1/codes/{id}`
pub async fn get_code(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path, CodeId::parse)?;
    let view = app
        .read(move |conn| codes::get(conn, &brand_id, &id))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `PATCH /api/v1/codes/{id}`: deactivate/reactivate, change limits or the discount.
pub async fn update_code(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<UpdateCode>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, CodeId::parse)?;
    let view = app
        .write(move |conn| codes::update(conn, &brand_id, &id, body.0))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/v1/codes/{id}`: the code is gone here and, through the outbox, from every
/// connected shop.
pub async fn delete_code(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path, CodeId::parse)?;
    app.write(move |conn| codes::delete(conn, &brand_id, &id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /api/v1/codes/lookup?code=`: whether a shopper's code is usable now, and what it
/// gives; `valid: false` with a reason otherwise.
pub async fn lookup_code(
    app: App,
    principal: Principal,
    query: Query<LookupQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Storefront)?.brand_id.clone();
    let code = query.0.code;
    let view = app
        .read(move |conn| codes::lookup(conn, &brand_id, &code))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
