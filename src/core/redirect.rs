//! A click: the link found through the cache, the click classified and handed to the click
//! writer, and the answer only once the click is durable. A published link never breaks: a
//! click that cannot be recorded still redirects (and is counted as unrecorded).

use std::net::IpAddr;
use std::sync::Arc;

use crate::core::{on_pool, Core};
use crate::db::{DbError, DbPool};
use crate::domain::codes;
use crate::domain::traffic::{self, ClickKind};
use crate::domain::urls;
use crate::tracking::cache::Lookup;
use crate::tracking::writer::PendingClick;
use crate::tracking::{load_link, SharedLink, Tracking};

/// What a request to a link says about who made it. The address lives only in memory, only
/// until its hash is taken.
#[derive(Debug, Default)]
pub struct Visit<'a> {
    pub user_agent: Option<&'a str>,
    /// `Sec-Purpose` or `Purpose` (prefetches).
    pub purpose: Option<&'a str>,
    pub ip: Option<IpAddr>,
    pub referer: Option<&'a str>,
    /// From a trusted proxy's header.
    pub country: Option<&'a str>,
}

/// Where a link sends a request.
#[derive(Debug)]
pub enum Followed {
    /// To this URL (with the click id appended when a click was made).
    Redirect(String),
    /// No link has this code.
    Unknown,
    /// The link could not be loaded now: try again.
    Unavailable,
}

/// Counts a redirect by outcome; the counters are registered once, not looked up per click.
fn outcome(name: &'static str) {
    use std::sync::OnceLock;
    static COUNTERS: OnceLock<Vec<(&'static str, metrics::Counter)>> = OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        [
            "recorded",
            "recorded_bot",
            "unrecorded",
            "unknown",
            "unavailable",
            "head",
        ]
        .into_iter()
        .map(|o| (o, metrics::counter!("redirects_total", "outcome" => o)))
        .collect()
    });
    match counters.iter().find(|(o, _)| *o == name) {
        Some((_, counter)) => counter.increment(1),
        None => metrics::counter!("redirects_total", "outcome" => name).increment(1),
    }
}

/// Background reloads of expired links running at once, at most.
static RELOADS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(4);

/// Finds a link through the cache, loading and caching it (or its absence) on a miss.
async fn resolve(core: &Core, code: &str) -> Result<Option<SharedLink>, ()> {
    match core.tracking.cache.get(code) {
        Lookup::Hit(link) => return Ok(Some(link)),
        Lookup::Refresh(link) => {
            // Answered from the cache; the reload runs beside it, a few at a time (links
            // loaded together expire together): without a free slot it is left to a caller
            // a moment later.
            if let Ok(permit) = RELOADS.try_acquire() {
                let (pool, tracking, code) = (core.pool(), core.tracking.clone(), code.to_string());
                actix_web::rt::spawn(async move {
                    let _ = load(pool, &tracking, &code).await;
                    drop(permit);
                });
            }
            return Ok(Some(link));
        }
        Lookup::KnownMissing => return Ok(None),
        Lookup::Miss => {}
    }
    // Every code that exists is in memory (topped up every second from the database for links
    // made elsewhere): an unknown one costs no database read.
    if !core.tracking.codes.may_exist(code) {
        return Ok(None);
    }
    load(core.pool(), &core.tracking, code).await
}

/// Loads a link into the cache (or its absence).
async fn load(pool: DbPool, tracking: &Tracking, code: &str) -> Result<Option<SharedLink>, ()> {
    let owned = code.to_string();
    let loaded = on_pool(pool, move |conn| Ok::<_, DbError>(load_link(conn, &owned)?))
        .await
        .map_err(|e| tracing::error!(error = %e, "link lookup failed"))?;
    Ok(match loaded {
        Some(link) => {
            let link = Arc::new(link);
            tracking.cache.insert(code.to_string(), link.clone());
            Some(link)
        }
        None => {
            tracking.cache.insert_missing(code.to_string());
            None
        }
    })
}

/// Where a `HEAD` to a link goes (nothing is recorded).
pub async fn peek(core: &Core, code: &str) -> Followed {
    match find(core, code).await {
        Ok(link) => {
            outcome("head");
            Followed::Redirect(link.location(link.tracking_url.clone()))
        }
        Err(other) => other,
    }
}

async fn find(core: &Core, code: &str) -> Result<SharedLink, Followed> {
    if !codes::is_link_code_shape(code) {
        outcome("unknown");
        return Err(Followed::Unknown);
    }
    match resolve(core, code).await {
        Ok(Some(link)) => Ok(link),
        Ok(None) => {
            outcome("unknown");
            Err(Followed::Unknown)
        }
        Err(()) => {
            outcome("unavailable");
            Err(Followed::Unavailable)
        }
    }
}

/// The user agent as a click keeps it (and hashes it): at most 512 characters.
fn stored_agent(user_agent: Option<&str>) -> String {
    match user_agent.unwrap_or("") {
        ua if ua.len() <= 512 => ua.to_string(),
        ua => ua.chars().take(512).collect(),
    }
}

/// A click on a link: recorded (committed) before the redirect is answered.
pub async fn follow(core: &Core, code: &str, visit: Visit<'_>) -> Followed {
    let link = match find(core, code).await {
        Ok(link) => link,
        Err(other) => return other,
    };
    let tracking = &core.tracking;
    let (kind, agent) = tracking.classify(visit.user_agent, visit.purpose);
    let now = chrono::Utc::now().timestamp_micros();
    let click = PendingClick {
        attributable: link.attributable_at(now),
        ts: now,
        ip: visit.ip,
        user_agent: stored_agent(visit.user_agent),
        kind,
        referrer_host: traffic::referrer_host(visit.referer),
        agent,
        country: traffic::country(visit.country),
        link: link.clone(),
    };
    // The click's id is made by the writer as it commits (see `store::clicks::append_live`).
    let target = match tracking.writer.record(click).await {
        Ok(click_id) => {
            outcome(if kind == ClickKind::Human {
                "recorded"
            } else {
                "recorded_bot"
            });
            urls::append_param(&link.tracking_url, "itk_click", click_id.as_str())
        }
        Err(reason) => {
            outcome("unrecorded");
            metrics::counter!("clicks_unrecorded_total", "reason" => reason.as_str()).increment(1);
            tracing::warn!(reason = reason.as_str(), code = %code, "click redirected but not recorded");
            // No click id: none was stored in time (the writer drops a click whose redirect
            // stopped waiting), and an order naming one would find nothing.
            link.tracking_url.clone()
        }
    };
    Followed::Redirect(link.location(target))
}

/// The visitor id a click from this address and agent gets today (what an exclusion rule's
/// `visitor` names): only ever told to the visitor itself, so it reveals nothing it does not
/// know. It changes each UTC day, as the salt behind it does.
pub fn visitor_id(
    conn: &mut crate::db::AnyConnection,
    ip: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Result<(String, i32), DbError> {
    let day = crate::domain::time::utc_day(chrono::Utc::now().timestamp_micros());
    let fresh = crate::domain::keys::mint_operator_token();
    let salt = crate::store::clicks::salt_for_day(conn, day, &fresh)?;
    Ok((
        traffic::visitor_hash(&salt, ip, &stored_agent(user_agent)),
        day,
    ))
}
