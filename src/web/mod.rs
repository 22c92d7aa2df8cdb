//! What the API and the dashboard share at the HTTP edge: problem answers, request
//! extractors, the bearer-key extractor, rate limits, request metrics, what a request says
//! about its client, and the CSV exports. Imports `core` and `domain`; the API and the dashboard import this,
//! never each other (`tests/architecture.rs`).

pub mod auth;
pub mod csv;
pub mod extract;
pub mod observe;
pub mod problem;
pub mod ratelimit;

use std::net::IpAddr;

use actix_web::http::header::{self, HeaderName};
use actix_web::{web, HttpRequest};
use ipnet::IpNet;

/// The dashboard's session cookie (the rate limits key a request by it too).
pub const SESSION_COOKIE: &str = "itk_session";

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty() && token.len() <= 256).then(|| token.to_string())
}

/// What the instance believes of the proxies in front of it.
#[derive(Debug, Clone, Default)]
pub struct Edge {
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// A header with the visitor's country, set by such a proxy.
    pub country_header: Option<HeaderName>,
}

impl Edge {
    /// The client's address: the socket peer, or the address a trusted proxy forwarded.
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        crate::domain::traffic::client_ip(
            req.peer_addr().map(|a| a.ip()),
            forwarded,
            &self.trusted_proxies,
        )
    }

    /// The country a trusted proxy says the visitor is in (the header's raw value).
    pub fn country<'a>(&self, req: &'a HttpRequest) -> Option<&'a str> {
        let name = self.country_header.as_ref()?;
        req.headers().get(name).and_then(|v| v.to_str().ok())
    }
}

/// The instance's edge settings of a request (defaults when none were registered).
pub fn edge(req: &HttpRequest) -> web::Data<Edge> {
    req.app_data::<web::Data<Edge>>()
        .cloned()
        .unwrap_or_else(|| web::Data::new(Edge::default()))
}
