//! The costs of a campaign besides fees and commissions: product sent, shipping, content,
//! paid amplification, agency, tools. Converted into the campaign's currency with the brand's
//! rates, like orders.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::admin::{campaign_of, AdminError, AdminResult, Page};
use crate::core::ingest::IngestError;
use crate::core::now_micros;
use crate::db::AnyConnection;
use crate::domain::campaign::CostKind;
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::{BrandId, CampaignId, CostId, EnrollmentId, InfluencerId};
use crate::domain::json::{non_null, nullable};
use crate::domain::money::{self, Currency};
use crate::domain::orders::parse_money;
use crate::domain::time::rfc3339;
use crate::store::campaigns::CampaignRow;
use crate::store::costs::CostRow;
use crate::store::{self};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostInput {
    pub kind: CostKind,
    #[serde(deserialize_with = "crate::domain::json::decimal_text")]
    pub amount: String,
    #[serde(default, deserialize_with = "non_null")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub influencer_id: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub post_url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub note: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub incurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostUpdate {
    #[serde(default, deserialize_with = "non_null")]
    pub kind: Option<CostKind>,
    #[serde(
        default,
        deserialize_with = "crate::domain::json::optional_decimal_text"
    )]
    pub amount: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub influencer_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub post_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub note: Option<Option<String>>,
    #[serde(default, deserialize_with = "non_null")]
    pub incurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct CostView {
    pub id: CostId,
    pub campaign_id: CampaignId,
    pub kind: CostKind,
    /// In the campaign's currency.
    pub amount: String,
    pub currency: String,
    pub original_amount: String,
    pub original_currency: String,
    pub influencer_id: Option<InfluencerId>,
    pub post_url: Option<String>,
    pub note: Option<String>,
    pub incurred_at: String,
    pub created_at: String,
    pub updated_at: String,
}

impl CostView {
    pub fn of(row: CostRow, currency: Currency) -> Self {
        Self {
            amount: money::format_amount(row.amount_micros, currency),
            currency: currency.code().to_string(),
            original_amount: money::format_amount(row.original_micros, row.original_currency),
            original_currency: row.original_currency.code().to_string(),
            id: row.id,
            campaign_id: row.campaign_id,
            kind: row.kind,
            influencer_id: row.influencer_id,
            post_url: row.post_url,
            note: row.note,
            incurred_at: rfc3339(row.incurred_at),
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
        }
    }
}

/// What a cost says, before it is checked against the brand's data.
struct Fields {
    kind: CostKind,
    amount: String,
    currency: Option<String>,
    influencer_id: Option<String>,
    post_url: Option<String>,
    note: Option<String>,
    incurred_at: i64,
    /// An edit that leaves the amount and currency: the amount as converted then (a rate
    /// changed since does not move a recorded cost).
    kept_amount: Option<(i64, i64, Currency)>,
    /// An edit that leaves the influencer: who it was for, unchecked (a since-deleted
    /// influencer keeps its costs).
    kept_for: Option<(Option<InfluencerId>, Option<EnrollmentId>)>,
}

/// Checks a cost and resolves it into a row (its id and creation time from `base`).
fn row_of(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    f: Fields,
    id: CostId,
    created_at: i64,
) -> AdminResult<CostRow> {
    let mut checks = Checks::default();
    let currency = match (f.kept_amount, f.currency.as_deref()) {
        (Some((_, _, c)), _) => Some(c),
        (None, Some(c)) => checks.take(Currency::parse("currency", c)),
        (None, None) => Some(campaign.currency),
    };
    let original = currency.and_then(|c| {
        checks.take(parse_money("amount", &f.amount, c).and_then(|m| {
            if m == 0 {
                Err(FieldError::new("amount", "must be greater than zero"))
            } else {
                Ok(m)
            }
        }))
    });
    let post_url = f.post_url.as_deref().map(str::trim).and_then(|u| {
        let ok = u.len() <= 2048
            && url::Url::parse(u)
                .is_ok_and(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some());
        if ok {
            Some(u.to_string())
        } else {
            checks.fail(
                "post_url",
                "must be an absolute http(s) URL of at most 2048 characters",
            );
            None
        }
    });
    let note = f.note.as_deref().map(str::trim).and_then(|n| {
        if n.chars().count() > 500 || n.chars().any(|c| c.is_control() && c != '\n') {
            checks.fail("note", "must be at most 500 printable characters");
            None
        } else {
            (!n.is_empty()).then(|| n.to_string())
        }
    });
    let influencer_id = f
        .influencer_id
        .as_deref()
        .filter(|_| f.kept_for.is_none())
        .and_then(|raw| {
            let id = InfluencerId::parse(raw.trim());
            if id.is_none() {
                checks.fail("influencer_id", "must be an influencer id (a UUID)");
            }
            id
        });
    checks.finish()?;
    let (Some(currency), Some(original)) = (currency, original) else {
        unreachable!("every failed check was reported");
    };
    let (influencer_id, enrollment_id) = match (&f.kept_for, influencer_id) {
        (Some(kept), _) => kept.clone(),
        (None, None) => (None, None),
        (None, Some(id)) => {
            // Another brand's influencer, or none: 404, as everywhere.
            store::influencers::find_row(conn, &campaign.brand_id, &id)?
                .ok_or_else(AdminError::not_found)?;
            let e = store::enrollments::find(conn, &campaign.id, &id)?.ok_or_else(|| {
                FieldError::new("influencer_id", "is not enrolled in this campaign")
            })?;
            (Some(id), Some(e.id))
        }
    };
    let amount = match f.kept_amount {
        Some((converted, _, _)) => converted,
        None => crate::core::ingest::orders::convert(
            conn,
            &campaign.brand_id,
            original,
            currency,
            campaign.currency,
        )
        .map_err(|e| match e {
            IngestError::NoRate(msg) => AdminError::Invalid(vec![FieldError::new("currency", msg)]),
            IngestError::Invalid(errors) => AdminError::Invalid(errors),
            IngestError::Db(e) => AdminError::Db(e),
            other => AdminError::Invalid(vec![FieldError::new("amount", other.to_string())]),
        })?,
    };
    Ok(CostRow {
        id,
        brand_id: campaign.brand_id.clone(),
        campaign_id: campaign.id.clone(),
        kind: f.kind,
        amount_micros: amount,
        original_micros: original,
        original_currency: currency,
        influencer_id,
        enrollment_id,
        post_url,
        note,
        incurred_at: f.incurred_at,
        created_at,
        updated_at: now_micros(),
    })
}

/// Writes a cost. (`ad_spend` on a post makes the post count as paid in reports, for as long
/// as the cost names it.)
fn write(conn: &mut AnyConnection, row: &CostRow, new: bool) -> AdminResult<()> {
    crate::db::write_transaction(conn, |conn| {
        if new {
            store::costs::insert(conn, row)
        } else {
            store::costs::replace(conn, row)
        }
    })?;
    Ok(())
}

pub fn create(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    input: CostInput,
) -> AdminResult<CostView> {
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let now = now_micros();
    let fields = Fields {
        kind: input.kind,
        amount: input.amount,
        currency: input.currency,
        influencer_id: input.influencer_id,
        post_url: input.post_url,
        note: input.note,
        incurred_at: input.incurred_at.map_or(now, |t| t.timestamp_micros()),
        kept_amount: None,
        kept_for: None,
    };
    let row = row_of(conn, &campaign, fields, CostId::new(), now)?;
    write(conn, &row, true)?;
    Ok(CostView::of(row, campaign.currency))
}

pub fn update(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    id: &CostId,
    input: CostUpdate,
) -> AdminResult<CostView> {
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let current =
        store::costs::find(conn, brand_id, campaign_id, id)?.ok_or_else(AdminError::not_found)?;
    let kept_amount = (input.amount.is_none() && input.currency.is_none()).then_some((
        current.amount_micros,
        current.original_micros,
        current.original_currency,
    ));
    let kept_for = input
        .influencer_id
        .is_none()
        .then(|| (current.influencer_id.clone(), current.enrollment_id.clone()));
    let fields = Fields {
        kept_amount,
        kept_for,
        kind: input.kind.unwrap_or(current.kind),
        amount: input.amount.unwrap_or_else(|| {
            money::format_amount(current.original_micros, current.original_currency)
        }),
        currency: Some(
            input
                .currency
                .unwrap_or_else(|| current.original_currency.code().to_string()),
        ),
        influencer_id: input
            .influencer_id
            .unwrap_or_else(|| current.influencer_id.map(InfluencerId::into_string)),
        post_url: input.post_url.unwrap_or(current.post_url),
        note: input.note.unwrap_or(current.note),
        incurred_at: input
            .incurred_at
            .map_or(current.incurred_at, |t| t.timestamp_micros()),
    };
    let row = row_of(conn, &campaign, fields, current.id, current.created_at)?;
    write(conn, &row, false)?;
    Ok(CostView::of(row, campaign.currency))
}

pub fn delete(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    id: &CostId,
) -> AdminResult<()> {
    store::costs::find(conn, brand_id, campaign_id, id)?.ok_or_else(AdminError::not_found)?;
    crate::db::write_transaction(conn, |conn| store::costs::delete(conn, id))?;
    Ok(())
}

/// A page of the campaign's costs, oldest recorded first.
pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
    page: &Page,
) -> AdminResult<(Vec<CostView>, Currency)> {
    let campaign = campaign_of(conn, brand_id, campaign_id)?;
    let rows = store::costs::page(conn, campaign_id, page.after.as_deref(), page.fetch())?;
    Ok((
        rows.into_iter()
            .map(|r| CostView::of(r, campaign.currency))
            .collect(),
        campaign.currency,
    ))
}
