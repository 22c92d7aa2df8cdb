//! API keys of a brand: minted (shown once), listed (never the secret), revoked.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::api::extract::{path_id, Json, List, PageQuery, Query};
use crate::api::views;
use crate::auth::Principal;
use crate::db::AnyConnection;
use crate::domain::{keys, scope::Scope, text};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;
use crate::store::{self, keys::KeyRow};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub scope: Scope,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub influencer_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct KeyView {
    pub id: String,
    pub brand_id: String,
    pub scope: String,
    pub name: String,
    pub influencer_id: Option<String>,
    /// The public start of the key, to recognise it in a list.
    pub prefix: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

impl From<KeyRow> for KeyView {
    fn from(row: KeyRow) -> Self {
        Self {
            prefix: format!("itk_{}", row.lookup),
            id: row.id,
            brand_id: row.brand_id,
            scope: row.scope,
            name: row.name,
            influencer_id: row.influencer_id,
            created_at: views::time(row.created_at),
            revoked_at: views::opt_time(row.revoked_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub view: KeyView,
    /// The key itself, shown only in this response.
    pub key: String,
}

/// Mints a key for a brand; shared by the API and the CLI.
pub fn create_key_for_brand(
    conn: &mut AnyConnection,
    brand_id: &str,
    req: CreateKey,
) -> ApiResult<CreatedKey> {
    let mut errors = Vec::new();
    let name = match req.name.as_deref().map(|n| text::optional("name", n, 200)) {
        Some(Err(e)) => {
            errors.push(e);
            None
        }
        Some(Ok(n)) => n,
        None => None,
    };
    let influencer_id = match (req.scope, req.influencer_id) {
        (Scope::Influencer, None) => {
            errors.push(FieldError::new(
                "influencer_id",
                "required for influencer keys",
            ));
            None
        }
        (Scope::Influencer, Some(id)) => match uuid::Uuid::parse_str(&id) {
            Ok(u) => Some(u.hyphenated().to_string()),
            Err(_) => {
                errors.push(FieldError::new("influencer_id", "must be a UUID"));
                None
            }
        },
        (_, Some(_)) => {
            errors.push(FieldError::new(
                "influencer_id",
                "only influencer keys are bound to an influencer",
            ));
            None
        }
        (_, None) => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if store::brands::find(conn, brand_id)?.is_none() {
        return Err(ApiError::not_found());
    }
    if let Some(influencer_id) = &influencer_id {
        if !store::influencers::exists_in_brand(conn, brand_id, influencer_id)? {
            return Err(ApiError::NotFound("no such influencer".into()));
        }
    }
    let key = keys::mint_brand_key();
    let row = KeyRow {
        id: uuid::Uuid::now_v7().to_string(),
        brand_id: brand_id.to_string(),
        lookup: key.lookup,
        secret_hash: key.hash,
        scope: req.scope.as_str().into(),
        name: name.unwrap_or_else(|| format!("{} key", req.scope.as_str())),
        influencer_id,
        created_at: crate::db::now_micros(),
        revoked_at: None,
    };
    store::keys::insert(conn, &row)?;
    Ok(CreatedKey {
        view: row.into(),
        key: key.full,
    })
}

/// `POST /api/v1/brands/{brand_id}/keys` (operator, or that brand's admin).
pub async fn create_key(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<CreateKey>,
) -> ApiResult<HttpResponse> {
    let brand_id = path_id(&path)?;
    principal.admin_of(&brand_id)?;
    let created = state
        .db(move |conn| create_key_for_brand(conn, &brand_id, body.0))
        .await?;
    tracing::info!(key_id = %created.view.id, brand_id = %created.view.brand_id, scope = %created.view.scope, "key created");
    Ok(HttpResponse::Created().json(created))
}

/// `GET /api/v1/brands/{brand_id}/keys` (operator, or that brand's admin): never the secrets.
pub async fn list_keys(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = path_id(&path)?;
    principal.admin_of(&brand_id)?;
    let page = query.0.page()?;
    let p = page.clone();
    let rows = state
        .db(move |conn| {
            if store::brands::find(conn, &brand_id)?.is_none() {
                return Err(ApiError::not_found());
            }
            Ok(store::keys::list_for_brand(
                conn,
                &brand_id,
                p.after.as_deref(),
                p.limit + 1,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(
        rows,
        &page,
        |r| r.id.clone(),
        KeyView::from,
    )))
}

/// `DELETE /api/v1/keys/{key_id}` (operator, or the key's brand admin): revoked at once.
pub async fn revoke_key(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let key_id = path_id(&path)?;
    let scoped_brand = match &principal {
        Principal::Operator => None,
        Principal::Brand(key) if key.scope == Scope::Admin => Some(key.brand_id.clone()),
        Principal::Brand(_) => return Err(ApiError::forbidden()),
    };
    let id = key_id.clone();
    state
        .db(move |conn| {
            let row = match &scoped_brand {
                Some(brand_id) => store::keys::find_in_brand(conn, brand_id, &id)?,
                None => store::keys::find(conn, &id)?,
            };
            let row = row.ok_or_else(ApiError::not_found)?;
            store::keys::revoke(conn, &row.id, crate::db::now_micros())?;
            Ok(())
        })
        .await?;
    tracing::info!(key_id = %key_id, "key revoked");
    Ok(HttpResponse::NoContent().finish())
}
