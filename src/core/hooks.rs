//! Outgoing webhooks. A brand's endpoints subscribe to events; each event is written, in the
//! transaction of the change that causes it, as one delivery per subscribed endpoint and one
//! outbox job (topic `webhook:{endpoint}`, so an endpoint's deliveries go in order). The body
//! is fixed when the event is made; each attempt signs it afresh with the time of sending.
//!
//! A failing endpoint is retried with backoff; one that has failed for a day straight
//! (`INFLUTRACK_WEBHOOK_GIVE_UP_SECONDS`) is disabled with the reason, and its undelivered
//! events are held until it is re-enabled.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::core::admin::{AdminError, AdminResult, Conflict, Page};
use crate::core::now_micros;
use crate::db::{AnyConnection, DbError};
use crate::domain::field::{Checks, FieldError};
use crate::domain::hooks::{self, DeliveryStatus, EventType};
use crate::domain::ids::{BrandId, DeliveryId, HookEventId, WebhookId};
use crate::domain::json::{non_null, nullable};
use crate::domain::outbox::{Delivery, JobKind};
use crate::domain::secrets::Sealer;
use crate::domain::time::rfc3339;
use crate::shops::endpoint::{self, Sent};
use crate::shops::Http;
use crate::store;
use crate::store::hooks::{Attempt, DeliveryRow, HookRow};
use crate::store::jobs::JobRow;

/// How the instance treats endpoints (the operator's settings).
#[derive(Debug, Clone, Copy, Default)]
pub struct HookPolicy {
    /// Endpoints on private, loopback and link-local addresses are allowed.
    pub allow_private: bool,
}

fn topic(webhook_id: &WebhookId) -> String {
    format!("{}:{webhook_id}", JobKind::Webhook.as_str())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookInput {
    pub url: String,
    pub events: Vec<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookUpdate {
    #[serde(default, deserialize_with = "non_null")]
    pub url: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    pub events: Option<Vec<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    /// `true` re-enables a disabled endpoint (its held events are sent, in order); `false`
    /// disables it (its undelivered events are held).
    #[serde(default, deserialize_with = "non_null")]
    pub enabled: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct HookView {
    pub id: WebhookId,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why it is disabled (by the brand, or after failing for 24 hours).
    pub disabled_reason: Option<String>,
    /// Since when every delivery failed; `null` while it answers.
    pub failing_since: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The signing secret: in the answer that creates the endpoint only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

fn view(row: HookRow) -> HookView {
    HookView {
        id: row.id,
        url: row.url,
        events: hooks::events_of(&row.events),
        description: row.description,
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        failing_since: row.failing_since.map(rfc3339),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        secret: None,
    }
}

fn description(checks: &mut Checks, raw: Option<String>) -> Option<String> {
    raw.and_then(|d| {
        checks
            .take(crate::domain::text::optional("description", &d, 500))
            .flatten()
    })
}

/// Creates an endpoint; the answer holds its signing secret, never shown again.
pub fn create(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    policy: HookPolicy,
    brand_id: &BrandId,
    input: HookInput,
) -> AdminResult<HookView> {
    let mut checks = Checks::default();
    let url = checks.take(hooks::check_url("url", &input.url, policy.allow_private));
    let events = checks.take(hooks::parse_events("events", &input.events));
    let description = description(&mut checks, input.description);
    checks.finish()?;
    let (Some(url), Some(events)) = (url, events) else {
        return Err(AdminError::Invalid(vec![]));
    };
    let secret = hooks::mint_secret();
    let now = now_micros();
    let row = HookRow {
        id: WebhookId::new(),
        brand_id: brand_id.clone(),
        url: url.to_string(),
        events: hooks::events_text(&events),
        description,
        secret: sealer.seal(&secret),
        enabled: true,
        disabled_reason: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    store::hooks::insert(conn, &row)?;
    tracing::info!(webhook_id = %row.id, "webhook endpoint created");
    let mut v = view(row);
    v.secret = Some(secret);
    Ok(v)
}

fn hook(conn: &mut AnyConnection, brand_id: &BrandId, id: &WebhookId) -> AdminResult<HookRow> {
    store::hooks::find(conn, brand_id, id)?.ok_or_else(AdminError::not_found)
}

pub fn get(conn: &mut AnyConnection, brand_id: &BrandId, id: &WebhookId) -> AdminResult<HookView> {
    hook(conn, brand_id, id).map(view)
}

pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    page: &Page,
) -> AdminResult<Vec<HookView>> {
    let after = page.after.clone().map(WebhookId::stored);
    Ok(
        store::hooks::list(conn, brand_id, after.as_ref(), page.fetch())?
            .into_iter()
            .map(view)
            .collect(),
    )
}

/// Changes an endpoint. Disabling holds its undelivered events; re-enabling queues every held
/// event again, oldest first, and forgets that it was failing.
pub fn update(
    conn: &mut AnyConnection,
    policy: HookPolicy,
    brand_id: &BrandId,
    id: &WebhookId,
    input: HookUpdate,
) -> AdminResult<HookView> {
    let mut checks = Checks::default();
    let url = input
        .url
        .as_deref()
        .and_then(|u| checks.take(hooks::check_url("url", u, policy.allow_private)));
    let events = input
        .events
        .as_deref()
        .and_then(|e| checks.take(hooks::parse_events("events", e)));
    let description = input.description.map(|d| description(&mut checks, d));
    checks.finish()?;
    let row = crate::db::write_transaction(conn, |conn| {
        // Locked first: a concurrent change (another PATCH, the worker disabling it) is seen
        // whole, and two re-enables do not both queue the held events.
        store::hooks::lock(conn, id)?;
        let mut row = hook(conn, brand_id, id)?;
        let now = now_micros();
        if let Some(url) = url {
            row.url = url.to_string();
        }
        if let Some(events) = events {
            row.events = hooks::events_text(&events);
        }
        if let Some(description) = description {
            row.description = description;
        }
        match input.enabled {
            Some(true) if !row.enabled => {
                row.enabled = true;
                row.disabled_reason = None;
                row.failing_since = None;
                release_held(conn, &row, now)?;
            }
            Some(false) if row.enabled => {
                row.enabled = false;
                row.disabled_reason = Some("disabled by the brand".into());
                hold(conn, &row, now)?;
            }
            _ => {}
        }
        row.updated_at = now;
        store::hooks::replace(conn, &row)?;
        Ok::<_, AdminError>(row)
    })?;
    Ok(view(row))
}

/// Deletes an endpoint with its deliveries; its queued jobs are cancelled.
pub fn delete(conn: &mut AnyConnection, brand_id: &BrandId, id: &WebhookId) -> AdminResult<()> {
    crate::db::write_transaction(conn, |conn| {
        let row = hook(conn, brand_id, id)?;
        store::jobs::cancel(
            conn,
            brand_id,
            &topic(&row.id),
            "the endpoint was deleted",
            now_micros(),
        )?;
        store::hooks::delete(conn, &row.id)?;
        Ok::<_, AdminError>(())
    })?;
    tracing::info!(webhook_id = %id, "webhook endpoint deleted");
    Ok(())
}

/// Holds an endpoint's undelivered events and cancels their jobs.
fn hold(conn: &mut AnyConnection, row: &HookRow, now: i64) -> Result<(), DbError> {
    store::jobs::cancel(
        conn,
        &row.brand_id,
        &topic(&row.id),
        "the endpoint is disabled",
        now,
    )?;
    store::hooks::hold_pending(conn, &row.id, now)?;
    Ok(())
}

/// Queues an endpoint's held events again, oldest first.
fn release_held(conn: &mut AnyConnection, row: &HookRow, now: i64) -> Result<(), DbError> {
    for delivery_id in store::hooks::held(conn, &row.id)? {
        store::hooks::set_status(conn, &delivery_id, DeliveryStatus::Pending, now)?;
        queue(conn, row, &delivery_id, now)?;
    }
    Ok(())
}

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    delivery_id: String,
}

fn queue(
    conn: &mut AnyConnection,
    row: &HookRow,
    delivery_id: &DeliveryId,
    now: i64,
) -> Result<(), DbError> {
    let payload = Payload {
        delivery_id: delivery_id.to_string(),
    };
    store::jobs::insert(
        conn,
        &JobRow::due(
            &row.brand_id,
            JobKind::Webhook,
            topic(&row.id),
            serde_json::to_string(&payload).unwrap_or_default(),
            now,
        ),
    )?;
    Ok(())
}

/// The envelope every delivery carries.
fn envelope(
    event_id: &HookEventId,
    event: EventType,
    brand_id: &BrandId,
    now: i64,
    data: Value,
) -> String {
    json!({
        "id": event_id,
        "type": event,
        "created_at": rfc3339(now),
        "brand_id": brand_id,
        "data": data,
    })
    .to_string()
}

/// Records an event for every endpoint of the brand subscribed to it (call inside the
/// transaction of the change): a delivery each, queued, or held while the endpoint is
/// disabled. `data` is made only when an endpoint wants it. Returns how many endpoints.
pub fn emit<E: From<DbError>>(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    event: EventType,
    data: impl FnOnce(&mut AnyConnection) -> Result<Value, E>,
) -> Result<usize, E> {
    let mut targets: Vec<HookRow> = store::hooks::of_brand(conn, brand_id)
        .map_err(DbError::from)?
        .into_iter()
        .filter(|h| hooks::events_of(&h.events).contains(&event))
        .collect();
    if targets.is_empty() {
        return Ok(0);
    }
    // A disabled endpoint may be being re-enabled: read it again under its lock, so that the
    // event is held before the re-enable releases the held ones, or queued after it. (An
    // enabled one being disabled needs nothing: its job finds it disabled and holds it.)
    for target in targets.iter_mut().filter(|t| !t.enabled) {
        store::hooks::lock(conn, &target.id).map_err(DbError::from)?;
        if let Some(now) = store::hooks::find(conn, brand_id, &target.id).map_err(DbError::from)? {
            *target = now;
        }
    }
    let now = now_micros();
    let event_id = HookEventId::new();
    let body = envelope(&event_id, event, brand_id, now, data(conn)?);
    for target in &targets {
        let delivery = DeliveryRow {
            id: DeliveryId::new(),
            webhook_id: target.id.clone(),
            brand_id: brand_id.clone(),
            event_id: event_id.clone(),
            event_type: event,
            body: body.clone(),
            status: if target.enabled {
                DeliveryStatus::Pending
            } else {
                DeliveryStatus::Held
            },
            attempts: 0,
            response_status: None,
            latency_ms: None,
            error: None,
            attempted_at: None,
            delivered_at: None,
            created_at: now,
            updated_at: now,
        };
        store::hooks::insert_delivery(conn, &delivery).map_err(DbError::from)?;
        if target.enabled {
            queue(conn, target, &delivery.id, now)?;
        }
    }
    metrics::counter!("webhook_events_total", "type" => event.as_str()).increment(1);
    Ok(targets.len())
}

/// The headers of one attempt: the event's id (stable across retries and redeliveries, to
/// de-duplicate), its type, the delivery's id, the time of sending and the signature of
/// `{timestamp}.{body}`.
fn headers(secret: &str, delivery: &DeliveryRow, now: i64) -> Vec<(&'static str, String)> {
    let timestamp = now.div_euclid(1_000_000);
    vec![
        ("influtrack-event-id", delivery.event_id.to_string()),
        ("influtrack-event-type", delivery.event_type.to_string()),
        ("influtrack-delivery-id", delivery.id.to_string()),
        ("influtrack-timestamp", timestamp.to_string()),
        (
            "influtrack-signature",
            hooks::signature(secret, timestamp, &delivery.body),
        ),
    ]
}

fn payload(job: &JobRow) -> Option<DeliveryId> {
    let p: Payload = serde_json::from_str(&job.payload).ok()?;
    DeliveryId::parse(&p.delivery_id)
}

/// What one POST of a delivery came to, to be written down.
#[derive(Debug)]
pub struct Attempted {
    delivery_id: DeliveryId,
    sent: Sent,
    at: i64,
}

impl Attempted {
    fn write(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        store::hooks::attempted(
            conn,
            &self.delivery_id,
            &Attempt {
                response_status: self.sent.status.map(i32::from),
                latency_ms: self.sent.latency.as_millis() as i64,
                error: self.sent.error.as_deref(),
                at: self.at,
            },
        )?;
        Ok(())
    }
}

/// Sends one delivery now.
fn send(http: &Http, hook: &HookRow, secret: &str, delivery: &DeliveryRow) -> Attempted {
    let at = now_micros();
    let sent = endpoint::post(
        http,
        &hook.url,
        &headers(secret, delivery, at),
        &delivery.body,
    );
    metrics::histogram!("webhook_latency_seconds").record(sent.latency.as_secs_f64());
    Attempted {
        delivery_id: delivery.id.clone(),
        sent,
        at,
    }
}

/// Delivers a webhook job (by the outbox's worker): the outcome, and the attempt to write
/// down with it (in the transaction that records the outcome).
pub fn deliver(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    http: &Http,
    job: &JobRow,
) -> Result<(Delivery, Option<Attempted>), DbError> {
    let moot = |why: &str| Ok((Delivery::Moot(why.into()), None));
    let Some(id) = payload(job) else {
        return moot("the job cannot be read");
    };
    let Some(delivery) = store::hooks::delivery(conn, &id)? else {
        return moot("the endpoint was deleted");
    };
    let Some(hook) = store::hooks::find(conn, &job.brand_id, &delivery.webhook_id)? else {
        return moot("the endpoint was deleted");
    };
    if !hook.enabled {
        return moot("the endpoint is disabled");
    }
    if delivery.status == DeliveryStatus::Delivered {
        return Ok((Delivery::Done(None), None));
    }
    let secret = match sealer.open(&hook.secret) {
        Ok(s) => s.into_plain(),
        Err(e) => {
            let error = format!("the endpoint's secret cannot be opened: {e}");
            return Ok((Delivery::Retry { after: None, error }, None));
        }
    };
    let attempted = send(http, &hook, &secret, &delivery);
    let outcome = match &attempted.sent.error {
        None => Delivery::Done(None),
        Some(error) => Delivery::Retry {
            after: attempted.sent.retry_after,
            error: error.clone(),
        },
    };
    Ok((outcome, Some(attempted)))
}

/// Whether a failed webhook job's endpoint has failed long enough to be disabled.
pub fn gives_up(
    conn: &mut AnyConnection,
    job: &JobRow,
    now: i64,
    give_up: std::time::Duration,
) -> Result<bool, DbError> {
    let Some(delivery) = payload(job)
        .map(|id| store::hooks::delivery(conn, &id))
        .transpose()?
        .flatten()
    else {
        return Ok(false);
    };
    let since = store::hooks::find(conn, &job.brand_id, &delivery.webhook_id)?
        .and_then(|h| h.failing_since);
    Ok(since.is_some_and(|s| now - s >= give_up.as_micros() as i64))
}

/// Records a webhook job's outcome (in the transaction that finishes the job): delivered; or
/// failing, and when it `gave_up`, the endpoint disabled and its events held.
pub fn record(
    conn: &mut AnyConnection,
    job: &JobRow,
    delivery: &Delivery,
    attempt: Option<&Attempted>,
    gave_up: bool,
    now: i64,
) -> Result<(), DbError> {
    if let Some(attempt) = attempt {
        attempt.write(conn)?;
    }
    let Some(row) = payload(job)
        .map(|id| store::hooks::delivery(conn, &id))
        .transpose()?
        .flatten()
    else {
        return Ok(());
    };
    let Some(hook) = store::hooks::find(conn, &job.brand_id, &row.webhook_id)? else {
        return Ok(());
    };
    match delivery {
        Delivery::Done(_) => {
            store::hooks::set_status(conn, &row.id, DeliveryStatus::Delivered, now)?;
            store::hooks::succeeded(conn, &hook.id)?;
        }
        Delivery::Moot(_) => {
            if row.status == DeliveryStatus::Pending {
                store::hooks::set_status(conn, &row.id, DeliveryStatus::Held, now)?;
            }
        }
        Delivery::Retry { error, .. } | Delivery::Refused(error) => {
            store::hooks::failed(conn, &hook.id, now)?;
            if gave_up {
                let reason = format!(
                    "disabled after failing without a success since {}; last error: {error}",
                    rfc3339(hook.failing_since.unwrap_or(now))
                );
                store::hooks::disable(conn, &hook.id, &reason, now)?;
                hold(conn, &hook, now)?;
                tracing::warn!(webhook_id = %hook.id, "a webhook endpoint failed for too long and was disabled");
            }
        }
    }
    Ok(())
}

/// A delivery as listed.
#[derive(Debug, Serialize)]
pub struct DeliveryView {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: HookEventId,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    pub attempts: i64,
    /// The last attempt's answer; `null` when nothing answered.
    pub response_status: Option<i32>,
    pub latency_ms: Option<i64>,
    pub error: Option<String>,
    pub attempted_at: Option<String>,
    pub delivered_at: Option<String>,
    pub created_at: String,
    /// The envelope as sent.
    pub payload: Value,
}

fn delivery_view(row: DeliveryRow) -> DeliveryView {
    DeliveryView {
        payload: serde_json::from_str(&row.body).unwrap_or(Value::Null),
        id: row.id,
        webhook_id: row.webhook_id,
        event_id: row.event_id,
        event_type: row.event_type,
        status: row.status,
        attempts: row.attempts,
        response_status: row.response_status,
        latency_ms: row.latency_ms,
        error: row.error,
        attempted_at: row.attempted_at.map(rfc3339),
        delivered_at: row.delivered_at.map(rfc3339),
        created_at: rfc3339(row.created_at),
    }
}

/// A page of an endpoint's deliveries, newest first, optionally of one status.
pub fn deliveries(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &WebhookId,
    status: Option<DeliveryStatus>,
    page: &Page,
) -> AdminResult<Vec<DeliveryView>> {
    let hook = hook(conn, brand_id, id)?;
    let before = page.after.clone().map(DeliveryId::stored);
    Ok(
        store::hooks::deliveries(conn, &hook.id, status, before.as_ref(), page.fetch())?
            .into_iter()
            .map(delivery_view)
            .collect(),
    )
}

/// Sends an event again as a new delivery (the same event id and body), after the endpoint's
/// queued ones.
pub fn redeliver(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &WebhookId,
    delivery_id: &DeliveryId,
) -> AdminResult<DeliveryView> {
    let row = crate::db::write_transaction(conn, |conn| {
        let hook = hook(conn, brand_id, id)?;
        let old = store::hooks::find_delivery(conn, brand_id, &hook.id, delivery_id)?
            .ok_or_else(AdminError::not_found)?;
        if old.event_type == EventType::Ping {
            return Err(
                FieldError::new("delivery_id", "a ping is not redelivered: ping again").into(),
            );
        }
        if !hook.enabled {
            return Err(AdminError::Conflict(Conflict::WebhookDisabled));
        }
        let now = now_micros();
        let row = DeliveryRow {
            id: DeliveryId::new(),
            status: DeliveryStatus::Pending,
            attempts: 0,
            response_status: None,
            latency_ms: None,
            error: None,
            attempted_at: None,
            delivered_at: None,
            created_at: now,
            updated_at: now,
            ..old
        };
        store::hooks::insert_delivery(conn, &row)?;
        queue(conn, &hook, &row.id, now)?;
        Ok::<_, AdminError>(row)
    })?;
    Ok(delivery_view(row))
}

/// A ping's endpoint and secret, opened.
pub struct PingTarget {
    hook: HookRow,
    secret: String,
}

/// Reads what a ping needs.
pub fn ping_target(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    brand_id: &BrandId,
    id: &WebhookId,
) -> AdminResult<PingTarget> {
    let hook = hook(conn, brand_id, id)?;
    let secret = sealer.open(&hook.secret).map_err(|e| {
        tracing::warn!(error = %e, "a webhook secret cannot be opened");
        AdminError::Conflict(Conflict::CredentialsUnreadable)
    })?;
    Ok(PingTarget {
        hook,
        secret: secret.into_plain(),
    })
}

/// Sends a signed `ping` to the endpoint now, outside the queue (whether or not it is
/// enabled), once; recorded among its deliveries.
pub fn ping(
    conn: &mut AnyConnection,
    http: &Http,
    target: PingTarget,
) -> AdminResult<DeliveryView> {
    let PingTarget { hook, secret } = target;
    let now = now_micros();
    let event_id = HookEventId::new();
    let data = json!({ "webhook_id": hook.id, "url": hook.url });
    // Written as failed until the endpoint answers: a ping cut short is never queued.
    let mut row = DeliveryRow {
        id: DeliveryId::new(),
        webhook_id: hook.id.clone(),
        brand_id: hook.brand_id.clone(),
        body: envelope(&event_id, EventType::Ping, &hook.brand_id, now, data),
        event_id,
        event_type: EventType::Ping,
        status: DeliveryStatus::Failed,
        attempts: 0,
        response_status: None,
        latency_ms: None,
        error: Some("the ping was cut short".into()),
        attempted_at: None,
        delivered_at: None,
        created_at: now,
        updated_at: now,
    };
    store::hooks::insert_delivery(conn, &row)?;
    let attempted = send(http, &hook, &secret, &row);
    attempted.write(conn)?;
    let now = now_micros();
    row.status = if attempted.sent.ok() {
        DeliveryStatus::Delivered
    } else {
        DeliveryStatus::Failed
    };
    store::hooks::set_status(conn, &row.id, row.status, now)?;
    Ok(delivery_view(
        store::hooks::delivery(conn, &row.id)?.unwrap_or(row),
    ))
}
