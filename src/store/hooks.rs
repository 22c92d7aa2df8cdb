//! Outgoing webhooks: a brand's endpoints and the deliveries of events to them.

use diesel::prelude::*;

use crate::db::schema::{webhook_deliveries, webhooks};
use crate::db::types::row;
use crate::db::AnyConnection;
use crate::domain::hooks::{DeliveryStatus, EventType};
use crate::domain::ids::{BrandId, DeliveryId, HookEventId, WebhookId};

row! {
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct HookRow in webhooks {
        pub id: WebhookId,
        pub brand_id: BrandId,
        pub url: String,
        /// Comma-separated event types.
        pub events: String,
        pub description: Option<String>,
        /// Sealed.
        pub secret: String,
        pub enabled: bool,
        pub disabled_reason: Option<String>,
        /// Since when every delivery failed (cleared by a success).
        pub failing_since: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

row! {
    #[derive(Debug, Clone, Insertable)]
    #[diesel(treat_none_as_default_value = false)]
    pub struct DeliveryRow in webhook_deliveries {
        pub id: DeliveryId,
        pub webhook_id: WebhookId,
        pub brand_id: BrandId,
        pub event_id: HookEventId,
        pub event_type: EventType,
        /// The envelope as sent, byte for byte, at every attempt.
        pub body: String,
        pub status: DeliveryStatus,
        pub attempts: i64,
        pub response_status: Option<i32>,
        pub latency_ms: Option<i64>,
        pub error: Option<String>,
        pub attempted_at: Option<i64>,
        pub delivered_at: Option<i64>,
        pub created_at: i64,
        pub updated_at: i64,
    }
}

pub fn insert(conn: &mut AnyConnection, row: &HookRow) -> QueryResult<()> {
    diesel::insert_into(webhooks::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// The brand's endpoint.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &WebhookId,
) -> QueryResult<Option<HookRow>> {
    webhooks::table
        .filter(webhooks::id.eq(id))
        .filter(webhooks::brand_id.eq(brand_id))
        .select(HookRow::as_select())
        .first(conn)
        .optional()
}

/// Every endpoint of the brand, oldest first (a brand has a handful).
pub fn of_brand(conn: &mut AnyConnection, brand_id: &BrandId) -> QueryResult<Vec<HookRow>> {
    webhooks::table
        .filter(webhooks::brand_id.eq(brand_id))
        .order(webhooks::id.asc())
        .select(HookRow::as_select())
        .load(conn)
}

/// A page of the brand's endpoints, oldest first, after the cursor.
pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    after: Option<&WebhookId>,
    limit: i64,
) -> QueryResult<Vec<HookRow>> {
    let mut query = webhooks::table
        .filter(webhooks::brand_id.eq(brand_id))
        .order(webhooks::id.asc())
        .limit(limit)
        .select(HookRow::as_select())
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(webhooks::id.gt(after));
    }
    query.load(conn)
}

/// Replaces an endpoint's address, events, description and state.
pub fn replace(conn: &mut AnyConnection, row: &HookRow) -> QueryResult<()> {
    diesel::update(webhooks::table.find(&row.id))
        .set((
            webhooks::url.eq(&row.url),
            webhooks::events.eq(&row.events),
            webhooks::description.eq(&row.description),
            webhooks::enabled.eq(row.enabled),
            webhooks::disabled_reason.eq(&row.disabled_reason),
            webhooks::failing_since.eq(row.failing_since),
            webhooks::updated_at.eq(row.updated_at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Locks an endpoint's row until the transaction ends (a write that changes nothing), so that
/// its state read next stays true: a change of it and an event queued for it do not cross.
pub fn lock(conn: &mut AnyConnection, id: &WebhookId) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id))
        .set(webhooks::enabled.eq(webhooks::enabled))
        .execute(conn)
        .map(|_| ())
}

pub fn delete(conn: &mut AnyConnection, id: &WebhookId) -> QueryResult<()> {
    diesel::delete(webhooks::table.find(id))
        .execute(conn)
        .map(|_| ())
}

/// The endpoint answered: it is failing no more.
pub fn succeeded(conn: &mut AnyConnection, id: &WebhookId) -> QueryResult<()> {
    diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::failing_since.is_not_null()),
    )
    .set(webhooks::failing_since.eq(None::<i64>))
    .execute(conn)
    .map(|_| ())
}

/// The endpoint failed: failing since now unless it already was.
pub fn failed(conn: &mut AnyConnection, id: &WebhookId, now: i64) -> QueryResult<()> {
    diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::failing_since.is_null()),
    )
    .set(webhooks::failing_since.eq(now))
    .execute(conn)
    .map(|_| ())
}

/// Disables an endpoint with the reason shown.
pub fn disable(
    conn: &mut AnyConnection,
    id: &WebhookId,
    reason: &str,
    now: i64,
) -> QueryResult<()> {
    diesel::update(webhooks::table.find(id))
        .set((
            webhooks::enabled.eq(false),
            webhooks::disabled_reason.eq(reason),
            webhooks::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn insert_delivery(conn: &mut AnyConnection, row: &DeliveryRow) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// A delivery by its id alone (the outbox's job names it).
pub fn delivery(conn: &mut AnyConnection, id: &DeliveryId) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// A delivery of the brand's endpoint.
pub fn find_delivery(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    webhook_id: &WebhookId,
    id: &DeliveryId,
) -> QueryResult<Option<DeliveryRow>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .filter(webhook_deliveries::brand_id.eq(brand_id))
        .select(DeliveryRow::as_select())
        .first(conn)
        .optional()
}

/// A page of an endpoint's deliveries, newest first, before the cursor, optionally of one
/// status.
pub fn deliveries(
    conn: &mut AnyConnection,
    webhook_id: &WebhookId,
    status: Option<DeliveryStatus>,
    before: Option<&DeliveryId>,
    limit: i64,
) -> QueryResult<Vec<DeliveryRow>> {
    let mut query = webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .order(webhook_deliveries::id.desc())
        .limit(limit)
        .select(DeliveryRow::as_select())
        .into_boxed();
    if let Some(status) = status {
        query = query.filter(webhook_deliveries::status.eq(status));
    }
    if let Some(before) = before {
        query = query.filter(webhook_deliveries::id.lt(before));
    }
    query.load(conn)
}

/// What one attempt came to (written as soon as the endpoint answered, whatever the outcome).
pub struct Attempt<'a> {
    pub response_status: Option<i32>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub at: i64,
}

pub fn attempted(conn: &mut AnyConnection, id: &DeliveryId, a: &Attempt<'_>) -> QueryResult<()> {
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
            webhook_deliveries::response_status.eq(a.response_status),
            webhook_deliveries::latency_ms.eq(a.latency_ms),
            webhook_deliveries::error.eq(a.error),
            webhook_deliveries::attempted_at.eq(a.at),
            webhook_deliveries::updated_at.eq(a.at),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Sets a delivery's status (`delivered_at` with `delivered`).
pub fn set_status(
    conn: &mut AnyConnection,
    id: &DeliveryId,
    status: DeliveryStatus,
    now: i64,
) -> QueryResult<()> {
    let delivered_at = (status == DeliveryStatus::Delivered).then_some(now);
    diesel::update(webhook_deliveries::table.find(id))
        .set((
            webhook_deliveries::status.eq(status),
            webhook_deliveries::delivered_at.eq(delivered_at),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Holds every pending delivery of the endpoint (it was disabled).
pub fn hold_pending(
    conn: &mut AnyConnection,
    webhook_id: &WebhookId,
    now: i64,
) -> QueryResult<usize> {
    diesel::update(
        webhook_deliveries::table
            .filter(webhook_deliveries::webhook_id.eq(webhook_id))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending)),
    )
    .set((
        webhook_deliveries::status.eq(DeliveryStatus::Held),
        webhook_deliveries::updated_at.eq(now),
    ))
    .execute(conn)
}

/// The endpoint's held deliveries, oldest first (to be queued again in order).
pub fn held(conn: &mut AnyConnection, webhook_id: &WebhookId) -> QueryResult<Vec<DeliveryId>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::webhook_id.eq(webhook_id))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Held))
        .order(webhook_deliveries::id.asc())
        .select(webhook_deliveries::id)
        .load(conn)
}

/// Forgets deliveries last changed before `before` that are delivered or failed; returns how
/// many.
pub fn forget(conn: &mut AnyConnection, before: i64) -> QueryResult<usize> {
    diesel::delete(
        webhook_deliveries::table
            .filter(
                webhook_deliveries::status
                    .eq_any([DeliveryStatus::Delivered, DeliveryStatus::Failed]),
            )
            .filter(webhook_deliveries::updated_at.lt(before)),
    )
    .execute(conn)
}

/// The brands with an endpoint subscribed to `event` (enabled or not: a disabled one holds
/// its events).
pub fn brands_subscribed(conn: &mut AnyConnection, event: &str) -> QueryResult<Vec<BrandId>> {
    let rows: Vec<(String, String)> = webhooks::table
        .filter(webhooks::events.like(format!("%{event}%")))
        .select((webhooks::brand_id, webhooks::events))
        .load(conn)?;
    let mut out: Vec<BrandId> = rows
        .into_iter()
        .filter(|(_, events)| events.split(',').any(|e| e == event))
        .map(|(b, _)| BrandId::stored(b))
        .collect();
    out.sort();
    out.dedup();
    Ok(out)
}
