//! Reports: per-enrollment metrics (leaderboard, JSON or CSV), campaign report with goal and
//! pace, time series, funnel, and post metrics. Read from rollups under any attribution model
//! for any window of whole UTC days.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::api::campaigns::currency_of;
use crate::api::extract::{path_id, Checks, Json, Query};
use crate::api::views;
use crate::auth::Principal;
use crate::db::AnyConnection;
use crate::domain::campaign::{GoalMetric, Model};
use crate::domain::metrics::{self, Metrics, Sums};
use crate::domain::money::{self, MICROS};
use crate::domain::scope::{Access, Scope};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;
use crate::store::campaigns::{self as campaigns_store, CampaignRow};
use crate::store::clicks::utc_day;
use crate::store::enrollments::EnrollmentRow;
use crate::store::reports as store;

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// Who reads: the brand (admin or read key), or one influencer (its own rows only).
pub struct Reader {
    pub brand_id: String,
    pub influencer_id: Option<String>,
}

pub fn reader(principal: &Principal) -> ApiResult<Reader> {
    if let Principal::Brand(key) = principal {
        if key.scope == Scope::Influencer {
            return Ok(Reader {
                brand_id: key.brand_id.clone(),
                influencer_id: Some(key.influencer_id.clone().ok_or_else(ApiError::forbidden)?),
            });
        }
    }
    let key = principal.brand(Access::Read)?;
    Ok(Reader {
        brand_id: key.brand_id.clone(),
        influencer_id: None,
    })
}

/// A window of whole UTC days, `from` and `to` inclusive (dates or RFC 3339 instants, each
/// taken as its UTC day).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub from_day: i32,
    pub to_day: i32,
}

fn parse_day(field: &str, raw: &str) -> Result<i32, FieldError> {
    let raw = raw.trim();
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let micros = d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_micros();
        return Ok(utc_day(micros));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| utc_day(t.timestamp_micros()))
        .map_err(|_| FieldError::new(field, "must be a date (2026-05-01) or an RFC 3339 time"))
}

impl Window {
    pub fn parse(checks: &mut Checks, from: Option<&str>, to: Option<&str>) -> Window {
        let from_day = from.and_then(|f| checks.take(parse_day("from", f)));
        let to_day = to.and_then(|t| checks.take(parse_day("to", t)));
        if let (Some(f), Some(t)) = (from_day, to_day) {
            if f > t {
                checks.fail("to", "must not be before from");
            }
        }
        let all = Window::all();
        Window {
            from_day: from_day.unwrap_or(all.from_day),
            to_day: to_day.unwrap_or(all.to_day),
        }
    }

    /// All time.
    pub fn all() -> Window {
        Window {
            from_day: i32::MIN / 2,
            to_day: i32::MAX / 2,
        }
    }

    /// The first instant of the window.
    pub fn start_micros(&self) -> i64 {
        i64::from(self.from_day).saturating_mul(MICROS_PER_DAY)
    }

    /// The first instant after the window.
    pub fn end_micros(&self) -> i64 {
        (i64::from(self.to_day) + 1).saturating_mul(MICROS_PER_DAY)
    }

    fn bound(day: i32) -> Option<String> {
        (day.abs() < i32::MAX / 4).then(|| {
            let t = Utc
                .timestamp_micros(i64::from(day) * MICROS_PER_DAY)
                .single()
                .expect("in range");
            t.format("%Y-%m-%d").to_string()
        })
    }
}

pub fn parse_model(checks: &mut Checks, raw: Option<&str>) -> Option<Model> {
    let raw = raw?;
    match Model::parse(raw.trim()) {
        Some(m) => Some(m),
        None => {
            checks.fail(
                "model",
                "must be one of last_click, first_click, linear, time_decay, position_based",
            );
            None
        }
    }
}

fn campaign_model(c: &CampaignRow) -> Model {
    Model::parse(&c.attribution_model).unwrap_or(Model::LastClick)
}

/// One enrollment's figures.
pub struct Row {
    pub enrollment: EnrollmentRow,
    pub handle: String,
    pub sums: Sums,
}

/// The campaign (404 for another brand's) and the enrollments the reader may see.
pub fn load_campaign(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &str,
) -> ApiResult<(CampaignRow, Vec<EnrollmentRow>)> {
    let campaign = campaigns_store::find(conn, &reader.brand_id, campaign_id)?
        .ok_or_else(ApiError::not_found)?;
    let mut enrollments = crate::store::enrollments::list_all_for_campaign(conn, campaign_id)?;
    if let Some(mine) = &reader.influencer_id {
        enrollments.retain(|e| &e.influencer_id == mine);
        if enrollments.is_empty() {
            // An influencer sees only campaigns it is in.
            return Err(ApiError::not_found());
        }
    }
    Ok((campaign, enrollments))
}

/// The figures of every enrollment in a window, under a model.
pub fn rows(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    enrollments: Vec<EnrollmentRow>,
    model: Option<Model>,
    window: Window,
) -> ApiResult<Vec<Row>> {
    let currency = currency_of(campaign);
    let clicks = store::click_sums(conn, &campaign.id, window.from_day, window.to_day)?;
    let orders = store::order_sums(
        conn,
        &campaign.id,
        store::credit_key(model),
        window.from_day,
        window.to_day,
    )?;
    let mut posts: HashMap<String, (i64, i64, i64)> = HashMap::new();
    for p in store::posts_of_campaign(conn, &campaign.id)? {
        let e = posts.entry(p.enrollment_id).or_default();
        e.0 += p.impressions;
        e.1 += p.reach;
        e.2 += p.likes + p.comments + p.shares + p.saves;
    }
    let ids: Vec<String> = enrollments
        .iter()
        .map(|e| e.influencer_id.clone())
        .collect();
    let handles: HashMap<String, String> = crate::store::influencers::handles(conn, &ids)?
        .into_iter()
        .collect();
    Ok(enrollments
        .into_iter()
        .map(|e| {
            let c = clicks.get(&e.id).cloned().unwrap_or_default();
            let o = orders.get(&e.id).cloned().unwrap_or_default();
            let (impressions, reach, engagements) = posts.get(&e.id).copied().unwrap_or_default();
            let net = o.gross_micros - o.refunded_micros;
            let self_net = o.self_gross_micros - o.self_refunded_micros;
            let sums = Sums {
                clicks: c.clicks,
                unique_clicks: c.unique_clicks,
                bot_clicks: c.bot_clicks,
                orders: o.orders,
                redemptions: o.redemptions,
                conversions_micros: o.conversions_micros,
                gross_micros: o.gross_micros,
                refunded_micros: o.refunded_micros,
                self_net_micros: self_net,
                fee_micros: e.fee_micros,
                commission_micros: metrics::commission(
                    e.commission_rate_micros,
                    net - self_net,
                    currency,
                ),
                impressions,
                reach,
                engagements,
            };
            Row {
                handle: handles.get(&e.influencer_id).cloned().unwrap_or_default(),
                enrollment: e,
                sums,
            }
        })
        .collect())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaderboardQuery {
    pub sort: Option<String>,
    pub order: Option<String>,
    pub model: Option<String>,
    pub min_clicks: Option<i64>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LeaderboardRow {
    pub rank: usize,
    pub enrollment_id: String,
    pub influencer_id: String,
    pub handle: String,
    pub status: String,
    #[serde(flatten)]
    pub metrics: Metrics,
}

#[derive(Debug, Serialize)]
pub struct Leaderboard {
    pub campaign_id: String,
    pub model: &'static str,
    pub sort: String,
    pub order: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub items: Vec<LeaderboardRow>,
}

/// Sorts by a metric, nulls last in either direction, ties by handle then enrollment id.
pub fn rank(rows: Vec<(Row, Metrics)>, sort: &str, descending: bool) -> Vec<LeaderboardRow> {
    let mut rows = rows;
    rows.sort_by(|(ra, ma), (rb, mb)| {
        let (a, b) = (ma.sort_value(sort), mb.sort_value(sort));
        let by_value = match (a, b) {
            (Some(a), Some(b)) => {
                let o = a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
                if descending {
                    o.reverse()
                } else {
                    o
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_value
            .then_with(|| ra.handle.cmp(&rb.handle))
            .then_with(|| ra.enrollment.id.cmp(&rb.enrollment.id))
    });
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

/// Whether the client prefers CSV to JSON (by `Accept` and its q-values; JSON on a tie).
pub fn wants_csv(request: &HttpRequest) -> bool {
    let Some(accept) = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (mut csv, mut json) = (0.0_f32, 0.0_f32);
    for part in accept.split(',') {
        let mut fields = part.split(';');
        let media = fields
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let q = fields
            .filter_map(|f| {
                f.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        match media.as_str() {
            "text/csv" => csv = csv.max(q),
            "application/json" | "application/*" | "*/*" => json = json.max(q),
            _ => {}
        }
    }
    csv > 0.0 && csv > json
}

/// A text cell that a spreadsheet would run as a formula gets a leading apostrophe.
pub fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) && s.parse::<f64>().is_err() {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The leaderboard's rows as CSV: a header row (rank, ids, handle, status, then the metrics
/// in the order of [`metrics::SORTABLE`], impressions, reach, currency), one line per row in
/// the JSON's order; nulls are empty cells.
fn leaderboard_csv(items: &[LeaderboardRow]) -> ApiResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = Vec::new();
    for item in items {
        let value = serde_json::to_value(item).map_err(ApiError::internal)?;
        let serde_json::Value::Object(map) = value else {
            continue;
        };
        if header.is_empty() {
            header = csv_columns();
            out.write_record(&header).map_err(ApiError::internal)?;
        }
        let cells: Vec<String> = header
            .iter()
            .map(|k| match map.get(k) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) => csv_text(s),
                Some(v) => v.to_string(),
            })
            .collect();
        out.write_record(&cells).map_err(ApiError::internal)?;
    }
    if header.is_empty() {
        out.write_record(csv_columns())
            .map_err(ApiError::internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ApiError::internal(e.into_error()))?;
    String::from_utf8(bytes).map_err(ApiError::internal)
}

fn csv_columns() -> Vec<String> {
    let mut cols: Vec<String> = ["rank", "enrollment_id", "influencer_id", "handle", "status"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    cols.extend(metrics::SORTABLE.iter().map(|s| s.to_string()));
    cols.push("impressions".into());
    cols.push("reach".into());
    cols.push("currency".into());
    cols
}

/// `GET /api/v1/campaigns/{campaign_id}/leaderboard`
pub async fn leaderboard(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: Query<LeaderboardQuery>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    let reader = reader(&principal)?;
    let campaign_id = path_id(&path)?;
    let q = query.0;
    let mut checks = Checks::default();
    let model = parse_model(&mut checks, q.model.as_deref());
    let window = Window::parse(&mut checks, q.from.as_deref(), q.to.as_deref());
    let sort = q.sort.clone().unwrap_or_else(|| "net_revenue".into());
    if !metrics::SORTABLE.contains(&sort.as_str()) {
        checks.fail(
            "sort",
            format!("must be one of {}", metrics::SORTABLE.join(", ")),
        );
    }
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
    let csv = wants_csv(&request);
    let board = state
        .db(move |conn| {
            let (campaign, enrollments) = load_campaign(conn, &reader, &campaign_id)?;
            // No model asked: the credit as each order's campaigns decided it.
            let model_name = model.unwrap_or_else(|| campaign_model(&campaign)).as_str();
            let currency = currency_of(&campaign);
            let rows = rows(conn, &campaign, enrollments, model, window)?;
            let with_metrics: Vec<(Row, Metrics)> = rows
                .into_iter()
                .filter(|r| r.sums.clicks >= q.min_clicks.unwrap_or(0))
                .map(|r| {
                    let m = metrics::compute(&r.sums, currency);
                    (r, m)
                })
                .collect();
            Ok(Leaderboard {
                campaign_id: campaign.id,
                model: model_name,
                order: if descending { "desc" } else { "asc" },
                items: rank(with_metrics, &sort, descending),
                sort,
                from: Window::bound(window.from_day),
                to: Window::bound(window.to_day),
            })
        })
        .await?;
    if csv {
        let body = leaderboard_csv(&board.items)?;
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"leaderboard-{}.csv\"",
                    board.campaign_id
                ),
            ))
            .body(body));
    }
    Ok(HttpResponse::Ok().json(board))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    pub model: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct GoalProgress {
    pub metric: String,
    pub target: String,
    pub actual: String,
    /// actual / target
    pub progress: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Pace {
    /// Share of the campaign's dates elapsed (0 to 1).
    pub elapsed: f64,
    /// Where the goal's metric should be by now if it grew linearly over the dates.
    pub expected: String,
    /// actual / expected
    pub pace: Option<f64>,
    pub on_track: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct InfluencerGoal {
    pub enrollment_id: String,
    pub influencer_id: String,
    pub handle: String,
    pub status: String,
    pub goal: Option<GoalProgress>,
}

#[derive(Debug, Default, Serialize)]
pub struct PostSplit {
    pub posts: i64,
    pub impressions: i64,
    pub reach: i64,
    pub engagements: i64,
    pub engagement_rate: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct PaidOrganic {
    pub paid: PostSplit,
    pub organic: PostSplit,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub campaign_id: String,
    pub name: String,
    pub status: String,
    pub model: &'static str,
    pub currency: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub influencers_enrolled: usize,
    pub totals: Metrics,
    pub goal: Option<GoalProgress>,
    pub pace: Option<Pace>,
    pub influencers: Vec<InfluencerGoal>,
    pub paid_vs_organic: PaidOrganic,
}

/// A goal's metric as micro-units: net revenue in money, conversions and clicks as counts.
fn goal_actual(metric: GoalMetric, s: &Sums) -> i64 {
    match metric {
        GoalMetric::NetRevenue => s.net_micros(),
        GoalMetric::Conversions => s.conversions_micros,
        GoalMetric::Clicks => s.clicks * MICROS,
    }
}

fn goal_text(metric: GoalMetric, micros: i64, currency: crate::domain::money::Currency) -> String {
    match metric {
        GoalMetric::NetRevenue => money::format_amount(micros, currency),
        _ => money::format_rate(micros),
    }
}

fn goal_progress(
    metric: Option<&str>,
    target: Option<i64>,
    s: &Sums,
    currency: crate::domain::money::Currency,
) -> Option<GoalProgress> {
    let metric = GoalMetric::parse(metric?)?;
    let target = target?;
    let actual = goal_actual(metric, s);
    Some(GoalProgress {
        metric: metric.as_str().into(),
        target: goal_text(metric, target, currency),
        actual: goal_text(metric, actual, currency),
        progress: (target != 0).then(|| (actual as f64 / target as f64 * 1e6).round() / 1e6),
    })
}

/// The campaign report as the reader may see it.
pub fn build_report(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &str,
    model: Option<Model>,
    window: Window,
) -> ApiResult<Report> {
    let (campaign, enrollments) = load_campaign(conn, reader, campaign_id)?;
    // No model asked: the credit as each order's campaigns decided it.
    let model_name = model.unwrap_or_else(|| campaign_model(&campaign)).as_str();
    let currency = currency_of(&campaign);
    let posts = store::posts_of_campaign(conn, &campaign.id)?;
    let rows = rows(conn, &campaign, enrollments, model, window)?;
    let mut totals = Sums::default();
    for r in &rows {
        totals.add(&r.sums);
    }
    // The campaign's goal is the brand's: an influencer sees only its own.
    let goal = if reader.influencer_id.is_some() {
        None
    } else {
        goal_progress(
            campaign.goal_metric.as_deref(),
            campaign.goal_target_micros,
            &totals,
            currency,
        )
    };
    let now = crate::db::now_micros();
    let pace = match (&goal, campaign.starts_at, campaign.ends_at) {
        (Some(_), Some(start), Some(end)) if end > start => {
            let metric = GoalMetric::parse(campaign.goal_metric.as_deref().unwrap_or(""))
                .expect("goal parsed");
            let target = campaign.goal_target_micros.unwrap_or(0);
            let elapsed = ((now - start) as f64 / (end - start) as f64).clamp(0.0, 1.0);
            let unit = if metric == GoalMetric::NetRevenue {
                crate::domain::orders::minor_unit_micros(currency)
            } else {
                1
            };
            let expected = ((target as f64 * elapsed) / unit as f64).round() as i64 * unit;
            let actual = goal_actual(metric, &totals);
            let pace =
                (expected != 0).then(|| (actual as f64 / expected as f64 * 1e6).round() / 1e6);
            Some(Pace {
                elapsed: (elapsed * 1e6).round() / 1e6,
                expected: goal_text(metric, expected, currency),
                pace,
                on_track: (expected != 0).then_some(actual >= expected),
            })
        }
        _ => None,
    };
    let mut split = PaidOrganic {
        paid: PostSplit::default(),
        organic: PostSplit::default(),
    };
    let visible: Vec<&str> = rows.iter().map(|r| r.enrollment.id.as_str()).collect();
    for p in posts
        .iter()
        .filter(|p| visible.contains(&p.enrollment_id.as_str()))
    {
        let side = if p.paid {
            &mut split.paid
        } else {
            &mut split.organic
        };
        side.posts += 1;
        side.impressions += p.impressions;
        side.reach += p.reach;
        side.engagements += p.likes + p.comments + p.shares + p.saves;
    }
    for side in [&mut split.paid, &mut split.organic] {
        side.engagement_rate = (side.impressions != 0)
            .then(|| (side.engagements as f64 / side.impressions as f64 * 1e6).round() / 1e6);
    }
    let influencers = rows
        .iter()
        .map(|r| InfluencerGoal {
            enrollment_id: r.enrollment.id.clone(),
            influencer_id: r.enrollment.influencer_id.clone(),
            handle: r.handle.clone(),
            status: r.enrollment.status.clone(),
            goal: goal_progress(
                r.enrollment.goal_metric.as_deref(),
                r.enrollment.goal_target_micros,
                &r.sums,
                currency,
            ),
        })
        .collect();
    Ok(Report {
        campaign_id: campaign.id.clone(),
        name: campaign.name.clone(),
        status: campaign.status.clone(),
        model: model_name,
        currency: currency.code().to_string(),
        from: Window::bound(window.from_day),
        to: Window::bound(window.to_day),
        influencers_enrolled: rows.len(),
        totals: metrics::compute(&totals, currency),
        goal,
        pace,
        influencers,
        paid_vs_organic: split,
    })
}

/// `GET /api/v1/campaigns/{campaign_id}/report`
pub async fn report(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    let reader = reader(&principal)?;
    let campaign_id = path_id(&path)?;
    let q = query.0;
    let mut checks = Checks::default();
    let model = parse_model(&mut checks, q.model.as_deref());
    let window = Window::parse(&mut checks, q.from.as_deref(), q.to.as_deref());
    checks.finish()?;
    let report = state
        .db(move |conn| build_report(conn, &reader, &campaign_id, model, window))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeseriesQuery {
    pub interval: Option<String>,
    pub metrics: Option<String>,
    pub tz: Option<String>,
    pub model: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

const SERIES_METRICS: [&str; 6] = [
    "clicks",
    "conversions",
    "orders",
    "gross_revenue",
    "refunds",
    "net_revenue",
];
const MAX_BUCKETS: i64 = 5_000;
/// Three years.
const MAX_SPAN_HOURS: i64 = 3 * 366 * 24;

#[derive(Debug, Default, Clone)]
struct Bucket {
    clicks: i64,
    conversions_micros: i64,
    orders: i64,
    gross: i64,
    refunded: i64,
}

#[derive(Debug, Serialize)]
pub struct Timeseries {
    pub campaign_id: String,
    pub interval: String,
    pub tz: String,
    pub model: &'static str,
    pub currency: String,
    pub metrics: Vec<String>,
    pub buckets: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The start of the bucket holding `t`, in `tz`.
fn bucket_start(t: DateTime<Utc>, interval: &str, tz: chrono_tz::Tz) -> DateTime<Utc> {
    use chrono::Timelike;
    let local = t.with_timezone(&tz);
    if interval == "hour" {
        // Back to the start of the local hour from the instant itself: exact on DST days
        // (the repeated hour is two buckets) and in zones with half-hour offsets.
        let into_hour = i64::from(local.minute()) * 60_000_000_000
            + i64::from(local.second()) * 1_000_000_000
            + i64::from(local.nanosecond());
        return t - chrono::Duration::nanoseconds(into_hour);
    }
    let naive = match interval {
        "week" => {
            let d = local.date_naive();
            (d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday())))
                .and_hms_opt(0, 0, 0)
                .expect("midnight")
        }
        _ => local.date_naive().and_hms_opt(0, 0, 0).expect("midnight"),
    };
    // A local time skipped by a DST change starts at the first instant after it.
    tz.from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|l| l.with_timezone(&Utc))
        .unwrap_or(t)
}

fn next_bucket(start: DateTime<Utc>, interval: &str, tz: chrono_tz::Tz) -> DateTime<Utc> {
    let step = match interval {
        "hour" => chrono::Duration::hours(1),
        "week" => chrono::Duration::days(7),
        _ => chrono::Duration::days(1),
    };
    // Past the end of this bucket (a DST day is 23 or 25 hours long), then back to its start.
    let mut probe = start + step;
    if interval != "hour" {
        probe += chrono::Duration::hours(3);
    }
    let next = bucket_start(probe, interval, tz);
    if next <= start {
        start + step
    } else {
        next
    }
}

/// `GET /api/v1/campaigns/{campaign_id}/timeseries`
pub async fn timeseries(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: Query<TimeseriesQuery>,
) -> ApiResult<HttpResponse> {
    let reader = reader(&principal)?;
    let campaign_id = path_id(&path)?;
    let q = query.0;
    let mut checks = Checks::default();
    let model = parse_model(&mut checks, q.model.as_deref());
    let interval = q.interval.clone().unwrap_or_else(|| "day".into());
    if !["hour", "day", "week"].contains(&interval.as_str()) {
        checks.fail("interval", "must be hour, day or week");
    }
    let tz_name = q.tz.clone().unwrap_or_else(|| "UTC".into());
    let tz: Option<chrono_tz::Tz> = tz_name.parse().ok();
    if tz.is_none() {
        checks.fail("tz", "must be an IANA time zone such as Europe/Berlin");
    }
    let wanted: Vec<String> = match &q.metrics {
        None => vec!["clicks".into(), "conversions".into(), "net_revenue".into()],
        Some(list) => list.split(',').map(|m| m.trim().to_string()).collect(),
    };
    for m in &wanted {
        if !SERIES_METRICS.contains(&m.as_str()) {
            checks.fail(
                "metrics",
                format!("{m:?} is not one of {}", SERIES_METRICS.join(", ")),
            );
        }
    }
    let now = Utc::now();
    // A date is local midnight in `tz`; `to` as a date includes that whole day.
    let parse_instant = |field: &str, raw: &str, end: bool| -> Result<DateTime<Utc>, FieldError> {
        if let Ok(d) = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
            let d = if end { d.succ_opt().unwrap_or(d) } else { d };
            let midnight = d.and_hms_opt(0, 0, 0).expect("midnight");
            return Ok(tz
                .and_then(|tz| tz.from_local_datetime(&midnight).earliest())
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| midnight.and_utc()));
        }
        DateTime::parse_from_rfc3339(raw.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| FieldError::new(field, "must be a date (2026-05-01) or an RFC 3339 time"))
    };
    let from = q
        .from
        .as_deref()
        .and_then(|f| checks.take(parse_instant("from", f, false)));
    let to =
        q.to.as_deref()
            .and_then(|t| checks.take(parse_instant("to", t, true)));
    checks.finish()?;
    let tz = tz.expect("checked");
    let result = state
        .db(move |conn| {
            let (campaign, enrollments) = load_campaign(conn, &reader, &campaign_id)?;
            // No model asked: the credit as each order's campaigns decided it.
            let model_name = model.unwrap_or_else(|| campaign_model(&campaign)).as_str();
            let currency = currency_of(&campaign);
            let to = to.unwrap_or(now);
            // By default from the campaign's start, but at most a week of hours or a year of
            // days and weeks back.
            let longest = if interval == "hour" {
                chrono::Duration::days(7)
            } else {
                chrono::Duration::days(366)
            };
            let from = from.unwrap_or_else(|| {
                campaign
                    .starts_at
                    .and_then(|s| Utc.timestamp_micros(s).single())
                    .filter(|s| *s < to)
                    .unwrap_or(to - chrono::Duration::days(30))
                    .max(to - longest)
            });
            if from >= to {
                return Err(ApiError::invalid("to", "must be after from"));
            }
            let span_hours = (to - from).num_hours();
            let per_bucket = match interval.as_str() {
                "hour" => 1,
                "week" => 168,
                _ => 24,
            };
            if span_hours / per_bucket > MAX_BUCKETS || span_hours > MAX_SPAN_HOURS {
                return Err(ApiError::invalid(
                    "interval",
                    format!(
                        "more than {MAX_BUCKETS} buckets or {} days; use a longer interval or a shorter window",
                        MAX_SPAN_HOURS / 24
                    ),
                ));
            }
            let visible: std::collections::HashSet<String> =
                enrollments.iter().map(|e| e.id.clone()).collect();
            let mut buckets: BTreeMap<DateTime<Utc>, Bucket> = BTreeMap::new();
            let mut start = bucket_start(from, &interval, tz);
            while start < to {
                buckets.insert(start, Bucket::default());
                start = next_bucket(start, &interval, tz);
            }
            let from_hour = crate::store::clicks::utc_hour(from.timestamp_micros());
            let to_hour = crate::store::clicks::utc_hour(to.timestamp_micros());
            for h in store::hourly_clicks(conn, &campaign.id, from_hour, to_hour)? {
                if !visible.contains(&h.enrollment_id) {
                    continue;
                }
                let at = Utc
                    .timestamp_micros(i64::from(h.hour) * 3_600_000_000)
                    .single()
                    .expect("in range");
                if let Some(b) = buckets.get_mut(&bucket_start(at.max(from), &interval, tz)) {
                    b.clicks += h.clicks;
                }
            }
            let credits = store::credits_between(
                conn,
                &campaign.id,
                store::credit_key(model),
                from.timestamp_micros(),
                to.timestamp_micros(),
            )?;
            let mut counted: std::collections::HashSet<(String, String)> = Default::default();
            for c in credits {
                if !visible.contains(&c.enrollment_id) {
                    continue;
                }
                let at = Utc.timestamp_micros(c.occurred_at).single().expect("in range");
                if let Some(b) = buckets.get_mut(&bucket_start(at, &interval, tz)) {
                    b.conversions_micros += c.share_micros;
                    b.gross += c.credited_micros;
                    b.refunded += c.refunded_micros;
                    if counted.insert((c.order_id.clone(), c.enrollment_id.clone())) {
                        b.orders += 1;
                    }
                }
            }
            let out = buckets
                .into_iter()
                .map(|(start, b)| {
                    let mut m = serde_json::Map::new();
                    m.insert(
                        "start".into(),
                        start.with_timezone(&tz).to_rfc3339().into(),
                    );
                    for name in &wanted {
                        let v: serde_json::Value = match name.as_str() {
                            "clicks" => b.clicks.into(),
                            "conversions" => serde_json::Value::from(
                                (b.conversions_micros as f64 / MICROS as f64 * 1e6).round() / 1e6,
                            ),
                            "orders" => b.orders.into(),
                            "gross_revenue" => money::format_amount(b.gross, currency).into(),
                            "refunds" => money::format_amount(b.refunded, currency).into(),
                            _ => money::format_amount(b.gross - b.refunded, currency).into(),
                        };
                        m.insert(name.clone(), v);
                    }
                    m
                })
                .collect();
            Ok(Timeseries {
                campaign_id: campaign.id.clone(),
                interval,
                tz: tz.name().to_string(),
                model: model_name,
                currency: currency.code().to_string(),
                metrics: wanted,
                buckets: out,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelQuery {
    pub model: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Default, Serialize, Clone)]
pub struct Stage {
    pub stage: &'static str,
    pub count: f64,
    /// This stage over the previous one (`null` when the previous is 0).
    pub step_conversion: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct FunnelRow {
    pub enrollment_id: Option<String>,
    pub influencer_id: Option<String>,
    pub handle: Option<String>,
    pub stages: Vec<Stage>,
}

#[derive(Debug, Serialize)]
pub struct Funnel {
    pub campaign_id: String,
    pub model: &'static str,
    pub from: Option<String>,
    pub to: Option<String>,
    pub total: FunnelRow,
    pub influencers: Vec<FunnelRow>,
}

const STAGES: [&str; 8] = [
    "clicks",
    "landing_view",
    "lead",
    "signup",
    "trial",
    "add_to_cart",
    "checkout_started",
    "orders",
];

fn stages(counts: &[f64; 8]) -> Vec<Stage> {
    let mut out: Vec<Stage> = Vec::with_capacity(8);
    for (i, name) in STAGES.iter().enumerate() {
        let step = if i == 0 {
            None
        } else {
            let prev = counts[i - 1];
            (prev != 0.0).then(|| (counts[i] / prev * 1e6).round() / 1e6)
        };
        out.push(Stage {
            stage: name,
            count: counts[i],
            step_conversion: step,
        });
    }
    out
}

/// `GET /api/v1/campaigns/{campaign_id}/funnel`: clicks → landing views → leads → sign-ups →
/// trials → add to cart → checkout → orders, per influencer and in total.
pub async fn funnel(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    query: Query<FunnelQuery>,
) -> ApiResult<HttpResponse> {
    let reader = reader(&principal)?;
    let campaign_id = path_id(&path)?;
    let q = query.0;
    let mut checks = Checks::default();
    let model = parse_model(&mut checks, q.model.as_deref());
    let window = Window::parse(&mut checks, q.from.as_deref(), q.to.as_deref());
    checks.finish()?;
    let result = state
        .db(move |conn| {
            let (campaign, enrollments) = load_campaign(conn, &reader, &campaign_id)?;
            // No model asked: the credit as each order's campaigns decided it.
            let model_name = model.unwrap_or_else(|| campaign_model(&campaign)).as_str();
            let events = store::event_counts(
                conn,
                &campaign.id,
                window.start_micros(),
                window.end_micros(),
            )?;
            let rows = rows(conn, &campaign, enrollments, model, window)?;
            let mut total = [0f64; 8];
            let mut influencers = Vec::with_capacity(rows.len());
            for r in &rows {
                let mut counts = [0f64; 8];
                counts[0] = r.sums.clicks as f64;
                for e in events.iter().filter(|e| e.enrollment_id == r.enrollment.id) {
                    if let Some(i) = STAGES.iter().position(|s| *s == e.kind) {
                        counts[i] += e.n as f64;
                    }
                }
                counts[7] = r.sums.orders as f64;
                for (t, c) in total.iter_mut().zip(counts) {
                    *t += c;
                }
                influencers.push(FunnelRow {
                    enrollment_id: Some(r.enrollment.id.clone()),
                    influencer_id: Some(r.enrollment.influencer_id.clone()),
                    handle: Some(r.handle.clone()),
                    stages: stages(&counts),
                });
            }
            Ok(Funnel {
                campaign_id: campaign.id.clone(),
                model: model_name,
                from: Window::bound(window.from_day),
                to: Window::bound(window.to_day),
                total: FunnelRow {
                    enrollment_id: None,
                    influencer_id: None,
                    handle: None,
                    stages: stages(&total),
                },
                influencers,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostInput {
    pub post_url: String,
    pub platform: String,
    #[serde(default)]
    pub paid: bool,
    #[serde(default)]
    pub reach: i64,
    #[serde(default)]
    pub impressions: i64,
    #[serde(default)]
    pub likes: i64,
    #[serde(default)]
    pub comments: i64,
    #[serde(default)]
    pub shares: i64,
    #[serde(default)]
    pub saves: i64,
    pub video_views: Option<i64>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub posted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct PostView {
    pub id: String,
    pub campaign_id: String,
    pub influencer_id: String,
    pub enrollment_id: String,
    pub post_url: String,
    pub platform: String,
    pub paid: bool,
    pub reach: i64,
    pub impressions: i64,
    pub likes: i64,
    pub comments: i64,
    pub shares: i64,
    pub saves: i64,
    pub video_views: Option<i64>,
    pub posted_at: Option<String>,
    pub updated_at: String,
}

impl From<store::PostRow> for PostView {
    fn from(p: store::PostRow) -> Self {
        Self {
            id: p.id,
            campaign_id: p.campaign_id,
            influencer_id: p.influencer_id,
            enrollment_id: p.enrollment_id,
            post_url: p.post_url,
            platform: p.platform,
            paid: p.paid,
            reach: p.reach,
            impressions: p.impressions,
            likes: p.likes,
            comments: p.comments,
            shares: p.shares,
            saves: p.saves,
            video_views: p.video_views,
            posted_at: views::opt_time(p.posted_at),
            updated_at: views::time(p.updated_at),
        }
    }
}

/// `POST /api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/posts`: records a post or
/// replaces its metrics with the latest (one post per URL).
pub async fn upsert_post(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<PostInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let campaign_id = path_id(&path.0)?;
    let influencer_id = path_id(&path.1)?;
    let p = body.0;
    let mut checks = Checks::default();
    let url = p.post_url.trim().to_string();
    match url::Url::parse(&url) {
        Ok(u)
            if matches!(u.scheme(), "http" | "https")
                && u.host_str().is_some()
                && url.len() <= 2048 => {}
        _ => checks.fail(
            "post_url",
            "must be an absolute http(s) URL of at most 2048 characters",
        ),
    }
    let platform = p.platform.trim().to_lowercase();
    if platform.is_empty()
        || p.platform.chars().count() > 32
        || platform.chars().any(char::is_control)
    {
        checks.fail("platform", "must be 1 to 32 printable characters");
    }
    for (field, v) in [
        ("reach", Some(p.reach)),
        ("impressions", Some(p.impressions)),
        ("likes", Some(p.likes)),
        ("comments", Some(p.comments)),
        ("shares", Some(p.shares)),
        ("saves", Some(p.saves)),
        ("video_views", p.video_views),
    ] {
        if v.is_some_and(|v| !(0..=1_000_000_000_000).contains(&v)) {
            checks.fail(field, "must be between 0 and 10^12");
        }
    }
    checks.finish()?;
    let (view, created) = state
        .db(move |conn| {
            campaigns_store::find(conn, &brand_id, &campaign_id)?
                .ok_or_else(ApiError::not_found)?;
            let enrollment = crate::store::enrollments::find(conn, &campaign_id, &influencer_id)?
                .ok_or_else(ApiError::not_found)?;
            let row = store::PostRow {
                id: uuid::Uuid::now_v7().to_string(),
                brand_id,
                campaign_id,
                enrollment_id: enrollment.id.clone(),
                influencer_id,
                post_url: url,
                platform,
                paid: p.paid,
                reach: p.reach,
                impressions: p.impressions,
                likes: p.likes,
                comments: p.comments,
                shares: p.shares,
                saves: p.saves,
                video_views: p.video_views,
                posted_at: p.posted_at.map(|t| t.timestamp_micros()),
                updated_at: crate::db::now_micros(),
            };
            let created = store::upsert_post(conn, &row)?;
            let stored = store::find_post(conn, &enrollment.id, &row.post_url)?;
            Ok((PostView::from(stored), created))
        })
        .await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}
