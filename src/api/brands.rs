//! Brands: created by the operator; each comes with its first admin key.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::api::extract::{path_id, Json, List, PageQuery, Query};
use crate::api::views;
use crate::auth::Principal;
use crate::domain::{keys, scope::Scope, text};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::{self, brands::BrandRow, keys::KeyRow};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBrand {
    pub name: String,
}

#[derive(Debug, Serialize)]
pub struct BrandView {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl From<BrandRow> for BrandView {
    fn from(row: BrandRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            created_at: views::time(row.created_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CreatedBrand {
    #[serde(flatten)]
    pub brand: BrandView,
    /// The brand's first admin key, shown only here.
    pub admin_key: String,
    pub admin_key_id: String,
}

/// Creates a brand and its first admin key in one transaction; shared by the API and the CLI.
pub fn create_brand_with_key(
    conn: &mut crate::db::AnyConnection,
    name: &str,
) -> ApiResult<CreatedBrand> {
    let name = text::required("name", name, 200).map_err(|e| ApiError::Validation(vec![e]))?;
    let now = crate::db::now_micros();
    let brand = BrandRow {
        id: uuid::Uuid::now_v7().to_string(),
        name,
        created_at: now,
    };
    let key = keys::mint_brand_key();
    let key_row = KeyRow {
        id: uuid::Uuid::now_v7().to_string(),
        brand_id: brand.id.clone(),
        lookup: key.lookup,
        secret_hash: key.hash,
        scope: Scope::Admin.as_str().into(),
        name: "first admin key".into(),
        influencer_id: None,
        created_at: now,
        revoked_at: None,
    };
    use diesel::Connection;
    conn.transaction(|conn| {
        store::brands::insert(conn, &brand)?;
        store::keys::insert(conn, &key_row)?;
        diesel::QueryResult::Ok(())
    })?;
    Ok(CreatedBrand {
        brand: brand.into(),
        admin_key: key.full,
        admin_key_id: key_row.id,
    })
}

/// `POST /api/v1/brands` (operator): create a brand; the response carries its admin key.
pub async fn create_brand(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateBrand>,
) -> ApiResult<HttpResponse> {
    principal.operator()?;
    let name = body.0.name;
    let created = state
        .db(move |conn| create_brand_with_key(conn, &name))
        .await?;
    tracing::info!(brand_id = %created.brand.id, "brand created");
    Ok(HttpResponse::Created().json(created))
}

/// `GET /api/v1/brands` (operator): every brand, oldest first.
pub async fn list_brands(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    principal.operator()?;
    let page = query.0.page()?;
    let p = page.clone();
    let rows = state
        .db(move |conn| Ok(store::brands::list(conn, p.after.as_deref(), p.limit + 1)?))
        .await?;
    let list = List::from_rows(rows, &page, |r| r.id.clone(), BrandView::from);
    Ok(HttpResponse::Ok().json(list))
}

/// `GET /api/v1/brands/{brand_id}`: the operator, or any key of that brand.
pub async fn get_brand(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path_id(&path)?;
    if let Principal::Brand(key) = &principal {
        if key.brand_id != id {
            return Err(ApiError::not_found());
        }
    }
    let row = state
        .db(move |conn| Ok(store::brands::find(conn, &id)?))
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(HttpResponse::Ok().json(BrandView::from(row)))
}
