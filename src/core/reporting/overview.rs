//! What the dashboard shows at a glance: a brand's campaigns with their reports, and one
//! campaign's report, leaderboard, credit under three models, last 30 days and funnel.

use std::collections::{HashMap, HashSet};

use crate::core::now_micros;
use crate::core::reporting::leaderboard::{rank, LeaderboardRow};
use crate::core::reporting::report::{report, Report};
use crate::core::reporting::{load_campaign, rows, Reader, ReportResult, Row};
use crate::db::AnyConnection;
use crate::domain::attribution::CreditKey;
use crate::domain::campaign::Model;
use crate::domain::ids::{CampaignId, EnrollmentId};
use crate::domain::metrics::{self, Metrics};
use crate::domain::orders::EventKind;
use crate::domain::time::{utc_hour, MICROS_PER_DAY};
use crate::domain::window::Window;
use crate::store::campaigns::CampaignRow;
use crate::store::enrollments::EnrollmentRow;
use crate::store::{self};

/// The brand's campaigns, newest first, each with its report (all time, as decided).
pub fn brand(conn: &mut AnyConnection, reader: &Reader) -> ReportResult<Vec<Report>> {
    let campaigns = store::campaigns::newest_first(conn, &reader.brand_id)?;
    let mut out = Vec::with_capacity(campaigns.len());
    for c in campaigns {
        out.push(report(conn, reader, &c.id, None, Window::all())?);
    }
    Ok(out)
}

/// `(UTC day, clicks, net revenue in micro-units)`.
pub type Day = (i64, i64, i64);

/// One campaign at a glance.
pub struct CampaignOverview {
    pub report: Report,
    pub board: Vec<LeaderboardRow>,
    /// Net revenue per enrollment under the first click, the last click and linear credit.
    pub by_model: HashMap<Model, HashMap<EnrollmentId, String>>,
    /// `(UTC day, clicks, net revenue in micro-units)` of the campaign's last 30 days: up to
    /// today, or up to its end when it is over (from its start when it is shorter).
    pub series: Vec<(i64, i64, i64)>,
    /// The series' last day is today, still going (its figures are partial).
    pub series_partial: bool,
    /// Clicks, landing views, leads/sign-ups/trials, add to cart, checkout, orders.
    pub funnel: Vec<(String, f64)>,
}

/// The models the dashboard compares side by side.
pub const COMPARED: [Model; 3] = [Model::FirstClick, Model::LastClick, Model::Linear];

pub fn campaign(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
    model: Option<Model>,
    sort: &str,
    descending: bool,
    window: Window,
) -> ReportResult<CampaignOverview> {
    // The click counts do not depend on the model: read once for the compared ones.
    super::with_one_click_read(|| {
        let report = report(conn, reader, campaign_id, model, window)?;
        let (campaign, enrollments) = load_campaign(conn, reader, campaign_id)?;
        let rows = rows(conn, &campaign, enrollments.clone(), model, window)?;
        let orders: i64 = rows.iter().map(|r| r.sums.orders).sum();
        let clicks: i64 = rows.iter().map(|r| r.sums.clicks).sum();
        let board = rank(with_metrics(&campaign, rows), sort, descending);
        let mut by_model = HashMap::new();
        for m in COMPARED {
            let rows = rows_under(conn, &campaign, &enrollments, m, window)?;
            by_model.insert(
                m,
                rows.into_iter()
                    .map(|(r, metrics)| (r.enrollment.id, metrics.net_revenue))
                    .collect(),
            );
        }
        let visible: HashSet<EnrollmentId> = enrollments.iter().map(|e| e.id.clone()).collect();
        let (series, series_partial) = daily(conn, &campaign, &visible, model, window)?;
        let funnel = funnel(conn, &campaign, &visible, clicks, orders, window)?;
        Ok(CampaignOverview {
            report,
            board,
            by_model,
            series,
            series_partial,
            funnel,
        })
    })
}

fn with_metrics(campaign: &CampaignRow, rows: Vec<Row>) -> Vec<(Row, Metrics)> {
    rows.into_iter()
        .map(|r| {
            let m = metrics::compute(&r.sums, campaign.currency);
            (r, m)
        })
        .collect()
}

fn rows_under(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    enrollments: &[EnrollmentRow],
    model: Model,
    window: Window,
) -> ReportResult<Vec<(Row, Metrics)>> {
    let rows = rows(conn, campaign, enrollments.to_vec(), Some(model), window)?;
    Ok(with_metrics(campaign, rows))
}

/// The longest series a chart draws (a wider range shows its last year).
const MAX_DAYS: i64 = 366;

/// One enrollment's clicks and net revenue per UTC day, as the campaign's chart draws them.
pub fn enrollment_daily(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
    enrollment_id: &EnrollmentId,
    model: Option<Model>,
) -> ReportResult<(Vec<Day>, bool)> {
    let (campaign, enrollments) = load_campaign(conn, reader, campaign_id)?;
    let visible: HashSet<EnrollmentId> = enrollments
        .into_iter()
        .map(|e| e.id)
        .filter(|id| id == enrollment_id)
        .collect();
    daily(conn, &campaign, &visible, model, Window::all())
}

/// Clicks and net revenue per UTC day (see [`CampaignOverview::series`]): the window's days
/// when it is bounded (up to today), else the campaign's last 30; whether the last day is
/// today.
fn daily(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    visible: &HashSet<EnrollmentId>,
    model: Option<Model>,
    window: Window,
) -> ReportResult<(Vec<Day>, bool)> {
    let today = now_micros();
    let mut end = campaign.ends_at.filter(|e| *e <= today).unwrap_or(today);
    if window.to_day < i32::MAX / 2 {
        end = end.min(window.end_micros()).max(window.start_micros() + 1);
    }
    let now = end;
    let last_day = (end - 1).div_euclid(MICROS_PER_DAY);
    let first_day = if window.from_day > i32::MIN / 2 {
        i64::from(window.from_day).max(last_day - (MAX_DAYS - 1))
    } else {
        match campaign.starts_at {
            Some(start) if start / MICROS_PER_DAY > last_day - 29 => {
                (start / MICROS_PER_DAY).min(last_day)
            }
            _ => last_day - 29,
        }
    }
    .min(last_day);
    let days = last_day - first_day + 1;
    let mut series: Vec<(i64, i64, i64)> = (0..days).map(|i| (first_day + i, 0, 0)).collect();
    let from_hour = utc_hour(first_day * MICROS_PER_DAY);
    for h in crate::core::reporting::hourly_clicks(conn, campaign, from_hour, utc_hour(now))? {
        if visible.contains(&h.enrollment_id) {
            let d = i64::from(h.hour) / 24 - first_day;
            if let Some(slot) = series.get_mut(d as usize) {
                slot.1 += h.clicks;
            }
        }
    }
    for c in crate::core::reporting::credits_between(
        conn,
        campaign,
        CreditKey::read(model),
        first_day * MICROS_PER_DAY,
        now + 1,
    )? {
        if visible.contains(&c.enrollment_id) {
            let d = c.occurred_at / MICROS_PER_DAY - first_day;
            if let Some(slot) = series.get_mut(d as usize) {
                slot.2 += c.credited_micros - c.refunded_micros;
            }
        }
    }
    Ok((series, end == today))
}

/// The funnel's stages with the events of the enrollments the reader sees.
fn funnel(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    visible: &HashSet<EnrollmentId>,
    clicks: i64,
    orders: i64,
    window: Window,
) -> ReportResult<Vec<(String, f64)>> {
    let mut kinds: HashMap<EventKind, i64> = HashMap::new();
    let (from, to) = if window.is_all() {
        (i64::MIN / 2, i64::MAX / 2)
    } else {
        (window.start_micros(), window.end_micros())
    };
    for e in crate::core::reporting::event_counts(conn, campaign, from, to)? {
        if visible.contains(&e.enrollment_id) {
            *kinds.entry(e.kind).or_default() += e.n;
        }
    }
    let count = |k: EventKind| *kinds.get(&k).unwrap_or(&0) as f64;
    Ok(vec![
        ("Clicks".to_string(), clicks as f64),
        ("Landing views".to_string(), count(EventKind::LandingView)),
        (
            "Leads, sign-ups, trials".to_string(),
            count(EventKind::Lead) + count(EventKind::Signup) + count(EventKind::Trial),
        ),
        ("Add to cart".to_string(), count(EventKind::AddToCart)),
        ("Checkout".to_string(), count(EventKind::CheckoutStarted)),
        ("Orders".to_string(), orders as f64),
    ])
}
