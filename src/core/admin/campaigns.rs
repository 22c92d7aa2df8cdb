//! Campaigns of a brand.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::admin::{AdminError, AdminResult, Conflict, Page};
use crate::core::{now_micros, Change, Written};
use crate::db::AnyConnection;
use crate::domain::campaign::{self, CampaignStatus, CostAllocation, GoalMetric, Model};
use crate::domain::field::{Checks, FieldError};
use crate::domain::goals::goal_text;
use crate::domain::ids::{BrandId, CampaignId};
use crate::domain::json::{non_null, nullable};
use crate::domain::leads::{self, LeadBands};
use crate::domain::money::{self, Currency};
use crate::domain::text;
use crate::domain::time::{self, rfc3339};
use crate::domain::urls::Destination;
use crate::store::campaigns::{self as store, CampaignRow, CampaignUpdate};

/// A goal: a metric and a positive target (a decimal string or a number).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalInput {
    pub metric: GoalMetric,
    pub target: serde_json::Value,
}

impl GoalInput {
    /// `(metric, target in micro-units)`.
    pub fn parse(&self, field: &str) -> Result<(GoalMetric, i64), FieldError> {
        let target = money::parse_positive_value(&format!("{field}.target"), &self.target)?;
        Ok((self.metric, target))
    }
}

#[derive(Debug, Serialize)]
pub struct GoalView {
    pub metric: GoalMetric,
    pub target: String,
}

/// A goal as shown: net revenue in money, counts as plain decimals.
pub fn goal_view(
    metric: Option<GoalMetric>,
    target: Option<i64>,
    currency: Currency,
) -> Option<GoalView> {
    let (metric, target) = (metric?, target?);
    Some(GoalView {
        metric,
        target: goal_text(metric, target, currency),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionInput {
    #[serde(default, deserialize_with = "non_null")]
    pub model: Option<Model>,
    #[serde(default, deserialize_with = "non_null")]
    pub window_days: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub code_priority: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCampaign {
    pub name: String,
    #[serde(default, deserialize_with = "non_null")]
    pub slug: Option<String>,
    pub destination_url: String,
    pub currency: String,
    #[serde(default, deserialize_with = "non_null")]
    pub budget: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "non_null")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "non_null")]
    pub status: Option<CampaignStatus>,
    #[serde(default, deserialize_with = "non_null")]
    pub goal: Option<GoalInput>,
    #[serde(default, deserialize_with = "non_null")]
    pub attribution: Option<AttributionInput>,
    #[serde(default, deserialize_with = "non_null")]
    pub holding_days: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub links_apply_code: Option<bool>,
    #[serde(default, deserialize_with = "non_null")]
    pub identity_window_days: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub lead_bands: Option<LeadBandsInput>,
    #[serde(default, deserialize_with = "non_null")]
    pub event_values: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "non_null")]
    pub cost_allocation: Option<CostAllocation>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCampaign {
    #[serde(default, deserialize_with = "non_null")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub slug: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub destination_url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub budget: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub starts_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "nullable")]
    pub ends_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "non_null")]
    pub status: Option<CampaignStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub goal: Option<Option<GoalInput>>,
    #[serde(default, deserialize_with = "non_null")]
    pub attribution: Option<AttributionInput>,
    #[serde(default, deserialize_with = "non_null")]
    pub holding_days: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub links_apply_code: Option<bool>,
    #[serde(default, deserialize_with = "non_null")]
    pub identity_window_days: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub lead_bands: Option<LeadBandsInput>,
    #[serde(default, deserialize_with = "non_null")]
    pub event_values: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, deserialize_with = "non_null")]
    pub cost_allocation: Option<CostAllocation>,
}

/// Score thresholds of the lead bands.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadBandsInput {
    pub medium: i64,
    pub fast: i64,
}

/// The lead settings of a campaign, checked: (identity window, bands, event values as stored).
struct LeadSettings {
    identity_window_days: Option<i32>,
    bands: Option<LeadBands>,
    event_values: Option<String>,
}

fn lead_settings(
    checks: &mut Checks,
    currency: Option<Currency>,
    window: Option<i64>,
    bands: Option<&LeadBandsInput>,
    values: Option<&serde_json::Map<String, serde_json::Value>>,
) -> LeadSettings {
    LeadSettings {
        identity_window_days: window.and_then(|d| {
            checks.take(campaign::check_identity_window_days(
                "identity_window_days",
                d,
            ))
        }),
        bands: bands.and_then(|b| checks.take(LeadBands::check(b.medium, b.fast))),
        event_values: match (values, currency) {
            (Some(v), Some(c)) => checks
                .take(leads::parse_event_values(v, c))
                .map(|v| leads::store_event_values(&v)),
            _ => None,
        },
    }
}

#[derive(Debug, Serialize)]
pub struct AttributionView {
    pub model: Model,
    pub window_days: i32,
    pub code_priority: bool,
}

#[derive(Debug, Serialize)]
pub struct CampaignView {
    pub id: CampaignId,
    pub name: String,
    pub slug: String,
    pub destination_url: String,
    pub currency: String,
    pub budget: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub status: CampaignStatus,
    pub goal: Option<GoalView>,
    pub attribution: AttributionView,
    pub holding_days: i32,
    /// New links apply their enrollment's discount code in the shop by default.
    pub links_apply_code: bool,
    pub identity_window_days: i32,
    pub lead_bands: LeadBands,
    pub event_values: std::collections::BTreeMap<String, String>,
    pub cost_allocation: CostAllocation,
    pub created_at: String,
    pub updated_at: String,
}

impl From<CampaignRow> for CampaignView {
    fn from(row: CampaignRow) -> Self {
        let currency = row.currency;
        Self {
            goal: goal_view(row.goal_metric, row.goal_target_micros, currency),
            budget: row.budget_micros.map(|b| money::format_amount(b, currency)),
            starts_at: row.starts_at.map(time::rfc3339),
            ends_at: row.ends_at.map(time::rfc3339),
            attribution: AttributionView {
                model: row.attribution_model,
                window_days: row.window_days,
                code_priority: row.code_priority,
            },
            id: row.id,
            name: row.name,
            slug: row.slug,
            destination_url: row.destination_url,
            currency: currency.code().to_string(),
            status: row.status,
            holding_days: row.holding_days,
            links_apply_code: row.links_apply_code,
            identity_window_days: row.identity_window_days,
            lead_bands: LeadBands {
                medium: row.lead_band_medium,
                fast: row.lead_band_fast,
            },
            event_values: leads::event_values_view(
                &leads::stored_event_values(&row.event_values),
                currency,
            ),
            cost_allocation: row.cost_allocation,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

/// A campaign of the brand, or 404.
pub fn get(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &CampaignId,
) -> AdminResult<CampaignRow> {
    store::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)
}

/// A free slug derived from `base`: `base`, `base-2`, `base-3`…
pub fn free_slug(conn: &mut AnyConnection, brand_id: &BrandId, base: &str) -> AdminResult<String> {
    if !store::slug_taken(conn, brand_id, base)? {
        return Ok(base.to_string());
    }
    for n in 2..1000 {
        let candidate = format!("{base}-{n}");
        if !store::slug_taken(conn, brand_id, &candidate)? {
            return Ok(candidate);
        }
    }
    Ok(format!("{base}-{}", uuid::Uuid::now_v7().simple()))
}

fn check_dates(checks: &mut Checks, starts: Option<i64>, ends: Option<i64>) {
    if let (Some(s), Some(e)) = (starts, ends) {
        if e <= s {
            checks.fail("ends_at", "must be after starts_at");
        }
    }
}

/// Validated settings of a new campaign, and whether its slug was chosen (not derived).
fn new_campaign(brand_id: &BrandId, req: CreateCampaign) -> AdminResult<(CampaignRow, bool)> {
    let mut checks = Checks::default();
    let name = checks.take(text::required("name", &req.name, 200));
    let slug = req
        .slug
        .as_deref()
        .and_then(|s| checks.take(campaign::parse_slug("slug", s)));
    let destination = checks.take(Destination::parse("destination_url", &req.destination_url));
    let currency = checks.take(Currency::parse("currency", &req.currency));
    let budget = req
        .budget
        .as_deref()
        .and_then(|b| checks.take(money::parse_amount("budget", b)));
    let starts_at = req.starts_at.map(|t| t.timestamp_micros());
    let ends_at = req.ends_at.map(|t| t.timestamp_micros());
    check_dates(&mut checks, starts_at, ends_at);
    let goal = req.goal.as_ref().and_then(|g| checks.take(g.parse("goal")));
    let attribution = req.attribution.unwrap_or_default();
    let window_days = match attribution.window_days {
        Some(d) => checks.take(campaign::check_window_days("attribution.window_days", d)),
        None => Some(campaign::DEFAULT_WINDOW_DAYS),
    };
    let holding_days = match req.holding_days {
        Some(d) => checks.take(campaign::check_holding_days("holding_days", d)),
        None => Some(campaign::DEFAULT_HOLDING_DAYS),
    };
    let lead = lead_settings(
        &mut checks,
        currency,
        req.identity_window_days,
        req.lead_bands.as_ref(),
        req.event_values.as_ref(),
    );
    checks.finish()?;
    let bands = lead.bands.unwrap_or(leads::DEFAULT_BANDS);
    let (Some(name), Some(destination), Some(currency), Some(window_days), Some(holding_days)) =
        (name, destination, currency, window_days, holding_days)
    else {
        unreachable!("every failed check was reported");
    };
    let explicit_slug = slug.is_some();
    let now = now_micros();
    let row = CampaignRow {
        id: CampaignId::new(),
        brand_id: brand_id.clone(),
        slug: slug.unwrap_or_else(|| campaign::slugify(&name)),
        name,
        destination_url: destination.as_str().to_string(),
        currency,
        budget_micros: budget,
        starts_at,
        ends_at,
        status: req.status.unwrap_or(CampaignStatus::Active),
        goal_metric: goal.map(|g| g.0),
        goal_target_micros: goal.map(|g| g.1),
        attribution_model: attribution.model.unwrap_or(Model::LastClick),
        window_days,
        code_priority: attribution.code_priority.unwrap_or(true),
        holding_days,
        created_at: now,
        updated_at: now,
        links_apply_code: req.links_apply_code.unwrap_or(false),
        identity_window_days: lead
            .identity_window_days
            .unwrap_or(campaign::DEFAULT_IDENTITY_WINDOW_DAYS),
        lead_band_medium: bands.medium,
        lead_band_fast: bands.fast,
        event_values: lead.event_values.unwrap_or_else(|| "{}".into()),
        cost_allocation: req.cost_allocation.unwrap_or(CostAllocation::None),
    };
    Ok((row, explicit_slug))
}

/// Creates a campaign; a derived slug is made unique, a chosen one that clashes is a conflict.
pub fn create(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    input: CreateCampaign,
) -> AdminResult<CampaignRow> {
    let (row, explicit_slug) = new_campaign(brand_id, input)?;
    insert(conn, row, explicit_slug)
}

/// Inserts a new campaign; a derived slug is made unique, an explicit one that clashes is a
/// conflict.
pub fn insert(
    conn: &mut AnyConnection,
    mut row: CampaignRow,
    explicit_slug: bool,
) -> AdminResult<CampaignRow> {
    if explicit_slug {
        if store::slug_taken(conn, &row.brand_id, &row.slug)? {
            return Err(AdminError::Conflict(Conflict::SlugTaken));
        }
    } else {
        row.slug = free_slug(conn, &row.brand_id, &row.slug)?;
    }
    store::insert(conn, &row).map_err(AdminError::duplicate_is(Conflict::SlugTaken))?;
    Ok(row)
}

/// A page of the brand's campaigns (optionally of one status), oldest first.
pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    status: Option<CampaignStatus>,
    page: &Page,
) -> AdminResult<Vec<CampaignRow>> {
    Ok(store::list(
        conn,
        brand_id,
        status,
        page.after.as_deref(),
        page.fetch(),
    )?)
}

/// Changes any setting but the currency; status moves only along draft → active ⇄ paused →
/// ended.
pub fn update(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &CampaignId,
    req: UpdateCampaign,
) -> AdminResult<Written<CampaignRow>> {
    let current = get(conn, brand_id, id)?;
    let changes = changes(&current, req)?;
    if let Some(slug) = &changes.slug {
        if *slug != current.slug && store::slug_taken(conn, brand_id, slug)? {
            return Err(AdminError::Conflict(Conflict::SlugTaken));
        }
    }
    // What a shop's copy of the campaign's codes shows: their title, period and state.
    let codes_change = changes.name.is_some()
        || changes.starts_at.is_some()
        || changes.ends_at.is_some()
        || changes.status.is_some();
    crate::db::write_transaction(conn, |conn| {
        store::update(conn, id, &changes).map_err(AdminError::duplicate_is(Conflict::SlugTaken))?;
        if codes_change {
            crate::core::shop_sync::campaign_changed(conn, brand_id, id)?;
        }
        Ok::<_, AdminError>(())
    })?;
    let updated = get(conn, brand_id, id)?;
    Ok(Written::new(updated, vec![Change::Campaign(id.clone())]))
}

fn changes(current: &CampaignRow, req: UpdateCampaign) -> AdminResult<CampaignUpdate> {
    let mut checks = Checks::default();
    let mut changes = CampaignUpdate {
        updated_at: Some(now_micros()),
        ..Default::default()
    };
    changes.name = req
        .name
        .as_deref()
        .and_then(|n| checks.take(text::required("name", n, 200)));
    changes.slug = req
        .slug
        .as_deref()
        .and_then(|s| checks.take(campaign::parse_slug("slug", s)));
    changes.destination_url = req
        .destination_url
        .as_deref()
        .and_then(|d| checks.take(Destination::parse("destination_url", d)))
        .map(|d| d.as_str().to_string());
    changes.budget_micros = match req.budget {
        None => None,
        Some(None) => Some(None),
        Some(Some(b)) => checks.take(money::parse_amount("budget", &b)).map(Some),
    };
    changes.starts_at = req.starts_at.map(|t| t.map(|t| t.timestamp_micros()));
    changes.ends_at = req.ends_at.map(|t| t.map(|t| t.timestamp_micros()));
    check_dates(
        &mut checks,
        changes.starts_at.unwrap_or(current.starts_at),
        changes.ends_at.unwrap_or(current.ends_at),
    );
    if let Some(next) = req.status {
        let now = current.status;
        if now.can_become(next) {
            changes.status = Some(next);
        } else {
            checks.fail(
                "status",
                format!("cannot change from {} to {}", now.as_str(), next.as_str()),
            );
        }
    }
    match req.goal {
        None => {}
        Some(None) => {
            changes.goal_metric = Some(None);
            changes.goal_target_micros = Some(None);
        }
        Some(Some(goal)) => {
            if let Some((metric, target)) = checks.take(goal.parse("goal")) {
                changes.goal_metric = Some(Some(metric));
                changes.goal_target_micros = Some(Some(target));
            }
        }
    }
    if let Some(a) = req.attribution {
        changes.attribution_model = a.model;
        changes.window_days = a
            .window_days
            .and_then(|d| checks.take(campaign::check_window_days("attribution.window_days", d)));
        changes.code_priority = a.code_priority;
    }
    changes.holding_days = req
        .holding_days
        .and_then(|d| checks.take(campaign::check_holding_days("holding_days", d)));
    changes.links_apply_code = req.links_apply_code;
    let lead = lead_settings(
        &mut checks,
        Some(current.currency),
        req.identity_window_days,
        req.lead_bands.as_ref(),
        req.event_values.as_ref(),
    );
    changes.identity_window_days = lead.identity_window_days;
    changes.lead_band_medium = lead.bands.map(|b| b.medium);
    changes.lead_band_fast = lead.bands.map(|b| b.fast);
    changes.event_values = lead.event_values;
    changes.cost_allocation = req.cost_allocation;
    checks.finish()?;
    Ok(changes)
}
