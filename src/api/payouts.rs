//! Payouts (fee plus commission, pending through the holding period, then approved; payments
//! recorded, refunds after payment clawed back from the balance) and the influencer's own view.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::{Deserialize, Serialize};

use crate::api::campaigns::currency_of;
use crate::api::enrollments::{enrollment_views, EnrollmentView};
use crate::api::extract::{path_id, Json};
use crate::api::reports::{self, Reader, Window};
use crate::api::views;
use crate::auth::Principal;
use crate::db::schema::payouts;
use crate::db::AnyConnection;
use crate::domain::metrics::{self, Metrics};
use crate::domain::money::{self, Currency};
use crate::domain::scope::{Access, Scope};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::campaigns::CampaignRow;
use crate::store::enrollments::EnrollmentRow;
use crate::store::reports::AS_DECIDED;
use crate::with_backend;

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

#[derive(Debug, Default, Clone, QueryableByName)]
struct Earned {
    #[diesel(sql_type = Text)]
    enrollment_id: String,
    #[diesel(sql_type = BigInt)]
    approved_net: i64,
    #[diesel(sql_type = BigInt)]
    pending_net: i64,
}

#[derive(Debug, Default, Clone, QueryableByName)]
struct Paid {
    #[diesel(sql_type = Text)]
    enrollment_id: String,
    #[diesel(sql_type = BigInt)]
    paid: i64,
}

/// Money per influencer of a campaign.
#[derive(Debug, Serialize, Clone)]
pub struct PayoutLine {
    pub enrollment_id: String,
    pub influencer_id: String,
    pub handle: String,
    pub status: String,
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

fn line(
    e: &EnrollmentRow,
    handle: &str,
    earned: &Earned,
    paid: i64,
    currency: Currency,
) -> (PayoutLine, i64) {
    let fmt = |m: i64| money::format_amount(m, currency);
    let pending = metrics::commission(e.commission_rate_micros, earned.pending_net, currency);
    let approved_commission =
        metrics::commission(e.commission_rate_micros, earned.approved_net, currency);
    let approved = e.fee_micros + approved_commission;
    let balance = approved - paid;
    (
        PayoutLine {
            enrollment_id: e.id.clone(),
            influencer_id: e.influencer_id.clone(),
            handle: handle.to_string(),
            status: e.status.clone(),
            currency: currency.code().to_string(),
            fee: fmt(e.fee_micros),
            commission_rate: money::format_rate(e.commission_rate_micros),
            commissionable_net_pending: fmt(earned.pending_net),
            commissionable_net_approved: fmt(earned.approved_net),
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
) -> ApiResult<Vec<(PayoutLine, i64)>> {
    let currency = currency_of(campaign);
    let cutoff = now - i64::from(campaign.holding_days) * MICROS_PER_DAY;
    let id: String = campaign
        .id
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || *c == '-')
        .collect();
    let sql = format!(
        "SELECT enrollment_id, \
           CAST(SUM(CASE WHEN occurred_at <= {cutoff} AND NOT self_referral \
                    THEN credited_micros - refunded_micros ELSE 0 END) AS BIGINT) AS approved_net, \
           CAST(SUM(CASE WHEN occurred_at > {cutoff} AND NOT self_referral \
                    THEN credited_micros - refunded_micros ELSE 0 END) AS BIGINT) AS pending_net \
         FROM order_credits WHERE campaign_id = '{id}' AND model IN ('{AS_DECIDED}', '*') \
         GROUP BY enrollment_id"
    );
    let earned: Vec<Earned> = with_backend!(conn, |c| diesel::sql_query(sql).load(c))?;
    let earned: HashMap<String, Earned> = earned
        .into_iter()
        .map(|e| (e.enrollment_id.clone(), e))
        .collect();
    let sql = format!(
        "SELECT enrollment_id, CAST(SUM(amount_micros) AS BIGINT) AS paid FROM payouts \
         WHERE campaign_id = '{id}' GROUP BY enrollment_id"
    );
    let paid: Vec<Paid> = with_backend!(conn, |c| diesel::sql_query(sql).load(c))?;
    let paid: HashMap<String, i64> = paid
        .into_iter()
        .map(|p| (p.enrollment_id, p.paid))
        .collect();
    let ids: Vec<String> = enrollments
        .iter()
        .map(|e| e.influencer_id.clone())
        .collect();
    let handles: HashMap<String, String> = crate::store::influencers::handles(conn, &ids)?
        .into_iter()
        .collect();
    Ok(enrollments
        .iter()
        .map(|e| {
            line(
                e,
                handles
                    .get(&e.influencer_id)
                    .map(String::as_str)
                    .unwrap_or(""),
                earned.get(&e.id).unwrap_or(&Earned::default()),
                paid.get(&e.id).copied().unwrap_or(0),
                currency,
            )
        })
        .collect())
}

#[derive(Debug, Serialize)]
pub struct PayoutList {
    pub campaign_id: String,
    pub currency: String,
    pub holding_days: i32,
    pub as_of: String,
    pub items: Vec<PayoutLine>,
}

/// `GET /api/v1/campaigns/{campaign_id}/payouts` (JSON, or CSV when `Accept` prefers it).
pub async fn list_payouts(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<String>,
    request: actix_web::HttpRequest,
) -> ApiResult<HttpResponse> {
    let reader = reports::reader(&principal)?;
    let campaign_id = path_id(&path)?;
    let list = state
        .db(move |conn| {
            let (campaign, enrollments) = reports::load_campaign(conn, &reader, &campaign_id)?;
            let now = crate::db::now_micros();
            let items = lines(conn, &campaign, &enrollments, now)?
                .into_iter()
                .map(|(l, _)| l)
                .collect();
            Ok(PayoutList {
                campaign_id: campaign.id.clone(),
                currency: currency_of(&campaign).code().to_string(),
                holding_days: campaign.holding_days,
                as_of: views::time(now),
                items,
            })
        })
        .await?;
    if reports::wants_csv(&request) {
        let mut out = csv::Writer::from_writer(Vec::new());
        let cols = [
            "enrollment_id",
            "influencer_id",
            "handle",
            "status",
            "currency",
            "fee",
            "commission_rate",
            "commissionable_net_pending",
            "commissionable_net_approved",
            "commission_pending",
            "commission_approved",
            "approved",
            "paid",
            "balance",
        ];
        out.write_record(cols).map_err(ApiError::internal)?;
        for l in &list.items {
            out.write_record([
                l.enrollment_id.as_str(),
                &l.influencer_id,
                &reports::csv_text(&l.handle),
                &l.status,
                &l.currency,
                &l.fee,
                &l.commission_rate,
                &l.commissionable_net_pending,
                &l.commissionable_net_approved,
                &l.commission_pending,
                &l.commission_approved,
                &l.approved,
                &l.paid,
                &l.balance,
            ])
            .map_err(ApiError::internal)?;
        }
        let bytes = out
            .into_inner()
            .map_err(|e| ApiError::internal(e.into_error()))?;
        return Ok(HttpResponse::Ok()
            .insert_header(("content-type", "text/csv; charset=utf-8"))
            .body(bytes));
    }
    Ok(HttpResponse::Ok().json(list))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkPaid {
    #[serde(deserialize_with = "crate::domain::orders::decimal_text")]
    pub amount: String,
    #[serde(default, deserialize_with = "crate::api::extract::non_null")]
    pub reference: Option<String>,
}

#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = payouts, treat_none_as_default_value = false)]
struct PayoutRow {
    id: String,
    brand_id: String,
    campaign_id: String,
    enrollment_id: String,
    influencer_id: String,
    amount_micros: i64,
    reference: Option<String>,
    key_id: String,
    paid_at: i64,
}

#[derive(Debug, Serialize)]
pub struct PaymentView {
    pub payout_id: String,
    pub amount: String,
    pub reference: Option<String>,
    pub paid_at: String,
    /// The influencer's line after the payment.
    pub line: PayoutLine,
}

/// `POST /api/v1/campaigns/{campaign_id}/payouts/{influencer_id}/mark-paid`: records a
/// payment of at most the approved balance. A `reference` names a payment: the same
/// reference again is a 409, never a second payment.
pub async fn mark_paid(
    state: web::Data<AppState>,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<MarkPaid>,
) -> ApiResult<HttpResponse> {
    let key = principal.brand(Access::Write)?.clone();
    let campaign_id = path_id(&path.0)?;
    let influencer_id = path_id(&path.1)?;
    let req = body.0;
    let sent_chars = req.reference.as_deref().map_or(0, |r| r.chars().count());
    let reference = req
        .reference
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if sent_chars > 200
        || reference
            .as_ref()
            .is_some_and(|r| r.chars().any(char::is_control))
    {
        return Err(ApiError::invalid(
            "reference",
            "must be at most 200 printable characters",
        ));
    }
    let view = state
        .db(move |conn| {
            let campaign = crate::store::campaigns::find(conn, &key.brand_id, &campaign_id)?
                .ok_or_else(ApiError::not_found)?;
            let enrollment = crate::store::enrollments::find(conn, &campaign.id, &influencer_id)?
                .ok_or_else(ApiError::not_found)?;
            let currency = currency_of(&campaign);
            let amount = crate::domain::orders::parse_money("amount", &req.amount, currency)
                .map_err(|e| ApiError::Validation(vec![e]))?;
            if amount == 0 {
                return Err(ApiError::invalid("amount", "must be greater than zero"));
            }
            let row = crate::db::write_transaction::<_, ApiError, _>(conn, |conn| {
                // Concurrent payments to one influencer queue here (a row lock on PostgreSQL;
                // SQLite's write lock is already held), so each sees the balance the other
                // left.
                diesel::update(crate::db::schema::enrollments::table.find(&enrollment.id))
                    .set(
                        crate::db::schema::enrollments::status
                            .eq(crate::db::schema::enrollments::status),
                    )
                    .execute(conn)?;
                if let Some(r) = &reference {
                    let taken: i64 = payouts::table
                        .filter(payouts::campaign_id.eq(&campaign.id))
                        .filter(payouts::reference.eq(r))
                        .count()
                        .get_result(conn)?;
                    if taken > 0 {
                        return Err(ApiError::Conflict(format!(
                            "a payment with reference {r:?} is already recorded"
                        )));
                    }
                }
                let now = crate::db::now_micros();
                let (_, balance) = lines(conn, &campaign, std::slice::from_ref(&enrollment), now)?
                    .pop()
                    .ok_or_else(ApiError::not_found)?;
                if amount > balance {
                    return Err(ApiError::invalid(
                        "amount",
                        format!(
                            "exceeds the approved balance of {}",
                            money::format_amount(balance, currency)
                        ),
                    ));
                }
                let row = PayoutRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    brand_id: campaign.brand_id.clone(),
                    campaign_id: campaign.id.clone(),
                    enrollment_id: enrollment.id.clone(),
                    influencer_id: enrollment.influencer_id.clone(),
                    amount_micros: amount,
                    reference: reference.clone(),
                    key_id: key.key_id.clone(),
                    paid_at: now,
                };
                diesel::insert_into(payouts::table)
                    .values(&row)
                    .execute(conn)
                    .map_err(|e| match e {
                        diesel::result::Error::DatabaseError(
                            diesel::result::DatabaseErrorKind::UniqueViolation,
                            _,
                        ) => ApiError::Conflict(
                            "a payment with this reference is already recorded".into(),
                        ),
                        other => other.into(),
                    })?;
                Ok(row)
            })?;
            let (line, _) = lines(
                conn,
                &campaign,
                std::slice::from_ref(&enrollment),
                crate::db::now_micros(),
            )?
            .pop()
            .ok_or_else(ApiError::not_found)?;
            Ok(PaymentView {
                payout_id: row.id,
                amount: money::format_amount(row.amount_micros, currency),
                reference: row.reference,
                paid_at: views::time(row.paid_at),
                line,
            })
        })
        .await?;
    tracing::info!(payout_id = %view.payout_id, "payout recorded");
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Serialize)]
pub struct MyEnrollment {
    pub campaign_id: String,
    pub campaign_name: String,
    pub campaign_status: String,
    #[serde(flatten)]
    pub enrollment: EnrollmentView,
    pub metrics: Metrics,
    pub earnings: PayoutLine,
}

#[derive(Debug, Serialize)]
pub struct Me {
    pub influencer_id: String,
    pub handle: String,
    pub display_name: String,
    pub enrollments: Vec<MyEnrollment>,
}

/// `GET /api/v1/me`: the influencer's own enrollments, links, codes, figures and earnings
/// (influencer keys only).
pub async fn me(state: web::Data<AppState>, principal: Principal) -> ApiResult<HttpResponse> {
    let Principal::Brand(key) = &principal else {
        return Err(ApiError::Forbidden(
            "this is the influencer's own view; use an influencer key".into(),
        ));
    };
    if key.scope != Scope::Influencer {
        return Err(ApiError::Forbidden(
            "this is the influencer's own view; use an influencer key".into(),
        ));
    }
    let influencer_id = key.influencer_id.clone().ok_or_else(ApiError::forbidden)?;
    let brand_id = key.brand_id.clone();
    let public_url = state.public_url.clone();
    let me = state
        .db(move |conn| {
            let influencer = crate::store::influencers::find_row(conn, &brand_id, &influencer_id)?
                .ok_or_else(ApiError::not_found)?;
            let mine: Vec<EnrollmentRow> = crate::db::schema::enrollments::table
                .filter(crate::db::schema::enrollments::influencer_id.eq(&influencer_id))
                .filter(crate::db::schema::enrollments::brand_id.eq(&brand_id))
                .order(crate::db::schema::enrollments::id.asc())
                .select(EnrollmentRow::as_select())
                .load(conn)?;
            let reader = Reader {
                brand_id: brand_id.clone(),
                influencer_id: Some(influencer_id.clone()),
            };
            let now = crate::db::now_micros();
            let mut out = Vec::with_capacity(mine.len());
            for e in mine {
                let Some(campaign) =
                    crate::store::campaigns::find(conn, &brand_id, &e.campaign_id)?
                else {
                    continue;
                };
                let (campaign, only) = reports::load_campaign(conn, &reader, &campaign.id)?;
                let currency = currency_of(&campaign);
                let row = reports::rows(conn, &campaign, only.clone(), None, Window::all())?
                    .pop()
                    .ok_or_else(ApiError::not_found)?;
                let (earnings, _) = lines(conn, &campaign, &only, now)?
                    .pop()
                    .ok_or_else(ApiError::not_found)?;
                let view = enrollment_views(conn, &public_url, &campaign, only)?
                    .pop()
                    .ok_or_else(ApiError::not_found)?;
                out.push(MyEnrollment {
                    campaign_id: campaign.id.clone(),
                    campaign_name: campaign.name.clone(),
                    campaign_status: campaign.status.clone(),
                    enrollment: view,
                    metrics: metrics::compute(&row.sums, currency),
                    earnings,
                });
            }
            Ok(Me {
                influencer_id: influencer.id,
                handle: influencer.handle,
                display_name: influencer.display_name,
                enrollments: out,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}
