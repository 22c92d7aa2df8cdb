//! WooCommerce's REST API v3: `{site_url}/wp-json/wc/v3/coupons` with HTTP Basic
//! authentication by the consumer key and secret. WooCommerce has no start date for a coupon;
//! a disabled code is a `draft` coupon, which checkout refuses. Two of its ways shape the
//! calls: `?code=` finds published coupons only (a draft is found by its id, or by `search`
//! with `status=any`), and a `null` value changes nothing (a limit is cleared with 0, an
//! expiry with "").

use serde_json::{json, Value};

use super::{failed, send, Answer, Http, Shop, ShopError};
use crate::domain::codes::DiscountType;
use crate::domain::shop_sync::{same_decimal, ShopCode};

fn request(
    http: &Http,
    shop: &Shop,
    method: reqwest::Method,
    path: &str,
) -> reqwest::blocking::RequestBuilder {
    let Shop::WooCommerce {
        base_url,
        consumer_key,
        consumer_secret,
    } = shop
    else {
        unreachable!("a WooCommerce call to another platform")
    };
    http.client
        .request(method, format!("{base_url}/wp-json/wc/v3/{path}"))
        .basic_auth(consumer_key, Some(consumer_secret))
}

/// WordPress's error text: `{code, message}`.
fn message(answer: &Answer) -> String {
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    match (body["message"].as_str(), body["code"].as_str()) {
        (Some(m), Some(c)) => format!("{m} ({c})"),
        (Some(m), None) => m.to_string(),
        _ => answer.body.chars().take(200).collect(),
    }
}

fn ok_json(answer: Answer) -> Result<Value, ShopError> {
    if !(200..300).contains(&answer.status) {
        return Err(failed(answer.status, answer.retry_after, &message(&answer)));
    }
    serde_json::from_str(&answer.body).map_err(|_| ShopError::Retry {
        after: None,
        message: "the shop answered something that is not JSON".into(),
    })
}

pub(super) fn check(http: &Http, shop: &Shop) -> Result<super::CheckReport, ShopError> {
    let listed =
        send(request(http, shop, reqwest::Method::GET, "coupons").query(&[("per_page", "1")]))?;
    ok_json(listed)?;
    // An empty batch writes nothing; a key without write permission is refused it.
    let batch = send(request(http, shop, reqwest::Method::POST, "coupons/batch").json(&json!({})))?;
    let (scopes, missing) = match batch.status {
        200..=299 => (vec!["read", "write"], vec![]),
        401 | 403 => (vec!["read"], vec!["write"]),
        _ => return Err(failed(batch.status, batch.retry_after, &message(&batch))),
    };
    let currency = send(request(
        http,
        shop,
        reqwest::Method::GET,
        "data/currencies/current",
    ))
    .ok()
    .filter(|a| a.status == 200)
    .and_then(|a| serde_json::from_str::<Value>(&a.body).ok())
    .and_then(|v| v["code"].as_str().map(str::to_string));
    Ok(super::CheckReport {
        shop_name: None,
        currency,
        scopes: scopes.into_iter().map(str::to_string).collect(),
        missing_scopes: missing.into_iter().map(str::to_string).collect(),
    })
}

/// The coupon's fields as influtrack sets them.
fn body(code: &ShopCode) -> Value {
    let (kind, amount) = match code.discount {
        DiscountType::Percent => ("percent", code.percent()),
        DiscountType::Fixed => ("fixed_cart", code.amount()),
    };
    json!({
        "code": code.code,
        "discount_type": kind,
        "amount": amount,
        "description": code.title,
        "usage_limit": code.usage_limit.unwrap_or(0),
        "date_expires": code.ends_at.map(super::utc).unwrap_or_default(),
        "individual_use": false,
        "status": if code.enabled { "publish" } else { "draft" },
    })
}

fn same_terms(found: &Value, code: &ShopCode) -> bool {
    let (kind, amount) = match code.discount {
        DiscountType::Percent => ("percent", code.percent()),
        DiscountType::Fixed => ("fixed_cart", code.amount()),
    };
    found["discount_type"].as_str() == Some(kind)
        && found["amount"]
            .as_str()
            .is_some_and(|a| same_decimal(a, &amount))
        && found["usage_limit"].as_i64() == code.usage_limit
}

fn describe(found: &Value) -> String {
    let amount = found["amount"].as_str().unwrap_or("?");
    let gives = match found["discount_type"].as_str() {
        Some("percent") => format!("{amount}% off"),
        Some(kind) => format!("{amount} off ({kind})"),
        None => "a different discount".to_string(),
    };
    super::with_limit(gives, found["usage_limit"].as_i64())
}

fn id_of(coupon: &Value) -> Result<String, ShopError> {
    coupon["id"]
        .as_i64()
        .map(|id| id.to_string())
        .ok_or_else(|| ShopError::Retry {
            after: None,
            message: "the shop answered a coupon without an id".into(),
        })
}

pub(super) fn push(
    http: &Http,
    shop: &Shop,
    code: &ShopCode,
    known: Option<&str>,
) -> Result<String, ShopError> {
    if code.discount == DiscountType::Fixed {
        same_currency(http, shop, code)?;
    }
    let found = match known {
        Some(id) => by_id(http, shop, id)?,
        None => None,
    };
    let found = match found {
        Some(c) => Some(c),
        None => by_code(http, shop, &code.code)?,
    };
    let Some(found) = found else {
        let created =
            send(request(http, shop, reqwest::Method::POST, "coupons").json(&body(code)))?;
        return id_of(&ok_json(created)?);
    };
    let id = id_of(&found)?;
    if known != Some(id.as_str()) && !same_terms(&found, code) {
        return Err(ShopError::Refused(format!(
            "the code {} already exists in the shop with other terms ({})",
            code.code,
            describe(&found)
        )));
    }
    let updated = send(
        request(http, shop, reqwest::Method::PUT, &format!("coupons/{id}")).json(&body(code)),
    )?;
    id_of(&ok_json(updated)?)
}

/// The coupon influtrack recorded, when it is still there under the same code.
fn by_id(http: &Http, shop: &Shop, id: &str) -> Result<Option<Value>, ShopError> {
    let answer = send(request(
        http,
        shop,
        reqwest::Method::GET,
        &format!("coupons/{id}"),
    ))?;
    if answer.status == 404 {
        return Ok(None);
    }
    Ok(Some(ok_json(answer)?))
}

/// A coupon with this code, published or not (WooCommerce keeps codes lower-cased).
fn by_code(http: &Http, shop: &Shop, code: &str) -> Result<Option<Value>, ShopError> {
    let listed = send(
        request(http, shop, reqwest::Method::GET, "coupons").query(&[
            ("search", code),
            ("status", "any"),
            ("per_page", "100"),
        ]),
    )?;
    let listed = ok_json(listed)?;
    Ok(listed.as_array().and_then(|list| {
        list.iter()
            .find(|c| {
                c["code"]
                    .as_str()
                    .is_some_and(|t| t.eq_ignore_ascii_case(code))
            })
            .cloned()
    }))
}

/// A fixed amount is taken in the store's currency: it must be the campaign's.
fn same_currency(http: &Http, shop: &Shop, code: &ShopCode) -> Result<(), ShopError> {
    let answer = send(request(
        http,
        shop,
        reqwest::Method::GET,
        "data/currencies/current",
    ))?;
    let current = ok_json(answer)?;
    match current["code"].as_str() {
        Some(c) if c.eq_ignore_ascii_case(code.currency.code()) => Ok(()),
        Some(c) => Err(ShopError::Refused(format!(
            "the store sells in {c}: a fixed amount in {} cannot be created there",
            code.currency.code()
        ))),
        None => Err(ShopError::Retry {
            after: None,
            message: "the store did not say its currency".into(),
        }),
    }
}

pub(super) fn remove(http: &Http, shop: &Shop, id: &str) -> Result<(), ShopError> {
    let answer = send(
        request(
            http,
            shop,
            reqwest::Method::DELETE,
            &format!("coupons/{id}"),
        )
        .query(&[("force", "true")]),
    )?;
    match answer.status {
        // Deleted in the shop already: what was asked is done.
        404 => Ok(()),
        _ => ok_json(answer).map(|_| ()),
    }
}
