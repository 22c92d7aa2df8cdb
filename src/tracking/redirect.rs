//! `GET/HEAD /r/{code}`: answer a 302 to the tracking URL with a click id, after the click is
//! committed. A published link never breaks: a click that cannot be recorded still redirects
//! (and is counted as unrecorded).

use std::sync::Arc;

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::domain::codes;
use crate::domain::traffic::{self, ClickKind};
use crate::domain::urls;
use crate::state::AppState;
use crate::tracking::cache::Lookup;
use crate::tracking::writer::PendingClick;
use crate::tracking::{load_link, SharedLink};

const NOT_FOUND_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Link not found</title>\
<body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
<h1>Link not found</h1><p>This link does not exist. Check that it was copied completely.</p></body></html>";

const UNAVAILABLE_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<title>Try again</title><body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto\">\
<h1>Please try again</h1><p>This link is briefly unavailable.</p></body></html>";

fn page(status: StatusCode, body: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn found(location: &str) -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer-when-downgrade"))
        .finish()
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
async fn resolve(state: &web::Data<AppState>, code: &str) -> Result<Option<SharedLink>, ()> {
    match state.tracking.cache.get(code) {
        Lookup::Hit(link) => return Ok(Some(link)),
        Lookup::Refresh(link) => {
            // Answered from the cache; the reload runs beside it, a few at a time (links
            // loaded together expire together): without a free slot it is left to a caller
            // a moment later.
            if let Ok(permit) = RELOADS.try_acquire() {
                let (state, code) = (state.clone(), code.to_string());
                actix_web::rt::spawn(async move {
                    let _ = load(&state, &code).await;
                    drop(permit);
                });
            }
            return Ok(Some(link));
        }
        Lookup::KnownMissing => return Ok(None),
        Lookup::Miss => {}
    }
    load(state, code).await
}

/// Loads a link into the cache (or its absence).
async fn load(state: &AppState, code: &str) -> Result<Option<SharedLink>, ()> {
    let owned = code.to_string();
    let loaded = state
        .db(move |conn| Ok(load_link(conn, &owned)?))
        .await
        .map_err(|e| tracing::error!(error = %e, "link lookup failed"))?;
    Ok(match loaded {
        Some(link) => {
            let link = Arc::new(link);
            state.tracking.cache.insert(code.to_string(), link.clone());
            Some(link)
        }
        None => {
            state.tracking.cache.insert_missing(code.to_string());
            None
        }
    })
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `GET /r/{code}` (and `HEAD`, which records nothing).
pub async fn follow_link(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> HttpResponse {
    let code = path.into_inner();
    if !codes::is_link_code_shape(&code) {
        outcome("unknown");
        return page(StatusCode::NOT_FOUND, NOT_FOUND_PAGE);
    }
    let link = match resolve(&state, &code).await {
        Ok(Some(link)) => link,
        Ok(None) => {
            outcome("unknown");
            return page(StatusCode::NOT_FOUND, NOT_FOUND_PAGE);
        }
        Err(()) => {
            outcome("unavailable");
            return page(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_PAGE);
        }
    };
    if req.method() == Method::HEAD {
        outcome("head");
        return found(&link.tracking_url);
    }

    let tracking = &state.tracking;
    let user_agent = header_str(&req, "user-agent");
    let purpose = header_str(&req, "sec-purpose").or_else(|| header_str(&req, "purpose"));
    let (kind, agent) = tracking.classify(user_agent, purpose);
    let forwarded = header_str(&req, "x-forwarded-for");
    let ip = traffic::client_ip(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        &tracking.trusted_proxies,
    );
    let now = chrono::Utc::now().timestamp_micros();
    let click_id = uuid::Uuid::new_v7(uuid::Timestamp::now(uuid::NoContext)).to_string();
    let location = urls::append_param(&link.tracking_url, "itk_click", &click_id);
    let click = PendingClick {
        id: click_id,
        attributable: link.attributable_at(now),
        ts: now,
        ip,
        user_agent: match user_agent.unwrap_or("") {
            ua if ua.len() <= 512 => ua.to_string(),
            ua => ua.chars().take(512).collect(),
        },
        kind,
        referrer_host: traffic::referrer_host(header_str(&req, "referer")),
        agent,
        country: tracking
            .country_header
            .as_ref()
            .and_then(|h| traffic::country(req.headers().get(h).and_then(|v| v.to_str().ok()))),
        link,
    };
    match tracking.writer.record(click).await {
        Ok(()) => outcome(if kind == ClickKind::Human {
            "recorded"
        } else {
            "recorded_bot"
        }),
        Err(reason) => {
            outcome("unrecorded");
            metrics::counter!("clicks_unrecorded_total", "reason" => reason.as_str()).increment(1);
            tracing::warn!(reason = reason.as_str(), code = %code, "click redirected but not recorded");
        }
    }
    found(&location)
}
