//! Time series of a campaign: clicks, conversions, orders and revenue per hour, day or week,
//! with day boundaries in the reader's time zone.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::core::reporting::{load_campaign, parse_model, Reader, ReportError, ReportResult};
use crate::db::AnyConnection;
use crate::domain::attribution::CreditKey;
use crate::domain::campaign::Model;
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::{CampaignId, EnrollmentId};
use crate::domain::money::{self, MICROS};
use crate::domain::series::Interval;
use crate::domain::time::{utc_hour, MICROS_PER_HOUR};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeseriesQuery {
    pub interval: Option<String>,
    pub metrics: Option<String>,
    pub tz: Option<String>,
    pub model: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `off`: as if no exclusion rule existed (read by the caller, see `reporting::scoped`).
    pub exclusions: Option<String>,
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

#[derive(Debug, Serialize)]
pub struct Timeseries {
    pub campaign_id: CampaignId,
    pub interval: Interval,
    pub tz: String,
    pub model: Model,
    pub currency: String,
    pub metrics: Vec<String>,
    pub buckets: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// What a series asks for, checked before anything is read.
pub struct Plan {
    model: Option<Model>,
    interval: Interval,
    tz: chrono_tz::Tz,
    wanted: Vec<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
}

/// Checks the parameters; dates are local midnights in `tz`, and `to` as a date includes
/// that whole day.
pub fn plan(q: &TimeseriesQuery, now: DateTime<Utc>) -> ReportResult<Plan> {
    let mut checks = Checks::default();
    let model = parse_model(&mut checks, q.model.as_deref());
    let interval = match q.interval.as_deref() {
        None => Some(Interval::Day),
        Some(raw) => {
            let parsed = Interval::parse(raw);
            if parsed.is_none() {
                checks.fail("interval", "must be hour, day or week");
            }
            parsed
        }
    };
    let tz: Option<chrono_tz::Tz> = q.tz.as_deref().unwrap_or("UTC").parse().ok();
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
    let (Some(interval), Some(tz)) = (interval, tz) else {
        unreachable!("every failed check was reported");
    };
    Ok(Plan {
        model,
        interval,
        tz,
        wanted,
        from,
        to,
        now,
    })
}

#[derive(Debug, Default, Clone)]
struct Bucket {
    clicks: i64,
    conversions_micros: i64,
    orders: i64,
    gross: i64,
    refunded: i64,
}

/// The series a plan asks for, as the reader may see it.
pub fn timeseries(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
    plan: Plan,
) -> ReportResult<Timeseries> {
    let Plan {
        model,
        interval,
        tz,
        wanted,
        from,
        to,
        now,
    } = plan;
    let (campaign, enrollments) = load_campaign(conn, reader, campaign_id)?;
    let currency = campaign.currency;
    let to = to.unwrap_or(now);
    // By default from the campaign's start, but at most a week of hours or a year of days
    // and weeks back.
    let longest = if interval == Interval::Hour {
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
        return Err(FieldError::new("to", "must be after from").into());
    }
    let span_hours = (to - from).num_hours();
    if span_hours / interval.nominal_hours() > MAX_BUCKETS || span_hours > MAX_SPAN_HOURS {
        return Err(ReportError::Invalid(vec![FieldError::new(
            "interval",
            format!(
                "more than {MAX_BUCKETS} buckets or {} days; use a longer interval or a shorter window",
                MAX_SPAN_HOURS / 24
            ),
        )]));
    }
    let visible: HashSet<EnrollmentId> = enrollments.iter().map(|e| e.id.clone()).collect();
    let mut buckets: BTreeMap<DateTime<Utc>, Bucket> = interval
        .buckets(from, to, tz)
        .into_iter()
        .map(|start| (start, Bucket::default()))
        .collect();
    let from_hour = utc_hour(from.timestamp_micros());
    let to_hour = utc_hour(to.timestamp_micros());
    for h in crate::core::reporting::hourly_clicks(conn, &campaign, from_hour, to_hour)? {
        if !visible.contains(&h.enrollment_id) {
            continue;
        }
        let at = Utc
            .timestamp_micros(i64::from(h.hour) * MICROS_PER_HOUR)
            .single()
            .expect("in range");
        if let Some(b) = buckets.get_mut(&interval.bucket_start(at.max(from), tz)) {
            b.clicks += h.clicks;
        }
    }
    let credits = crate::core::reporting::credits_between(
        conn,
        &campaign,
        CreditKey::read(model),
        from.timestamp_micros(),
        to.timestamp_micros(),
    )?;
    let mut counted: HashSet<(String, EnrollmentId)> = HashSet::new();
    for c in credits {
        if !visible.contains(&c.enrollment_id) {
            continue;
        }
        let at = Utc
            .timestamp_micros(c.occurred_at)
            .single()
            .expect("in range");
        if let Some(b) = buckets.get_mut(&interval.bucket_start(at, tz)) {
            b.conversions_micros += c.share_micros;
            b.gross += c.credited_micros;
            b.refunded += c.refunded_micros;
            if counted.insert((c.order_id.to_string(), c.enrollment_id.clone())) {
                b.orders += 1;
            }
        }
    }
    let out = buckets
        .into_iter()
        .map(|(start, b)| {
            let mut m = serde_json::Map::new();
            m.insert("start".into(), start.with_timezone(&tz).to_rfc3339().into());
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
        interval,
        tz: tz.name().to_string(),
        model: model.unwrap_or(campaign.attribution_model),
        currency: currency.code().to_string(),
        metrics: wanted,
        buckets: out,
        campaign_id: campaign.id,
    })
}
