//! The leaderboard: every enrollment's metrics, ranked.

use serde::{Deserialize, Serialize};

use crate::core::reporting::{
    load_campaign, parse_model, parse_sort, rows, Reader, ReportResult, Row,
};
use crate::db::AnyConnection;
use crate::domain::campaign::{EnrollmentStatus, Model};
use crate::domain::field::Checks;
use crate::domain::ids::{CampaignId, EnrollmentId, InfluencerId};
use crate::domain::metrics::{self, Metrics};
use crate::domain::window::Window;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardQuery {
    pub sort: Option<String>,
    pub order: Option<String>,
    pub model: Option<String>,
    pub min_clicks: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `off`: as if no exclusion rule existed (read by the caller, see `reporting::scoped`).
    pub exclusions: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LeaderboardRow {
    pub rank: usize,
    pub enrollment_id: EnrollmentId,
    pub influencer_id: InfluencerId,
    pub handle: String,
    pub status: EnrollmentStatus,
    #[serde(flatten)]
    pub metrics: Metrics,
}

#[derive(Debug, Serialize)]
pub struct Leaderboard {
    pub campaign_id: CampaignId,
    pub model: Model,
    pub sort: String,
    pub order: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub items: Vec<LeaderboardRow>,
}

/// Rows ranked by a metric, nulls last in either direction, ties by handle then enrollment.
pub fn rank(rows: Vec<(Row, Metrics)>, sort: &str, descending: bool) -> Vec<LeaderboardRow> {
    let mut rows = rows;
    metrics::rank(
        &mut rows,
        |(r, m)| (m, r.handle.as_str(), r.enrollment.id.as_str()),
        sort,
        descending,
    );
    rows.into_iter()
        .enumerate()
        .map(|(i, (r, m))| LeaderboardRow {
            rank: i + 1,
            enrollment_id: r.enrollment.id,
            influencer_id: r.enrollment.influencer_id,
            handle: r.handle,
            status: r.enrollment.status,
            metrics: m,
        })
        .collect()
}

/// A campaign's leaderboard: every enrollment the reader may see with at least `min_clicks`
/// clicks in the window, ranked by `sort` (net revenue by default, highest first).
pub fn leaderboard(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
    q: LeaderboardQuery,
) -> ReportResult<Leaderboard> {
    let mut checks = Checks::default();
    let model = parse_model(&mut checks, q.model.as_deref());
    let window = Window::parse(&mut checks, q.from.as_deref(), q.to.as_deref());
    let sort = parse_sort(&mut checks, "sort", q.sort.as_deref());
    let descending = match q.order.as_deref() {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => {
            checks.fail("order", "must be asc or desc");
            true
        }
    };
    if q.min_clicks.is_some_and(|m| m < 0) {
        checks.fail("min_clicks", "must not be negative");
    }
    checks.finish()?;
    let (campaign, enrollments) = load_campaign(conn, reader, campaign_id)?;
    let with_metrics: Vec<(Row, Metrics)> = rows(conn, &campaign, enrollments, model, window)?
        .into_iter()
        .filter(|r| r.sums.clicks >= q.min_clicks.unwrap_or(0))
        .map(|r| {
            let m = r.metrics(&campaign);
            (r, m)
        })
        .collect();
    Ok(Leaderboard {
        campaign_id: campaign.id,
        // No model asked: the credit as each order's campaigns decided it.
        model: model.unwrap_or(campaign.attribution_model),
        order: if descending { "desc" } else { "asc" },
        items: rank(with_metrics, &sort, descending),
        sort,
        from: window.from(),
        to: window.to(),
    })
}
