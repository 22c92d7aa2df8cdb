//! Discount codes in the shops a brand connects. Every change of a code (issued, changed,
//! pruned, reinstated, deleted, its campaign changed) queues one job per connected shop in the
//! change's own transaction; the outbox worker makes the shop match influtrack's state at the
//! time of delivery (so a retried or repeated job is harmless) and records where the code
//! stands in `code_sync`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::core::admin::{AdminError, AdminResult, Page};
use crate::core::now_micros;
use crate::db::{AnyConnection, DbError};
use crate::domain::hooks::EventType;
use crate::domain::ids::{BrandId, CampaignId, CodeId, EnrollmentId, JobId};
use crate::domain::integrations::Platform;
use crate::domain::outbox::{Delivery, JobKind, JobStatus};
use crate::domain::secrets::Sealer;
use crate::domain::shop_sync::{shop_code, CodeFacts, SyncStatus};
use crate::domain::time::rfc3339;
use crate::shops::{Http, Shop, ShopError};
use crate::store;
use crate::store::jobs::JobRow;

/// `shop_sync:{platform}:{brand_id}:{CODE}`: the jobs of one code text in one shop run in
/// order (the shop knows a code by its text: a deleted code and a new one with the same text
/// must not overtake each other).
fn topic(platform: Platform, brand_id: &BrandId, code: &str) -> String {
    format!(
        "{}{brand_id}:{}",
        prefix(platform),
        crate::domain::codes::normalize_discount_code(code)
    )
}

fn prefix(platform: Platform) -> String {
    format!("{}:{}:", JobKind::ShopSync.as_str(), platform.as_str())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Create or update the code in the shop as influtrack holds it now.
    Push,
    /// Delete the code influtrack created in the shop.
    Delete,
}

#[derive(Debug, Serialize, Deserialize)]
struct Payload {
    platform: String,
    code_id: String,
    /// The code's text, to list jobs whose code is gone.
    code: String,
    action: Action,
}

fn payload(job: &JobRow) -> Option<(Platform, CodeId, Payload)> {
    let p: Payload = serde_json::from_str(&job.payload).ok()?;
    Some((Platform::parse(&p.platform)?, CodeId::parse(&p.code_id)?, p))
}

/// The shop a job calls, for metrics.
pub fn platform_of(job: &JobRow) -> Option<Platform> {
    payload(job).map(|(p, _, _)| p)
}

/// The shops of the brand that can take codes (a base URL and credentials are set).
pub fn sync_platforms(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
) -> Result<Vec<Platform>, DbError> {
    crate::db::locks::lock_connections(conn, brand_id.as_str(), false)?;
    let mut out = Vec::new();
    for &platform in Platform::ALL {
        if store::integrations::find(conn, brand_id, platform)?.is_some_and(|r| r.can_sync()) {
            out.push(platform);
        }
    }
    Ok(out)
}

fn enqueue(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    code: (&CodeId, &str),
    platform: Platform,
    action: Action,
    now: i64,
) -> Result<(), DbError> {
    let (code_id, text) = code;
    let payload = Payload {
        platform: platform.as_str().to_string(),
        code_id: code_id.to_string(),
        code: text.to_string(),
        action,
    };
    store::jobs::insert(
        conn,
        &JobRow::due(
            brand_id,
            JobKind::ShopSync,
            topic(platform, brand_id, text),
            serde_json::to_string(&payload).unwrap_or_default(),
            now,
        ),
    )?;
    store::code_sync::mark_pending(conn, brand_id, code_id, platform, now)?;
    Ok(())
}

/// Queues these codes' current state for every connected shop (call inside the transaction
/// of the change).
pub fn codes_changed(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    code_ids: &[CodeId],
) -> Result<(), DbError> {
    if code_ids.is_empty() {
        return Ok(());
    }
    let platforms = sync_platforms(conn, brand_id)?;
    push_to(conn, brand_id, code_ids, &platforms)
}

fn push_to(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    code_ids: &[CodeId],
    platforms: &[Platform],
) -> Result<(), DbError> {
    if platforms.is_empty() {
        return Ok(());
    }
    let now = now_micros();
    for id in code_ids {
        let Some(row) = store::codes::find(conn, brand_id, id)? else {
            continue;
        };
        for &platform in platforms {
            enqueue(conn, brand_id, (id, &row.code), platform, Action::Push, now)?;
        }
    }
    Ok(())
}

/// Queues the codes of an enrollment (pruned, reinstated).
pub fn enrollment_changed(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    enrollment_id: &EnrollmentId,
) -> Result<(), DbError> {
    let ids: Vec<CodeId> = store::codes::of_enrollments(conn, std::slice::from_ref(enrollment_id))?
        .into_iter()
        .map(|c| c.id)
        .collect();
    codes_changed(conn, brand_id, &ids)
}

/// Queues the codes of a campaign (its dates, name or status changed).
pub fn campaign_changed(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    campaign_id: &CampaignId,
) -> Result<(), DbError> {
    let ids = store::codes::ids_of_campaign(conn, campaign_id)?;
    codes_changed(conn, brand_id, &ids)
}

/// Queues every code of the brand for a shop just connected (or whose address changed).
pub fn shop_connected(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
) -> Result<usize, DbError> {
    let ids = store::codes::ids_of_brand(conn, brand_id)?;
    push_to(conn, brand_id, &ids, &[platform])?;
    Ok(ids.len())
}

/// Credentials changed: what they refused may work now.
pub fn credentials_changed(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
) -> Result<usize, DbError> {
    Ok(store::jobs::requeue_failed(
        conn,
        brand_id,
        &prefix(platform),
        now_micros(),
    )?)
}

/// A shop disconnected: its queued jobs are cancelled and its codes' states forgotten.
pub fn shop_disconnected(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
) -> Result<(), DbError> {
    store::jobs::cancel(
        conn,
        brand_id,
        &prefix(platform),
        "the store was disconnected",
        now_micros(),
    )?;
    store::code_sync::delete_platform(conn, brand_id, platform)?;
    Ok(())
}

/// Queues the deletion of a code from every shop that holds it (before the code's row goes).
pub fn code_deleted(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    code_id: &CodeId,
    text: &str,
) -> Result<(), DbError> {
    let now = now_micros();
    for platform in sync_platforms(conn, brand_id)? {
        enqueue(
            conn,
            brand_id,
            (code_id, text),
            platform,
            Action::Delete,
            now,
        )?;
    }
    Ok(())
}

/// The brand's shop with its credentials opened; `None` when it cannot take codes.
pub fn shop(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    brand_id: &BrandId,
    platform: Platform,
) -> Result<Option<Result<Shop, String>>, DbError> {
    let Some(row) = store::integrations::find(conn, brand_id, platform)? else {
        return Ok(None);
    };
    let open = |sealed: &Option<String>| -> Option<Result<String, String>> {
        sealed.as_deref().map(|s| {
            sealer
                .open(s)
                .map(|o| o.into_plain())
                .map_err(|e| format!("the stored credentials cannot be opened: {e}"))
        })
    };
    let Some(base_url) = row.base_url.clone() else {
        return Ok(None);
    };
    Ok(match platform {
        Platform::Shopify => open(&row.access_token).map(|token| {
            token.map(|access_token| Shop::Shopify {
                base_url,
                access_token,
            })
        }),
        Platform::WooCommerce => match (open(&row.consumer_key), open(&row.consumer_secret)) {
            (Some(key), Some(secret)) => Some(key.and_then(|consumer_key| {
                secret.map(|consumer_secret| Shop::WooCommerce {
                    base_url,
                    consumer_key,
                    consumer_secret,
                })
            })),
            _ => None,
        },
    })
}

/// Delivers a shop-sync job: makes the shop hold the code as influtrack holds it now (or
/// deletes it there).
pub fn deliver(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    http: &Http,
    job: &JobRow,
) -> Result<Delivery, DbError> {
    let Some((platform, code_id, payload)) = payload(job) else {
        return Ok(Delivery::Moot("the job cannot be read".into()));
    };
    let shop = match shop(conn, sealer, &job.brand_id, platform)? {
        None => return Ok(Delivery::Moot("the store is no longer connected".into())),
        Some(Err(why)) => return Ok(Delivery::Refused(why)),
        Some(Ok(shop)) => shop,
    };
    let known = store::code_sync::find(conn, &code_id, platform)?.and_then(|r| r.shop_id);
    let outcome = match payload.action {
        Action::Delete => shop.remove(http, known.as_deref()).map(|()| None),
        Action::Push => {
            let Some(wanted) = facts(conn, &job.brand_id, &code_id)? else {
                // Deleted since: its deletion job follows.
                return Ok(Delivery::Done(None));
            };
            shop.push(http, &wanted, known.as_deref()).map(Some)
        }
    };
    Ok(match outcome {
        Ok(id) => Delivery::Done(id),
        Err(ShopError::Retry { after, message }) => Delivery::Retry {
            after,
            error: message,
        },
        Err(ShopError::Refused(message)) => Delivery::Refused(message),
    })
}

/// The code as the shop should hold it now.
fn facts(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    code_id: &CodeId,
) -> Result<Option<crate::domain::shop_sync::ShopCode>, DbError> {
    let Some(code) = store::codes::find(conn, brand_id, code_id)? else {
        return Ok(None);
    };
    let Some(enrollment) = store::enrollments::find_by_id(conn, &code.enrollment_id)? else {
        return Ok(None);
    };
    let Some(campaign) = store::campaigns::find(conn, brand_id, &code.campaign_id)? else {
        return Ok(None);
    };
    let handle = store::influencers::handles(conn, [&code.influencer_id])?
        .remove(&code.influencer_id)
        .unwrap_or_default();
    Ok(Some(shop_code(&CodeFacts {
        code: &code.code,
        handle: &handle,
        discount: code.discount_type,
        value_micros: code.discount_value_micros,
        currency: campaign.currency,
        max_redemptions: code.max_redemptions,
        expires_at: code.expires_at,
        code_status: code.status,
        enrollment_status: enrollment.status,
        campaign_status: campaign.status,
        campaign_name: &campaign.name,
        campaign_starts_at: campaign.starts_at,
        campaign_ends_at: campaign.ends_at,
        created_at: code.created_at,
    })))
}

/// Records where the code stands after a delivery (in the transaction that finishes the job).
pub fn record(
    conn: &mut AnyConnection,
    job: &JobRow,
    delivery: &Delivery,
    gave_up: bool,
    now: i64,
) -> Result<(), DbError> {
    let Some((platform, code_id, payload)) = payload(job) else {
        return Ok(());
    };
    // A later change of the code is queued: the code is not in step until it is delivered.
    let later = store::jobs::pending_in_topic(conn, &job.topic, &job.id)?;
    let settled = |status: SyncStatus| if later { SyncStatus::Pending } else { status };
    match (delivery, payload.action) {
        (Delivery::Done(_), Action::Delete) => {
            store::code_sync::delete(conn, &code_id, platform)?;
        }
        (Delivery::Done(shop_id), Action::Push) => store::code_sync::record(
            conn,
            &code_id,
            platform,
            settled(SyncStatus::Synced),
            shop_id.as_deref(),
            None,
            now,
        )?,
        (Delivery::Retry { error, .. }, _) if !gave_up => store::code_sync::record(
            conn,
            &code_id,
            platform,
            SyncStatus::Pending,
            None,
            Some(error),
            now,
        )?,
        (Delivery::Retry { error, .. } | Delivery::Refused(error), _) => {
            store::code_sync::record(
                conn,
                &code_id,
                platform,
                settled(SyncStatus::Failed),
                None,
                Some(error),
                now,
            )?;
            crate::core::hooks::emit(conn, &job.brand_id, EventType::CodeSyncFailed, |_| {
                Ok::<_, DbError>(serde_json::json!({
                    "code_id": code_id,
                    "code": payload.code,
                    "platform": platform,
                    "action": payload.action,
                    "error": error,
                    "job_id": job.id,
                }))
            })?;
        }
        (Delivery::Moot(_), _) => {}
    }
    Ok(())
}

/// Where a code stands in one shop, as every code answer shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SyncView {
    pub platform: Platform,
    pub status: SyncStatus,
    pub shop_id: Option<String>,
    pub error: Option<String>,
    pub updated_at: String,
}

/// The shop states of these codes.
pub fn sync_views(
    conn: &mut AnyConnection,
    ids: &[CodeId],
) -> Result<HashMap<CodeId, Vec<SyncView>>, DbError> {
    let mut out: HashMap<CodeId, Vec<SyncView>> = HashMap::new();
    for row in store::code_sync::of_codes(conn, ids)? {
        out.entry(row.code_id).or_default().push(SyncView {
            platform: row.platform,
            status: row.status,
            shop_id: row.shop_id,
            error: row.error,
            updated_at: rfc3339(row.updated_at),
        });
    }
    Ok(out)
}

/// A sync job as listed.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: JobId,
    pub platform: Platform,
    pub code_id: CodeId,
    pub code: String,
    pub action: Action,
    pub status: JobStatus,
    pub attempts: i64,
    pub error: Option<String>,
    /// When a pending job is tried next.
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn job_view(job: JobRow) -> Option<JobView> {
    let (platform, code_id, payload) = payload(&job)?;
    Some(JobView {
        id: job.id,
        platform,
        code_id,
        code: payload.code,
        action: payload.action,
        status: job.status,
        attempts: job.attempts,
        error: job.last_error,
        next_attempt_at: (job.status == JobStatus::Pending)
            .then(|| rfc3339(job.locked_until.unwrap_or(job.run_after).max(job.run_after))),
        created_at: rfc3339(job.created_at),
        updated_at: rfc3339(job.updated_at),
    })
}

/// A page of a shop's sync jobs, newest first, optionally of one status.
pub fn list(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
    status: Option<JobStatus>,
    page: &Page,
) -> AdminResult<Vec<JobView>> {
    let before = page.after.clone().map(JobId::stored);
    let rows = store::jobs::list(
        conn,
        brand_id,
        &prefix(platform),
        status,
        before.as_ref(),
        page.fetch(),
    )?;
    Ok(rows.into_iter().filter_map(job_view).collect())
}

/// Queues a shop's sync job again, due now with its attempts counted anew: a failed one, or a
/// pending one waiting for its next attempt. A delivered or cancelled job is a conflict.
pub fn retry(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    platform: Platform,
    job_id: &JobId,
) -> AdminResult<JobView> {
    let job = store::jobs::find(conn, brand_id, job_id)?
        .filter(|j| j.topic.starts_with(&prefix(platform)))
        .ok_or_else(AdminError::not_found)?;
    if !matches!(job.status, JobStatus::Failed | JobStatus::Pending) {
        return Err(AdminError::Conflict(
            crate::core::admin::Conflict::JobFinished(job.status.as_str()),
        ));
    }
    let now = now_micros();
    crate::db::write_transaction(conn, |conn| {
        if !store::jobs::requeue(conn, &job.id, now)? {
            return Err(AdminError::Conflict(
                crate::core::admin::Conflict::JobFinished("finished"),
            ));
        }
        if let Some((platform, code_id, _)) = payload(&job) {
            if store::code_sync::find(conn, &code_id, platform)?.is_some() {
                store::code_sync::mark_pending(conn, brand_id, &code_id, platform, now)?;
            }
        }
        Ok::<_, AdminError>(())
    })?;
    let job = store::jobs::find(conn, brand_id, job_id)?.ok_or_else(AdminError::not_found)?;
    job_view(job).ok_or_else(AdminError::not_found)
}

/// What a call to the shop told about its connection.
#[derive(Debug, Serialize)]
pub struct CheckView {
    pub platform: Platform,
    /// The credentials work and have every scope syncing needs.
    pub ok: bool,
    pub shop_name: Option<String>,
    pub currency: Option<String>,
    pub scopes: Vec<String>,
    pub missing_scopes: Vec<String>,
    pub error: Option<String>,
    pub checked_at: String,
}

/// Calls the shop once (a read) with the stored credentials.
pub fn check(shop: &Shop, http: &Http) -> CheckView {
    let platform = shop.platform();
    let checked_at = rfc3339(now_micros());
    match shop.check(http) {
        Ok(report) => CheckView {
            platform,
            ok: report.missing_scopes.is_empty(),
            shop_name: report.shop_name,
            currency: report.currency,
            scopes: report.scopes,
            missing_scopes: report.missing_scopes,
            error: None,
            checked_at,
        },
        Err(e) => CheckView {
            platform,
            ok: false,
            shop_name: None,
            currency: None,
            scopes: vec![],
            missing_scopes: vec![],
            error: Some(e.message().to_string()),
            checked_at,
        },
    }
}
