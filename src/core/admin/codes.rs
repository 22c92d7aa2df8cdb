//! Discount codes: issued per enrollment, looked up by storefronts at checkout.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::core::admin::{AdminError, AdminResult, Conflict};
use crate::core::shop_sync::SyncView;
use crate::core::{now_micros, Change, Written};
use crate::db::AnyConnection;
use crate::domain::campaign::EnrollmentStatus;
use crate::domain::codes::{self, CodeState, CodeStatus, DiscountType, Unusable};
use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::{BrandId, CampaignId, CodeId, EnrollmentId, InfluencerId};
use crate::domain::json::{non_null, nullable};
use crate::domain::money::{self, Currency};
use crate::domain::time::{self, rfc3339};
use crate::store::{self, codes::CodeRow, codes::CodeUpdate};

/// `{type: percent|fixed, value}`: a percentage in (0, 100], or a positive amount in the
/// campaign's currency.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscountInput {
    #[serde(rename = "type")]
    pub kind: DiscountType,
    pub value: serde_json::Value,
}

/// A discount: its type and its value in micro-units.
pub type Discount = (DiscountType, i64);

impl DiscountInput {
    pub fn parse(&self, field: &str) -> Result<Discount, FieldError> {
        let field = format!("{field}.value");
        let value = money::parse_positive_value(&field, &self.value)?;
        if self.kind == DiscountType::Percent && value > 100 * money::MICROS {
            return Err(FieldError::new(field, "a percentage must be at most 100"));
        }
        Ok((self.kind, value))
    }
}

/// The discount of codes issued without one: 10 percent.
pub const DEFAULT_DISCOUNT: Discount = (DiscountType::Percent, 10 * money::MICROS);

#[derive(Debug, Serialize)]
pub struct DiscountView {
    #[serde(rename = "type")]
    pub kind: DiscountType,
    pub value: String,
}

pub fn discount_view(kind: DiscountType, value: i64, currency: Currency) -> DiscountView {
    DiscountView {
        value: match kind {
            DiscountType::Fixed => money::format_amount(value, currency),
            DiscountType::Percent => money::format_rate(value),
        },
        kind,
    }
}

#[derive(Debug, Serialize)]
pub struct CodeView {
    pub id: CodeId,
    pub code: String,
    pub discount: DiscountView,
    pub currency: String,
    pub max_redemptions: Option<i64>,
    pub redemptions: i64,
    pub expires_at: Option<String>,
    /// `active` or `inactive`, or `pruned` while the influencer is pruned.
    pub status: String,
    pub campaign_id: CampaignId,
    pub influencer_id: InfluencerId,
    pub enrollment_id: EnrollmentId,
    pub created_at: String,
    /// Where the code stands in each connected shop.
    pub shop_sync: Vec<SyncView>,
}

/// A code as shown. `enrollment` given: a pruned influencer's codes show as `pruned`
/// whatever their own status (in the enrollment's views).
pub fn code_view(
    currency: Currency,
    row: CodeRow,
    enrollment: Option<EnrollmentStatus>,
    shop_sync: Vec<SyncView>,
) -> CodeView {
    CodeView {
        discount: discount_view(row.discount_type, row.discount_value_micros, currency),
        currency: currency.code().to_string(),
        status: match enrollment {
            Some(EnrollmentStatus::Pruned) => EnrollmentStatus::Pruned.as_str(),
            _ => row.status.as_str(),
        }
        .to_string(),
        id: row.id,
        code: row.code,
        max_redemptions: row.max_redemptions,
        redemptions: row.redemptions,
        expires_at: row.expires_at.map(time::rfc3339),
        campaign_id: row.campaign_id,
        influencer_id: row.influencer_id,
        enrollment_id: row.enrollment_id,
        created_at: rfc3339(row.created_at),
        shop_sync,
    }
}

/// Where one code stands in each connected shop.
pub fn sync_of(conn: &mut AnyConnection, id: &CodeId) -> AdminResult<Vec<SyncView>> {
    Ok(
        crate::core::shop_sync::sync_views(conn, std::slice::from_ref(id))?
            .remove(id)
            .unwrap_or_default(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCode {
    #[serde(default, deserialize_with = "non_null")]
    pub code: Option<String>,
    pub discount: DiscountInput,
    #[serde(default, deserialize_with = "non_null")]
    pub max_redemptions: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Whose code it is.
pub struct Owner<'a> {
    pub brand_id: &'a BrandId,
    pub campaign_id: &'a CampaignId,
    pub enrollment_id: &'a EnrollmentId,
    pub influencer_id: &'a InfluencerId,
    pub handle: &'a str,
}

/// A new code's row, and whether its text was chosen (a vanity code) rather than drawn.
pub struct NewCode {
    pub row: CodeRow,
    pub vanity: bool,
}

/// Terms of a new code: an optional vanity text (checked as `code_field`), the discount,
/// limits.
pub struct CodeTerms<'a> {
    pub code_field: &'a str,
    pub code: Option<&'a str>,
    pub discount: Discount,
    pub max_redemptions: Option<i64>,
    pub expires_at: Option<i64>,
}

/// A code row for `owner`; the text is generated from the handle when no vanity code is given.
pub fn new_code(checks: &mut Checks, owner: &Owner<'_>, terms: CodeTerms<'_>) -> NewCode {
    let vanity = terms
        .code
        .and_then(|c| checks.take(codes::parse_vanity_code(terms.code_field, c)));
    if terms.max_redemptions.is_some_and(|m| m < 1) {
        checks.fail("max_redemptions", "must be at least 1");
    }
    let is_vanity = vanity.is_some() || terms.code.is_some();
    let code = vanity.unwrap_or_else(|| codes::new_discount_code(owner.handle));
    NewCode {
        row: CodeRow {
            id: CodeId::new(),
            brand_id: owner.brand_id.clone(),
            campaign_id: owner.campaign_id.clone(),
            enrollment_id: owner.enrollment_id.clone(),
            influencer_id: owner.influencer_id.clone(),
            code_norm: codes::normalize_discount_code(&code),
            code,
            discount_type: terms.discount.0,
            discount_value_micros: terms.discount.1,
            max_redemptions: terms.max_redemptions,
            redemptions: 0,
            expires_at: terms.expires_at,
            status: CodeStatus::Active,
            created_at: now_micros(),
        },
        vanity: is_vanity,
    }
}

/// Inserts a new code: a vanity code that is taken in this brand is a conflict, a generated
/// one is drawn again.
pub fn insert(conn: &mut AnyConnection, new: &mut NewCode, handle: &str) -> AdminResult<()> {
    let handle = handle.to_string();
    let regenerate = move || codes::new_discount_code(&handle);
    let inserted = if new.vanity {
        store::codes::insert(conn, &mut new.row, None)?
    } else {
        store::codes::insert(conn, &mut new.row, Some(&regenerate))?
    };
    if inserted {
        Ok(())
    } else {
        Err(AdminError::Conflict(Conflict::CodeTaken(
            new.row.code.clone(),
        )))
    }
}

/// A code of the brand shown in its campaign's currency.
fn with_context(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    row: CodeRow,
) -> AdminResult<CodeView> {
    let campaign = store::campaigns::find(conn, brand_id, &row.campaign_id)?
        .ok_or_else(AdminError::not_found)?;
    let sync = sync_of(conn, &row.id)?;
    Ok(code_view(campaign.currency, row, None, sync))
}

pub fn get(conn: &mut AnyConnection, brand_id: &BrandId, id: &CodeId) -> AdminResult<CodeView> {
    let row = store::codes::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)?;
    with_context(conn, brand_id, row)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateCode {
    #[serde(default, deserialize_with = "non_null")]
    pub status: Option<CodeStatus>,
    #[serde(default, deserialize_with = "nullable")]
    pub max_redemptions: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    pub expires_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "non_null")]
    pub discount: Option<DiscountInput>,
}

/// Deactivates or reactivates a code, changes its limits or its discount. A code of a pruned
/// enrollment stays inactive until the enrollment is reinstated.
pub fn update(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &CodeId,
    req: UpdateCode,
) -> AdminResult<Written<CodeView>> {
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
        status: req.status,
        max_redemptions: req.max_redemptions,
        expires_at: req.expires_at.map(|t| t.map(|t| t.timestamp_micros())),
        discount_type: discount.map(|d| d.0),
        discount_value_micros: discount.map(|d| d.1),
    };
    let row = store::codes::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)?;
    if changes.status == Some(CodeStatus::Active) {
        let enrollment = store::enrollments::find_by_id(conn, &row.enrollment_id)?
            .ok_or_else(AdminError::not_found)?;
        if enrollment.status == EnrollmentStatus::Pruned {
            return Err(AdminError::Conflict(Conflict::EnrollmentPruned));
        }
    }
    crate::db::write_transaction(conn, |conn| {
        store::codes::update(conn, id, &changes)?;
        crate::core::shop_sync::codes_changed(conn, brand_id, std::slice::from_ref(id))?;
        Ok::<_, AdminError>(())
    })?;
    let row = store::codes::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)?;
    // Links that apply their enrollment's code pick another one (or none).
    let changed = vec![Change::Enrollment(row.enrollment_id.clone())];
    Ok(Written::new(with_context(conn, brand_id, row)?, changed))
}

/// Deletes a code: it stops being credited or accepted at once, and is deleted from every
/// connected shop that holds it. Orders credited through it keep their credit.
pub fn delete(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &CodeId,
) -> AdminResult<Written<()>> {
    let row = store::codes::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)?;
    crate::db::write_transaction(conn, |conn| {
        crate::core::shop_sync::code_deleted(conn, brand_id, id, &row.code)?;
        store::codes::delete(conn, id)?;
        Ok::<_, AdminError>(())
    })?;
    tracing::info!(code_id = %id, "discount code deleted");
    Ok(Written::new(
        (),
        vec![Change::Enrollment(row.enrollment_id)],
    ))
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
    pub reason: Option<Unusable>,
    pub discount: Option<DiscountView>,
    pub currency: Option<String>,
    pub influencer_id: Option<InfluencerId>,
    pub influencer_handle: Option<String>,
    pub campaign_id: Option<CampaignId>,
    pub expires_at: Option<String>,
    pub remaining_redemptions: Option<i64>,
}

/// Whether a shopper's code is usable now (case-insensitive), and what it gives; `valid:
/// false` with a reason otherwise.
pub fn lookup(conn: &mut AnyConnection, brand_id: &BrandId, raw: &str) -> AdminResult<LookupView> {
    let code = codes::normalize_discount_code(raw);
    if code.is_empty() || raw.chars().count() > 64 || code.chars().any(char::is_control) {
        return Err(FieldError::new("code", "must be 1 to 64 characters").into());
    }
    let unknown = LookupView {
        valid: false,
        code: code.clone(),
        reason: Some(Unusable::Unknown),
        discount: None,
        currency: None,
        influencer_id: None,
        influencer_handle: None,
        campaign_id: None,
        expires_at: None,
        remaining_redemptions: None,
    };
    let Some(row) = store::codes::find_by_text(conn, brand_id, &code)? else {
        return Ok(unknown);
    };
    let Some(enrollment) = store::enrollments::find_by_id(conn, &row.enrollment_id)? else {
        return Ok(unknown);
    };
    let Some(campaign) = store::campaigns::find(conn, brand_id, &row.campaign_id)? else {
        return Ok(unknown);
    };
    let handle =
        store::influencers::handles(conn, [&row.influencer_id])?.remove(&row.influencer_id);
    let verdict = codes::usable(
        CodeState {
            code_status: row.status,
            enrollment_status: enrollment.status,
            campaign_status: campaign.status,
            expires_at: row.expires_at,
            max_redemptions: row.max_redemptions,
            redemptions: row.redemptions,
        },
        now_micros(),
    );
    let currency = campaign.currency;
    Ok(LookupView {
        valid: verdict.is_ok(),
        code: row.code,
        reason: verdict.err(),
        discount: Some(discount_view(
            row.discount_type,
            row.discount_value_micros,
            currency,
        )),
        currency: Some(currency.code().to_string()),
        influencer_id: Some(row.influencer_id),
        influencer_handle: handle,
        campaign_id: Some(row.campaign_id),
        expires_at: row.expires_at.map(time::rfc3339),
        remaining_redemptions: row.max_redemptions.map(|m| (m - row.redemptions).max(0)),
    })
}
