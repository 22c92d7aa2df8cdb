//! Who clicked: bot and prefetch detection, the privacy-preserving visitor hash, the client
//! address behind trusted proxies, and coarse device/browser/OS classes.

use std::net::IpAddr;

use ipnet::IpNet;
use sha2::{Digest, Sha256};

use crate::domain::names::named_enum;

named_enum! {
    /// What made a request to a link: a person, a bot (crawlers, link previews), or a
    /// browser's prefetch.
    pub enum ClickKind {
        Human = "human",
        Bot = "bot",
        Prefetch = "prefetch",
    }
}

/// Link-preview agents that the general bot list may miss.
const PREVIEW_AGENTS: &[&str] = &[
    "facebookexternalhit",
    "facebookcatalog",
    "meta-externalagent",
    "twitterbot",
    "slackbot",
    "slack-imgproxy",
    "whatsapp",
    "discordbot",
    "linkedinbot",
    "telegrambot",
    "skypeuripreview",
    "pinterestbot",
    "redditbot",
    "embedly",
    "applebot",
    "bingpreview",
    "snapchat",
    "viber",
    "iframely",
    "google-pagerenderer",
    "headlesschrome",
    "python-requests",
    "go-http-client",
    "curl/",
    "wget/",
];

/// Classifies requests with the maintained `isbot` pattern list plus link-preview agents.
pub struct Classifier {
    bots: isbot::Bots,
}

impl Default for Classifier {
    fn default() -> Self {
        let mut bots = isbot::Bots::default();
        bots.append(PREVIEW_AGENTS);
        Self { bots }
    }
}

impl Classifier {
    /// `purpose` is the `Sec-Purpose` or `Purpose` header, when sent.
    pub fn classify(&self, user_agent: Option<&str>, purpose: Option<&str>) -> ClickKind {
        if purpose.is_some_and(|p| {
            p.to_ascii_lowercase().contains("prefetch")
                || p.to_ascii_lowercase().contains("prerender")
        }) {
            return ClickKind::Prefetch;
        }
        match user_agent.map(str::trim) {
            None | Some("") => ClickKind::Bot,
            Some(ua) if self.bots.is_bot(ua) => ClickKind::Bot,
            Some(_) => ClickKind::Human,
        }
    }
}

/// `Sec-Purpose: prefetch` (or the older `Purpose`), including prerenders.
pub fn is_prefetch(purpose: Option<&str>) -> bool {
    purpose.is_some_and(|p| {
        let p = p.to_ascii_lowercase();
        p.contains("prefetch") || p.contains("prerender")
    })
}

/// SHA-256 of the day's secret salt, the address and the user agent; the first 128 bits in
/// hex. Without the salt (deleted after two days) the address cannot be recovered.
pub fn visitor_hash(salt: &str, ip: Option<IpAddr>, user_agent: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(salt.as_bytes());
    hasher.update([0]);
    match ip {
        Some(IpAddr::V4(v4)) => hasher.update(v4.octets()),
        Some(IpAddr::V6(v6)) => hasher.update(v6.octets()),
        None => hasher.update(b"unknown"),
    }
    hasher.update([0]);
    hasher.update(user_agent.as_bytes());
    let digest = hasher.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for byte in &digest[..16] {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

/// Parses `INFLUTRACK_TRUSTED_PROXIES`: comma-separated addresses or CIDR ranges.
pub fn parse_trusted_proxies(raw: &str) -> Result<Vec<IpNet>, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("not an address or CIDR range: {s:?}"))
        })
        .collect()
}

/// The client's address: the socket peer, unless the peer is a trusted proxy, in which case
/// the right-most address of `X-Forwarded-For` that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpNet],
) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    let mut last = peer;
    for part in header.rsplit(',') {
        match part.trim().parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => last = ip,
            Ok(ip) => return Some(ip),
            Err(_) => return Some(last),
        }
    }
    Some(last)
}

/// Coarse classes of a user agent, for reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentClass {
    pub device: &'static str,
    pub browser: String,
    pub os: String,
}

pub fn agent_class(user_agent: Option<&str>) -> AgentClass {
    let parsed = user_agent.and_then(|ua| woothee::parser::Parser::new().parse(ua));
    match parsed {
        Some(r) => AgentClass {
            device: match r.category {
                "pc" => "desktop",
                "smartphone" | "mobilephone" => "mobile",
                "crawler" => "bot",
                "appliance" => "appliance",
                _ => "other",
            },
            browser: clip(r.name),
            os: clip(r.os),
        },
        None => AgentClass {
            device: "other",
            browser: "UNKNOWN".into(),
            os: "UNKNOWN".into(),
        },
    }
}

fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

/// The host of a `Referer` header, lower-cased; never the path or query (they may carry
/// personal data).
pub fn referrer_host(referer: Option<&str>) -> Option<String> {
    let url = url::Url::parse(referer?).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    (!host.is_empty() && host.len() <= 253).then_some(host)
}

/// A two-letter country code from a trusted header, upper-cased; anything else is dropped.
pub fn country(header: Option<&str>) -> Option<String> {
    let value = header?.trim();
    (value.len() == 2 && value.chars().all(|c| c.is_ascii_alphabetic()) && value != "XX")
        .then(|| value.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

    #[test]
    fn real_preview_agents_are_bots() {
        let c = Classifier::default();
        for ua in [
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "Twitterbot/1.0",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "WhatsApp/2.23.20.0 A",
            "WhatsApp/2.2343.3 i",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
            "TelegramBot (like TwitterBot)",
            "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
            "curl/8.4.0",
            "",
        ] {
            assert_eq!(c.classify(Some(ua), None), ClickKind::Bot, "{ua}");
        }
        assert_eq!(c.classify(None, None), ClickKind::Bot);
    }

    #[test]
    fn browsers_are_human_and_prefetches_are_flagged() {
        let c = Classifier::default();
        assert_eq!(c.classify(Some(CHROME), None), ClickKind::Human);
        assert_eq!(c.classify(Some(IPHONE), None), ClickKind::Human);
        assert_eq!(
            c.classify(Some(CHROME), Some("prefetch")),
            ClickKind::Prefetch
        );
        assert_eq!(
            c.classify(Some(CHROME), Some("prefetch;prerender")),
            ClickKind::Prefetch
        );
    }

    #[test]
    fn visitor_hashes_depend_on_salt_ip_and_agent() {
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let a = visitor_hash("salt", Some(ip), CHROME);
        assert_eq!(a.len(), 32);
        assert_eq!(a, visitor_hash("salt", Some(ip), CHROME));
        assert_ne!(a, visitor_hash("other", Some(ip), CHROME));
        assert_ne!(
            a,
            visitor_hash("salt", Some("203.0.113.10".parse().unwrap()), CHROME)
        );
        assert_ne!(a, visitor_hash("salt", Some(ip), IPHONE));
        assert!(!a.contains("203"));
        // The stored form never changes (hashes of the same day must match across versions):
        // the first 128 bits of SHA-256(salt, 0, address octets, 0, agent), lowercase hex.
        assert_eq!(
            visitor_hash("salt", Some("198.51.100.7".parse().unwrap()), CHROME),
            "bbc0770f8d95f1ee9ca1fb0258d13b59"
        );
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = parse_trusted_proxies("10.0.0.0/8, 127.0.0.1").unwrap();
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        let stranger: IpAddr = "198.51.100.7".parse().unwrap();
        let xff = Some("203.0.113.5, 10.9.9.9");
        assert_eq!(
            client_ip(Some(proxy), xff, &trusted),
            Some("203.0.113.5".parse().unwrap())
        );
        assert_eq!(client_ip(Some(stranger), xff, &trusted), Some(stranger));
        assert_eq!(
            client_ip(Some(proxy), Some("garbage"), &trusted),
            Some(proxy)
        );
        assert_eq!(client_ip(Some(proxy), None, &trusted), Some(proxy));
        // A client cannot spoof its way past the proxy by prepending addresses.
        assert_eq!(
            client_ip(Some(proxy), Some("1.2.3.4, 203.0.113.5"), &trusted),
            Some("203.0.113.5".parse().unwrap())
        );
        assert!(parse_trusted_proxies("not-an-ip").is_err());
    }

    #[test]
    fn agent_classes_and_referrers() {
        assert_eq!(agent_class(Some(IPHONE)).device, "mobile");
        assert_eq!(agent_class(Some(CHROME)).device, "desktop");
        assert_eq!(agent_class(Some(CHROME)).browser, "Chrome");
        assert_eq!(agent_class(None).device, "other");
        assert_eq!(
            referrer_host(Some("https://L.Instagram.com/path?u=secret")).as_deref(),
            Some("l.instagram.com")
        );
        assert_eq!(referrer_host(Some("not a url")), None);
        assert_eq!(country(Some("de")).as_deref(), Some("DE"));
        assert_eq!(country(Some("XX")), None);
        assert_eq!(country(Some("DEU")), None);
    }
}
