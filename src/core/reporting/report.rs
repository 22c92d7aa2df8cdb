//! The campaign report: totals, goal progress and pace, each influencer's goal, paid and
//! organic posts.

use serde::{Deserialize, Serialize};

use crate::core::now_micros;
use crate::core::reporting::{load_campaign, parse_model, rows_and_rest, Reader, ReportResult};
use crate::db::AnyConnection;
use crate::domain::campaign::{CampaignStatus, EnrollmentStatus, Model};
use crate::domain::field::Checks;
use crate::domain::goals::{self, GoalProgress, Pace};
use crate::domain::ids::{CampaignId, EnrollmentId, InfluencerId};
use crate::domain::leads;
use crate::domain::metrics::{self, Metrics, Sums};
use crate::domain::window::Window;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    pub model: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `off`: as if no exclusion rule existed (read by the caller, see `reporting::scoped`).
    pub exclusions: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct InfluencerGoal {
    pub enrollment_id: EnrollmentId,
    pub influencer_id: InfluencerId,
    pub handle: String,
    pub status: EnrollmentStatus,
    pub goal: Option<GoalProgress>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub campaign_id: CampaignId,
    pub name: String,
    pub status: CampaignStatus,
    pub model: Model,
    pub currency: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub influencers_enrolled: usize,
    pub totals: Metrics,
    pub goal: Option<GoalProgress>,
    pub pace: Option<Pace>,
    pub influencers: Vec<InfluencerGoal>,
    pub paid_vs_organic: metrics::PaidOrganic,
}

/// The report's parameters, checked.
pub fn parse(q: &ReportQuery) -> ReportResult<(Option<Model>, Window)> {
    let mut checks = Checks::default();
    let model = parse_model(&mut checks, q.model.as_deref());
    let window = Window::parse(&mut checks, q.from.as_deref(), q.to.as_deref());
    checks.finish()?;
    Ok((model, window))
}

/// The campaign report as the reader may see it.
pub fn report(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
    model: Option<Model>,
    window: Window,
) -> ReportResult<Report> {
    let (campaign, enrollments) = load_campaign(conn, reader, campaign_id)?;
    let currency = campaign.currency;
    let (rows, rest) = rows_and_rest(conn, &campaign, enrollments, model, window)?;
    let mut totals = Sums::default();
    let mut delays = Vec::new();
    for r in &rows {
        totals.add(&r.sums);
        delays.extend_from_slice(&r.lead_delays);
    }
    if reader.influencer_id.is_none() {
        rest.add_to(&mut totals);
    }
    // The campaign's goal is the brand's: an influencer sees only its own.
    let goal = if reader.influencer_id.is_some() {
        None
    } else {
        goals::progress(
            campaign.goal_metric,
            campaign.goal_target_micros,
            &totals,
            currency,
        )
    };
    let pace = match (
        &goal,
        campaign.goal_metric,
        campaign.starts_at,
        campaign.ends_at,
    ) {
        (Some(_), Some(metric), Some(start), Some(end)) => goals::pace(
            metric,
            campaign.goal_target_micros.unwrap_or(0),
            &totals,
            (start, end),
            now_micros(),
            currency,
        ),
        _ => None,
    };
    let influencers = rows
        .iter()
        .map(|r| InfluencerGoal {
            enrollment_id: r.enrollment.id.clone(),
            influencer_id: r.enrollment.influencer_id.clone(),
            handle: r.handle.clone(),
            status: r.enrollment.status,
            goal: goals::progress(
                r.enrollment.goal_metric,
                r.enrollment.goal_target_micros,
                &r.sums,
                currency,
            ),
        })
        .collect();
    Ok(Report {
        model: model.unwrap_or(campaign.attribution_model),
        currency: currency.code().to_string(),
        from: window.from(),
        to: window.to(),
        influencers_enrolled: rows.len(),
        totals: {
            let mut m = metrics::compute(&totals, currency);
            m.median_days_to_order = leads::median_days(&delays);
            m
        },
        goal,
        pace,
        influencers,
        paid_vs_organic: metrics::paid_organic(&totals, currency),
        campaign_id: campaign.id,
        name: campaign.name,
        status: campaign.status,
    })
}
