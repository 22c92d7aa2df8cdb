//! Outgoing webhooks: the events a brand may subscribe to, where influtrack may send them, and
//! how a delivery is signed.

use std::net::IpAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::field::FieldError;
use crate::domain::names::named_enum;

named_enum! {
    /// What happened, as an endpoint subscribes to it.
    pub enum EventType {
        OrderAttributed = "order.attributed",
        OrderRefunded = "order.refunded",
        EnrollmentPruned = "enrollment.pruned",
        EnrollmentReinstated = "enrollment.reinstated",
        PayoutApproved = "payout.approved",
        PayoutPaid = "payout.paid",
        CodeSyncFailed = "code.sync_failed",
        FraudFlagged = "fraud.flagged",
        GoalReached = "goal.reached",
        /// Sent by hand to try an endpoint; no endpoint subscribes to it.
        Ping = "ping",
    }
}

named_enum! {
    /// Where a delivery stands: `pending` until the endpoint answers 2xx (`delivered`); `held`
    /// while its endpoint is disabled (queued again when it is re-enabled); `failed` only for
    /// a ping, which is tried once.
    pub enum DeliveryStatus {
        Pending = "pending",
        Delivered = "delivered",
        Held = "held",
        Failed = "failed",
    }
}

/// The events an endpoint may subscribe to (every type but `ping`).
pub fn subscribable() -> impl Iterator<Item = EventType> {
    EventType::ALL
        .iter()
        .copied()
        .filter(|e| *e != EventType::Ping)
}

/// Checks a subscription's event list: known names, at least one, none twice; stored as a
/// comma-separated list in the order given.
pub fn parse_events(field: &str, names: &[String]) -> Result<Vec<EventType>, FieldError> {
    if names.is_empty() {
        return Err(FieldError::new(field, "must name at least one event"));
    }
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let Some(event) = EventType::parse(name).filter(|e| *e != EventType::Ping) else {
            let known: Vec<&str> = subscribable().map(EventType::as_str).collect();
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("must be one of {}", known.join(", ")),
            ));
        };
        if out.contains(&event) {
            return Err(FieldError::new(format!("{field}[{i}]"), "is listed twice"));
        }
        out.push(event);
    }
    Ok(out)
}

/// Event names as stored.
pub fn events_text(events: &[EventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Event names as stored, read back (unknown names, from a later version, are skipped).
pub fn events_of(text: &str) -> Vec<EventType> {
    text.split(',').filter_map(EventType::parse).collect()
}

/// Whether influtrack may send to this address without the operator's leave: not loopback,
/// private, link-local, shared (CGNAT), unspecified, multicast, documentation or reserved
/// ranges, nor an IPv6 address that maps or embeds one of them.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, _, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if v6.is_loopback() || v6.is_unspecified() {
                return false;
            }
            // IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) addresses are
            // judged as the IPv4 address they carry.
            if let Some(v4) = v6.to_ipv4() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            let first = s[0];
            !(v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                // Site-local (deprecated, still routed by some networks).
                || (first & 0xffc0) == 0xfec0
                || (first == 0x2001 && s[1] == 0x0db8)
                // 6to4, Teredo, NAT64 and IPv4-translated addresses embed an IPv4 address
                // that may be private.
                || first == 0x2002
                || (first == 0x2001 && s[1] == 0)
                || (first == 0x0064 && s[1] == 0xff9b)
                || (s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0))
        }
    }
}

/// Whether a host (as a URL spells it) is this machine.
fn is_loopback_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Checks an endpoint's URL: `https`, or `http` to this machine; no credentials in it; an
/// address written in it must be public unless `allow_private` (the operator's choice). A
/// name is checked again against every address it resolves to at each delivery.
pub fn check_url(field: &str, raw: &str, allow_private: bool) -> Result<url::Url, FieldError> {
    if raw.chars().count() > 2048 {
        return Err(FieldError::new(field, "must be at most 2048 characters"));
    }
    let url = url::Url::parse(raw.trim())
        .map_err(|_| FieldError::new(field, "must be an absolute https URL"))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(FieldError::new(field, "must be an https URL"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(FieldError::new(
            field,
            "must not carry credentials: the signature proves the sender",
        ));
    }
    let Some(host) = url.host() else {
        return Err(FieldError::new(field, "must name a host"));
    };
    let loopback = is_loopback_host(&host);
    let literal = match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    };
    if (loopback || literal.is_some_and(|ip| !is_public(ip))) && !allow_private {
        return Err(FieldError::new(
            field,
            "must not point to a private, loopback or link-local address (the operator may allow them with INFLUTRACK_WEBHOOK_ALLOW_PRIVATE)",
        ));
    }
    if url.scheme() == "http" && !loopback {
        return Err(FieldError::new(
            field,
            "must be https (http only to this machine)",
        ));
    }
    Ok(url)
}

/// A new signing secret: `whsec_` and 32 random characters of base 62 (190 bits).
pub fn mint_secret() -> String {
    format!("whsec_{}", crate::domain::keys::random_text(32))
}

/// The signature header's value: `v1=` and the lower-case hex HMAC-SHA256, keyed with the
/// endpoint's secret, of `{timestamp}.{body}` (the timestamp in Unix seconds, as sent in its
/// own header).
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    let mut hex = String::with_capacity(3 + 64);
    hex.push_str("v1=");
    for byte in bytes {
        use std::fmt::Write;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_and_public_unless_allowed() {
        let ok = |u: &str, allow: bool| check_url("url", u, allow).is_ok();
        assert!(ok("https://hooks.example.com/x?y=1", false));
        assert!(!ok("http://hooks.example.com/x", false));
        assert!(!ok("ftp://hooks.example.com/x", false));
        assert!(!ok("https://user:pw@hooks.example.com/", false));
        assert!(!ok("not a url", false));
        for private in [
            "https://127.0.0.1/",
            "http://localhost:8080/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00::1]/",
            "https://[::ffff:10.0.0.1]/",
            "https://[2002:a00:1::]/",
            "https://[::7f00:1]/",
            "https://[::a9fe:a9fe]/",
            "https://[::ffff:0:a00:1]/",
            "https://[fec0::1]/",
            "https://[2001:0:4136:e378::1]/",
            "https://192.0.0.8/",
        ] {
            assert!(!ok(private, false), "{private}");
            assert!(ok(private, true), "{private}");
        }
        // http only to this machine, even when private addresses are allowed.
        assert!(ok("http://127.0.0.1:9000/hook", true));
        assert!(!ok("http://10.0.0.1/hook", true));
        assert!(ok("https://8.8.8.8/", false));
        assert!(ok("https://192.0.2.1.example/", false));
        assert!(ok("https://192.0.1.1/", false));
        assert!(ok("https://[2606:4700::1111]/", false));
    }

    #[test]
    fn signatures_follow_the_documented_recipe() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        assert_eq!(
            signature("whsec_test", 1_700_000_000, r#"{"a":1}"#),
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
    }

    #[test]
    fn events_are_checked_and_round_trip() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let events = parse_events("events", &names(&["order.attributed", "payout.paid"])).unwrap();
        assert_eq!(events_of(&events_text(&events)), events);
        assert!(parse_events("events", &[]).is_err());
        assert_eq!(
            parse_events("events", &names(&["order.attributed", "nope"]))
                .unwrap_err()
                .field,
            "events[1]"
        );
        assert!(parse_events("events", &names(&["ping"])).is_err());
        assert!(parse_events("events", &names(&["payout.paid", "payout.paid"])).is_err());
    }
}
