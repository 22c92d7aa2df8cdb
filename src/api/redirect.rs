//! `GET/HEAD /r/{code}`: a 302 to the link's tracking URL with a click id, sent once the click
//! is committed (`HEAD` records nothing).

use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::App;
use crate::core::redirect::{self, Followed, Visit};

const NOT_FOUND_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Link not found</title>\
<body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem\">\
<h1>Link not found</h1><p>This link does not exist. Check that it was copied completely.</p></body></html>";

const UNAVAILABLE_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<title>Try again</title><body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto\">\
<h1>Please try again</h1><p>This link is briefly unavailable.</p></body></html>";

const TOO_MANY_PAGE: &str = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">\
<title>Too many requests</title><body style=\"font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto\">\
<h1>Too many unknown links</h1><p>Please wait a moment before trying again.</p></body></html>";

fn page(status: StatusCode, body: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

fn header_str<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `GET /r/{code}` (and `HEAD`).
pub async fn follow_link(req: HttpRequest, app: App, path: web::Path<String>) -> HttpResponse {
    let code = path.into_inner();
    let followed = if req.method() == Method::HEAD {
        redirect::peek(&app, &code).await
    } else {
        let edge = crate::web::edge(&req);
        let visit = Visit {
            user_agent: header_str(&req, "user-agent"),
            purpose: header_str(&req, "sec-purpose").or_else(|| header_str(&req, "purpose")),
            ip: edge.client_ip(&req),
            referer: header_str(&req, "referer"),
            country: edge.country(&req),
        };
        redirect::follow(&app, &code, visit).await
    };
    match followed {
        Followed::Redirect(location) => HttpResponse::Found()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::REFERRER_POLICY, "no-referrer-when-downgrade"))
            .finish(),
        // A scan of random codes is limited per address (known links never are).
        Followed::Unknown => match crate::web::ratelimit::unknown_link(&req) {
            Ok(()) => page(StatusCode::NOT_FOUND, NOT_FOUND_PAGE),
            Err(wait) => {
                let mut r = page(StatusCode::TOO_MANY_REQUESTS, TOO_MANY_PAGE);
                r.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(wait));
                r
            }
        },
        Followed::Unavailable => page(StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE_PAGE),
    }
}

#[derive(serde::Serialize)]
struct VisitorView {
    visitor: String,
    /// The UTC day the id is valid on.
    date: String,
}

/// `GET /api/v1/visitor`: the caller's own visitor id of today (open this in the browser whose
/// test clicks a rule should exclude). No key needed: it tells a visitor only about itself.
pub async fn visitor(req: HttpRequest, app: App) -> crate::web::problem::ApiResult<HttpResponse> {
    let edge = crate::web::edge(&req);
    let ip = edge.client_ip(&req);
    let agent = header_str(&req, "user-agent").map(str::to_string);
    let (visitor, day) = app
        .read(move |conn| redirect::visitor_id(conn, ip, agent.as_deref()))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(VisitorView {
            visitor,
            date: crate::domain::time::date_of_day(day).to_string(),
        }))
}
