//! Discount codes: issued per enrollment, looked up by storefronts at checkout.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::api::campaigns::currency_of;
use crate::api::extract::{nullable, path_id, Checks, Json, Query};
use crate::api::views;
use crate::auth::Principal;
use crate::domain::codes::{self, CodeState, Unusable};
use crate::domain::money::{self, Currency};
use crate::domain::scope::Access;
use crate::error::{ApiError, ApiResult, FieldError};
use crate::state::AppState;
use crate::store::enrollments::{self as store, CodeRow, CodeUpdate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountType {
    Percent,
    Fixed,
}

impl DiscountType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Percent => "percent",
            Self::Fixed => "fixed",
        }
    }
}

/// `{type: percent|fixed, value}`: a percentage in (0, 100], or a positive amount in the
/// campaign's currency.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountInput {
    #[serde(rename = "type")]
    pub kind: DiscountType,
    pub value: serde_json::Value,
}

impl DiscountInput {
    /// `(type, value in micro-units)`.
    pub fn parse(&self, field: &str) -> Result<(String, i64), FieldError> {
        let field = format!("{field}.value");
        let value = money::parse_positive_value(&field, &self.value)?;
        if self.kind == DiscountType::Percent && value > 100 * money::MICROS {
            return Err(FieldError::new(field, "a percentage must be at most 100"));
        }
        Ok((self.kind.as_str().to_string(), value))
    }
}

/// The discount of codes issued without one: 10 percent.
pub const DEFAULT_DISCOUNT: (&str, i64) = ("percent", 10 * money::MICROS);

#[derive(Debug, Serialize)]
pub struct DiscountView {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

pub fn discount_view(kind: &str, value: i64, currency: Currency) -> DiscountView {
    DiscountView {
        value: if kind == "fixed" {
            money::format_amount(value, currency)
        } else {
            money::format_rate(value)
        },
        kind: kind.to_string(),
    }
}

#[derive(Debug, Serialize)]
pub struct CodeView {
    pub id: String,
    pub code: String,
    pub discount: DiscountView,
    pub currency: String,
    pub max_redemptions: Option<i64>,
    pub redemptions: i64,
    pub expires_at: Option<String>,
    pub status: String,
    pub campaign_id: String,
    pub influencer_id: String,
    pub enrollment_id: String,
    pub created_at: String,
}

pub fn code_view(currency: Currency, row: CodeRow) -> CodeView {
    CodeView {
        discount: discount_view(&row.discount_type, row.discount_value_micros, currency),
        currency: currency.code().to_string(),
        id: row.id,
        code: row.code,
        max_redemptions: row.max_redemptions,
        redemptions: row.redemptions,
        expires_at: views::opt_time(row.expires_at),
        status: row.status,
        campaign_id: row.campaign_id,
        influencer_id: row.influencer_id,
        enrollment_id: row.enrollment_id,
        created_at: views::time(row.created_at),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCode {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub code: Option<String>,
    pub discount: DiscountInput,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub max_redemptions: Option<i64>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Parses an optional vanity code and limits into a row; the code is generated when absent.
pub struct NewCode {
    pub row: CodeRow,
    pub vanity: bool,
}

#[allow(clippy::too_many_arguments)]
pub fn new_code_row(
    checks: &mut Checks,
    ids: (&str, &str, &str, &str),
    handle: &str,
    code_field: &str,
    code: Option<&str>,
    discount: (String, i64),
    max_redemptions: Option<i64>,
    expires_at: Option<i64>,
) -> NewCode {
    let (brand_id, campaign_id, enrollment_id, influencer_id) = ids;
    let vanity = code.and_then(|c| checks.take(codes::parse_vanity_code(code_field, c)));
    if max_redemptions.is_some_and(|m| m < 1) {
        checks.fail("max_redemptions", "must be at least 1");
    }
    let is_vanity = vanity.is_some() || code.is_some();
    let code = vanity.unwrap_or_else(|| codes::new_discount_code(handle));
    NewCode {
        row: CodeRow {
            id: uuid::Uuid::now_v7().to_string(),
            brand_id: brand_id.into(),
            campaign_id: campaign_id.into(),
            enrollment_id: enrollment_id.into(),
            influencer_id: influencer_id.into(),
            code_norm: codes::normalize_discount_code(&code),
            code,
            discount_type: discount.0,
            discount_value_micros: discount.1,
            max_redemptions,
            redemptions: 0,
            expires_at,
            status: "active".into(),
            created_at: crate::db::now_micros(),
        },
        vanity: is_vanity,
    }
}

/// Inserts a new code: a vanity code that is taken in this brand is a 409, a generated one is
/// drawn again.
pub fn insert_code(
    conn: &mut crate::db::AnyConnection,
    new: &mut NewCode,
    handle: &str,
) -> ApiResult<()> {
    let handle = handle.to_string();
    let regenerate = move || codes::new_discount_code(&handle);
    let inserted = if new.vanity {
        store::insert_code(conn, &mut new.row, None)?
    } else {
        store::insert_code(conn, &mut new.row, Some(&regenerate))?
    };
    if inserted {
        Ok(())
    } else {
        Err(ApiError::Conflict(format!(
            "the discount code {} is already taken in this brand",
            new.row.code
        )))
    }
}

fn code_currency(
    conn: &mut crate::db::AnyConnection,
    brand_id: &str,
    row: &CodeRow,
) -> ApiResult<Currency> {
    let campaign = crate::store::campaigns::find(conn, brand_id, &row.campaign_id)?
        .ok_or_else(ApiError::not_found)?;
    Ok(currency_of(&campaign))
}

/// `GET /api/v1/codes/{id}`
pub async fn get_code(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Read)?.brand_id.clone();
    let id = path_id(&path)?;
    let view = state
        .db(move |conn| {
            let row = store::find_code(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            let currency = code_currency(conn, &brand_id, &row)?;
            Ok(code_view(currency, row))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeStatus {
    Active,
    Inactive,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCode {
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub status: Option<CodeStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub max_redemptions: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub discount: Option<DiscountInput>,
}

/// `PATCH /api/v1/codes/{id}`: deactivate/reactivate, change limits or the discount. A code
/// of a pruned enrollment stays inactive until the enrollment is reinstated.
pub async fn update_code(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    body: Json<UpdateCode>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let id = path_id(&path)?;
    let req = body.0;
    let mut checks = Checks::default();
    if req.max_redemptions.flatten().is_some_and(|m| m < 1) {
        checks.fail("max_redemptions", "must be at least 1");
    }
    let discount = req
        .discount
        .as_ref()
        .and_then(|d| checks.take(d.parse("discount")));
    checks.finish()?;
    let changes = CodeUpdate {
        status: req.status.map(|s| match s {
            CodeStatus::Active => "active".to_string(),
            CodeStatus::Inactive => "inactive".to_string(),
        }),
        max_redemptions: req.max_redemptions,
        expires_at: req.expires_at.map(|t| t.map(|t| t.timestamp_micros())),
        discount_type: discount.as_ref().map(|d| d.0.clone()),
        discount_value_micros: discount.map(|d| d.1),
    };
    let view = state
        .db(move |conn| {
            let row = store::find_code(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            if changes.status.as_deref() == Some("active") {
                let enrollment = store::find_by_id(conn, &row.enrollment_id)?
                    .ok_or_else(ApiError::not_found)?;
                if enrollment.status == "pruned" {
                    return Err(ApiError::Conflict(
                        "the influencer was pruned from this campaign; reinstate the enrollment first".into(),
                    ));
                }
            }
            store::update_code(conn, &id, &changes)?;
            let row = store::find_code(conn, &brand_id, &id)?.ok_or_else(ApiError::not_found)?;
            let currency = code_currency(conn, &brand_id, &row)?;
            Ok(code_view(currency, row))
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LookupQuery {
    pub code: String,
}

#[derive(Debug, Serialize)]
pub struct LookupView {
    pub valid: bool,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    pub discount: Option<DiscountView>,
    pub currency: Option<String>,
    pub influencer_id: Option<String>,
    pub influencer_handle: Option<String>,
    pub campaign_id: Option<String>,
    pub expires_at: Option<String>,
    pub remaining_redemptions: Option<i64>,
}

/// `GET /api/v1/codes/lookup?code=`: whether a shopper's code is usable now
/// (case-insensitive), and what it gives; `valid: false` with a reason otherwise.
pub async fn lookup_code(
    state: web::Data<AppState>,
    principal: Principal,
    query: Query<LookupQuery>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Storefront)?.brand_id.clone();
    let code = codes::normalize_discount_code(&query.0.code);
    if code.is_empty() || query.0.code.chars().count() > 64 || code.chars().any(char::is_control) {
        return Err(ApiError::invalid("code", "must be 1 to 64 characters"));
    }
    let view = state
        .db(move |conn| {
            let unknown = LookupView {
                valid: false,
                code: code.clone(),
                reason: Some(Unusable::Unknown.as_str()),
                discount: None,
                currency: None,
                influencer_id: None,
                influencer_handle: None,
                campaign_id: None,
                expires_at: None,
                remaining_redemptions: None,
            };
            let Some(row) = store::find_code_by_text(conn, &brand_id, &code)? else {
                return Ok(unknown);
            };
            let Some(enrollment) = store::find_by_id(conn, &row.enrollment_id)? else {
                return Ok(unknown);
            };
            let Some(campaign) = crate::store::campaigns::find(conn, &brand_id, &row.campaign_id)?
            else {
                return Ok(unknown);
            };
            let handle =
                crate::store::influencers::handles(conn, std::slice::from_ref(&row.influencer_id))?
                    .pop()
                    .map(|(_, h)| h);
            let verdict = codes::usable(
                CodeState {
                    code_status: &row.status,
                    enrollment_status: &enrollment.status,
                    campaign_status: &campaign.status,
                    expires_at: row.expires_at,
                    max_redemptions: row.max_redemptions,
                    redemptions: row.redemptions,
                },
                crate::db::now_micros(),
            );
            let currency = currency_of(&campaign);
            Ok(LookupView {
                valid: verdict.is_ok(),
                code: row.code,
                reason: verdict.err().map(Unusable::as_str),
                discount: Some(discount_view(
                    &row.discount_type,
                    row.discount_value_micros,
                    currency,
                )),
                currency: Some(currency.code().to_string()),
                influencer_id: Some(row.influencer_id),
                influencer_handle: handle,
                campaign_id: Some(row.campaign_id),
                expires_at: views::opt_time(row.expires_at),
                remaining_redemptions: row.max_redemptions.map(|m| (m - row.redemptions).max(0)),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
