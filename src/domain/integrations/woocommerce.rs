//! WooCommerce order deliveries (created, updated): one payload for the sale, its refunds and
//! its cancellation.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use crate::domain::field::FieldError;
use crate::domain::integrations::{
    click_ids_in, is_click_key, micros_of, parse_body, refund_micros_of, validate_order,
    value_text, Amount, Id, MappedOrder, MappedRefund, PayloadError, Platform,
};
use crate::domain::money::{self, Currency};
use crate::domain::orders::OrderInput;

#[derive(Debug, Deserialize)]
struct Line {
    total: Amount,
}

#[derive(Debug, Deserialize)]
struct Coupon {
    code: String,
}

#[derive(Debug, Deserialize)]
struct Refund {
    id: Id,
    total: Amount,
}

#[derive(Debug, Deserialize)]
struct Billing {
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    key: String,
    value: serde_json::Value,
}

/// An order delivery.
#[derive(Debug, Deserialize)]
pub struct Order {
    id: Id,
    status: String,
    currency: String,
    date_created_gmt: Option<String>,
    date_paid_gmt: Option<String>,
    date_modified_gmt: Option<String>,
    #[serde(default)]
    line_items: Vec<Line>,
    #[serde(default)]
    coupon_lines: Vec<Coupon>,
    #[serde(default)]
    refunds: Vec<Refund>,
    billing: Option<Billing>,
    #[serde(default)]
    meta_data: Vec<Meta>,
}

/// Statuses of an order that was paid (or is being paid offline) and counts as a sale.
const SOLD: [&str; 4] = ["processing", "completed", "on-hold", "refunded"];
/// Statuses that take a recorded sale back entirely.
const UNDONE: [&str; 2] = ["cancelled", "failed"];

fn time(raw: Option<&str>) -> Option<DateTime<Utc>> {
    let raw = raw?.trim();
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
        .or_else(|| {
            DateTime::parse_from_rfc3339(raw)
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

impl Order {
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        parse_body(body)
    }

    /// Our id of the order.
    pub fn external_id(&self) -> String {
        format!("woocommerce:{}", self.id.text())
    }

    pub fn currency(&self) -> Result<Currency, PayloadError> {
        Ok(Currency::parse("currency", &self.currency)?)
    }

    /// The status, trimmed and lower-case.
    pub fn status(&self) -> String {
        self.status.trim().to_ascii_lowercase()
    }

    /// Paid (or being paid offline): a sale to record.
    pub fn is_sold(&self) -> bool {
        SOLD.contains(&self.status().as_str())
    }

    /// Cancelled, failed or refunded: whatever its refunds left is taken back in full.
    pub fn is_undone(&self) -> bool {
        let status = self.status();
        UNDONE.contains(&status.as_str()) || status == "refunded"
    }

    /// The refunds the order lists, in `currency`.
    pub fn refunds(&self, currency: Currency) -> Result<Vec<MappedRefund>, PayloadError> {
        self.refunds
            .iter()
            .map(|r| {
                Ok(MappedRefund {
                    refund_id: format!("woocommerce:refund:{}", r.id.text()),
                    amount_micros: refund_micros_of("refunds.total", &r.total.text(), currency)?,
                })
            })
            .collect()
    }

    /// Refunds carry no time of their own in the order body: the delivery's modification
    /// time, else `now`.
    pub fn modified_at(&self, now: i64) -> i64 {
        time(self.date_modified_gmt.as_deref())
            .map(|t| t.timestamp_micros())
            .unwrap_or(now)
    }

    /// The order as every source reports one: the sum of its line totals, codes from
    /// `coupon_lines`, click ids from `meta_data`, the billing e-mail.
    pub fn input(&self, currency: Currency) -> Result<OrderInput, PayloadError> {
        let mut subtotal = 0_i64;
        for (i, line) in self.line_items.iter().enumerate() {
            let line = micros_of(
                &format!("line_items[{i}].total"),
                &line.total.text(),
                currency,
            )?;
            subtotal = subtotal
                .checked_add(line)
                .ok_or_else(|| FieldError::new("line_items", "add up to too much"))?;
        }
        let mut click_ids = Vec::new();
        for meta in &self.meta_data {
            let key = meta.key.as_str();
            if is_click_key(key) || key == "_wc_order_attribution_session_entry" {
                if let Some(v) = value_text(&meta.value) {
                    click_ids_in(&v, &mut click_ids);
                }
            }
        }
        let email = self
            .billing
            .as_ref()
            .and_then(|b| b.email.clone())
            .filter(|e| !e.trim().is_empty());
        Ok(OrderInput {
            order_id: self.external_id(),
            amount: money::format_amount(subtotal, currency),
            currency: self.currency.clone(),
            occurred_at: time(self.date_paid_gmt.as_deref())
                .or_else(|| time(self.date_created_gmt.as_deref())),
            discount_codes: self.coupon_lines.iter().map(|c| c.code.clone()).collect(),
            click_ids,
            customer_ref: email.map(|e| e.trim().to_lowercase()),
        })
    }
}

/// WooCommerce's creation ping: a form body `webhook_id=N`.
pub fn is_ping(body: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(text.trim()).unwrap_or_default();
    pairs.len() == 1 && pairs[0].0 == "webhook_id" && pairs[0].1.chars().all(|c| c.is_ascii_digit())
}

/// An order delivery as it would be recorded, whatever its status.
pub fn map_order(body: &[u8], now: i64) -> Result<MappedOrder, PayloadError> {
    let order = Order::parse(body)?;
    let currency = order.currency()?;
    let new = validate_order(Platform::WooCommerce, order.input(currency)?, now)?;
    Ok(MappedOrder {
        order: new,
        refunds: order.refunds(currency)?,
        status: Some(order.status()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_ping() {
        assert!(is_ping(b"webhook_id=12"));
        assert!(!is_ping(b"webhook_id=12&x=1"));
        assert!(!is_ping(b"{\"id\":1}"));
    }
}
