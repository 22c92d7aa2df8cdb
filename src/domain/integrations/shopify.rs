//! Shopify's `orders/create` (and `orders/updated`, `orders/paid`) and `refunds/create`
//! deliveries.

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;

use crate::domain::field::FieldError;
use crate::domain::integrations::{
    click_ids_in, is_click_key, micros_of, unwrap_root, validate_order, value_text, Amount, Id,
    MappedOrder, MappedRefund, PayloadError, Platform,
};
use crate::domain::money::Currency;
use crate::domain::orders::OrderInput;

#[derive(Debug, Deserialize)]
struct ShopifyCode {
    code: String,
}

#[derive(Debug, Deserialize)]
struct NoteAttribute {
    name: String,
    value: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct Customer {
    email: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Transaction {
    kind: Option<String>,
    currency: Option<String>,
    status: Option<String>,
    amount: Option<Amount>,
}

/// A refund: its own delivery, or one listed on an order.
#[derive(Debug, Deserialize)]
pub struct Refund {
    id: Id,
    order_id: Option<Id>,
    created_at: Option<DateTime<FixedOffset>>,
    processed_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    transactions: Vec<Transaction>,
}

impl Refund {
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        unwrap_root(body, "refund")
    }

    /// Our id of the refund.
    pub fn refund_id(&self) -> String {
        refund_id(&self.id.text())
    }

    /// Shopify's id of the refunded order.
    pub fn shopify_order_id(&self) -> Result<String, PayloadError> {
        self.order_id
            .as_ref()
            .map(Id::text)
            .ok_or_else(|| FieldError::new("order_id", "is required").into())
    }

    /// The money refunded: successful `refund` transactions, in `currency`. Transactions in
    /// another currency (the presentment currency of a multi-currency shop) are converted by
    /// `convert(micros, from)` with the brand's rates.
    pub fn amount_micros<E: From<PayloadError>>(
        &self,
        currency: Currency,
        mut convert: impl FnMut(i64, Currency) -> Result<i64, E>,
    ) -> Result<i64, E> {
        let mut total: i64 = 0;
        for (i, t) in self.transactions.iter().enumerate() {
            if t.kind.as_deref() == Some("refund") && t.status.as_deref() == Some("success") {
                if let Some(a) = &t.amount {
                    let field = format!("transactions[{i}].amount");
                    let paid_in = match t.currency.as_deref() {
                        Some(c) => Currency::parse(&format!("transactions[{i}].currency"), c)
                            .map_err(PayloadError::from)?,
                        None => currency,
                    };
                    let micros = micros_of(&field, &a.text(), paid_in)?;
                    let micros = convert(micros, paid_in)?;
                    total = total.checked_add(micros).ok_or_else(|| {
                        PayloadError::from(FieldError::new(field, "is too large"))
                    })?;
                }
            }
        }
        Ok(total)
    }

    /// When it was processed (or created), else `now`.
    pub fn occurred_at(&self, now: i64) -> i64 {
        self.processed_at
            .or(self.created_at)
            .map(|t| t.timestamp_micros())
            .unwrap_or(now)
    }
}

/// An order delivery.
#[derive(Debug, Deserialize)]
pub struct Order {
    id: Id,
    currency: String,
    subtotal_price: Amount,
    created_at: Option<DateTime<FixedOffset>>,
    processed_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    discount_codes: Vec<ShopifyCode>,
    landing_site: Option<String>,
    #[serde(default)]
    note_attributes: Vec<NoteAttribute>,
    email: Option<String>,
    customer: Option<Customer>,
    #[serde(default)]
    refunds: Vec<Refund>,
    #[serde(default)]
    test: bool,
}

/// Our id of a Shopify order.
pub fn order_id(shopify_id: &str) -> String {
    format!("shopify:{shopify_id}")
}

fn refund_id(shopify_id: &str) -> String {
    format!("shopify:{shopify_id}")
}

impl Order {
    pub fn parse(body: &[u8]) -> Result<Self, PayloadError> {
        unwrap_root(body, "order")
    }

    /// A test order (`test: true`), which is not recorded.
    pub fn is_test(&self) -> bool {
        self.test
    }

    /// The refunds the order lists.
    pub fn refunds(&self) -> &[Refund] {
        &self.refunds
    }

    /// The order as every source reports one: codes from `discount_codes`, click ids from
    /// `note_attributes` and `landing_site`, the customer's e-mail.
    pub fn input(&self) -> OrderInput {
        let mut click_ids = Vec::new();
        for attribute in &self.note_attributes {
            if is_click_key(&attribute.name) {
                if let Some(v) = value_text(&attribute.value) {
                    click_ids_in(&v, &mut click_ids);
                }
            }
        }
        if let Some(landing) = &self.landing_site {
            click_ids_in(landing, &mut click_ids);
        }
        let email = self
            .customer
            .as_ref()
            .and_then(|c| c.email.clone())
            .or_else(|| self.email.clone())
            .filter(|e| !e.trim().is_empty());
        OrderInput {
            order_id: order_id(&self.id.text()),
            amount: self.subtotal_price.text(),
            currency: self.currency.clone(),
            occurred_at: self
                .processed_at
                .or(self.created_at)
                .map(|t| t.with_timezone(&Utc)),
            discount_codes: self.discount_codes.iter().map(|c| c.code.clone()).collect(),
            click_ids,
            customer_ref: email.map(|e| e.trim().to_lowercase()),
        }
    }
}

/// An order delivery as it would be recorded (`None` for a test order), its refunds in the
/// order's currency. `convert(micros, from, to)` stands for the brand's exchange rates.
pub fn map_order(
    body: &[u8],
    now: i64,
    mut convert: impl FnMut(i64, Currency, Currency) -> Result<i64, PayloadError>,
) -> Result<Option<MappedOrder>, PayloadError> {
    let order = Order::parse(body)?;
    if order.is_test() {
        return Ok(None);
    }
    let new = validate_order(Platform::Shopify, order.input(), now)?;
    let currency = new.currency;
    let refunds = order
        .refunds
        .iter()
        .map(|r| {
            Ok(MappedRefund {
                refund_id: r.refund_id(),
                amount_micros: r.amount_micros(currency, |m, from| convert(m, from, currency))?,
            })
        })
        .collect::<Result<_, PayloadError>>()?;
    Ok(Some(MappedOrder {
        order: new,
        refunds,
        status: None,
    }))
}

/// A `refunds/create` delivery for an order in `currency`: our id of the order, and the
/// refund.
pub fn map_refund(
    body: &[u8],
    currency: Currency,
    mut convert: impl FnMut(i64, Currency, Currency) -> Result<i64, PayloadError>,
) -> Result<(String, MappedRefund), PayloadError> {
    let refund = Refund::parse(body)?;
    let shopify_order = refund.shopify_order_id()?;
    let amount_micros = refund.amount_micros(currency, |m, from| convert(m, from, currency))?;
    Ok((
        order_id(&shopify_order),
        MappedRefund {
            refund_id: refund.refund_id(),
            amount_micros,
        },
    ))
}
