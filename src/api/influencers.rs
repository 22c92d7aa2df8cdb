//! Influencers of a brand.

use actix_web::{web, HttpResponse};
use diesel::Connection;
use serde::{Deserialize, Serialize};

use crate::api::extract::{nullable, path_id, Checks, Json, List, PageQuery, Query};
use crate::api::views;
use crate::auth::Principal;
use crate::domain::{scope::Access, text};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::influencers::{
    self as store, Influencer, InfluencerRow, InfluencerUpdate, PlatformRow,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformInput {
    pub platform: String,
    pub handle: String,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub followers: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInfluencer {
    pub handle: String,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub email: Option<String>,
    #[serde(default)]
    pub platforms: Vec<PlatformInput>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateInfluencer {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub handle: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub platforms: Option<Vec<PlatformInput>>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub tags: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct PlatformView {
    pub platform: String,
    pub handle: String,
    pub followers: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct InfluencerView {
    pub id: String,
    pub handle: String,
    pub display_name: String,
    pub email: Option<String>,
    pub platforms: Vec<PlatformView>,
    pub tags: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Influencer> for InfluencerView {
    fn from(i: Influencer) -> Self {
        Self {
            id: i.row.id,
            handle: i.row.handle,
            display_name: i.row.display_name,
            email: i.row.email,
            platforms: i
                .platforms
                .into_iter()
                .map(|p| PlatformView {
                    platform: p.platform,
                    handle: p.handle,
                    followers: p.followers,
                })
                .collect(),
            tags: i.tags,
            created_at: views::time(i.row.created_at),
            updated_at: views::time(i.row.updated_at),
        }
    }
}

/// A handle: 1 to 64 of letters, digits, `.`, `_`, `-`; a leading `@` is dropped.
pub fn parse_handle(field: &str, raw: &str) -> Result<String, crate::error::FieldError> {
    let handle = raw.trim().trim_start_matches('@');
    let ok = (1..=64).contains(&handle.len())
        && handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(handle.to_string())
    } else {
        Err(crate::error::FieldError::new(
            field,
            "must be 1 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

fn parse_email(raw: &str) -> Result<Option<String>, crate::error::FieldError> {
    let email = text::optional("email", raw, 254)?;
    match email {
        Some(e) => {
            let valid = e.split_once('@').is_some_and(|(user, host)| {
                !user.is_empty()
                    && host.contains('.')
                    && !host.starts_with('.')
                    && !host.ends_with('.')
            }) && !e.contains(char::is_whitespace);
            if valid {
                Ok(Some(e))
            } else {
                Err(crate::error::FieldError::new(
                    "email",
                    "must be an e-mail address",
                ))
            }
        }
        None => Ok(None),
    }
}

fn parse_platforms(checks: &mut Checks, id: &str, input: Vec<PlatformInput>) -> Vec<PlatformRow> {
    if input.len() > 20 {
        checks.fail("platforms", "at most 20 platforms");
        return Vec::new();
    }
    let mut out = Vec::new();
    for (i, p) in input.into_iter().enumerate() {
        let platform = p.platform.trim().to_lowercase();
        if !(1..=32).contains(&platform.len())
            || !platform
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            checks.fail(
                format!("platforms[{i}].platform"),
                "must be 1 to 32 letters, digits or '_'",
            );
        }
        let handle = checks.take(parse_handle(&format!("platforms[{i}].handle"), &p.handle));
        if p.followers.is_some_and(|f| f < 0) {
            checks.fail(format!("platforms[{i}].followers"), "must not be negative");
        }
        if out.iter().any(|o: &PlatformRow| o.platform == platform) {
            checks.fail(format!("platforms[{i}].platform"), "listed twice");
        }
        out.push(PlatformRow {
            influencer_id: id.to_string(),
            position: i as i32,
            platform,
            handle: handle.unwrap_or_default(),
            followers: p.followers,
        });
    }
    out
}

fn parse_tags(checks: &mut Checks, input: Vec<String>) -> Vec<String> {
    if input.len() > 30 {
        checks.fail("tags", "at most 30 tags");
        return Vec::new();
    }
    let mut tags: Vec<String> = Vec::new();
    for (i, t) in input.iter().enumerate() {
        if let Some(tag) = checks.take(text::required(&format!("tags[{i}]"), t, 40)) {
            let tag = tag.to_lowercase();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    tags
}

fn conflict_on_handle(e: diesel::result::Error) -> ApiError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => {
            ApiError::Conflict("an influencer with this handle already exists in this brand".into())
        }
        other => other.into(),
    }
}

/// `POST /api/v1/influencers`
pub async fn create_influencer(
    state: web::Data<AppState>,
    principal: Principal,
    body: Json<CreateInfluencer>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let req = body.0;
    let id = uuid::Uuid::now_v7().to_string();
    let mut checks = Checks::default();
    let handle = checks.take(parse_handle("handle", &req.handle));
    let display_name = match req.display_name.as_deref() {
        Some(n) => checks.take(text::required("display_name", n, 200)),
        None => handle.clone(),
    };
    let email = req
        .email
        .as_deref()
        .map(parse_email)
        .and_then(|r| checks.take(r))
        .flatten();
    let platforms = parse_platforms(&mut checks, &id, req.platforms);
    let tags = parse_tags(&mut checks, req.tags);
    checks.finish()?;
    let handle = handle.unwrap_or_default();
    let now = crate::db::now_micros();
    let row = InfluencerRow {
        id: id.clone(),
        brand_id: brand_id.clone(),
        handle_norm: handle.to_lowercase(),
        handle,
        display_name: display_name.unwrap_or_default(),
        email,
        created_at: now,
        updated_at: now,
        deleted_at: None,
    };
    let created = state
        .db(move |conn| {
            conn.transaction(|conn| store::insert(conn, &row, &platforms, &tags))
                .map_err(conflict_on_handle)?;
            store::find(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    Ok(HttpResponse::Created().json(InfluencerView::from(created)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluencerQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub tag: Option<String>,
    pub platform: Option<String>,
    /// Part of the handle (case-insensitive).
    pub q: Option<String>,
}

/// `GET /api/v1/influencers?tag=&platform=&q=`
pub async fn list_influencers(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<InfluencerQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let q = query.0;
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .page()?;
    let filter = store::ListFilter {
        tag: q.tag.filter(|s| !s.is_empty()),
        platform: q.platform.filter(|s| !s.is_empty()),
        search: q.q.filter(|s| !s.is_empty()),
    };
    let p = page.clone();
    let rows = state
        .db(move |conn| {
            Ok(store::list(
                conn,
                &brand_id,
                &filter,
                p.after.as_deref(),
                p.limit + 1,
            )?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from_rows(
        rows,
        &page,
        |r| r.row.id.clone(),
        InfluencerView::from,
    )))
}

/// `GET /api/v1/influencers/{id}`
pub async fn get_influencer(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path)?;
    let found = state
        .db(move |conn| store::find(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found))
        .await?;
    Ok(HttpResponse::Ok().json(InfluencerView::from(found)))
}

/// `PATCH /api/v1/influencers/{id}`: any of handle, display name, e-mail, platforms, tags.
pub async fn update_influencer(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<UpdateInfluencer>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path)?;
    let req = body.0;
    let mut checks = Checks::default();
    let handle = req
        .handle
        .as_deref()
        .and_then(|h| checks.take(parse_handle("handle", h)));
    let display_name = req
        .display_name
        .as_deref()
        .and_then(|n| checks.take(text::required("display_name", n, 200)));
    let email = match req.email {
        None => None,
        Some(None) => Some(None),
        Some(Some(e)) => checks.take(parse_email(&e)),
    };
    let platforms = req.platforms.map(|p| parse_platforms(&mut checks, &id, p));
    let tags = req.tags.map(|t| parse_tags(&mut checks, t));
    checks.finish()?;
    let changes = InfluencerUpdate {
        handle_norm: handle.as_ref().map(|h| h.to_lowercase()),
        handle,
        display_name,
        email,
        updated_at: Some(crate::db::now_micros()),
    };
    let updated = state
        .db(move |conn| {
            if store::find_row(conn, &brand_id, &id)?.is_none() {
                return Err(ApiError::not_found());
            }
            conn.transaction(|conn| {
                store::update(conn, &id, &changes)?;
                store::replace_details(conn, &id, platforms.as_deref(), tags.as_deref())
            })
            .map_err(conflict_on_handle)?;
            store::find(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)
        })
        .await?;
    // The handle is the default `utm_source` of every link of the influencer.
    state.tracking.cache.invalidate_influencer(&updated.row.id);
    Ok(HttpResponse::Ok().json(InfluencerView::from(updated)))
}

/// `DELETE /api/v1/influencers/{id}`: removed from lists and lookups; its enrollments, links,
/// codes and history in past campaigns stay (published links keep redirecting).
pub async fn delete_influencer(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path)?;
    state
        .db(move |conn| {
            if store::find_row(conn, &brand_id, &id)?.is_none() {
                return Err(ApiError::not_found());
            }
            Ok(store::soft_delete(conn, &id, crate::db::now_micros())?)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
