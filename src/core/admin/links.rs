//! Tracking links: one default per enrollment, more on demand (one per post), pausable.

use serde::{Deserialize, Serialize};

use crate::core::admin::enrollment_at;
use crate::core::admin::{AdminError, AdminResult, Page};
use crate::core::exclusions::Excluded;
use crate::core::{now_micros, Change, Written};
use crate::db::AnyConnection;
use crate::domain::codes::LinkStatus;
use crate::domain::field::Checks;
use crate::domain::ids::{BrandId, CampaignId, ClickId, EnrollmentId, InfluencerId, LinkId};
use crate::domain::json::{non_null, nullable};
use crate::domain::text;
use crate::domain::time::{date_of_day, rfc3339};
use crate::domain::traffic::ClickKind;
use crate::domain::urls::{self, Utm};
use crate::store::campaigns::CampaignRow;
use crate::store::links::LinkRow;
use crate::store::rollups::DailyRow;
use crate::store::{self};

#[derive(Debug, Serialize)]
pub struct LinkView {
    pub id: LinkId,
    pub code: String,
    pub short_url: String,
    pub destination_url: String,
    pub tracking_url: String,
    pub label: Option<String>,
    pub utm: Utm,
    pub status: LinkStatus,
    pub campaign_id: CampaignId,
    pub influencer_id: InfluencerId,
    pub enrollment_id: EnrollmentId,
    /// A click lands with the enrollment's discount code applied in the shop.
    pub apply_code: bool,
    pub paid: bool,
    pub created_at: String,
}

/// A link as shown: its destination (the campaign's unless overridden), the UTM it publishes
/// and the tracking URL a click is sent to.
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
        apply_code: row.apply_code,
        paid: row.paid,
        created_at: rfc3339(row.created_at),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UtmInput {
    #[serde(default, deserialize_with = "non_null")]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub medium: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub campaign: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub content: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub term: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateLink {
    #[serde(default, deserialize_with = "non_null")]
    pub destination_url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub label: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub utm: Option<UtmInput>,
    /// Carry the enrollment's discount code to the shop (default: the campaign's
    /// `links_apply_code`).
    #[serde(default, deserialize_with = "non_null")]
    pub apply_code: Option<bool>,
    /// Used in paid amplification: its clicks and what they bring count as paid. Set once,
    /// when the link is made, so that its clicks and its orders are always read alike.
    #[serde(default, deserialize_with = "non_null")]
    pub paid: Option<bool>,
}

/// Who a link is for.
pub struct LinkOwner<'a> {
    pub brand_id: &'a BrandId,
    pub campaign_id: &'a CampaignId,
    pub enrollment_id: &'a EnrollmentId,
    pub influencer_id: &'a InfluencerId,
}

/// A validated new link row for an enrollment (its code is drawn again at insert if taken).
pub fn new_link(
    owner: &LinkOwner<'_>,
    req: CreateLink,
    apply_by_default: bool,
) -> AdminResult<LinkRow> {
    let apply_code = req.apply_code.unwrap_or(apply_by_default);
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
        id: LinkId::new(),
        brand_id: owner.brand_id.clone(),
        campaign_id: owner.campaign_id.clone(),
        enrollment_id: owner.enrollment_id.clone(),
        influencer_id: owner.influencer_id.clone(),
        code: crate::domain::codes::new_link_code(),
        label,
        destination_url: destination,
        utm_source: source,
        utm_medium: medium,
        utm_campaign: campaign,
        utm_content: content,
        utm_term: term,
        status: LinkStatus::Active,
        created_at: now_micros(),
        apply_code,
        paid: req.paid.unwrap_or(false),
    })
}

/// Inserts a new link (a code drawn again on a collision).
pub fn insert(conn: &mut AnyConnection, link: &mut LinkRow) -> AdminResult<()> {
    Ok(store::links::insert(
        conn,
        link,
        crate::domain::codes::new_link_code,
    )?)
}

/// Another link of an enrollment (e.g. one per post), with its own destination, label and
/// UTM overrides.
pub fn create(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
    req: CreateLink,
) -> AdminResult<Written<LinkView>> {
    let (campaign, enrollment) = enrollment_at(conn, brand_id, campaign_id, influencer_id)?;
    let owner = LinkOwner {
        brand_id,
        campaign_id,
        enrollment_id: &enrollment.id,
        influencer_id,
    };
    let mut link = new_link(&owner, req, campaign.links_apply_code)?;
    insert(conn, &mut link)?;
    let handle = store::influencers::handle(conn, influencer_id)?;
    let code = link.code.clone();
    Ok(Written::new(
        link_view(public_url, &campaign, &handle, link),
        vec![Change::NewLink(code)],
    ))
}

/// A link of the brand, or 404, with its campaign and influencer's handle.
fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &LinkId,
) -> AdminResult<(LinkRow, CampaignRow, String)> {
    let link = store::links::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)?;
    let campaign = store::campaigns::find(conn, brand_id, &link.campaign_id)?
        .ok_or_else(AdminError::not_found)?;
    let handle = store::influencers::handle(conn, &link.influencer_id)?;
    Ok((link, campaign, handle))
}

pub fn get(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    id: &LinkId,
) -> AdminResult<LinkView> {
    let (link, campaign, handle) = find(conn, brand_id, id)?;
    Ok(link_view(public_url, &campaign, &handle, link))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateLink {
    #[serde(default, deserialize_with = "non_null")]
    pub status: Option<LinkStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub label: Option<Option<String>>,
    #[serde(default, deserialize_with = "non_null")]
    pub apply_code: Option<bool>,
}

/// Pauses or resumes a link (a paused link still redirects, but its clicks are not
/// attributable), or relabels it.
pub fn update(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    id: &LinkId,
    req: UpdateLink,
) -> AdminResult<Written<LinkView>> {
    let mut checks = Checks::default();
    let label = match req.label {
        None => None,
        Some(None) => Some(None),
        Some(Some(l)) => checks.take(text::optional("label", &l, 100)),
    };
    checks.finish()?;
    let link = store::links::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)?;
    // All the changes or none.
    crate::db::write_transaction(conn, |conn| {
        if let Some(status) = req.status {
            store::links::set_status(conn, &link.id, status)?;
        }
        if let Some(label) = &label {
            store::links::set_label(conn, &link.id, label.as_deref())?;
        }
        if let Some(apply) = req.apply_code {
            store::links::set_apply_code(conn, &link.id, apply)?;
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    let (link, campaign, handle) = find(conn, brand_id, id)?;
    Ok(Written::new(
        link_view(public_url, &campaign, &handle, link),
        vec![Change::Link(id.clone())],
    ))
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
    pub link_id: LinkId,
    pub clicks: i64,
    pub unique_clicks: i64,
    pub bot_clicks: i64,
    pub attributable_clicks: i64,
    pub days: Vec<DayStats>,
}

/// A link's human clicks, unique clicks (distinct visitors per UTC day), bot and prefetch
/// hits and attributable clicks, in total and by UTC day, between two days (inclusive).
pub fn stats(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &LinkId,
    from_day: i32,
    to_day: i32,
) -> AdminResult<LinkStats> {
    let link = store::links::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)?;
    let mut rows: Vec<DailyRow> = store::rollups::daily_for_link(conn, &link.id, from_day, to_day)?;
    // The campaign's exclusion rules take their clicks out here too.
    let campaign = store::campaigns::find(conn, brand_id, &link.campaign_id)?;
    if let Some(x) = campaign
        .map(|c| Excluded::of(conn, &c))
        .transpose()?
        .flatten()
    {
        for r in &mut rows {
            let [clicks, unique, bots, attributable] = x.link_day(&link.id, r.day);
            r.clicks -= clicks;
            r.unique_clicks -= unique;
            r.bot_clicks -= bots;
            r.attributable_clicks -= attributable;
        }
        // A day of excluded clicks only is a day without clicks.
        rows.retain(|r| r.clicks != 0 || r.bot_clicks != 0);
    }
    let mut stats = LinkStats {
        link_id: link.id,
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
            date: date_of_day(r.day).to_string(),
            clicks: r.clicks,
            unique_clicks: r.unique_clicks,
            bot_clicks: r.bot_clicks,
            attributable_clicks: r.attributable_clicks,
        });
    }
    Ok(stats)
}

#[derive(Debug, Serialize)]
pub struct ClickView {
    pub id: ClickId,
    pub at: String,
    pub kind: ClickKind,
    pub attributable: bool,
    pub referrer_host: Option<String>,
    pub device: String,
    pub browser: String,
    pub os: String,
    pub country: Option<String>,
}

/// A page of a link's clicks, newest first (never addresses or visitor hashes).
pub fn clicks(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &LinkId,
    page: &Page,
) -> AdminResult<Vec<ClickView>> {
    let link = store::links::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)?;
    let rows = store::clicks::of_link(conn, &link.id, page.after.as_deref(), page.fetch())?;
    Ok(rows
        .into_iter()
        .map(|r| ClickView {
            at: rfc3339(r.ts),
            id: r.id,
            kind: r.kind,
            attributable: r.attributable,
            referrer_host: r.referrer_host,
            device: r.device,
            browser: r.browser,
            os: r.os,
            country: r.country,
        })
        .collect())
}
