//! Payouts: fee plus commission, pending through the holding period, then approved; payments
//! recorded; refunds after a payment clawed back from the balance. And the influencer's own
//! view of what it earns.

use serde::{Deserialize, Serialize};

use crate::core::admin::enrollments::{self, EnrollmentView};
use crate::core::auth::BrandKey;
use crate::core::campaign_loop::{LoopError, LoopResult};
use crate::core::now_micros;
use crate::core::reporting::{self, Reader};
use crate::db::AnyConnection;
use crate::domain::campaign::{CampaignStatus, EnrollmentStatus};
use crate::domain::field::FieldError;
use crate::domain::hooks::EventType;
use crate::domain::ids::{BrandId, CampaignId, EnrollmentId, InfluencerId, PayoutId};
use crate::domain::json::{decimal_text, non_null};
use crate::domain::metrics::{self, Metrics};
use crate::domain::money::{self, Currency};
use crate::domain::orders::parse_money;
use crate::domain::time::{rfc3339, MICROS_PER_DAY};
use crate::domain::window::Window;
use crate::store::campaigns::CampaignRow;
use crate::store::credits::Earned;
use crate::store::enrollments::EnrollmentRow;
use crate::store::payouts::PayoutRow;
use crate::store::{self};

/// Money per influencer of a campaign.
#[derive(Debug, Serialize, Clone)]
pub struct PayoutLine {
    pub enrollment_id: EnrollmentId,
    pub influencer_id: InfluencerId,
    pub handle: String,
    pub status: EnrollmentStatus,
    pub currency: String,
    pub fee: String,
    pub commission_rate: String,
    /// Net revenue credited (as decided) of orders still in the holding period, and past it;
    /// self-referred orders earn no commission and are left out.
    pub commissionable_net_pending: String,
    pub commissionable_net_approved: String,
    pub commission_pending: String,
    pub commission_approved: String,
    /// Fee plus approved commission.
    pub approved: String,
    pub paid: String,
    /// Approved less paid: what to pay next. Negative when refunds after a payment took
    /// back more than was earned since (carried into the next payout).
    pub balance: String,
}

/// A line and its balance in micro-units.
fn line(
    e: &EnrollmentRow,
    handle: &str,
    earned: Option<&Earned>,
    paid: i64,
    currency: Currency,
) -> (PayoutLine, i64) {
    let fmt = |m: i64| money::format_amount(m, currency);
    let (approved_net, pending_net) = earned.map_or((0, 0), |e| (e.approved_net, e.pending_net));
    let pending = metrics::commission(e.commission_rate_micros, pending_net, currency);
    let approved_commission = metrics::commission(e.commission_rate_micros, approved_net, currency);
    let approved = e.fee_micros + approved_commission;
    let balance = approved - paid;
    (
        PayoutLine {
            enrollment_id: e.id.clone(),
            influencer_id: e.influencer_id.clone(),
            handle: handle.to_string(),
            status: e.status,
            currency: currency.code().to_string(),
            fee: fmt(e.fee_micros),
            commission_rate: money::format_rate(e.commission_rate_micros),
            commissionable_net_pending: fmt(pending_net),
            commissionable_net_approved: fmt(approved_net),
            commission_pending: fmt(pending),
            commission_approved: fmt(approved_commission),
            approved: fmt(approved),
            paid: fmt(paid),
            balance: fmt(balance),
        },
        balance,
    )
}

/// The payout lines of these enrollments of a campaign, as of `now`.
pub fn lines(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    enrollments: &[EnrollmentRow],
    now: i64,
) -> LoopResult<Vec<(PayoutLine, i64)>> {
    let cutoff = now - i64::from(campaign.holding_days) * MICROS_PER_DAY;
    let mut earned = store::credits::earned(conn, &campaign.id, cutoff)?;
    // Excluded orders earn nothing (a paid amount stays paid: the balance may go negative).
    if let Some(x) = crate::core::exclusions::Excluded::of(conn, campaign)? {
        for (e, (approved, pending)) in x.earned(cutoff) {
            if let Some(row) = earned.get_mut(&e) {
                row.approved_net -= approved;
                row.pending_net -= pending;
            }
        }
    }
    let paid = store::payouts::paid(conn, &campaign.id)?;
    let handles = store::influencers::handles(conn, enrollments.iter().map(|e| &e.influencer_id))?;
    Ok(enrollments
        .iter()
        .map(|e| {
            line(
                e,
                handles
                    .get(&e.influencer_id)
                    .map(String::as_str)
                    .unwrap_or(""),
                earned.get(&e.id),
                paid.get(&e.id).copied().unwrap_or(0),
                campaign.currency,
            )
        })
        .collect())
}

/// The line of one enrollment.
pub fn line_of(
    conn: &mut AnyConnection,
    campaign: &CampaignRow,
    enrollment: &EnrollmentRow,
    now: i64,
) -> LoopResult<(PayoutLine, i64)> {
    lines(conn, campaign, std::slice::from_ref(enrollment), now)?
        .pop()
        .ok_or(LoopError::NotFound)
}

#[derive(Debug, Serialize)]
pub struct PayoutList {
    pub campaign_id: CampaignId,
    pub currency: String,
    pub holding_days: i32,
    pub as_of: String,
    pub items: Vec<PayoutLine>,
}

/// What each influencer the reader may see has earned, been paid and is owed.
pub fn list(
    conn: &mut AnyConnection,
    reader: &Reader,
    campaign_id: &CampaignId,
) -> LoopResult<PayoutList> {
    let (campaign, enrollments) = reporting::load_campaign(conn, reader, campaign_id)?;
    let now = now_micros();
    let items = lines(conn, &campaign, &enrollments, now)?
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    Ok(PayoutList {
        campaign_id: campaign.id,
        currency: campaign.currency.code().to_string(),
        holding_days: campaign.holding_days,
        as_of: rfc3339(now),
        items,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkPaid {
    #[serde(deserialize_with = "decimal_text")]
    pub amount: String,
    #[serde(default, deserialize_with = "non_null")]
    pub reference: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct PaymentView {
    pub payout_id: PayoutId,
    pub amount: String,
    pub reference: Option<String>,
    pub paid_at: String,
    /// The influencer's line after the payment.
    pub line: PayoutLine,
}

/// A payment's reference: trimmed, at most 200 printable characters, none when empty.
fn reference(raw: Option<String>) -> LoopResult<Option<String>> {
    let sent_chars = raw.as_deref().map_or(0, |r| r.chars().count());
    let reference = raw.map(|r| r.trim().to_string()).filter(|r| !r.is_empty());
    if sent_chars > 200
        || reference
            .as_ref()
            .is_some_and(|r| r.chars().any(char::is_control))
    {
        return Err(
            FieldError::new("reference", "must be at most 200 printable characters").into(),
        );
    }
    Ok(reference)
}

/// Records a payment of at most the approved balance. A `reference` names a payment: the
/// same reference again is refused, never a second payment.
pub fn mark_paid(
    conn: &mut AnyConnection,
    key: &BrandKey,
    campaign_id: &CampaignId,
    influencer_id: &InfluencerId,
    req: MarkPaid,
) -> LoopResult<PaymentView> {
    let reference = reference(req.reference)?;
    let campaign =
        store::campaigns::find(conn, &key.brand_id, campaign_id)?.ok_or(LoopError::NotFound)?;
    let enrollment =
        store::enrollments::find(conn, &campaign.id, influencer_id)?.ok_or(LoopError::NotFound)?;
    let currency = campaign.currency;
    let amount = parse_money("amount", &req.amount, currency)?;
    if amount == 0 {
        return Err(FieldError::new("amount", "must be greater than zero").into());
    }
    let row = crate::db::write_transaction(conn, |conn| {
        // Concurrent payments to one influencer queue here, so each sees the balance the
        // other left.
        store::enrollments::lock(conn, &enrollment.id)?;
        if let Some(r) = &reference {
            if store::payouts::reference_taken(conn, &campaign.id, r)? {
                return Err(LoopError::ReferenceTaken(r.clone()));
            }
        }
        let now = now_micros();
        let (_, balance) = line_of(conn, &campaign, &enrollment, now)?;
        if amount > balance {
            return Err(FieldError::new(
                "amount",
                format!(
                    "exceeds the approved balance of {}",
                    money::format_amount(balance, currency)
                ),
            )
            .into());
        }
        let row = PayoutRow {
            id: PayoutId::new(),
            brand_id: campaign.brand_id.clone(),
            campaign_id: campaign.id.clone(),
            enrollment_id: enrollment.id.clone(),
            influencer_id: enrollment.influencer_id.clone(),
            amount_micros: amount,
            reference: reference.clone(),
            key_id: key.key_id.clone(),
            paid_at: now,
        };
        store::payouts::insert(conn, &row).map_err(|e| {
            if crate::db::is_duplicate(Some(&e)) {
                LoopError::ReferenceTaken(reference.clone().unwrap_or_default())
            } else {
                e.into()
            }
        })?;
        crate::core::hooks::emit(conn, &row.brand_id, EventType::PayoutPaid, |_| {
            Ok::<_, LoopError>(serde_json::json!({
                "payout_id": row.id,
                "campaign_id": row.campaign_id,
                "enrollment_id": row.enrollment_id,
                "influencer_id": row.influencer_id,
                "amount": money::format_amount(row.amount_micros, currency),
                "currency": currency.code(),
                "reference": row.reference,
                "paid_at": rfc3339(row.paid_at),
                "balance_before": money::format_amount(balance, currency),
            }))
        })?;
        Ok(row)
    })?;
    let (line, _) = line_of(conn, &campaign, &enrollment, now_micros())?;
    tracing::info!(payout_id = %row.id, "payout recorded");
    Ok(PaymentView {
        payout_id: row.id,
        amount: money::format_amount(row.amount_micros, currency),
        reference: row.reference,
        paid_at: rfc3339(row.paid_at),
        line,
    })
}

#[derive(Debug, Serialize)]
pub struct MyEnrollment {
    pub campaign_id: CampaignId,
    pub campaign_name: String,
    pub campaign_status: CampaignStatus,
    #[serde(flatten)]
    pub enrollment: EnrollmentView,
    pub metrics: Metrics,
    pub earnings: PayoutLine,
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub influencer_id: InfluencerId,
    pub handle: String,
    pub display_name: String,
    pub enrollments: Vec<MyEnrollment>,
}

/// An influencer in one campaign, as it sees itself: its enrollment, figures and earnings.
pub fn my_enrollment(
    conn: &mut AnyConnection,
    public_url: &str,
    reader: &Reader,
    campaign_id: &CampaignId,
) -> LoopResult<MyEnrollment> {
    let (campaign, only) = reporting::load_campaign(conn, reader, campaign_id)?;
    let row = reporting::rows(conn, &campaign, only.clone(), None, Window::all())?
        .pop()
        .ok_or(LoopError::NotFound)?;
    let (earnings, _) = lines(conn, &campaign, &only, now_micros())?
        .pop()
        .ok_or(LoopError::NotFound)?;
    let enrollment = enrollments::views(conn, public_url, &campaign, only)?
        .pop()
        .ok_or(LoopError::NotFound)?;
    Ok(MyEnrollment {
        metrics: row.metrics(&campaign),
        campaign_id: campaign.id,
        campaign_name: campaign.name,
        campaign_status: campaign.status,
        enrollment,
        earnings,
    })
}

/// The influencer's own enrollments, links, codes, figures and earnings.
pub fn me(
    conn: &mut AnyConnection,
    public_url: &str,
    brand_id: &BrandId,
    influencer_id: &InfluencerId,
) -> LoopResult<Me> {
    let influencer =
        store::influencers::find_row(conn, brand_id, influencer_id)?.ok_or(LoopError::NotFound)?;
    let reader = Reader {
        brand_id: brand_id.clone(),
        influencer_id: Some(influencer_id.clone()),
    };
    let mut out = Vec::new();
    for e in store::enrollments::of_influencer(conn, brand_id, influencer_id)? {
        if store::campaigns::find(conn, brand_id, &e.campaign_id)?.is_none() {
            continue;
        }
        out.push(my_enrollment(conn, public_url, &reader, &e.campaign_id)?);
    }
    Ok(Me {
        influencer_id: influencer.id,
        handle: influencer.handle,
        display_name: influencer.display_name,
        enrollments: out,
    })
}
