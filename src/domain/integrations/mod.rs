//! Storefront platforms: their webhook signatures, and their order and refund payloads mapped
//! onto the orders and refunds every source records.
//!
//! Revenue credited is the subtotal after discounts, before tax and shipping: Shopify's
//! `subtotal_price`, WooCommerce's sum of `line_items[].total`. Refund amounts (which include
//! tax and shipping on both platforms) are capped at what remains of that subtotal when they
//! are recorded.

pub mod shopify;
pub mod woocommerce;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::domain::field::FieldError;
use crate::domain::ids::ClickId;
use crate::domain::money::Currency;
use crate::domain::names::named_enum;
use crate::domain::orders::{parse_money, NewOrder, OrderInput};

named_enum! {
    /// A storefront platform whose webhooks influtrack takes.
    pub enum Platform {
        Shopify = "shopify",
        WooCommerce = "woocommerce",
    }
}

impl Platform {
    /// The header that carries a delivery's signature.
    pub fn signature_header(self) -> &'static str {
        match self {
            Self::Shopify => "x-shopify-hmac-sha256",
            Self::WooCommerce => "x-wc-webhook-signature",
        }
    }

    /// Our order model's field names, as the platform names them.
    fn field_name(self, field: &str) -> String {
        match (field, self) {
            ("order_id", _) => "id",
            ("amount", Self::Shopify) => "subtotal_price",
            ("amount", Self::WooCommerce) => "line_items",
            ("discount_codes", Self::WooCommerce) => "coupon_lines",
            _ => field,
        }
        .to_string()
    }
}

/// Whether `signature` (base64) is the HMAC-SHA256 of `body` under `secret`, compared in
/// constant time.
pub fn verify_signature(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// A delivery body that cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// Not JSON at all.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    /// JSON whose fields (named as the platform names them) fail a rule.
    #[error("invalid payload")]
    Invalid(Vec<FieldError>),
}

impl From<FieldError> for PayloadError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(vec![e])
    }
}

/// A refund as a delivery gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedRefund {
    pub refund_id: String,
    pub amount_micros: i64,
}

/// An order delivery as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedOrder {
    pub order: NewOrder,
    /// The refunds the order lists.
    pub refunds: Vec<MappedRefund>,
    /// WooCommerce's status, trimmed and lower-case.
    pub status: Option<String>,
}

/// Parses a webhook body, naming the failing field.
fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, PayloadError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        if e.inner().is_syntax() || e.inner().is_eof() {
            PayloadError::Malformed(e.inner().to_string())
        } else {
            FieldError::new(
                if field == "." { "body".into() } else { field },
                e.inner().to_string(),
            )
            .into()
        }
    })
}

/// Parses a body that may come wrapped as `{"order": {...}}` (the REST shape) or bare (the
/// webhook shape).
fn unwrap_root<T: serde::de::DeserializeOwned>(body: &[u8], root: &str) -> Result<T, PayloadError> {
    let value: serde_json::Value = parse_body(body)?;
    if let serde_json::Value::Object(map) = &value {
        if map.len() == 1 {
            if let Some(inner) = map.get(root) {
                return parse_body(inner.to_string().as_bytes());
            }
        }
    }
    parse_body(body)
}

/// Ids are numbers on both platforms; accept strings too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Id {
    Number(u64),
    Text(String),
}

impl Id {
    fn text(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(s) => s.trim().to_string(),
        }
    }
}

/// A decimal as either platform spells it (string or number).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Amount {
    Text(String),
    Number(serde_json::Number),
}

impl Amount {
    fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) => n.to_string(),
        }
    }
}

/// The query parameter (and note attribute) that carries our click id.
const CLICK_PARAM: &str = "itk_click";
const MAX_CLICK_IDS: usize = 50;

/// Our click ids in a text: every `itk_click` query parameter of a URL (absolute or a path),
/// or a comma/space separated list of ids.
pub fn click_ids_in(text: &str, out: &mut Vec<String>) {
    let text = text.trim();
    if text.contains('?') || text.contains("://") {
        let base = url::Url::parse("https://storefront.invalid/").expect("static URL");
        if let Ok(u) = base.join(text) {
            for (k, v) in u.query_pairs() {
                if k == CLICK_PARAM {
                    // A list, never a URL again: searching nested URLs took one parse of the
                    // rest per `?itk_click=` (quadratic time, unbounded recursion) on text
                    // shoppers control.
                    click_id_list(&v, out);
                }
            }
        }
        return;
    }
    click_id_list(text, out);
}

/// Click ids in a comma/space separated list (`id` or `id:timestamp` each).
fn click_id_list(text: &str, out: &mut Vec<String>) {
    for part in text.split([',', ' ', ';']) {
        // The script stores `id` or `id:timestamp`.
        let id = part.split(':').next().unwrap_or_default();
        if let Some(id) = ClickId::parse(id.trim()) {
            let id = id.into_string();
            if !out.contains(&id) && out.len() < MAX_CLICK_IDS {
                out.push(id);
            }
        }
    }
}

fn is_click_key(key: &str) -> bool {
    let key = key.trim().trim_start_matches('_').to_ascii_lowercase();
    key == "itk_click" || key == "itk_clicks" || key == "itk_click_ids"
}

fn value_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|i| i.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => None,
    }
}

/// A mapped webhook order, made lenient and validated, errors named as the platform names
/// the fields.
pub fn validate_order(
    platform: Platform,
    input: OrderInput,
    now: i64,
) -> Result<NewOrder, PayloadError> {
    lenient(input).validate_signed(now).map_err(|errors| {
        PayloadError::Invalid(
            errors
                .into_iter()
                .map(|e| FieldError::new(platform.field_name(&e.field), e.message))
                .collect(),
        )
    })
}

/// What a storefront cannot fix on its side is dropped rather than refused (a refusal would
/// only make the platform retry the same body): codes we could never have issued (empty,
/// longer than 64 or with control characters) and codes beyond the twentieth. (The
/// customer's e-mail is hashed by the validation, as on every path.)
fn lenient(mut input: OrderInput) -> OrderInput {
    input.discount_codes.retain(|c| {
        let c = c.trim();
        !c.is_empty() && c.len() <= 64 && !c.chars().any(char::is_control)
    });
    input.discount_codes.truncate(20);
    input
}

/// An amount of a payload where the platform only ever sends one of zero or more: a negative
/// one is refused (it is never credited with its sign flipped).
fn micros_of(field: &str, raw: &str, currency: Currency) -> Result<i64, PayloadError> {
    let raw = raw.trim();
    if raw.starts_with('-') && parse_money(field, &raw[1..], currency).is_ok_and(|m| m > 0) {
        return Err(FieldError::new(
            field,
            format!("is negative ({raw}); the platform never sends a negative amount here"),
        )
        .into());
    }
    Ok(parse_money(field, raw, currency)?)
}

/// A refund's total as an order lists it (WooCommerce writes money back as a negative
/// total): its size.
fn refund_micros_of(field: &str, raw: &str, currency: Currency) -> Result<i64, PayloadError> {
    let raw = raw.trim();
    micros_of(field, raw.strip_prefix('-').unwrap_or(raw), currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_click_ids_in_urls_and_lists() {
        let id = "0193a5a0-7f3e-7c4e-9a5b-1c2d3e4f5a6b";
        let mut out = Vec::new();
        click_ids_in(
            &format!("/products/x?utm_source=ig&itk_click={id}"),
            &mut out,
        );
        click_ids_in(&format!("https://shop.example/?itk_click={id}"), &mut out);
        assert_eq!(out, [id]);
        let other = "0193a5a0-7f3e-7c4e-9a5b-000000000001";
        click_ids_in(
            &format!("{id}:1763800000, {other}:1763800001 garbage"),
            &mut out,
        );
        assert_eq!(out, [id, other]);
        click_ids_in("http://www.example.com?source=abc", &mut out);
        assert_eq!(out.len(), 2);
    }

    /// Found while writing `fuzz/fuzz_targets/webhook_shopify_order.rs` and confirmed with it:
    /// a landing URL nesting `?itk_click=` 2,400 times (a 26 KB body) took 13 s of CPU in the
    /// fuzz build, time quadratic in the length and one stack frame per level.
    #[test]
    fn click_ids_are_not_searched_in_nested_urls() {
        let id = "0193a5a0-7f3e-7c4e-9a5b-1c2d3e4f5a6b";
        let deep = format!("/p{}{id}", "?itk_click=".repeat(20_000));
        let mut out = Vec::new();
        click_ids_in(&deep, &mut out);
        assert!(out.is_empty(), "{out:?}");
        click_ids_in(&format!("/p?itk_click={id}:1763800000,garbage"), &mut out);
        assert_eq!(out, [id]);
    }

    #[test]
    fn signatures_verify_only_with_the_right_secret_and_body() {
        let sig = {
            let mut mac = Hmac::<Sha256>::new_from_slice(b"test_secret").unwrap();
            mac.update(b"{}");
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        };
        assert!(verify_signature(b"test_secret", b"{}", &sig));
        assert!(!verify_signature(b"test_secret", b"{ }", &sig));
        assert!(!verify_signature(b"other", b"{}", &sig));
        assert!(!verify_signature(b"test_secret", b"{}", "not base64!"));
    }
}
