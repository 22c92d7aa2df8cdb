//! Pruning the weak and reinstating them, with an audit log.

use serde::{Deserialize, Serialize};

use crate::core::auth::BrandKey;
use crate::core::campaign_loop::{LoopError, LoopResult};
use crate::core::reporting::{self, Reader};
use crate::core::{now_micros, Change, Written};
use crate::db::types::CorruptRow;
use crate::db::{AnyConnection, DbError};
use crate::domain::campaign::{EnrollmentStatus, Model};
use crate::domain::field::Checks;
use crate::domain::hooks::EventType;
use crate::domain::ids::{CampaignId, EnrollmentId, InfluencerId, KeyId, PruneLogId};
use crate::domain::json::non_null;
use crate::domain::metrics::{self, Metrics};
use crate::domain::money::{self, Currency};
use crate::domain::pruning::{self, PruneAction, Reason, Rules, Verdict};
use crate::domain::time::{self, rfc3339};
use crate::domain::window::Window;
use crate::store::prune_log::LogRow;
use crate::store::{self};

fn decimal_value(checks: &mut Checks, field: &str, v: &Option<serde_json::Value>) -> Option<f64> {
    let v = v.as_ref()?;
    let parsed = match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match parsed.filter(|x| x.is_finite() && x.abs() < 1e12) {
        Some(x) => Some(x),
        None => {
            checks.fail(field, "must be a decimal number");
            None
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesInput {
    #[serde(default, deserialize_with = "non_null")]
    pub min_roi: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "non_null")]
    pub min_net_revenue: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "non_null")]
    pub min_conversions: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "non_null")]
    pub min_conversion_rate: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "non_null")]
    pub bottom_percent: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "non_null")]
    pub min_clicks_for_judgement: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub rank_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneInput {
    pub rules: RulesInput,
    /// Default true: applying is never the default.
    #[serde(default, deserialize_with = "non_null")]
    pub dry_run: Option<bool>,
    #[serde(default, deserialize_with = "non_null")]
    pub model: Option<String>,
}

/// The rules as given, checked.
pub fn parse_rules(checks: &mut Checks, r: &RulesInput) -> Rules {
    let min_roi = decimal_value(checks, "rules.min_roi", &r.min_roi);
    let min_net_revenue = r.min_net_revenue.as_ref().and_then(|v| {
        let text = match v {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let negative = text.trim().starts_with('-');
        checks
            .take(money::parse_amount(
                "rules.min_net_revenue",
                text.trim().trim_start_matches('-'),
            ))
            .map(|m| if negative { -m } else { m })
    });
    let min_conversions = decimal_value(checks, "rules.min_conversions", &r.min_conversions)
        .map(|x| (x * money::MICROS as f64).round() as i64);
    let min_conversion_rate =
        decimal_value(checks, "rules.min_conversion_rate", &r.min_conversion_rate);
    if min_conversion_rate.is_some_and(|x| !(0.0..=1.0).contains(&x)) {
        checks.fail("rules.min_conversion_rate", "must be between 0 and 1");
    }
    let bottom_percent = decimal_value(checks, "rules.bottom_percent", &r.bottom_percent);
    if bottom_percent.is_some_and(|x| !(0.0..=100.0).contains(&x)) {
        checks.fail("rules.bottom_percent", "must be between 0 and 100");
    }
    let min_clicks = r.min_clicks_for_judgement.unwrap_or(0);
    if min_clicks < 0 {
        checks.fail("rules.min_clicks_for_judgement", "must not be negative");
    }
    let rank_by = reporting::parse_sort(checks, "rules.rank_by", r.rank_by.as_deref());
    let rules = Rules {
        min_roi,
        min_net_revenue,
        min_conversions,
        min_conversion_rate,
        bottom_percent,
        min_clicks_for_judgement: min_clicks,
        rank_by,
    };
    if rules.min_roi.is_none()
        && rules.min_net_revenue.is_none()
        && rules.min_conversions.is_none()
        && rules.min_conversion_rate.is_none()
        && rules.bottom_percent.is_none()
    {
        checks.fail("rules", "at least one rule is needed");
    }
    rules
}

fn rules_json(r: &Rules, currency: Currency) -> serde_json::Value {
    serde_json::json!({
        "min_roi": r.min_roi,
        "min_net_revenue": r.min_net_revenue.map(|m| money::format_amount(m, currency)),
        "min_conversions": r.min_conversions.map(money::format_rate),
        "min_conversion_rate": r.min_conversion_rate,
        "bottom_percent": r.bottom_percent,
        "min_clicks_for_judgement": r.min_clicks_for_judgement,
        "rank_by": r.rank_by,
    })
}

#[derive(Debug, Serialize, Clone)]
pub struct Figures {
    pub clicks: i64,
    pub unique_clicks: i64,
    pub conversions: f64,
    pub net_revenue: String,
    pub cost: String,
    pub roi: Option<f64>,
    pub conversion_rate: Option<f64>,
    pub conversion_rate_lower_bound: Option<f64>,
}

impl From<&Metrics> for Figures {
    fn from(m: &Metrics) -> Self {
        Self {
            clicks: m.clicks,
            unique_clicks: m.unique_clicks,
            conversions: m.conversions,
            net_revenue: m.net_revenue.clone(),
            cost: m.cost.clone(),
            roi: m.roi,
            conversion_rate: m.conversion_rate,
            conversion_rate_lower_bound: m.conversion_rate_lower_bound,
        }
    }
}

#[derive(Debug, Serialize, Clone)]
pub struct Judged {
    pub enrollment_id: EnrollmentId,
    pub influencer_id: InfluencerId,
    pub handle: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    pub figures: Figures,
}

#[derive(Debug, Serialize)]
pub struct PruneResult {
    pub campaign_id: CampaignId,
    pub dry_run: bool,
    pub model: Model,
    pub rules: serde_json::Value,
    pub pruned: Vec<Judged>,
    pub kept: Vec<Judged>,
    pub insufficient_data: Vec<Judged>,
    /// Enrollments pruned before (not judged again).
    pub already_pruned: Vec<EnrollmentId>,
    /// The audit entry written (none for a dry run or when nothing changed).
    pub log_id: Option<PruneLogId>,
}

/// What a prune asks for, checked.
pub struct Request {
    pub rules: Rules,
    pub model: Option<Model>,
    pub dry_run: bool,
}

impl Request {
    pub fn parse(input: &PruneInput) -> LoopResult<Self> {
        let mut checks = Checks::default();
        let rules = parse_rules(&mut checks, &input.rules);
        let model = reporting::parse_model(&mut checks, input.model.as_deref());
        checks.finish()?;
        Ok(Self {
            rules,
            model,
            dry_run: input.dry_run.unwrap_or(true),
        })
    }
}

/// Judges the campaign's enrollments and, unless it is a dry run, prunes the failures.
pub fn prune(
    conn: &mut AnyConnection,
    key: &BrandKey,
    campaign_id: &CampaignId,
    request: &Request,
) -> LoopResult<Written<PruneResult>> {
    let result = judge(
        conn,
        &Reader::brand(key.brand_id.clone()),
        campaign_id,
        request,
    )?;
    if request.dry_run || result.pruned.is_empty() {
        return Ok(Written::new(result, vec![]));
    }
    apply(conn, key, result)
}

/// The verdicts: every enrollment is judged, the pruned too, so that a share rule
/// (`bottom_percent`) is taken over the same population each time and re-applying changes
/// nothing; the ones pruned before are only listed. Nothing is written (the dashboard's
/// keep / watch / drop column is this, for any reader of the brand).
pub fn judge(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
    request: &Request,
) -> LoopResult<PruneResult> {
    let reader = Reader::brand(reader.brand_id.clone());
    let (campaign, all) = reporting::load_campaign(conn, &reader, campaign_id)?;
    let currency = campaign.currency;
    let already: Vec<EnrollmentId> = all
        .iter()
        .filter(|e| e.status == EnrollmentStatus::Pruned)
        .map(|e| e.id.clone())
        .collect();
    let rows = reporting::rows(conn, &campaign, all, request.model, Window::all())?;
    let figures: Vec<(metrics::Sums, Metrics)> = rows
        .iter()
        .map(|r| (r.sums, metrics::compute(&r.sums, currency)))
        .collect();
    let verdicts = pruning::judge(&request.rules, &figures, currency);
    let mut result = PruneResult {
        campaign_id: campaign.id.clone(),
        dry_run: request.dry_run,
        model: request.model.unwrap_or(campaign.attribution_model),
        rules: rules_json(&request.rules, currency),
        pruned: vec![],
        kept: vec![],
        insufficient_data: vec![],
        already_pruned: already,
        log_id: None,
    };
    for ((row, (_, m)), verdict) in rows.iter().zip(&figures).zip(verdicts) {
        if row.enrollment.status == EnrollmentStatus::Pruned {
            continue;
        }
        let judged = |reasons: Vec<Reason>, why: Option<String>| Judged {
            enrollment_id: row.enrollment.id.clone(),
            influencer_id: row.enrollment.influencer_id.clone(),
            handle: row.handle.clone(),
            reasons,
            why,
            figures: Figures::from(m),
        };
        match verdict {
            Verdict::Pruned(reasons) => result.pruned.push(judged(reasons, None)),
            Verdict::Kept => result.kept.push(judged(vec![], None)),
            Verdict::InsufficientData(why) => {
                result.insufficient_data.push(judged(vec![], Some(why)))
            }
        }
    }
    Ok(result)
}

/// Prunes the failures and logs what changed. Only what this call changes is pruned and
/// logged (a concurrent apply may have taken some already).
fn apply(
    conn: &mut AnyConnection,
    key: &BrandKey,
    mut result: PruneResult,
) -> LoopResult<Written<PruneResult>> {
    let now = now_micros();
    let log_id = PruneLogId::new();
    let candidates = std::mem::take(&mut result.pruned);
    let applied = crate::db::write_transaction(conn, |conn| {
        let mut applied = Vec::new();
        for j in candidates {
            if store::enrollments::change_status(
                conn,
                &j.enrollment_id,
                EnrollmentStatus::Active,
                EnrollmentStatus::Pruned,
                now,
            )? {
                crate::core::shop_sync::enrollment_changed(conn, &key.brand_id, &j.enrollment_id)?;
                applied.push(j);
            }
        }
        if !applied.is_empty() {
            store::prune_log::insert(
                conn,
                &LogRow {
                    id: log_id.clone(),
                    brand_id: key.brand_id.clone(),
                    campaign_id: result.campaign_id.clone(),
                    action: PruneAction::Prune,
                    key_id: key.key_id.clone(),
                    at: now,
                    model: Some(result.model),
                    rules: result.rules.to_string(),
                    entries: serde_json::to_string(&applied).unwrap_or_default(),
                },
            )?;
        }
        for j in &applied {
            crate::core::hooks::emit(conn, &key.brand_id, EventType::EnrollmentPruned, |_| {
                Ok::<_, LoopError>(serde_json::json!({
                    "campaign_id": result.campaign_id,
                    "log_id": log_id,
                    "model": result.model,
                    "enrollment": j,
                }))
            })?;
        }
        Ok::<_, LoopError>(applied)
    })?;
    let changed = applied
        .iter()
        .map(|j| Change::Enrollment(j.enrollment_id.clone()))
        .collect();
    if !applied.is_empty() {
        result.log_id = Some(log_id);
    }
    result.pruned = applied;
    Ok(Written::new(result, changed))
}

#[derive(Debug, Serialize)]
pub struct Reinstated {
    pub enrollment_id: EnrollmentId,
    pub influencer_id: InfluencerId,
    pub status: EnrollmentStatus,
    pub log_id: PruneLogId,
}

/// Undoes a prune: the enrollment is active again, logged.
pub fn reinstate(
    conn: &mut AnyConnection,
    key: &BrandKey,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
) -> LoopResult<Written<Reinstated>> {
    let campaign =
        store::campaigns::find(conn, &key.brand_id, campaign_id)?.ok_or(LoopError::NotFound)?;
    let enrollment =
        store::enrollments::find(conn, &campaign.id, influencer_id)?.ok_or(LoopError::NotFound)?;
    if enrollment.status != EnrollmentStatus::Pruned {
        return Err(LoopError::NotPruned(enrollment.status));
    }
    let now = now_micros();
    let log = LogRow {
        id: PruneLogId::new(),
        brand_id: campaign.brand_id.clone(),
        campaign_id: campaign.id.clone(),
        action: PruneAction::Reinstate,
        key_id: key.key_id.clone(),
        at: now,
        model: None,
        rules: "{}".into(),
        entries: serde_json::json!([{
            "enrollment_id": enrollment.id,
            "influencer_id": enrollment.influencer_id,
            "pruned_at": enrollment.pruned_at.map(time::rfc3339),
        }])
        .to_string(),
    };
    crate::db::write_transaction(conn, |conn| {
        if !store::enrollments::change_status(
            conn,
            &enrollment.id,
            EnrollmentStatus::Pruned,
            EnrollmentStatus::Active,
            now,
        )? {
            return Err(LoopError::ReinstatedMeanwhile);
        }
        store::prune_log::insert(conn, &log)?;
        crate::core::shop_sync::enrollment_changed(conn, &key.brand_id, &enrollment.id)?;
        crate::core::hooks::emit(conn, &key.brand_id, EventType::EnrollmentReinstated, |_| {
            Ok::<_, LoopError>(serde_json::json!({
                "campaign_id": campaign.id,
                "enrollment_id": enrollment.id,
                "influencer_id": enrollment.influencer_id,
                "log_id": log.id,
                "pruned_at": enrollment.pruned_at.map(time::rfc3339),
            }))
        })?;
        Ok(())
    })?;
    Ok(Written::new(
        Reinstated {
            enrollment_id: enrollment.id.clone(),
            influencer_id: enrollment.influencer_id,
            status: EnrollmentStatus::Active,
            log_id: log.id,
        },
        vec![Change::Enrollment(enrollment.id)],
    ))
}

#[derive(Debug, Serialize)]
pub struct LogView {
    pub id: PruneLogId,
    pub action: PruneAction,
    pub key_id: KeyId,
    pub at: String,
    pub model: Option<Model>,
    pub rules: serde_json::Value,
    pub entries: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct LogList {
    pub items: Vec<LogView>,
}

/// A campaign's prune log, newest first.
pub fn log(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
) -> LoopResult<LogList> {
    store::campaigns::find(conn, &reader.brand_id, campaign_id)?.ok_or(LoopError::NotFound)?;
    let rows = store::prune_log::of_campaign(conn, campaign_id)?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        let json = |column: &'static str, text: &str| {
            serde_json::from_str(text).map_err(|e| CorruptRow {
                table: "prune_log",
                row: r.id.to_string(),
                column,
                problem: e.to_string(),
            })
        };
        items.push(LogView {
            rules: json("rules", &r.rules).map_err(DbError::corrupt)?,
            entries: json("entries", &r.entries).map_err(DbError::corrupt)?,
            id: r.id,
            action: r.action,
            key_id: r.key_id,
            at: rfc3339(r.at),
            model: r.model,
        });
    }
    Ok(LogList { items })
}
