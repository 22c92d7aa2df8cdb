//! The next campaign: the same settings, the best of this one, and new names.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::admin::campaigns::{free_slug, CampaignView};
use crate::core::admin::codes::{self, CodeTerms, Discount};
use crate::core::admin::enrollments::{self, EnrollmentView};
use crate::core::admin::links::{self, CreateLink, LinkOwner};
use crate::core::campaign_loop::{LoopError, LoopResult};
use crate::core::reporting::leaderboard::rank;
use crate::core::reporting::{self, Reader};
use crate::core::{now_micros, Change, Written};
use crate::db::AnyConnection;
use crate::domain::campaign::{slugify, CampaignStatus, EnrollmentStatus, Model};
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId};
use crate::domain::json::non_null;
use crate::domain::metrics::{self, Metrics};
use crate::domain::window::Window;
use crate::store::campaigns::CampaignRow;
use crate::store::enrollments::EnrollmentRow;
use crate::store::{self};

const MAX_ADDED: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuccessorInput {
    pub name: String,
    pub keep_top: i64,
    /// The metric to rank by (default net_revenue, highest first).
    #[serde(default, deserialize_with = "non_null")]
    pub sort: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub model: Option<String>,
    #[serde(default)]
    pub add_influencer_ids: Vec<String>,
    #[serde(default)]
    pub carry_codes: bool,
    #[serde(default, deserialize_with = "non_null")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "non_null")]
    pub ends_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct Successor {
    pub campaign: CampaignView,
    pub predecessor_id: CampaignId,
    /// Influencers kept from the predecessor, best first.
    pub kept: Vec<InfluencerId>,
    pub added: Vec<InfluencerId>,
    pub carried_codes: bool,
    pub enrollments: Vec<EnrollmentView>,
}

/// A successor request, checked.
struct Request {
    name: String,
    keep_top: usize,
    sort: String,
    model: Option<Model>,
    added: Vec<InfluencerId>,
    carry_codes: bool,
    starts_at: Option<i64>,
    ends_at: Option<i64>,
}

fn parse(req: SuccessorInput) -> LoopResult<Request> {
    let mut checks = Checks::default();
    let name = req.name.trim().to_string();
    if name.is_empty() || req.name.chars().count() > 200 || name.chars().any(char::is_control) {
        checks.fail("name", "must be 1 to 200 printable characters");
    }
    if !(0..=10_000).contains(&req.keep_top) {
        checks.fail("keep_top", "must be between 0 and 10000");
    }
    let sort = reporting::parse_sort(&mut checks, "sort", req.sort.as_deref());
    let model = reporting::parse_model(&mut checks, req.model.as_deref());
    if req.add_influencer_ids.len() > MAX_ADDED {
        checks.fail("add_influencer_ids", format!("at most {MAX_ADDED}"));
    }
    let mut added: Vec<InfluencerId> = Vec::new();
    for (i, raw) in req.add_influencer_ids.iter().enumerate() {
        match InfluencerId::parse(raw.trim()) {
            Some(id) => {
                if !added.contains(&id) {
                    added.push(id);
                }
            }
            None => checks.fail(format!("add_influencer_ids[{i}]"), "must be a UUID"),
        }
    }
    let starts_at = req.starts_at.map(|t| t.timestamp_micros());
    let ends_at = req.ends_at.map(|t| t.timestamp_micros());
    if let (Some(s), Some(e)) = (starts_at, ends_at) {
        if e <= s {
            checks.fail("ends_at", "must be after starts_at");
        }
    }
    checks.finish()?;
    Ok(Request {
        name,
        keep_top: req.keep_top as usize,
        sort,
        model,
        added,
        carry_codes: req.carry_codes,
        starts_at,
        ends_at,
    })
}

/// Who joins the next campaign, and on which terms.
struct Plan {
    old: CampaignRow,
    campaign: CampaignRow,
    /// Kept from the predecessor, best first.
    kept: Vec<EnrollmentRow>,
    /// Influencers added, with their handles.
    added: Vec<(InfluencerId, String)>,
    handles: HashMap<InfluencerId, String>,
    carry_codes: bool,
}

/// A new campaign with this one's settings (destination, currency, attribution, goal, holding
/// period), the `keep_top` best enrollments by `sort` (pruned ones never) with their terms,
/// plus `add_influencer_ids` (no fee, no commission until set). Each gets a fresh link; codes
/// are fresh too, or, with `carry_codes`, the old ones move to the new campaign so audiences
/// keep what they know.
pub fn successor(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    input: SuccessorInput,
) -> LoopResult<Written<Successor>> {
    let request = parse(input)?;
    let plan = plan(conn, brand_id, campaign_id, request)?;
    apply(conn, public_url, plan)
}

/// What a successor request would do, before it is done: who is kept (best first, with
/// their terms) and who is left out, who is added, whether codes move.
#[derive(Debug, Serialize)]
pub struct Preview {
    pub name: String,
    /// `(handle, fee, commission rate)` of the kept, best first.
    pub kept: Vec<(String, String, String)>,
    /// Handles of the predecessor's influencers not kept (pruned ones included).
    pub left: Vec<String>,
    pub added: Vec<String>,
    pub carry_codes: bool,
}

/// The plan of [`successor`], written nowhere.
pub fn preview(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    input: SuccessorInput,
) -> LoopResult<Preview> {
    let request = parse(input)?;
    let plan = plan(conn, brand_id, campaign_id, request)?;
    let reader = Reader::brand(brand_id.clone());
    let (_, all) = reporting::load_campaign(conn, &reader, campaign_id)?;
    let everyone = store::influencers::handles(conn, all.iter().map(|e| &e.influencer_id))?;
    let currency = plan.old.currency;
    let kept = plan
        .kept
        .iter()
        .map(|k| {
            (
                plan.handles
                    .get(&k.influencer_id)
                    .cloned()
                    .unwrap_or_default(),
                crate::domain::money::format_amount(k.fee_micros, currency),
                crate::domain::money::format_rate(k.commission_rate_micros),
            )
        })
        .collect();
    let mut left: Vec<String> = all
        .iter()
        .filter(|e| !plan.kept.iter().any(|k| k.id == e.id))
        .filter_map(|e| everyone.get(&e.influencer_id).cloned())
        .collect();
    left.sort();
    Ok(Preview {
        name: plan.campaign.name,
        kept,
        left,
        added: plan.added.into_iter().map(|(_, h)| h).collect(),
        carry_codes: plan.carry_codes,
    })
}

fn plan(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    req: Request,
) -> LoopResult<Plan> {
    let reader = Reader::brand(brand_id.clone());
    let (old, all) = reporting::load_campaign(conn, &reader, campaign_id)?;
    // The best, pruned ones never.
    let candidates: Vec<EnrollmentRow> = all
        .into_iter()
        .filter(|e| e.status != EnrollmentStatus::Pruned)
        .collect();
    let rows = reporting::rows(conn, &old, candidates, req.model, Window::all())?;
    let ranked = rank(
        rows.into_iter()
            .map(|r| {
                let m: Metrics = r.metrics(&old);
                (r, m)
            })
            .collect(),
        &req.sort,
        // The best first: highest, or lowest for costs.
        !metrics::LOWER_IS_BETTER.contains(&req.sort.as_str()),
    );
    let mut kept: Vec<EnrollmentRow> = Vec::new();
    for r in ranked.iter().take(req.keep_top) {
        kept.push(
            store::enrollments::find_by_id(conn, &r.enrollment_id)?.ok_or(LoopError::NotFound)?,
        );
    }
    // Added influencers: of this brand, not deleted, not already kept.
    let mut added: Vec<(InfluencerId, String)> = Vec::new();
    for (i, id) in req.added.iter().enumerate() {
        let inf = store::influencers::find_row(conn, brand_id, id)?.ok_or_else(|| {
            FieldError::new(
                format!("add_influencer_ids[{i}]"),
                "no influencer of this brand has this id",
            )
        })?;
        if !kept.iter().any(|k| k.influencer_id == inf.id) {
            added.push((inf.id, inf.handle));
        }
    }
    let now = now_micros();
    let campaign = CampaignRow {
        id: CampaignId::new(),
        brand_id: brand_id.clone(),
        slug: free_slug(conn, brand_id, &slugify(&req.name))?,
        name: req.name,
        destination_url: old.destination_url.clone(),
        currency: old.currency,
        budget_micros: old.budget_micros,
        starts_at: req.starts_at,
        ends_at: req.ends_at,
        status: CampaignStatus::Active,
        goal_metric: old.goal_metric,
        goal_target_micros: old.goal_target_micros,
        attribution_model: old.attribution_model,
        window_days: old.window_days,
        code_priority: old.code_priority,
        holding_days: old.holding_days,
        created_at: now,
        updated_at: now,
        links_apply_code: old.links_apply_code,
        identity_window_days: old.identity_window_days,
        lead_band_medium: old.lead_band_medium,
        lead_band_fast: old.lead_band_fast,
        event_values: old.event_values.clone(),
        cost_allocation: old.cost_allocation,
    };
    let handles = store::influencers::handles(conn, kept.iter().map(|e| &e.influencer_id))?;
    Ok(Plan {
        old,
        campaign,
        kept,
        added,
        handles,
        carry_codes: req.carry_codes,
    })
}

/// Creates the campaign, its enrollments, links and codes in one transaction.
fn apply(conn: &mut AnyConnection, public_url: &str, plan: Plan) -> LoopResult<Written<Successor>> {
    let Plan {
        old,
        campaign,
        kept,
        added,
        handles,
        carry_codes,
    } = plan;
    let mut new_enrollments = Vec::with_capacity(kept.len() + added.len());
    crate::db::write_transaction(conn, |conn| {
        store::campaigns::insert(conn, &campaign)?;
        for k in &kept {
            let handle = handles.get(&k.influencer_id).cloned().unwrap_or_default();
            let row = enroll(
                conn,
                &campaign,
                Some(k),
                &k.influencer_id,
                &handle,
                carry_codes,
            )?;
            new_enrollments.push(row);
        }
        for (id, handle) in &added {
            new_enrollments.push(enroll(conn, &campaign, None, id, handle, carry_codes)?);
        }
        Ok::<_, LoopError>(())
    })?;
    let views = enrollments::views(conn, public_url, &campaign, new_enrollments)?;
    // Carried codes now belong to the new campaign; links of the old one are unchanged. The
    // new campaign's links are known to the redirect at once.
    let mut changed: Vec<Change> = views
        .iter()
        .flat_map(|v| v.links.iter().map(|l| Change::NewLink(l.code.clone())))
        .collect();
    if carry_codes {
        changed.push(Change::Campaign(old.id.clone()));
    }
    Ok(Written::new(
        Successor {
            predecessor_id: old.id,
            kept: kept.into_iter().map(|e| e.influencer_id).collect(),
            added: added.into_iter().map(|(id, _)| id).collect(),
            carried_codes: carry_codes,
            enrollments: views,
            campaign: CampaignView::from(campaign),
        },
        changed,
    ))
}

/// Enrolls an influencer in the new campaign on the terms of `from` (its enrollment in the
/// old one, if any) with a fresh link, and its old codes moved over or a fresh code.
fn enroll(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    from: Option<&EnrollmentRow>,
    influencer_id: &InfluencerId,
    handle: &str,
    carry_codes: bool,
) -> LoopResult<EnrollmentRow> {
    let row = EnrollmentRow {
        id: EnrollmentId::new(),
        brand_id: campaign.brand_id.clone(),
        campaign_id: campaign.id.clone(),
        influencer_id: influencer_id.clone(),
        status: EnrollmentStatus::Active,
        fee_micros: from.map_or(0, |f| f.fee_micros),
        commission_rate_micros: from.map_or(0, |f| f.commission_rate_micros),
        goal_metric: from.and_then(|f| f.goal_metric),
        goal_target_micros: from.and_then(|f| f.goal_target_micros),
        created_at: campaign.created_at,
        pruned_at: None,
    };
    store::enrollments::insert(conn, &row)?;
    let owner = LinkOwner {
        brand_id: &campaign.brand_id,
        campaign_id: &campaign.id,
        enrollment_id: &row.id,
        influencer_id,
    };
    let mut link = links::new_link(&owner, CreateLink::default(), campaign.links_apply_code)?;
    links::insert(conn, &mut link)?;
    let old_codes = match from {
        Some(f) => store::codes::of_enrollments(conn, std::slice::from_ref(&f.id))?,
        None => vec![],
    };
    if let (true, Some(f)) = (carry_codes && !old_codes.is_empty(), from) {
        store::codes::move_to(conn, &f.id, &row.id, &campaign.id)?;
        // Their period is the new campaign's now.
        let moved: Vec<_> = old_codes.into_iter().map(|c| c.id).collect();
        crate::core::shop_sync::codes_changed(conn, &campaign.brand_id, &moved)?;
        return Ok(row);
    }
    let discount: Discount = old_codes
        .first()
        .map(|c| (c.discount_type, c.discount_value_micros))
        .unwrap_or(codes::DEFAULT_DISCOUNT);
    let owner = codes::Owner {
        brand_id: &campaign.brand_id,
        campaign_id: &campaign.id,
        enrollment_id: &row.id,
        influencer_id,
        handle,
    };
    let mut checks = Checks::default();
    let mut code = codes::new_code(
        &mut checks,
        &owner,
        CodeTerms {
            code_field: "code",
            code: None,
            discount,
            max_redemptions: None,
            expires_at: None,
        },
    );
    checks.finish()?;
    codes::insert(conn, &mut code, handle)?;
    crate::core::shop_sync::codes_changed(
        conn,
        &campaign.brand_id,
        std::slice::from_ref(&code.row.id),
    )?;
    Ok(row)
}
