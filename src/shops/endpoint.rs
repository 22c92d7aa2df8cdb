//! POSTs to a brand's webhook endpoint. Every address a name resolves to is checked at each
//! call (a name that resolved to a public address when the endpoint was saved may resolve to
//! a private one later), and an address written in the URL is checked before the call.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::domain::hooks::is_public;
use crate::domain::outbox::parse_retry_after;
use crate::shops::{clip, Http};

/// Resolves names to their allowed addresses only.
pub(crate) struct Guarded {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for Guarded {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::task::spawn_blocking(move || (host.as_str(), 0).to_socket_addrs())
                    .await??
                    .collect();
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err("the name resolves only to private, loopback or link-local addresses, which influtrack does not call".into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// What one POST came to.
#[derive(Debug)]
pub struct Sent {
    /// The answer's status; `None` when nothing answered.
    pub status: Option<u16>,
    pub latency: Duration,
    /// The endpoint's `Retry-After` on a 429 or 503.
    pub retry_after: Option<Duration>,
    /// Why it is not a success (`None` on a 2xx).
    pub error: Option<String>,
}

impl Sent {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// POSTs `body` (JSON) with `headers` to `url`.
pub fn post(http: &Http, url: &str, headers: &[(&str, String)], body: &str) -> Sent {
    let started = Instant::now();
    let refused = |why: String| Sent {
        status: None,
        latency: started.elapsed(),
        retry_after: None,
        error: Some(why),
    };
    let Ok(parsed) = url::Url::parse(url) else {
        return refused("the endpoint's URL cannot be read".into());
    };
    let literal = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
        _ => None,
    };
    if literal.is_some_and(|ip| !http.allow_private && !is_public(ip)) {
        return refused("the endpoint's address is private, loopback or link-local, which influtrack does not call".into());
    }
    let mut request = http
        .hooks
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = match request.send() {
        Ok(response) => response,
        Err(e) => {
            let why = if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_connect() {
                // The resolver's refusal reads best as it is.
                let mut source = std::error::Error::source(&e);
                let mut why = "could not connect".to_string();
                while let Some(s) = source {
                    if s.to_string().contains("influtrack does not call") {
                        why = s.to_string();
                        break;
                    }
                    source = s.source();
                }
                why
            } else {
                "the connection failed".to_string()
            };
            return refused(format!("the endpoint did not answer: {why}"));
        }
    };
    let status = response.status().as_u16();
    let retry_after = matches!(status, 429 | 503)
        .then(|| response.headers().get(reqwest::header::RETRY_AFTER))
        .flatten()
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after);
    // The answer's start, to show why it failed; the rest is not read.
    let mut text = String::new();
    if !(200..300).contains(&status) {
        use std::io::Read;
        let mut head = Vec::new();
        let _ = response.take(300).read_to_end(&mut head);
        // The endpoint's words go into logs and answers: no line breaks or escapes of its own.
        text = String::from_utf8_lossy(&head)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
    }
    let latency = started.elapsed();
    let error = (!(200..300).contains(&status)).then(|| {
        let text = clip(&text);
        if text.is_empty() {
            format!("the endpoint answered {status}")
        } else {
            format!("the endpoint answered {status}: {text}")
        }
    });
    Sent {
        status: Some(status),
        latency,
        retry_after,
        error,
    }
}
