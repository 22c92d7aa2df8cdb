//! Pruning the weak and reinstating them, with an audit log.

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api::campaigns::currency_of;
use crate::api::extract::{path_id, Checks, Json};
use crate::api::reports::{self, Reader, Window};
use crate::api::views;
use crate::auth::Principal;
use crate::db::schema::{enrollments, prune_log};
use crate::domain::campaign::Model;
use crate::domain::metrics::{self, SORTABLE};
use crate::domain::money;
use crate::domain::pruning::{self, Reason, Rules, Verdict};
use crate::domain::scope::Access;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

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
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub min_roi: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub min_net_revenue: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub min_conversions: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub min_conversion_rate: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub bottom_percent: Option<serde_json::Value>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub min_clicks_for_judgement: Option<i64>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub rank_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PruneInput {
    pub rules: RulesInput,
    /// Default true: applying is never the default.
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub dry_run: Option<bool>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub model: Option<String>,
}

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
    let rank_by = r.rank_by.clone().unwrap_or_else(|| "net_revenue".into());
    if !SORTABLE.contains(&rank_by.as_str()) {
        checks.fail(
            "rules.rank_by",
            format!("must be one of {}", SORTABLE.join(", ")),
        );
    }
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

fn rules_json(r: &Rules, currency: money::Currency) -> serde_json::Value {
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

#[derive(Debug, Serialize, Clone)]
pub struct Judged {
    pub enrollment_id: String,
    pub influencer_id: String,
    pub handle: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    pub figures: Figures,
}

#[derive(Debug, Serialize)]
pub struct PruneResult {
    pub campaign_id: String,
    pub dry_run: bool,
    pub model: &'static str,
    pub rules: serde_json::Value,
    pub pruned: Vec<Judged>,
    pub kept: Vec<Judged>,
    pub insufficient_data: Vec<Judged>,
    /// Enrollments pruned before (not judged again).
    pub already_pruned: Vec<String>,
    /// The audit entry written (none for a dry run or when nothing changed).
    pub log_id: Option<String>,
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = prune_log, treat_none_as_default_value = false)]
pub struct LogRow {
    pub id: String,
    pub brand_id: String,
    pub campaign_id: String,
    pub action: String,
    pub key_id: String,
    pub at: i64,
    pub model: Option<String>,
    pub rules: String,
    pub entries: String,
}

/// Judges the campaign's enrollments and, unless `dry_run`, prunes the failures; returns the
/// verdicts and the enrollments changed (whose links must leave the redirect cache).
pub fn run(
    conn: &mut crate::db::AnyConnection,
    key: &crate::auth::BrandKey,
    campaign_id: &str,
    rules: &Rules,
    model: Option<Model>,
    dry_run: bool,
) -> ApiResult<(PruneResult, Vec<String>)> {
    let reader = Reader {
        brand_id: key.brand_id.clone(),
        influencer_id: None,
    };
    let (campaign, all) = reports::load_campaign(conn, &reader, campaign_id)?;
    let currency = currency_of(&campaign);
    let model_name = model
        .unwrap_or_else(|| Model::parse(&campaign.attribution_model).unwrap_or(Model::LastClick))
        .as_str();
    let already: Vec<String> = all
        .iter()
        .filter(|e| e.status == "pruned")
        .map(|e| e.id.clone())
        .collect();
    // Everyone is judged, the pruned too, so that a share rule (`bottom_percent`) is
    // taken over the same population each time and re-applying changes nothing.
    let rows = reports::rows(conn, &campaign, all, model, Window::all())?;
    let figures: Vec<(metrics::Sums, metrics::Metrics)> = rows
        .iter()
        .map(|r| (r.sums, metrics::compute(&r.sums, currency)))
        .collect();
    let verdicts = pruning::judge(rules, &figures, currency);
    let mut result = PruneResult {
        campaign_id: campaign.id.clone(),
        dry_run,
        model: model_name,
        rules: rules_json(rules, currency),
        pruned: vec![],
        kept: vec![],
        insufficient_data: vec![],
        already_pruned: already,
        log_id: None,
    };
    for ((row, (_, m)), verdict) in rows.iter().zip(&figures).zip(verdicts) {
        let judged = |reasons: Vec<Reason>, why: Option<String>| Judged {
            enrollment_id: row.enrollment.id.clone(),
            influencer_id: row.enrollment.influencer_id.clone(),
            handle: row.handle.clone(),
            reasons,
            why,
            figures: Figures {
                clicks: m.clicks,
                unique_clicks: m.unique_clicks,
                conversions: m.conversions,
                net_revenue: m.net_revenue.clone(),
                cost: m.cost.clone(),
                roi: m.roi,
                conversion_rate: m.conversion_rate,
                conversion_rate_lower_bound: m.conversion_rate_lower_bound,
            },
        };
        if row.enrollment.status == "pruned" {
            continue;
        }
        match verdict {
            Verdict::Pruned(reasons) => result.pruned.push(judged(reasons, None)),
            Verdict::Kept => result.kept.push(judged(vec![], None)),
            Verdict::InsufficientData(why) => {
                result.insufficient_data.push(judged(vec![], Some(why)))
            }
        }
    }
    let mut changed: Vec<String> = Vec::new();
    if !dry_run && !result.pruned.is_empty() {
        let now = crate::db::now_micros();
        let log_id = uuid::Uuid::now_v7().to_string();
        let candidates: Vec<Judged> = result.pruned.clone();
        let applied = crate::db::write_transaction::<_, ApiError, _>(conn, |conn| {
            // Only what this call changes is pruned and logged (a concurrent apply
            // may have taken some already).
            let mut applied = Vec::new();
            for j in candidates {
                let n = diesel::update(
                    enrollments::table
                        .filter(enrollments::id.eq(&j.enrollment_id))
                        .filter(enrollments::status.eq("active")),
                )
                .set((
                    enrollments::status.eq("pruned"),
                    enrollments::pruned_at.eq(Some(now)),
                ))
                .execute(conn)?;
                if n == 1 {
                    applied.push(j);
                }
            }
            if !applied.is_empty() {
                let log = LogRow {
                    id: log_id.clone(),
                    brand_id: campaign.brand_id.clone(),
                    campaign_id: campaign.id.clone(),
                    action: "prune".into(),
                    key_id: key.key_id.clone(),
                    at: now,
                    model: Some(model_name.to_string()),
                    rules: result.rules.to_string(),
                    entries: serde_json::to_string(&applied).unwrap_or_default(),
                };
                diesel::insert_into(prune_log::table)
                    .values(&log)
                    .execute(conn)?;
            }
            Ok(applied)
        })?;
        changed = applied.iter().map(|j| j.enrollment_id.clone()).collect();
        if !applied.is_empty() {
            result.log_id = Some(log_id);
        }
        result.pruned = applied;
    }
    Ok((result, changed))
}

/// `POST /api/v1/campaigns/{campaign_id}/prune`
pub async fn prune(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<PruneInput>,
) -> ApiResult<HttpResponse> {
    let key = principal.brand(Access::Write)?.clone();
    let campaign_id = path_id(&path)?;
    let req = body.0;
    let mut checks = Checks::default();
    let rules = parse_rules(&mut checks, &req.rules);
    let model = reports::parse_model(&mut checks, req.model.as_deref());
    checks.finish()?;
    let dry_run = req.dry_run.unwrap_or(true);
    let (result, changed) = state
        .db(move |conn| run(conn, &key, &campaign_id, &rules, model, dry_run))
        .await?;
    invalidate_soon(&state, changed);
    Ok(HttpResponse::Ok().json(result))
}

/// Drops the enrollments' links from the redirect cache now, and again a moment later: a
/// redirect that loaded a link just before the change committed may have put the old state
/// back meanwhile.
pub fn invalidate_soon(state: &web::Data<AppState>, enrollment_ids: Vec<String>) {
    if enrollment_ids.is_empty() {
        return;
    }
    for id in &enrollment_ids {
        state.tracking.cache.invalidate_enrollment(id);
    }
    let state = state.clone();
    actix_web::rt::spawn(async move {
        actix_web::rt::time::sleep(std::time::Duration::from_secs(1)).await;
        for id in &enrollment_ids {
            state.tracking.cache.invalidate_enrollment(id);
        }
    });
}

#[derive(Debug, Serialize)]
pub struct Reinstated {
    pub enrollment_id: String,
    pub influencer_id: String,
    pub status: String,
    pub log_id: String,
}

/// `POST /api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/reinstate`
pub async fn reinstate(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let key = principal.brand(Access::Write)?.clone();
    let campaign_id = path_id(&path.0)?;
    let influencer_id = path_id(&path.1)?;
    let view = state
        .db(move |conn| {
            let campaign = crate::store::campaigns::find(conn, &key.brand_id, &campaign_id)?
                .ok_or_else(ApiError::not_found)?;
            let enrollment = crate::store::enrollments::find(conn, &campaign.id, &influencer_id)?
                .ok_or_else(ApiError::not_found)?;
            if enrollment.status != "pruned" {
                return Err(ApiError::Conflict(format!(
                    "the enrollment is {}, not pruned",
                    enrollment.status
                )));
            }
            let log = LogRow {
                id: uuid::Uuid::now_v7().to_string(),
                brand_id: campaign.brand_id.clone(),
                campaign_id: campaign.id.clone(),
                action: "reinstate".into(),
                key_id: key.key_id.clone(),
                at: crate::db::now_micros(),
                model: None,
                rules: "{}".into(),
                entries: serde_json::json!([{
                    "enrollment_id": enrollment.id,
                    "influencer_id": enrollment.influencer_id,
                    "pruned_at": views::opt_time(enrollment.pruned_at),
                }])
                .to_string(),
            };
            crate::db::write_transaction::<_, ApiError, _>(conn, |conn| {
                let n = diesel::update(
                    enrollments::table
                        .filter(enrollments::id.eq(&enrollment.id))
                        .filter(enrollments::status.eq("pruned")),
                )
                .set((
                    enrollments::status.eq("active"),
                    enrollments::pruned_at.eq(None::<i64>),
                ))
                .execute(conn)?;
                if n == 0 {
                    return Err(ApiError::Conflict(
                        "the enrollment was reinstated meanwhile".into(),
                    ));
                }
                diesel::insert_into(prune_log::table)
                    .values(&log)
                    .execute(conn)?;
                Ok(())
            })?;
            Ok(Reinstated {
                enrollment_id: enrollment.id,
                influencer_id: enrollment.influencer_id,
                status: "active".into(),
                log_id: log.id,
            })
        })
        .await?;
    invalidate_soon(&state, vec![view.enrollment_id.clone()]);
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Serialize)]
pub struct LogView {
    pub id: String,
    pub action: String,
    pub key_id: String,
    pub at: String,
    pub model: Option<String>,
    pub rules: serde_json::Value,
    pub entries: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct LogList {
    pub items: Vec<LogView>,
}

/// `GET /api/v1/campaigns/{campaign_id}/prune-log`: newest first.
pub async fn prune_log(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let campaign_id = path_id(&path)?;
    let items = state
        .db(move |conn| {
            crate::store::campaigns::find(conn, &brand_id, &campaign_id)?
                .ok_or_else(ApiError::not_found)?;
            let rows: Vec<LogRow> = prune_log::table
                .filter(prune_log::campaign_id.eq(&campaign_id))
                .order((prune_log::at.desc(), prune_log::id.desc()))
                .select(LogRow::as_select())
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|r| LogView {
                    id: r.id,
                    action: r.action,
                    key_id: r.key_id,
                    at: views::time(r.at),
                    model: r.model,
                    rules: serde_json::from_str(&r.rules).unwrap_or_default(),
                    entries: serde_json::from_str(&r.entries).unwrap_or_default(),
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(LogList { items }))
}
