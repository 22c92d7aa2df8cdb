//! Orders, refunds and funnel events as storefronts report them: validated, normalised and
//! fingerprinted for idempotency, whatever their source (REST, Shopify, WooCommerce).

use crate::domain::keys::sha256_hex;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::codes::normalize_discount_code;
use crate::domain::field::FieldError;
use crate::domain::ids::ClickId;
use crate::domain::money::{self, Currency};
use crate::domain::names::named_enum;

/// How far in the future an `occurred_at` may lie (clock skew between systems).
const FUTURE_TOLERANCE_MICROS: i64 = 5 * 60 * 1_000_000;
/// How far in the past an order sent through the API may lie: a year (a backfill of last
/// season's orders), never 1970. Commissions are held from when influtrack received an order,
/// whatever time it claims, so an old time shortens no holding period.
pub const MAX_ORDER_AGE_DAYS: i64 = 365;
const MAX_CODES: usize = 20;
const MAX_CLICKS: usize = 50;

/// An order as reported.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    pub order_id: String,
    #[serde(deserialize_with = "crate::domain::json::decimal_text")]
    pub amount: String,
    pub currency: String,
    #[serde(default, deserialize_with = "crate::domain::json::non_null")]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub discount_codes: Vec<String>,
    #[serde(default)]
    pub click_ids: Vec<String>,
    #[serde(default, deserialize_with = "crate::domain::json::non_null")]
    pub customer_ref: Option<String>,
}

/// A validated order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub external_id: String,
    pub amount_micros: i64,
    pub currency: Currency,
    pub occurred_at: i64,
    /// Upper-case, without duplicates, in the order given.
    pub discount_codes: Vec<String>,
    /// Without duplicates, in the order given.
    pub click_ids: Vec<ClickId>,
    pub customer_ref: Option<String>,
    pub fingerprint: String,
}

/// An external id (order, refund, event): 1 to 128 printable characters.
pub fn parse_external_id(field: &str, raw: &str) -> Result<String, FieldError> {
    let id = raw.trim();
    if id.is_empty() || raw.chars().count() > 128 || id.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must be 1 to 128 printable characters",
        ));
    }
    Ok(id.to_string())
}

/// An amount in a currency: a non-negative decimal with no more decimals than the currency's
/// minor unit.
pub fn parse_money(field: &str, raw: &str, currency: Currency) -> Result<i64, FieldError> {
    let micros = money::parse_amount(field, raw)?;
    let unit = currency.minor_unit_micros();
    if micros % unit != 0 {
        return Err(FieldError::new(
            field,
            format!(
                "has more decimals than {} allows ({})",
                currency.code(),
                currency.minor_digits()
            ),
        ));
    }
    Ok(micros)
}

/// The largest value one event (or one event type) may have: a billion units of money, so
/// that sums of them stay exact.
pub const MAX_EVENT_VALUE_MICROS: i64 = 1_000_000_000 * money::MICROS;

/// An event's value: at most [`MAX_EVENT_VALUE_MICROS`].
pub fn check_event_value(field: &str, micros: i64) -> Result<i64, FieldError> {
    if micros > MAX_EVENT_VALUE_MICROS {
        Err(FieldError::new(field, "must be at most 1000000000"))
    } else {
        Ok(micros)
    }
}

/// A `customer_ref` as stored (see [`stored_customer_ref`]); blank is none.
pub fn parse_customer_ref(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let r = raw.trim();
    if raw.chars().count() > 200 || r.chars().any(char::is_control) {
        return Err(FieldError::new(
            "customer_ref",
            "must be at most 200 printable characters",
        ));
    }
    Ok((!r.is_empty()).then(|| stored_customer_ref(r)))
}

/// Keeps the value of a successful check, records the error of a failed one.
fn keep<T>(errors: &mut Vec<FieldError>, result: Result<T, FieldError>) -> Option<T> {
    result.map_err(|e| errors.push(e)).ok()
}

/// Whether a customer reference is an e-mail address (`local@domain`; a handle's leading `@`
/// does not make one).
fn is_email(r: &str) -> bool {
    r.rsplit_once('@')
        .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

/// What is stored of a customer reference: an e-mail only as the SHA-256 of its lower-case
/// form, on every path (self-referral detection compares hashes); anything else as sent.
pub fn stored_customer_ref(r: &str) -> String {
    let r = r.trim();
    if is_email(r) {
        sha256_hex(&r.to_lowercase())
    } else {
        r.to_string()
    }
}

/// A reported time: not more than five minutes ahead, and not before `oldest` when given.
fn parse_time(
    field: &str,
    at: Option<DateTime<Utc>>,
    now: i64,
    oldest: Option<i64>,
) -> Result<i64, FieldError> {
    match at {
        None => Ok(now),
        Some(t) => {
            let micros = t.timestamp_micros();
            if micros > now + FUTURE_TOLERANCE_MICROS {
                Err(FieldError::new(
                    field,
                    "is in the future (more than 5 minutes ahead)",
                ))
            } else if oldest.is_some_and(|o| micros < o) {
                Err(FieldError::new(
                    field,
                    format!("is more than {MAX_ORDER_AGE_DAYS} days ago"),
                ))
            } else {
                Ok(micros)
            }
        }
    }
}

impl OrderInput {
    /// An order sent through the API: `occurred_at` at most [`MAX_ORDER_AGE_DAYS`] ago.
    pub fn validate(self, now: i64) -> Result<NewOrder, Vec<FieldError>> {
        let oldest = now - MAX_ORDER_AGE_DAYS * 24 * 3_600 * 1_000_000;
        self.validate_since(now, Some(oldest))
    }

    /// An order a platform signed: its own time whatever its age (an `orders/updated` of an
    /// old order must still be recognised as the order recorded then).
    pub fn validate_signed(self, now: i64) -> Result<NewOrder, Vec<FieldError>> {
        self.validate_since(now, None)
    }

    fn validate_since(self, now: i64, oldest: Option<i64>) -> Result<NewOrder, Vec<FieldError>> {
        let mut errors = Vec::new();
        let external_id = keep(&mut errors, parse_external_id("order_id", &self.order_id));
        let currency = keep(&mut errors, Currency::parse("currency", &self.currency));
        let amount = match currency {
            Some(c) => keep(&mut errors, parse_money("amount", &self.amount, c)),
            None => keep(&mut errors, money::parse_amount("amount", &self.amount)),
        };
        let occurred_at = keep(
            &mut errors,
            parse_time("occurred_at", self.occurred_at, now, oldest),
        );
        let customer_ref = keep(
            &mut errors,
            parse_customer_ref(self.customer_ref.as_deref()),
        )
        .flatten();
        if self.discount_codes.len() > MAX_CODES {
            errors.push(FieldError::new(
                "discount_codes",
                format!("at most {MAX_CODES} codes"),
            ));
        }
        let mut codes: Vec<String> = Vec::new();
        for (i, c) in self.discount_codes.iter().enumerate() {
            let code = normalize_discount_code(c);
            if code.is_empty() || c.chars().count() > 64 || code.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    format!("discount_codes[{i}]"),
                    "must be 1 to 64 printable characters",
                ));
            } else if !codes.contains(&code) {
                codes.push(code);
            }
        }
        if self.click_ids.len() > MAX_CLICKS {
            errors.push(FieldError::new(
                "click_ids",
                format!("at most {MAX_CLICKS} click ids"),
            ));
        }
        let mut clicks: Vec<ClickId> = Vec::new();
        for (i, c) in self.click_ids.iter().enumerate() {
            match ClickId::parse(c.trim()) {
                Some(id) => {
                    if !clicks.contains(&id) {
                        clicks.push(id);
                    }
                }
                None => errors.push(FieldError::new(
                    format!("click_ids[{i}]"),
                    "must be a click id (a UUID)",
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let (external_id, currency, amount_micros, occurred_at) = (
            external_id.unwrap_or_default(),
            currency.expect("checked"),
            amount.unwrap_or_default(),
            occurred_at.unwrap_or(now),
        );
        // The fingerprint covers what the storefront said, not defaults filled in here: a
        // resend without `occurred_at` is the same order.
        let mut sorted_codes = codes.clone();
        sorted_codes.sort();
        let mut sorted_clicks = clicks.clone();
        sorted_clicks.sort();
        let canonical = serde_json::json!({
            "order_id": external_id,
            "amount": amount_micros,
            "currency": currency.code(),
            "occurred_at": self.occurred_at.map(|t| t.timestamp_micros()),
            "discount_codes": sorted_codes,
            "click_ids": sorted_clicks,
            "customer_ref": customer_ref,
        });
        Ok(NewOrder {
            fingerprint: sha256_hex(&canonical.to_string()),
            external_id,
            amount_micros,
            currency,
            occurred_at,
            discount_codes: codes,
            click_ids: clicks,
            customer_ref,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    pub refund_id: String,
    #[serde(deserialize_with = "crate::domain::json::decimal_text")]
    pub amount: String,
    #[serde(default, deserialize_with = "crate::domain::json::non_null")]
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefund {
    pub external_id: String,
    pub amount_micros: i64,
    pub occurred_at: i64,
    pub fingerprint: String,
}

impl RefundInput {
    /// Validates against the order's currency.
    pub fn validate(self, currency: Currency, now: i64) -> Result<NewRefund, Vec<FieldError>> {
        let mut errors = Vec::new();
        let external_id = keep(&mut errors, parse_external_id("refund_id", &self.refund_id));
        let amount = keep(&mut errors, parse_money("amount", &self.amount, currency));
        if amount == Some(0) {
            errors.push(FieldError::new("amount", "must be greater than zero"));
        }
        let occurred_at = keep(
            &mut errors,
            parse_time("occurred_at", self.occurred_at, now, None),
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        let external_id = external_id.unwrap_or_default();
        let amount_micros = amount.unwrap_or_default();
        let canonical = serde_json::json!({
            "refund_id": external_id,
            "amount": amount_micros,
            "occurred_at": self.occurred_at.map(|t| t.timestamp_micros()),
        });
        Ok(NewRefund {
            fingerprint: sha256_hex(&canonical.to_string()),
            external_id,
            amount_micros,
            occurred_at: occurred_at.unwrap_or(now),
        })
    }
}

named_enum! {
    /// A funnel step a storefront reports between the click and the order.
    pub enum EventKind {
        LandingView = "landing_view",
        Lead = "lead",
        Signup = "signup",
        Trial = "trial",
        AddToCart = "add_to_cart",
        CheckoutStarted = "checkout_started",
    }
}

named_enum! {
    /// Where an order came from.
    pub enum OrderSource {
        Api = "api",
        Shopify = "shopify",
        WooCommerce = "woocommerce",
        /// Seeded by `influtrack demo`.
        Demo = "demo",
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    pub event_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub click_id: String,
    #[serde(default, deserialize_with = "crate::domain::json::non_null")]
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "crate::domain::json::non_null")]
    pub customer_ref: Option<String>,
    /// Money in the campaign's currency (its digits are checked once the click names it).
    #[serde(
        default,
        deserialize_with = "crate::domain::json::optional_decimal_text"
    )]
    pub value: Option<String>,
    #[serde(default, deserialize_with = "crate::domain::json::non_null")]
    pub score: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub external_id: String,
    pub kind: EventKind,
    pub click_id: ClickId,
    pub occurred_at: i64,
    pub customer_ref: Option<String>,
    pub value_micros: Option<i64>,
    pub score: Option<i32>,
    pub fingerprint: String,
}

impl EventInput {
    pub fn validate(self, now: i64) -> Result<NewEvent, Vec<FieldError>> {
        let mut errors = Vec::new();
        let external_id = keep(&mut errors, parse_external_id("event_id", &self.event_id));
        let kind = EventKind::parse(&self.kind);
        if kind.is_none() {
            errors.push(FieldError::new(
                "type",
                format!("must be one of {}", EventKind::NAMES.join(", ")),
            ));
        }
        let click_id = ClickId::parse(self.click_id.trim());
        if click_id.is_none() {
            errors.push(FieldError::new("click_id", "must be a click id (a UUID)"));
        }
        let occurred_at = match self.occurred_at {
            None => Some(now),
            Some(t) if t.timestamp_micros() > now + FUTURE_TOLERANCE_MICROS => {
                errors.push(FieldError::new("occurred_at", "is in the future"));
                None
            }
            Some(t) => Some(t.timestamp_micros()),
        };
        let customer_ref = keep(
            &mut errors,
            parse_customer_ref(self.customer_ref.as_deref()),
        )
        .flatten();
        let value_micros = self.value.as_deref().and_then(|v| {
            keep(
                &mut errors,
                money::parse_amount("value", v).and_then(|m| check_event_value("value", m)),
            )
        });
        let score = match self.score {
            Some(s) if !(0..=100).contains(&s) => {
                errors.push(FieldError::new("score", "must be between 0 and 100"));
                None
            }
            s => s.map(|s| s as i32),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let (external_id, kind, click_id) = (
            external_id.unwrap_or_default(),
            kind.expect("checked"),
            click_id.expect("checked"),
        );
        let mut canonical = serde_json::json!({
            "event_id": external_id,
            "type": kind,
            "click_id": click_id,
            "occurred_at": self.occurred_at.map(|t| t.timestamp_micros()),
        });
        // Added only when sent, so that events stored before they existed replay unchanged.
        for (name, value) in [
            (
                "customer_ref",
                customer_ref.clone().map(serde_json::Value::from),
            ),
            ("value", value_micros.map(serde_json::Value::from)),
            ("score", score.map(serde_json::Value::from)),
        ] {
            if let Some(v) = value {
                canonical[name] = v;
            }
        }
        Ok(NewEvent {
            fingerprint: sha256_hex(&canonical.to_string()),
            external_id,
            kind,
            click_id,
            occurred_at: occurred_at.unwrap_or(now),
            customer_ref,
            value_micros,
            score,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> OrderInput {
        OrderInput {
            order_id: "1001".into(),
            amount: "129.90".into(),
            currency: "eur".into(),
            occurred_at: None,
            discount_codes: vec!["anna15".into(), "ANNA15".into()],
            click_ids: vec![],
            customer_ref: None,
        }
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn normalises_orders() {
        let o = input().validate(1_000).unwrap();
        assert_eq!(o.amount_micros, 129_900_000);
        assert_eq!(o.currency.code(), "EUR");
        assert_eq!(o.discount_codes, ["ANNA15"]);
        assert_eq!(o.occurred_at, 1_000);
        // Defaults do not change the fingerprint; the amount's spelling does not either.
        let again = OrderInput {
            amount: "129.9".into(),
            ..input()
        }
        .validate(9_999)
        .unwrap();
        assert_eq!(o.fingerprint, again.fingerprint);
        let other = OrderInput {
            amount: "129.91".into(),
            ..input()
        }
        .validate(1_000)
        .unwrap();
        assert_ne!(o.fingerprint, other.fingerprint);
    }

    #[test]
    fn refuses_bad_orders_naming_fields() {
        let bad = OrderInput {
            order_id: "".into(),
            amount: "12.345".into(),
            currency: "EUR".into(),
            click_ids: vec!["nope".into()],
            ..input()
        };
        assert_eq!(
            fields(bad.validate(0).unwrap_err()),
            ["order_id", "amount", "click_ids[0]"]
        );
        for amount in ["-1", "abc", "1e9", "99999999999999999"] {
            let e = OrderInput {
                amount: amount.into(),
                ..input()
            }
            .validate(0)
            .unwrap_err();
            assert_eq!(fields(e), ["amount"], "{amount}");
        }
        let e = OrderInput {
            currency: "EURO".into(),
            ..input()
        }
        .validate(0)
        .unwrap_err();
        assert_eq!(fields(e), ["currency"]);
        let jpy = OrderInput {
            currency: "JPY".into(),
            amount: "100.5".into(),
            ..input()
        };
        assert_eq!(fields(jpy.validate(0).unwrap_err()), ["amount"]);
    }

    #[test]
    fn refunds_and_events() {
        let eur = Currency::parse("c", "EUR").unwrap();
        let r = RefundInput {
            refund_id: "r1".into(),
            amount: "10".into(),
            occurred_at: None,
        };
        assert_eq!(r.validate(eur, 0).unwrap().amount_micros, 10_000_000);
        let zero = RefundInput {
            refund_id: "r1".into(),
            amount: "0".into(),
            occurred_at: None,
        };
        assert_eq!(fields(zero.validate(eur, 0).unwrap_err()), ["amount"]);
        let e = EventInput {
            event_id: "e1".into(),
            kind: "purchase".into(),
            click_id: uuid::Uuid::now_v7().to_string(),
            occurred_at: None,
            customer_ref: None,
            value: None,
            score: None,
        };
        assert_eq!(fields(e.validate(0).unwrap_err()), ["type"]);
        let e = EventInput {
            event_id: "e2".into(),
            kind: "lead".into(),
            click_id: uuid::Uuid::now_v7().to_string(),
            occurred_at: None,
            customer_ref: Some("Lead@Example.com ".into()),
            value: Some("-1".into()),
            score: Some(101),
        };
        assert_eq!(fields(e.validate(0).unwrap_err()), ["value", "score"]);
        let e = EventInput {
            event_id: "e3".into(),
            kind: "lead".into(),
            click_id: uuid::Uuid::now_v7().to_string(),
            occurred_at: None,
            customer_ref: Some("Lead@Example.com ".into()),
            value: Some("20.00".into()),
            score: Some(70),
        };
        let ok = e.validate(0).unwrap();
        assert_eq!(
            ok.customer_ref,
            Some(stored_customer_ref("lead@example.com"))
        );
        assert_eq!((ok.value_micros, ok.score), (Some(20_000_000), Some(70)));
    }
}
