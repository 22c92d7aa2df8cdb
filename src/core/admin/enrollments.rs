//! Enrollments: an influencer in a campaign, with its terms, links and discount codes.

use diesel::Connection;
use serde::{Deserialize, Serialize};

use crate::core::admin::campaigns::{goal_view, GoalInput, GoalView};
use crate::core::admin::codes::{self, code_view, CodeTerms, CodeView, CreateCode, DiscountInput};
use crate::core::admin::links::{self, link_view, CreateLink, LinkOwner, LinkView};
use crate::core::admin::{campaign_of, enrollment_at, AdminError, AdminResult, Conflict, Page};
use crate::core::{now_micros, Change, Written};
use crate::db::AnyConnection;
use crate::domain::campaign::{CampaignStatus, EnrollmentStatus};
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::{BrandId, CampaignId, CodeId, EnrollmentId, InfluencerId};
use crate::domain::json::{non_null, nullable};
use crate::domain::money;
use crate::domain::time::{self, rfc3339};
use crate::store::campaigns::CampaignRow;
use crate::store::enrollments::{self as store, EnrollmentRow, EnrollmentUpdate};
use crate::store::{self as stores};

#[derive(Debug, Serialize)]
pub struct EnrollmentView {
    pub enrollment_id: EnrollmentId,
    pub campaign_id: CampaignId,
    pub influencer_id: InfluencerId,
    pub handle: String,
    pub status: EnrollmentStatus,
    pub fee: String,
    pub commission_rate: String,
    pub currency: String,
    pub goal: Option<GoalView>,
    pub created_at: String,
    pub pruned_at: Option<String>,
    pub links: Vec<LinkView>,
    pub discount_codes: Vec<CodeView>,
}

/// Views of enrollments of one campaign, with their links and codes, loaded in three queries.
pub fn views(
    conn: &mut AnyConnection,
    public_url: &str,
    campaign: &CampaignRow,
    rows: Vec<EnrollmentRow>,
) -> AdminResult<Vec<EnrollmentView>> {
    let ids: Vec<EnrollmentId> = rows.iter().map(|r| r.id.clone()).collect();
    let handles = stores::influencers::handles(conn, rows.iter().map(|r| &r.influencer_id))?;
    let mut all_links = stores::links::of_enrollments(conn, &ids)?;
    let mut all_codes = stores::codes::of_enrollments(conn, &ids)?;
    let code_ids: Vec<CodeId> = all_codes.iter().map(|c| c.id.clone()).collect();
    let mut sync = crate::core::shop_sync::sync_views(conn, &code_ids)?;
    let currency = campaign.currency;
    Ok(rows
        .into_iter()
        .map(|row| {
            let handle = handles.get(&row.influencer_id).cloned().unwrap_or_default();
            let (mine, rest): (Vec<_>, Vec<_>) =
                all_links.drain(..).partition(|l| l.enrollment_id == row.id);
            all_links = rest;
            let (my_codes, rest): (Vec<_>, Vec<_>) =
                all_codes.drain(..).partition(|c| c.enrollment_id == row.id);
            all_codes = rest;
            EnrollmentView {
                links: mine
                    .into_iter()
                    .map(|l| link_view(public_url, campaign, &handle, l))
                    .collect(),
                discount_codes: my_codes
                    .into_iter()
                    .map(|c| {
                        let s = sync.remove(&c.id).unwrap_or_default();
                        code_view(currency, c, Some(row.status), s)
                    })
                    .collect(),
                goal: goal_view(row.goal_metric, row.goal_target_micros, currency),
                fee: money::format_amount(row.fee_micros, currency),
                commission_rate: money::format_rate(row.commission_rate_micros),
                currency: currency.code().to_string(),
                created_at: rfc3339(row.created_at),
                pruned_at: row.pruned_at.map(time::rfc3339),
                enrollment_id: row.id,
                campaign_id: row.campaign_id,
                influencer_id: row.influencer_id,
                status: row.status,
                handle,
            }
        })
        .collect())
}

/// The view of one enrollment.
pub fn view(
    conn: &mut AnyConnection,
    public_url: &str,
    campaign: &CampaignRow,
    row: EnrollmentRow,
) -> AdminResult<EnrollmentView> {
    views(conn, public_url, campaign, vec![row])?
        .pop()
        .ok_or_else(AdminError::not_found)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enroll {
    pub influencer_id: String,
    #[serde(default, deserialize_with = "non_null")]
    pub fee: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub commission_rate: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub goal: Option<GoalInput>,
    /// A vanity discount code (e.g. `ANNA15`); generated from the handle when absent.
    #[serde(default, deserialize_with = "non_null")]
    pub code: Option<String>,
    /// The discount of the code; 10 percent when absent.
    #[serde(default, deserialize_with = "non_null")]
    pub discount: Option<DiscountInput>,
}

#[derive(Debug, Serialize)]
pub struct EnrolledView {
    #[serde(flatten)]
    pub enrollment: EnrollmentView,
    pub link: LinkView,
    pub discount_code: CodeView,
}

/// Enrolls an influencer and, in the same transaction, issues its default tracking link and
/// discount code.
pub fn enroll(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    req: Enroll,
) -> AdminResult<Written<EnrolledView>> {
    // A malformed id is a 422; an unknown or foreign one a 404.
    let influencer_id = InfluencerId::parse(req.influencer_id.trim())
        .ok_or_else(|| FieldError::new("influencer_id", "must be a UUID"))?;
    let mut checks = Checks::default();
    let fee = match req.fee.as_deref() {
        Some(f) => checks.take(money::parse_amount("fee", f)),
        None => Some(0),
    };
    let rate = match req.commission_rate.as_deref() {
        Some(r) => checks.take(money::parse_rate("commission_rate", r)),
        None => Some(0),
    };
    let goal = req.goal.as_ref().and_then(|g| checks.take(g.parse("goal")));
    let discount = match &req.discount {
        Some(d) => checks.take(d.parse("discount")),
        None => Some(codes::DEFAULT_DISCOUNT),
    };
    // Checked now for the field name; the row is built once the handle is known.
    if let Some(c) = req.code.as_deref() {
        checks.take(crate::domain::codes::parse_vanity_code("code", c));
    }
    checks.finish()?;
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let influencer = stores::influencers::find_row(conn, brand_id, &influencer_id)?
        .ok_or(AdminError::NotFound("no such influencer"))?;
    if campaign.status == CampaignStatus::Ended {
        return Err(AdminError::Conflict(Conflict::CampaignEnded));
    }
    if store::find(conn, campaign_id, &influencer_id)?.is_some() {
        return Err(AdminError::Conflict(Conflict::AlreadyEnrolled));
    }
    let enrollment = EnrollmentRow {
        id: EnrollmentId::new(),
        brand_id: brand_id.clone(),
        campaign_id: campaign_id.clone(),
        influencer_id: influencer_id.clone(),
        status: EnrollmentStatus::Active,
        fee_micros: fee.unwrap_or(0),
        commission_rate_micros: rate.unwrap_or(0),
        goal_metric: goal.map(|g| g.0),
        goal_target_micros: goal.map(|g| g.1),
        created_at: now_micros(),
        pruned_at: None,
    };
    let link_owner = LinkOwner {
        brand_id,
        campaign_id,
        enrollment_id: &enrollment.id,
        influencer_id: &influencer_id,
    };
    let mut link = links::new_link(
        &link_owner,
        CreateLink::default(),
        campaign.links_apply_code,
    )?;
    let code_owner = codes::Owner {
        brand_id,
        campaign_id,
        enrollment_id: &enrollment.id,
        influencer_id: &influencer_id,
        handle: &influencer.handle,
    };
    let mut checks = Checks::default();
    let mut code = codes::new_code(
        &mut checks,
        &code_owner,
        CodeTerms {
            code_field: "code",
            code: req.code.as_deref(),
            discount: discount.unwrap_or(codes::DEFAULT_DISCOUNT),
            max_redemptions: None,
            expires_at: None,
        },
    );
    checks.finish()?;
    conn.transaction(|conn| {
        store::insert(conn, &enrollment)
            .map_err(AdminError::duplicate_is(Conflict::AlreadyEnrolled))?;
        links::insert(conn, &mut link)?;
        codes::insert(conn, &mut code, &influencer.handle)?;
        crate::core::shop_sync::codes_changed(conn, brand_id, std::slice::from_ref(&code.row.id))?;
        Ok::<_, AdminError>(())
    })?;
    let enrollment = view(conn, public_url, &campaign, enrollment)?;
    let link_code = link.code.clone();
    let sync = codes::sync_of(conn, &code.row.id)?;
    tracing::info!(enrollment_id = %enrollment.enrollment_id, "influencer enrolled");
    Ok(Written::new(
        EnrolledView {
            link: link_view(public_url, &campaign, &influencer.handle, link),
            discount_code: code_view(campaign.currency, code.row, None, sync),
            enrollment,
        },
        vec![Change::NewLink(link_code)],
    ))
}

/// A page of a campaign's enrollments with their links and codes.
pub fn list(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    page: &Page,
) -> AdminResult<Vec<EnrollmentView>> {
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let rows = store::page_of_campaign(conn, campaign_id, page.after.as_deref(), page.fetch())?;
    views(conn, public_url, &campaign, rows)
}

pub fn get(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
) -> AdminResult<EnrollmentView> {
    let (campaign, enrollment) = enrollment_at(conn, brand_id, campaign_id, influencer_id)?;
    view(conn, public_url, &campaign, enrollment)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateEnrollment {
    #[serde(default, deserialize_with = "non_null")]
    pub fee: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub commission_rate: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub goal: Option<Option<GoalInput>>,
}

/// Changes an enrollment's fee, commission rate or goal.
pub fn update(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
    req: UpdateEnrollment,
) -> AdminResult<EnrollmentView> {
    let mut checks = Checks::default();
    let mut changes = EnrollmentUpdate {
        fee_micros: req
            .fee
            .as_deref()
            .and_then(|f| checks.take(money::parse_amount("fee", f))),
        commission_rate_micros: req
            .commission_rate
            .as_deref()
            .and_then(|r| checks.take(money::parse_rate("commission_rate", r))),
        ..Default::default()
    };
    match req.goal {
        None => {}
        Some(None) => {
            changes.goal_metric = Some(None);
            changes.goal_target_micros = Some(None);
        }
        Some(Some(goal)) => {
            if let Some((metric, target)) = checks.take(goal.parse("goal")) {
                changes.goal_metric = Some(Some(metric));
                changes.goal_target_micros = Some(Some(target));
            }
        }
    }
    checks.finish()?;
    let (campaign, enrollment) = enrollment_at(conn, brand_id, campaign_id, influencer_id)?;
    if changes.fee_micros.is_some()
        || changes.commission_rate_micros.is_some()
        || changes.goal_metric.is_some()
    {
        store::update(conn, &enrollment.id, &changes)?;
    }
    let enrollment =
        store::find(conn, campaign_id, influencer_id)?.ok_or_else(AdminError::not_found)?;
    view(conn, public_url, &campaign, enrollment)
}

/// Another discount code for an enrollment, vanity or generated.
pub fn create_code(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
    req: CreateCode,
) -> AdminResult<Written<CodeView>> {
    let mut checks = Checks::default();
    let discount = checks.take(req.discount.parse("discount"));
    if let Some(c) = req.code.as_deref() {
        checks.take(crate::domain::codes::parse_vanity_code("code", c));
    }
    if req.max_redemptions.is_some_and(|m| m < 1) {
        checks.fail("max_redemptions", "must be at least 1");
    }
    checks.finish()?;
    let (campaign, enrollment) = enrollment_at(conn, brand_id, campaign_id, influencer_id)?;
    if enrollment.status == EnrollmentStatus::Pruned {
        return Err(AdminError::Conflict(Conflict::EnrollmentPruned));
    }
    let handle = stores::influencers::handle(conn, influencer_id)?;
    let owner = codes::Owner {
        brand_id,
        campaign_id,
        enrollment_id: &enrollment.id,
        influencer_id,
        handle: &handle,
    };
    let mut checks = Checks::default();
    let mut code = codes::new_code(
        &mut checks,
        &owner,
        CodeTerms {
            code_field: "code",
            code: req.code.as_deref(),
            discount: discount.unwrap_or(codes::DEFAULT_DISCOUNT),
            max_redemptions: req.max_redemptions,
            expires_at: req.expires_at.map(|t| t.timestamp_micros()),
        },
    );
    checks.finish()?;
    crate::db::write_transaction(conn, |conn| {
        codes::insert(conn, &mut code, &handle)?;
        crate::core::shop_sync::codes_changed(conn, brand_id, std::slice::from_ref(&code.row.id))?;
        Ok::<_, AdminError>(())
    })?;
    let sync = codes::sync_of(conn, &code.row.id)?;
    // Links that apply their code may carry this one (when it is the first usable).
    let changed = vec![Change::Enrollment(enrollment.id.clone())];
    Ok(Written::new(
        code_view(campaign.currency, code.row, None, sync),
        changed,
    ))
}
