//! Brands (operator) and their API keys (operator or the brand's admin).

use actix_web::{web, HttpResponse};

use crate::api::App;
use crate::core::admin::brands::{self, BrandView, CreateBrand};
use crate::core::admin::keys::{self, CreateKey, KeyView};
use crate::core::auth::{AuthError, Principal, WRONG_SCOPE};
use crate::domain::ids::{BrandId, KeyId};
use crate::domain::scope::Scope;
use crate::web::extract::{path_id, Json, List, PageQuery, Query};
use crate::web::problem::{ApiError, ApiResult};

/// `POST /api/v1/brands` (operator): a brand and its first admin key (shown once).
pub async fn create_brand(
    app: App,
    principal: Principal,
    body: Json<CreateBrand>,
) -> ApiResult<HttpResponse> {
    principal.operator()?;
    let created = app.read(move |conn| brands::create(conn, body.0)).await?;
    Ok(HttpResponse::Created().json(created))
}

/// `GET /api/v1/brands` (operator): every brand, oldest first.
pub async fn list_brands(
    app: App,
    principal: Principal,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    principal.operator()?;
    let page = query.0.page()?;
    let p = page.clone();
    let rows = app.read(move |conn| brands::list(conn, &p)).await?;
    let list = List::from_rows(rows, &page, |r| r.id.to_string(), BrandView::from);
    Ok(HttpResponse::Ok().json(list))
}

/// `GET /api/v1/brands/{brand_id}`: the operator, or any key of that brand.
pub async fn get_brand(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path, BrandId::parse)?;
    principal.may_see_brand(&id)?;
    let row = app.read(move |conn| brands::get(conn, &id)).await?;
    Ok(HttpResponse::Ok().json(BrandView::from(row)))
}

/// `POST /api/v1/brands/{brand_id}/keys`: a key, shown once.
pub async fn create_key(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    body: Json<CreateKey>,
) -> ApiResult<HttpResponse> {
    let brand_id = path_id(&path, BrandId::parse)?;
    principal.admin_of(&brand_id)?;
    let created = app
        .read(move |conn| keys::create(conn, &brand_id, body.0))
        .await?;
    Ok(HttpResponse::Created().json(created))
}

/// `GET /api/v1/brands/{brand_id}/keys`: never the secrets.
pub async fn list_keys(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = path_id(&path, BrandId::parse)?;
    principal.admin_of(&brand_id)?;
    let page = query.0.page()?;
    let p = page.clone();
    let rows = app
        .read(move |conn| keys::list(conn, &brand_id, &p))
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(
        rows,
        &page,
        |r| r.id.to_string(),
        KeyView::from,
    )))
}

/// `DELETE /api/v1/keys/{key_id}` (operator, or the key's brand admin): revoked at once.
pub async fn revoke_key(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key_id = path_id(&path, KeyId::parse)?;
    let brand = match &principal {
        Principal::Operator => None,
        Principal::Brand(key) if key.scope == Scope::Admin => Some(key.brand_id.clone()),
        Principal::Brand(_) => return Err(ApiError::from(AuthError::Forbidden(WRONG_SCOPE))),
    };
    app.read(move |conn| keys::revoke(conn, brand.as_ref(), &key_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
