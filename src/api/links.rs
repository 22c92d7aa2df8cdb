//! Tracking links: one default per enrollment, more on demand (one per post), pausable.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use crate::api::extract::{nullable, path_id, Checks, Json, Query};
use crate::api::views;
use crate::auth::Principal;
use crate::db::AnyConnection;
use crate::domain::scope::Access;
use crate::domain::text;
use crate::domain::urls::{self, Utm};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::campaigns::CampaignRow;
use crate::store::enrollments::{self as store, LinkRow};

#[derive(Debug, Serialize)]
pub struct LinkView {
    pub id: String,
    pub code: String,
    pub short_url: String,
    pub destination_url: String,
    pub tracking_url: String,
    pub label: Option<String>,
    pub utm: Utm,
    pub status: String,
    pub campaign_id: String,
    pub influencer_id: String,
    pub enrollment_id: String,
    pub created_at: String,
}

/// Builds a link's view: its destination (the campaign's unless overridden), the UTM it
/// publishes and the tracking URL a click is sent to.
pub fn link_view(public_url: &str, campaign: &CampaignRow, handle: &str, row: LinkRow) -> LinkView {
    let target = urls::link_target(
        row.destination_url.as_deref(),
        &campaign.destination_url,
        row.utm_overrides(),
        handle,
        &campaign.slug,
        row.label.as_deref(),
    );
    LinkView {
        short_url: format!("{public_url}/r/{}", row.code),
        tracking_url: target.tracking_url,
        destination_url: target.destination,
        utm: target.utm,
        id: row.id,
        code: row.code,
        label: row.label,
        status: row.status,
        campaign_id: row.campaign_id,
        influencer_id: row.influencer_id,
        enrollment_id: row.enrollment_id,
        created_at: views::time(row.created_at),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtmInput {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub medium: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub campaign: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub term: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub destination_url: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub utm: Option<UtmInput>,
}

/// A validated new link row for an enrollment (its code is drawn at insert).
pub fn new_link_row(
    brand_id: &str,
    campaign_id: &str,
    enrollment_id: &str,
    influencer_id: &str,
    req: CreateLink,
) -> Result<LinkRow, ApiError> {
    let mut checks = Checks::default();
    let destination = req
        .destination_url
        .as_deref()
        .and_then(|d| checks.take(urls::Destination::parse("destination_url", d)))
        .map(|d| d.as_str().to_string());
    let label = req
        .label
        .as_deref()
        .and_then(|l| checks.take(text::optional("label", l, 100)))
        .flatten();
    let utm = req.utm.unwrap_or_default();
    let mut utm_field = |name: &str, value: Option<String>| {
        value
            .as_deref()
            .and_then(|v| checks.take(text::optional(&format!("utm.{name}"), v, 200)))
            .flatten()
    };
    let (source, medium, campaign, content, term) = (
        utm_field("source", utm.source),
        utm_field("medium", utm.medium),
        utm_field("campaign", utm.campaign),
        utm_field("content", utm.content),
        utm_field("term", utm.term),
    );
    checks.finish()?;
    Ok(LinkRow {
        id: uuid::Uuid::now_v7().to_string(),
        brand_id: brand_id.into(),
        campaign_id: campaign_id.into(),
        enrollment_id: enrollment_id.into(),
        influencer_id: influencer_id.into(),
        code: crate::domain::codes::new_link_code(),
        label,
        destination_url: destination,
        utm_source: source,
        utm_medium: medium,
        utm_campaign: campaign,
        utm_content: content,
        utm_term: term,
        status: "active".into(),
        created_at: crate::db::now_micros(),
    })
}

/// The campaign and influencer handle a link's view needs.
pub fn link_context(
    conn: &mut AnyConnection,
    brand_id: &str,
    link: &LinkRow,
) -> ApiResult<(CampaignRow, String)> {
    let campaign = crate::store::campaigns::find(conn, brand_id, &link.campaign_id)?
        .ok_or_else(ApiError::not_found)?;
    let handle =
        crate::store::influencers::handles(conn, std::slice::from_ref(&link.influencer_id))?
            .pop()
            .map(|(_, h)| h)
            .unwrap_or_default();
    Ok((campaign, handle))
}

/// `GET /api/v1/links/{id}`
pub async fn get_link(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path)?;
    let public_url = state.public_url.clone();
    let view = state
        .db(move |conn| {
            let link = store::find_link(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            let (campaign, handle) = link_context(conn, &brand_id, &link)?;
            Ok(link_view(&public_url, &campaign, &handle, link))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateLink {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub status: Option<LinkStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub label: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkStatus {
    Active,
    Paused,
}

/// `PATCH /api/v1/links/{id}`: pause or resume (a paused link still redirects, but its
/// clicks are not attributable), or relabel.
pub async fn update_link(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<UpdateLink>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path)?;
    let req = body.0;
    let mut checks = Checks::default();
    let label = match req.label {
        None => None,
        Some(None) => Some(None),
        Some(Some(l)) => checks.take(text::optional("label", &l, 100)),
    };
    checks.finish()?;
    let public_url = state.public_url.clone();
    let view = state
        .db(move |conn| {
            let link = store::find_link(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            if let Some(status) = req.status {
                let status = match status {
                    LinkStatus::Active => "active",
                    LinkStatus::Paused => "paused",
                };
                store::set_link_status(conn, &link.id, status)?;
            }
            if let Some(label) = &label {
                store::set_link_label(conn, &link.id, label.as_deref())?;
            }
            let link = store::find_link(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            let (campaign, handle) = link_context(conn, &brand_id, &link)?;
            Ok(link_view(&public_url, &campaign, &handle, link))
        })
        .await?;
    state.tracking.cache.invalidate_link(&view.id);
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsQuery {
    /// First UTC day, inclusive (`YYYY-MM-DD`).
    pub from: Option<chrono::NaiveDate>,
    /// Last UTC day, inclusive.
    pub to: Option<chrono::NaiveDate>,
}

#[derive(Debug, Serialize)]
pub struct DayStats {
    pub date: String,
    pub clicks: i64,
    pub unique_clicks: i64,
    pub bot_clicks: i64,
    pub attributable_clicks: i64,
}

#[derive(Debug, Serialize)]
pub struct LinkStats {
    pub link_id: String,
    pub clicks: i64,
    pub unique_clicks: i64,
    pub bot_clicks: i64,
    pub attributable_clicks: i64,
    pub days: Vec<DayStats>,
}

fn day_number(date: chrono::NaiveDate) -> i32 {
    (date - chrono::NaiveDate::default()).num_days() as i32
}

fn day_date(day: i32) -> String {
    (chrono::NaiveDate::default() + chrono::Days::new(day.max(0) as u64)).to_string()
}

/// `GET /api/v1/links/{id}/stats?from=&to=`: human clicks, unique clicks (distinct visitors
/// per UTC day), bot and prefetch hits, attributable clicks; in total and by UTC day.
pub async fn link_stats(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: Query<StatsQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path)?;
    let from = query.0.from.map(day_number).unwrap_or(i32::MIN);
    let to = query.0.to.map(day_number).unwrap_or(i32::MAX);
    if from > to {
        return Err(ApiError::invalid("to", "must not be before from"));
    }
    let rows = state
        .db(move |conn| {
            let link = store::find_link(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            Ok(crate::store::clicks::daily_for_link(
                conn, &link.id, from, to,
            )?)
        })
        .await?;
    let mut stats = LinkStats {
        link_id: path_id(&path)?,
        clicks: 0,
        unique_clicks: 0,
        bot_clicks: 0,
        attributable_clicks: 0,
        days: Vec::with_capacity(rows.len()),
    };
    for r in rows {
        stats.clicks += r.clicks;
        stats.unique_clicks += r.unique_clicks;
        stats.bot_clicks += r.bot_clicks;
        stats.attributable_clicks += r.attributable_clicks;
        stats.days.push(DayStats {
            date: day_date(r.day),
            clicks: r.clicks,
            unique_clicks: r.unique_clicks,
            bot_clicks: r.bot_clicks,
            attributable_clicks: r.attributable_clicks,
        });
    }
    Ok(HttpResponse::Ok().json(stats))
}

#[derive(Debug, Serialize)]
pub struct ClickView {
    pub id: String,
    pub at: String,
    /// `human`, `bot` or `prefetch`.
    pub kind: String,
    pub attributable: bool,
    pub referrer_host: Option<String>,
    pub device: String,
    pub browser: String,
    pub os: String,
    pub country: Option<String>,
}

/// `GET /api/v1/links/{id}/clicks`: the link's clicks, newest first (never addresses or
/// visitor hashes).
pub async fn list_clicks(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: Query<crate::api::extract::PageQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path)?;
    let page = query.0.page()?;
    let p = page.clone();
    let rows = state
        .db(move |conn| {
            let link = store::find_link(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            Ok(crate::store::clicks::clicks_of_link(
                conn,
                &link.id,
                p.after.as_deref(),
                p.limit + 1,
            )?)
        })
        .await?;
    Ok(
        HttpResponse::Ok().json(crate::api::extract::List::from_rows(
            rows,
            &page,
            |r| r.id.clone(),
            |r| ClickView {
                at: views::time(r.ts),
                id: r.id,
                kind: r.kind,
                attributable: r.attributable,
                referrer_host: r.referrer_host,
                device: r.device,
                browser: r.browser,
                os: r.os,
                country: r.country,
            },
        )),
    )
}
