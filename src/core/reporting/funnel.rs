//! The funnel of a campaign: clicks → landing views → leads → sign-ups → trials → add to
//! cart → checkout → orders, per influencer and in total.

use serde::{Deserialize, Serialize};

use crate::core::reporting::{load_campaign, parse_model, rows, Reader, ReportResult};
use crate::db::AnyConnection;
use crate::domain::campaign::Model;
use crate::domain::field::Checks;
use crate::domain::funnel::{self, Stage};
use crate::domain::ids::{CampaignId, EnrollmentId, InfluencerId};
use crate::domain::window::Window;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelQuery {
    pub model: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `off`: as if no exclusion rule existed (read by the caller, see `reporting::scoped`).
    pub exclusions: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct FunnelRow {
    pub enrollment_id: Option<EnrollmentId>,
    pub influencer_id: Option<InfluencerId>,
    pub handle: Option<String>,
    pub stages: Vec<Stage>,
    /// The stage where most is lost, among the stages the campaign uses.
    pub bottleneck: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct Funnel {
    pub campaign_id: CampaignId,
    pub model: Model,
    pub from: Option<String>,
    pub to: Option<String>,
    pub total: FunnelRow,
    pub influencers: Vec<FunnelRow>,
}

pub fn funnel(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
    q: FunnelQuery,
) -> ReportResult<Funnel> {
    let mut checks = Checks::default();
    let model = parse_model(&mut checks, q.model.as_deref());
    let window = Window::parse(&mut checks, q.from.as_deref(), q.to.as_deref());
    checks.finish()?;
    let (campaign, enrollments) = load_campaign(conn, reader, campaign_id)?;
    let events = crate::core::reporting::event_counts(
        conn,
        &campaign,
        window.start_micros(),
        window.end_micros(),
    )?;
    let rows = rows(conn, &campaign, enrollments, model, window)?;
    let mut total = [0f64; 8];
    let mut counted = Vec::with_capacity(rows.len());
    for r in &rows {
        let mut counts = [0f64; 8];
        counts[0] = r.sums.clicks as f64;
        for e in events.iter().filter(|e| e.enrollment_id == r.enrollment.id) {
            counts[funnel::stage_of(e.kind)] += e.n as f64;
        }
        counts[7] = r.sums.orders as f64;
        for (t, c) in total.iter_mut().zip(counts) {
            *t += c;
        }
        counted.push((r, counts));
    }
    let used = funnel::used(&total);
    let influencers = counted
        .into_iter()
        .map(|(r, counts)| FunnelRow {
            enrollment_id: Some(r.enrollment.id.clone()),
            influencer_id: Some(r.enrollment.influencer_id.clone()),
            handle: Some(r.handle.clone()),
            stages: funnel::stages(&counts),
            bottleneck: funnel::bottleneck(&counts, &used),
        })
        .collect();
    Ok(Funnel {
        model: model.unwrap_or(campaign.attribution_model),
        from: window.from(),
        to: window.to(),
        total: FunnelRow {
            enrollment_id: None,
            influencer_id: None,
            handle: None,
            stages: funnel::stages(&total),
            bottleneck: funnel::bottleneck(&total, &used),
        },
        influencers,
        campaign_id: campaign.id,
    })
}
