//! What every mapped webhook order must satisfy, whatever the platform.
#![allow(dead_code)]

use influtrack::domain::codes::normalize_discount_code;
use influtrack::domain::integrations::{self, MappedRefund, PayloadError};
use influtrack::domain::money::{Currency, MAX_MICROS};
use influtrack::domain::orders::NewOrder;

/// A fixed "now" (2026-01-01T00:00:00Z), so that runs are reproducible.
pub const NOW: i64 = 1_767_225_600_000_000;
/// Another "now", a year later.
pub const LATER: i64 = NOW + 365 * 24 * 3_600 * 1_000_000;
const FUTURE_TOLERANCE_MICROS: i64 = 24 * 3_600 * 1_000_000;

/// The brand's exchange rates, for the mapping: one for one (only the sign matters here).
pub fn convert(micros: i64, _from: Currency, _to: Currency) -> Result<i64, PayloadError> {
    Ok(micros)
}

pub fn check_order(order: &NewOrder, prefix: &str, now: i64) {
    assert!(order.external_id.starts_with(prefix), "{order:?}");
    assert!(order.external_id.len() <= 128, "{order:?}");
    assert!(
        !order.external_id.chars().any(char::is_control),
        "{order:?}"
    );
    // Credited revenue is never negative, never beyond the limit, in whole minor units.
    assert!((0..=MAX_MICROS).contains(&order.amount_micros), "{order:?}");
    assert_eq!(order.amount_micros % order.currency.minor_unit_micros(), 0);
    assert!(
        order.occurred_at <= now + FUTURE_TOLERANCE_MICROS,
        "{order:?}"
    );
    assert!(order.discount_codes.len() <= 20, "{order:?}");
    for (i, code) in order.discount_codes.iter().enumerate() {
        assert_eq!(&normalize_discount_code(code), code);
        assert!(!code.is_empty() && code.len() <= 64, "{code:?}");
        assert!(!code.chars().any(char::is_control), "{code:?}");
        assert!(
            !order.discount_codes[..i].contains(code),
            "duplicate {code:?}"
        );
    }
    let click_ids: Vec<String> = order.click_ids.iter().map(|c| c.to_string()).collect();
    check_click_ids(&click_ids);
    // The customer's e-mail is only ever kept hashed.
    if let Some(r) = &order.customer_ref {
        assert_eq!(r.len(), 64, "{r:?}");
        assert!(
            r.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{r:?}"
        );
    }
}

/// Refunds are never negative (a negative refund would add revenue).
pub fn check_refunds(refunds: &[MappedRefund], prefix: &str) {
    for r in refunds {
        assert!(r.refund_id.starts_with(prefix), "{r:?}");
        assert!(r.amount_micros >= 0, "{r:?}");
    }
}

/// Canonical UUIDs, without duplicates, at most 50.
pub fn check_click_ids(ids: &[String]) {
    assert!(ids.len() <= 50, "{} click ids", ids.len());
    for (i, id) in ids.iter().enumerate() {
        let canonical = uuid::Uuid::parse_str(id).map(|u| u.hyphenated().to_string());
        assert_eq!(canonical.as_ref(), Ok(id), "{id:?}");
        assert!(!ids[..i].contains(id), "duplicate {id:?}");
    }
}

/// Click ids found in any text (a landing URL, a note attribute, meta data).
pub fn check_click_text(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let mut ids = Vec::new();
        integrations::click_ids_in(text, &mut ids);
        check_click_ids(&ids);
    }
}

/// Whether a JSON document holds a number that is not an integer (whose text may not survive
/// a trip through `serde_json::Value` digit for digit).
pub fn has_float(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(items) => items.iter().any(has_float),
        serde_json::Value::Object(map) => map.values().any(has_float),
        _ => false,
    }
}

/// `body` wrapped as the REST API shapes it (`{"order": …}`), when that is a different body
/// that should map the same: a JSON object, not already wrapped, without floats.
pub fn wrapped(body: &[u8], root: &str) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let map = value.as_object()?;
    if (map.len() == 1 && map.contains_key(root)) || has_float(&value) {
        return None;
    }
    Some(serde_json::json!({ root: value }).to_string().into_bytes())
}
