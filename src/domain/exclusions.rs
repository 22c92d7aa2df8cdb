//! Exclusion rules: which clicks and orders of a campaign leave its figures (they stay stored).
//! A rule names an order, or describes clicks by every field it sets (visitor, link, referrer
//! host, time window); an order reached through an excluded click is excluded with it.

use crate::domain::field::{Checks, FieldError};
use crate::domain::ids::LinkId;

/// A rule as checked. Click fields and `order_id` do not mix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// A visitor id (32 hex digits; a visitor's id changes each UTC day).
    pub visitor: Option<String>,
    pub link_id: Option<LinkId>,
    /// Lower-case; the host or any of its subdomains.
    pub referrer_host: Option<String>,
    /// Microseconds, inclusive.
    pub from: Option<i64>,
    /// Microseconds, exclusive.
    pub to: Option<i64>,
    /// The storefront's order id.
    pub order_id: Option<String>,
}

/// What a rule asks of one click.
#[derive(Debug, Clone, Copy)]
pub struct ClickFacts<'a> {
    pub visitor_hash: &'a str,
    pub link_id: &'a LinkId,
    pub referrer_host: Option<&'a str>,
    pub ts: i64,
}

impl Rule {
    /// Checks the raw fields of a rule (`rule.*` in errors); `from`/`to` already parsed.
    #[allow(clippy::too_many_arguments)]
    pub fn check(
        checks: &mut Checks,
        visitor: Option<&str>,
        link_id: Option<&str>,
        referrer_host: Option<&str>,
        from: Option<i64>,
        to: Option<i64>,
        order_id: Option<&str>,
    ) -> Option<Self> {
        let before = checks.0.len();
        let visitor = visitor.map(str::trim).and_then(|v| {
            let ok = v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit());
            if !ok {
                checks.fail("rule.visitor", "must be a visitor id (32 hex digits)");
            }
            ok.then(|| v.to_ascii_lowercase())
        });
        let link_id = link_id.and_then(|raw| {
            let id = LinkId::parse(raw.trim());
            if id.is_none() {
                checks.fail("rule.link_id", "must be a link id (a UUID)");
            }
            id
        });
        let referrer_host = referrer_host.map(str::trim).and_then(|h| {
            let host = h.trim_end_matches('.').to_ascii_lowercase();
            let ok = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            if !ok {
                checks.fail(
                    "rule.referrer_host",
                    "must be a host name such as instagram.com",
                );
            }
            ok.then_some(host)
        });
        let order_id = order_id.map(str::trim).and_then(|o| {
            let ok = !o.is_empty() && o.chars().count() <= 255 && !o.chars().any(char::is_control);
            if !ok {
                checks.fail(
                    "rule.order_id",
                    "must be an order id of 1 to 255 printable characters",
                );
            }
            ok.then(|| o.to_string())
        });
        if let (Some(f), Some(t)) = (from, to) {
            if f >= t {
                checks.fail("rule.to", "must be after rule.from");
            }
        }
        if checks.0.len() > before {
            return None;
        }
        let rule = Self {
            visitor,
            link_id,
            referrer_host,
            from,
            to,
            order_id,
        };
        let click_fields = rule.visitor.is_some()
            || rule.link_id.is_some()
            || rule.referrer_host.is_some()
            || rule.from.is_some()
            || rule.to.is_some();
        if rule.order_id.is_some() && click_fields {
            checks.fail(
                "rule.order_id",
                "names one order: it cannot be combined with the click fields",
            );
            return None;
        }
        if rule.order_id.is_none() && !click_fields {
            checks.0.push(FieldError::new(
                "rule",
                "must set order_id, or one or more of visitor, link_id, referrer_host, from, to",
            ));
            return None;
        }
        Some(rule)
    }

    /// Whether the rule is about clicks (else it names an order).
    pub fn is_about_clicks(&self) -> bool {
        self.order_id.is_none()
    }

    /// Whether the click matches every field the rule sets.
    pub fn matches(&self, c: &ClickFacts<'_>) -> bool {
        self.is_about_clicks()
            && self.visitor.as_deref().is_none_or(|v| v == c.visitor_hash)
            && self.link_id.as_ref().is_none_or(|l| l == c.link_id)
            && self.referrer_host.as_deref().is_none_or(|h| {
                c.referrer_host.is_some_and(|r| {
                    r == h
                        || (r.len() > h.len()
                            && r.ends_with(h)
                            && r[..r.len() - h.len()].ends_with('.'))
                })
            })
            && self.from.is_none_or(|f| c.ts >= f)
            && self.to.is_none_or(|t| c.ts < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        visitor: Option<&str>,
        link: Option<&str>,
        referrer: Option<&str>,
        from: Option<i64>,
        to: Option<i64>,
        order: Option<&str>,
    ) -> Result<Rule, Vec<FieldError>> {
        let mut checks = Checks::default();
        let r = Rule::check(&mut checks, visitor, link, referrer, from, to, order);
        checks.finish()?;
        Ok(r.unwrap())
    }

    fn fields(r: Result<Rule, Vec<FieldError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_rule_sets_an_order_or_click_fields_never_both_never_neither() {
        assert_eq!(fields(rule(None, None, None, None, None, None)), ["rule"]);
        assert_eq!(
            fields(rule(None, None, Some("x.com"), None, None, Some("1001"))),
            ["rule.order_id"]
        );
        assert_eq!(
            fields(rule(
                Some("nope"),
                Some("x"),
                Some("a b"),
                Some(5),
                Some(5),
                Some("")
            )),
            [
                "rule.visitor",
                "rule.link_id",
                "rule.referrer_host",
                "rule.order_id",
                "rule.to"
            ]
        );
        let r = rule(None, None, Some("Instagram.com."), None, None, None).unwrap();
        assert_eq!(r.referrer_host.as_deref(), Some("instagram.com"));
        assert!(rule(None, None, None, None, None, Some(" 1001 ")).is_ok());
    }

    #[test]
    fn clicks_match_every_field_the_rule_sets() {
        let link = LinkId::new();
        let other = LinkId::new();
        let v = "0123456789abcdef0123456789abcdef";
        let click = |visitor: &'static str, link: &'static LinkId, referrer, ts| ClickFacts {
            visitor_hash: visitor,
            link_id: link,
            referrer_host: referrer,
            ts,
        };
        let link: &'static LinkId = Box::leak(Box::new(link));
        let other: &'static LinkId = Box::leak(Box::new(other));
        let r = rule(
            Some(&v.to_uppercase()),
            Some(link.as_str()),
            None,
            Some(10),
            Some(20),
            None,
        )
        .unwrap();
        assert!(r.matches(&click(v, link, None, 10)));
        assert!(!r.matches(&click(v, link, None, 20)));
        assert!(!r.matches(&click(v, other, None, 15)));
        assert!(!r.matches(&click("ffffffffffffffffffffffffffffffff", link, None, 15)));
        let r = rule(None, None, Some("instagram.com"), None, None, None).unwrap();
        assert!(r.matches(&click(v, link, Some("l.instagram.com"), 1)));
        assert!(r.matches(&click(v, link, Some("instagram.com"), 1)));
        assert!(!r.matches(&click(v, link, Some("notinstagram.com"), 1)));
        assert!(!r.matches(&click(v, link, None, 1)));
        let r = rule(None, None, None, None, None, Some("1001")).unwrap();
        assert!(!r.matches(&click(v, link, None, 1)));
    }
}
