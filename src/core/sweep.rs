//! Events that happen by time or by sums rather than by one request: new fraud flags, goals
//! reached, commission approved at the end of the holding period. A periodic look (on one
//! outbox worker of each instance) finds them for the brands that subscribed an endpoint, and
//! announces each once: its subject is recorded in the transaction that queues the webhook,
//! so instances looking at once announce it once.

use serde_json::{json, Value};

use crate::core::campaign_loop::payouts;
use crate::core::fraud;
use crate::core::now_micros;
use crate::core::reporting::{report, Reader, ReportError};
use crate::db::{AnyConnection, DbError};
use crate::domain::campaign::CampaignStatus;
use crate::domain::hooks::EventType;
use crate::domain::ids::{BrandId, CampaignId};
use crate::domain::money;
use crate::domain::window::Window;
use crate::store;
use crate::store::campaigns::CampaignRow;

/// What one look announced.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Announced {
    pub flags: usize,
    pub goals: usize,
    pub approvals: usize,
}

/// Looks once at every subscribed brand.
pub fn run(conn: &mut AnyConnection) -> Result<Announced, DbError> {
    Ok(Announced {
        flags: flags(conn)?,
        goals: goals(conn)?,
        approvals: approvals(conn)?,
    })
}

/// Records the subject and queues the event, once; 1 when it was announced now.
pub fn announce(
    conn: &mut AnyConnection,
    event: EventType,
    subject: &str,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    data: Value,
) -> Result<usize, DbError> {
    crate::db::write_transaction(conn, |conn| {
        if !store::announcements::announce(
            conn,
            event.as_str(),
            subject,
            brand_id,
            Some(campaign_id),
            now_micros(),
        )? {
            return Ok(0);
        }
        crate::core::hooks::emit(conn, brand_id, event, |_| Ok::<_, DbError>(data))?;
        Ok(1)
    })
}

/// The campaigns of the brands subscribed to `event`, with their brand.
fn subscribed_campaigns(
    conn: &mut AnyConnection,
    event: EventType,
) -> Result<Vec<(BrandId, CampaignRow)>, DbError> {
    let mut out = Vec::new();
    for brand_id in store::hooks::brands_subscribed(conn, event.as_str())? {
        for campaign in store::campaigns::newest_first(conn, &brand_id)? {
            out.push((brand_id.clone(), campaign));
        }
    }
    Ok(out)
}

/// `fraud.flagged`: each new flag of an active campaign.
fn flags(conn: &mut AnyConnection) -> Result<usize, DbError> {
    let mut n = 0;
    for (brand_id, campaign) in subscribed_campaigns(conn, EventType::FraudFlagged)? {
        if campaign.status != CampaignStatus::Active {
            continue;
        }
        let flags = match fraud::compute(conn, &campaign) {
            Ok(flags) => flags,
            Err(ReportError::Db(e)) => return Err(e),
            Err(_) => continue,
        };
        for f in flags {
            let data = json!({
                "campaign_id": campaign.id,
                "enrollment_id": f.enrollment_id,
                "influencer_id": f.influencer_id,
                "handle": f.handle,
                "kind": f.kind,
                "reason": f.reason,
                "figures": f.figures,
            });
            let subject = fraud::subject(&campaign.id, &f);
            n += announce(
                conn,
                EventType::FraudFlagged,
                &subject,
                &brand_id,
                &campaign.id,
                data,
            )?;
        }
    }
    Ok(n)
}

/// `goal.reached`: a campaign's goal, or an influencer's in it, at 100% or more (each goal,
/// by its metric and target, once).
fn goals(conn: &mut AnyConnection) -> Result<usize, DbError> {
    let mut n = 0;
    for (brand_id, campaign) in subscribed_campaigns(conn, EventType::GoalReached)? {
        if campaign.status != CampaignStatus::Active {
            continue;
        }
        let reader = Reader::brand(brand_id.clone());
        let r = match report::report(conn, &reader, &campaign.id, None, Window::all()) {
            Ok(r) => r,
            Err(ReportError::Db(e)) => return Err(e),
            Err(_) => continue,
        };
        if let Some(goal) = r.goal.filter(|g| g.progress.is_some_and(|p| p >= 1.0)) {
            let subject = format!("{}:campaign:{}:{}", campaign.id, goal.metric, goal.target);
            let data = json!({"campaign_id": campaign.id, "scope": "campaign", "goal": goal});
            n += announce(
                conn,
                EventType::GoalReached,
                &subject,
                &brand_id,
                &campaign.id,
                data,
            )?;
        }
        for i in r.influencers {
            let Some(goal) = i.goal.filter(|g| g.progress.is_some_and(|p| p >= 1.0)) else {
                continue;
            };
            let subject = format!(
                "{}:{}:{}:{}",
                campaign.id, i.enrollment_id, goal.metric, goal.target
            );
            let data = json!({
                "campaign_id": campaign.id,
                "scope": "influencer",
                "enrollment_id": i.enrollment_id,
                "influencer_id": i.influencer_id,
                "handle": i.handle,
                "goal": goal,
            });
            n += announce(
                conn,
                EventType::GoalReached,
                &subject,
                &brand_id,
                &campaign.id,
                data,
            )?;
        }
    }
    Ok(n)
}

/// `payout.approved`: an influencer's approved amount (fee plus commission past the holding
/// period) rose to a total not announced before.
fn approvals(conn: &mut AnyConnection) -> Result<usize, DbError> {
    let mut n = 0;
    let now = now_micros();
    for (brand_id, campaign) in subscribed_campaigns(conn, EventType::PayoutApproved)? {
        let enrollments = store::enrollments::all_of_campaign(conn, &campaign.id)?;
        let lines = match payouts::lines(conn, &campaign, &enrollments, now) {
            Ok(lines) => lines,
            Err(crate::core::campaign_loop::LoopError::Db(e)) => return Err(e),
            Err(_) => continue,
        };
        for (line, _) in lines {
            let approved = money::parse_amount("approved", &line.approved).unwrap_or_default();
            if approved <= 0 {
                continue;
            }
            let subject = format!("{}:{}:{}", campaign.id, line.enrollment_id, line.approved);
            let data = json!({"campaign_id": campaign.id, "payout": line});
            n += announce(
                conn,
                EventType::PayoutApproved,
                &subject,
                &brand_id,
                &campaign.id,
                data,
            )?;
        }
    }
    Ok(n)
}
