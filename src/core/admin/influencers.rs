//! Influencers of a brand.

use diesel::Connection;
use serde::{Deserialize, Serialize};

use crate::core::admin::{AdminError, AdminResult, Conflict, Page};
use crate::core::{now_micros, Change, Written};
use crate::db::AnyConnection;
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::{BrandId, InfluencerId};
use crate::domain::json::{non_null, nullable};
use crate::domain::text;
use crate::domain::time::rfc3339;
use crate::store::influencers::{
    self as store, Influencer, InfluencerRow, InfluencerUpdate, PlatformRow,
};

/// Which influencers a list shows: by tag, platform, part of the handle.
pub use crate::store::influencers::ListFilter;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformInput {
    pub platform: String,
    pub handle: String,
    #[serde(default, deserialize_with = "non_null")]
    pub followers: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateInfluencer {
    pub handle: String,
    #[serde(default, deserialize_with = "non_null")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub email: Option<String>,
    #[serde(default)]
    pub platforms: Vec<PlatformInput>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateInfluencer {
    #[serde(default, deserialize_with = "non_null")]
    pub handle: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "non_null")]
    pub platforms: Option<Vec<PlatformInput>>,
    #[serde(default, deserialize_with = "non_null")]
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
    pub id: InfluencerId,
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
            created_at: rfc3339(i.row.created_at),
            updated_at: rfc3339(i.row.updated_at),
        }
    }
}

/// A handle: 1 to 64 of letters, digits, `.`, `_`, `-`; a leading `@` is dropped.
pub fn parse_handle(field: &str, raw: &str) -> Result<String, FieldError> {
    let handle = raw.trim().trim_start_matches('@');
    let ok = (1..=64).contains(&handle.len())
        && handle
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(handle.to_string())
    } else {
        Err(FieldError::new(
            field,
            "must be 1 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}

fn parse_email(raw: &str) -> Result<Option<String>, FieldError> {
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
                Err(FieldError::new("email", "must be an e-mail address"))
            }
        }
        None => Ok(None),
    }
}

fn parse_platforms(
    checks: &mut Checks,
    id: &InfluencerId,
    input: Vec<PlatformInput>,
) -> Vec<PlatformRow> {
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
            influencer_id: id.clone(),
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

/// Creates an influencer with its platforms and tags.
pub fn create(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    req: CreateInfluencer,
) -> AdminResult<Influencer> {
    let id = InfluencerId::new();
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
    let now = now_micros();
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
    conn.transaction(|conn| store::insert(conn, &row, &platforms, &tags))
        .map_err(AdminError::duplicate_is(Conflict::HandleTaken))?;
    get(conn, brand_id, &id)
}

/// A page of the brand's influencers (by tag, platform, part of the handle), oldest first.
pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    filter: &ListFilter,
    page: &Page,
) -> AdminResult<Vec<Influencer>> {
    Ok(store::list(
        conn,
        brand_id,
        filter,
        page.after.as_deref(),
        page.fetch(),
    )?)
}

/// A live influencer of the brand, or 404.
pub fn get(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &InfluencerId,
) -> AdminResult<Influencer> {
    store::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)
}

/// Changes any of handle, display name, e-mail, platforms, tags.
pub fn update(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &InfluencerId,
    req: UpdateInfluencer,
) -> AdminResult<Written<Influencer>> {
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
    let platforms = req.platforms.map(|p| parse_platforms(&mut checks, id, p));
    let tags = req.tags.map(|t| parse_tags(&mut checks, t));
    checks.finish()?;
    let changes = InfluencerUpdate {
        handle_norm: handle.as_ref().map(|h| h.to_lowercase()),
        handle,
        display_name,
        email,
        updated_at: Some(now_micros()),
    };
    if store::find_row(conn, brand_id, id)?.is_none() {
        return Err(AdminError::not_found());
    }
    conn.transaction(|conn| {
        store::update(conn, id, &changes)?;
        store::replace_details(conn, id, platforms.as_deref(), tags.as_deref())
    })
    .map_err(AdminError::duplicate_is(Conflict::HandleTaken))?;
    let updated = get(conn, brand_id, id)?;
    Ok(Written::new(updated, vec![Change::Influencer(id.clone())]))
}

/// Removes an influencer from lists and lookups; its enrollments, links, codes and history in
/// past campaigns stay (published links keep redirecting).
pub fn delete(conn: &mut AnyConnection, brand_id: &BrandId, id: &InfluencerId) -> AdminResult<()> {
    if store::find_row(conn, brand_id, id)?.is_none() {
        return Err(AdminError::not_found());
    }
    // Its keys go with it: a deleted influencer's key must not keep opening its view.
    let at = now_micros();
    conn.transaction(|conn| {
        store::soft_delete(conn, id, at)?;
        crate::store::keys::revoke_of_influencer(conn, id, at)?;
        crate::store::sessions::delete_of_influencer(conn, id)?;
        Ok::<_, diesel::result::Error>(())
    })?;
    Ok(())
}
