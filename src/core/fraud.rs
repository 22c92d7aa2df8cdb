//! Fraud signals of a campaign, computed from what is stored (rollups, orders and their
//! touches), never a silent change of credit. [`crate::core::sweep`] announces each new flag
//! as a `fraud.flagged` webhook once.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::{json, Value};

use crate::core::now_micros;
use crate::core::reporting::{self, Reader, ReportError, ReportResult};
use crate::db::AnyConnection;
use crate::domain::attribution::Via;
use crate::domain::fraud::{self, Finding, FlagKind, Traffic};
use crate::domain::hooks::EventType;
use crate::domain::ids::{CampaignId, EnrollmentId, InfluencerId};
use crate::domain::time::{rfc3339, utc_hour};
use crate::domain::window::Window;
use crate::store;
use crate::store::campaigns::CampaignRow;

/// One flag on one enrollment.
#[derive(Debug, Clone, Serialize)]
pub struct FlagView {
    pub enrollment_id: EnrollmentId,
    pub influencer_id: InfluencerId,
    pub handle: String,
    pub kind: FlagKind,
    pub reason: String,
    pub figures: Value,
    /// When it was first announced as a `fraud.flagged` webhook (`null`: not yet, or the
    /// brand has no endpoint for it).
    pub announced_at: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Flags {
    pub campaign_id: CampaignId,
    pub as_of: String,
    pub items: Vec<FlagView>,
}

/// The subject a flag's announcement is recorded under.
pub fn subject(campaign_id: &CampaignId, f: &FlagView) -> String {
    let detail = f.figures["subject"].as_str().unwrap_or("");
    format!(
        "{campaign_id}:{}:{}:{detail}",
        f.enrollment_id,
        f.kind.as_str()
    )
}

/// Every flag of the campaign's enrollments (of all of them: an influencer never sees this).
pub fn compute(conn: &mut AnyConnection, campaign: &CampaignRow) -> ReportResult<Vec<FlagView>> {
    let enrollments = store::enrollments::all_of_campaign(conn, &campaign.id)?;
    // Signals read all the traffic: an exclusion takes clicks out of the figures, not out of
    // what looks suspicious.
    let rows = crate::core::exclusions::switched(true, || {
        reporting::rows(conn, campaign, enrollments, None, Window::all())
    })?;
    // The campaign's rate, orders per counted click, without the enrollment judged.
    let (all_clicks, all_orders) = rows.iter().fold((0i64, 0i64), |(c, o), r| {
        (c + r.sums.clicks, o + r.sums.orders)
    });
    let touches = store::fraud::touches(conn, &campaign.id)?;
    let mut clicked: HashSet<(&crate::domain::ids::OrderId, &EnrollmentId)> = HashSet::new();
    for (order, enrollment, via, _) in &touches {
        if *via == Via::Click {
            clicked.insert((order, enrollment));
        }
    }
    // Counted redemptions per enrollment, and how many came without a click of theirs.
    let mut redemptions: HashMap<&EnrollmentId, (i64, i64)> = HashMap::new();
    for (order, enrollment, via, counted) in &touches {
        if *via == Via::Code && *counted {
            let slot = redemptions.entry(enrollment).or_default();
            slot.0 += 1;
            if !clicked.contains(&(order, enrollment)) {
                slot.1 += 1;
            }
        }
    }
    let mut customers: BTreeMap<(EnrollmentId, String), Vec<i64>> = BTreeMap::new();
    for (enrollment, customer, at, _) in store::fraud::customer_orders(conn, &campaign.id)? {
        customers
            .entry((enrollment, customer))
            .or_default()
            .push(at);
    }
    let mut daily: HashMap<EnrollmentId, Vec<(i32, i64)>> = HashMap::new();
    for (enrollment, day, orders) in store::fraud::daily_orders(conn, &campaign.id)? {
        let days = daily.entry(enrollment).or_default();
        match days.last_mut() {
            Some(last) if last.0 == day => last.1 += orders,
            _ => days.push((day, orders)),
        }
    }
    let early: HashMap<EnrollmentId, i64> = match campaign.starts_at {
        Some(start) => store::fraud::clicks_before(conn, &campaign.id, utc_hour(start))?
            .into_iter()
            .collect(),
        None => HashMap::new(),
    };
    let mut out = Vec::new();
    for r in &rows {
        let e = &r.enrollment;
        let mut findings: Vec<Finding> = Vec::new();
        let others = (all_clicks - r.sums.clicks, all_orders - r.sums.orders);
        let rate = (others.0 >= fraud::MIN_CLICKS).then(|| others.1 as f64 / others.0 as f64);
        findings.extend(fraud::click_farm(
            Traffic {
                clicks: r.sums.clicks,
                unique_clicks: r.sums.unique_clicks,
                bot_clicks: r.sums.bot_clicks,
                orders: r.sums.orders,
            },
            rate,
        ));
        for ((enrollment, customer), times) in customers.range((e.id.clone(), String::new())..) {
            if enrollment != &e.id {
                break;
            }
            let mut times = times.clone();
            times.sort_unstable();
            findings.extend(fraud::repeat_orders(customer, &times));
        }
        let (redeemed, without) = redemptions.get(&e.id).copied().unwrap_or_default();
        findings.extend(fraud::code_leak(redeemed, without));
        if let Some(days) = daily.get(&e.id) {
            // History starts with the first day it sold: the day an influencer first posts
            // is no spike.
            findings.extend(fraud::conversion_spike(days[0].0, days));
        }
        if let Some(start) = campaign.starts_at {
            findings.extend(fraud::early_clicks(
                early.get(&e.id).copied().unwrap_or(0),
                start,
            ));
        }
        for f in findings {
            let mut figures = f.figures;
            if !f.subject.is_empty() {
                figures["subject"] = json!(f.subject);
            }
            out.push(FlagView {
                enrollment_id: e.id.clone(),
                influencer_id: e.influencer_id.clone(),
                handle: r.handle.clone(),
                kind: f.kind,
                reason: f.reason,
                figures,
                announced_at: None,
            });
        }
    }
    Ok(out)
}

/// `GET /api/v1/campaigns/{id}/flags`: the campaign's flags now, with when each was
/// announced.
pub fn flags(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
) -> ReportResult<Flags> {
    if reader.influencer_id.is_some() {
        return Err(ReportError::NotFound);
    }
    let (campaign, _) = reporting::load_campaign(conn, reader, campaign_id)?;
    let mut items = compute(conn, &campaign)?;
    let announced: HashMap<String, i64> =
        store::announcements::announced(conn, EventType::FraudFlagged.as_str(), &campaign.id)?
            .into_iter()
            .collect();
    for f in &mut items {
        f.announced_at = announced
            .get(&subject(&campaign.id, f))
            .map(|t| rfc3339(*t));
    }
    Ok(Flags {
        campaign_id: campaign.id,
        as_of: rfc3339(now_micros()),
        items,
    })
}
