//! Shopify's Admin GraphQL API: `POST {shop_url}/admin/api/{version}/graphql.json` with the
//! `X-Shopify-Access-Token` header. A code is an amount-off discount for all buyers and all
//! items (`discountCodeBasicCreate`, `…Update`, `discountCodeActivate`, `…Deactivate`,
//! `discountCodeDelete`); `userErrors` and top-level `errors` are errors.

use serde_json::{json, Value};

use super::{clip, failed, send, utc, Http, Shop, ShopError};
use crate::domain::codes::DiscountType;
use crate::domain::shop_sync::{same_decimal, ShopCode};

/// The Admin API version called (Shopify supports each for a year).
pub const API_VERSION: &str = "2025-10";

/// The scope syncing codes needs (it includes `read_discounts`).
pub const REQUIRED_SCOPE: &str = "write_discounts";

const CHECK: &str = "query influtrackCheck { shop { name currencyCode } \
     currentAppInstallation { accessScopes { handle } } }";

const LOOKUP: &str = "query influtrackLookup($code: String!) { shop { currencyCode } \
     codeDiscountNodeByCode(code: $code) { id codeDiscount { __typename \
     ... on DiscountCodeBasic { title status startsAt endsAt usageLimit appliesOncePerCustomer \
     customerGets { value { __typename ... on DiscountPercentage { percentage } \
     ... on DiscountAmount { amount { amount currencyCode } appliesOnEachItem } } } } } } }";

const CREATE: &str = "mutation influtrackCreate($basicCodeDiscount: DiscountCodeBasicInput!) { \
     discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) { \
     codeDiscountNode { id } userErrors { field code message } } }";

const UPDATE: &str =
    "mutation influtrackUpdate($id: ID!, $basicCodeDiscount: DiscountCodeBasicInput!) { \
     discountCodeBasicUpdate(id: $id, basicCodeDiscount: $basicCodeDiscount) { \
     codeDiscountNode { id } userErrors { field code message } } }";

const ACTIVATE: &str = "mutation influtrackActivate($id: ID!) { discountCodeActivate(id: $id) { \
     codeDiscountNode { id } userErrors { field code message } } }";

const DEACTIVATE: &str =
    "mutation influtrackDeactivate($id: ID!) { discountCodeDeactivate(id: $id) { \
     codeDiscountNode { id } userErrors { field code message } } }";

const DELETE: &str = "mutation influtrackDelete($id: ID!) { discountCodeDelete(id: $id) { \
     deletedCodeDiscountId userErrors { field code message } } }";

/// One GraphQL call; `data` on success. Top-level `errors` (throttled, access denied, bad
/// query) are errors.
fn call(http: &Http, shop: &Shop, query: &str, variables: Value) -> Result<Value, ShopError> {
    let Shop::Shopify {
        base_url,
        access_token,
    } = shop
    else {
        unreachable!("a Shopify call to another platform")
    };
    let answer = send(
        http.client
            .post(format!("{base_url}/admin/api/{API_VERSION}/graphql.json"))
            .header("X-Shopify-Access-Token", access_token)
            .json(&json!({"query": query, "variables": variables})),
    )?;
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    if !(200..300).contains(&answer.status) {
        return Err(failed(
            answer.status,
            answer.retry_after,
            &error_text(&body, &answer.body),
        ));
    }
    if let Some(errors) = body.get("errors").filter(|e| !e.is_null()) {
        let has = |codes: &[&str]| {
            errors.as_array().is_some_and(|list| {
                list.iter().any(|e| {
                    e["extensions"]["code"]
                        .as_str()
                        .is_some_and(|c| codes.contains(&c))
                })
            })
        };
        let message = clip(&error_text(&body, &answer.body));
        return Err(if has(&["THROTTLED"]) {
            // Shopify's GraphQL cost limit: its bucket refills within seconds.
            ShopError::Retry {
                after: Some(std::time::Duration::from_secs(2)),
                message: format!("the shop is throttling calls: {message}"),
            }
        } else if has(&["INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"]) {
            ShopError::Retry {
                after: None,
                message: format!("the shop failed to answer: {message}"),
            }
        } else {
            ShopError::Refused(format!("the shop refused the call: {message}"))
        });
    }
    match body.get("data") {
        Some(data) if data.is_object() => Ok(data.clone()),
        _ => Err(ShopError::Retry {
            after: None,
            message: "the shop answered without data".into(),
        }),
    }
}

/// Shopify's error text: `errors` as a string, a list of `{message}` or an object.
fn error_text(body: &Value, raw: &str) -> String {
    match body.get("errors") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(|e| e["message"].as_str())
            .collect::<Vec<_>>()
            .join("; "),
        Some(other) => other.to_string(),
        None => raw.chars().take(200).collect(),
    }
}

/// A mutation's payload, or its `userErrors` as a refusal.
fn payload(data: &Value, field: &str) -> Result<Value, ShopError> {
    let payload = data.get(field).cloned().unwrap_or(Value::Null);
    let errors: Vec<String> = payload["userErrors"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| {
                    let message = e["message"].as_str().unwrap_or("refused");
                    match e["code"].as_str() {
                        Some(code) => format!("{message} ({code})"),
                        None => message.to_string(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    if !errors.is_empty() {
        return Err(ShopError::Refused(clip(&format!(
            "the shop refused it: {}",
            errors.join("; ")
        ))));
    }
    if payload.is_null() {
        return Err(ShopError::Retry {
            after: None,
            message: format!("the shop answered without {field}"),
        });
    }
    Ok(payload)
}

pub(super) fn check(http: &Http, shop: &Shop) -> Result<super::CheckReport, ShopError> {
    let data = call(http, shop, CHECK, json!({}))?;
    let scopes: Vec<String> = data["currentAppInstallation"]["accessScopes"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|s| s["handle"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let missing = if scopes.iter().any(|s| s == REQUIRED_SCOPE) {
        vec![]
    } else {
        vec![REQUIRED_SCOPE.to_string()]
    };
    Ok(super::CheckReport {
        shop_name: data["shop"]["name"].as_str().map(str::to_string),
        currency: data["shop"]["currencyCode"].as_str().map(str::to_string),
        scopes,
        missing_scopes: missing,
    })
}

/// `DiscountCodeBasicInput` of a code: every buyer, every item, once per order. A disabled
/// code ends now, in the same call (so that it is never live while a deactivation is
/// pending).
fn input(code: &ShopCode) -> Value {
    let now = chrono::Utc::now().timestamp_micros();
    let (starts_at, ends_at) = if code.enabled {
        (code.starts_at, code.ends_at)
    } else {
        (code.starts_at.min(now - 60_000_000), Some(now))
    };
    let value = match code.discount {
        DiscountType::Percent => json!({
            "percentage": code.fraction().parse::<f64>().unwrap_or(0.0)
        }),
        DiscountType::Fixed => json!({
            "discountAmount": {"amount": code.amount(), "appliesOnEachItem": false}
        }),
    };
    json!({
        "title": code.title,
        "code": code.code,
        "startsAt": utc(starts_at),
        "endsAt": ends_at.map(utc),
        "usageLimit": code.usage_limit,
        "appliesOncePerCustomer": false,
        "context": {"all": "ALL"},
        "customerGets": {"value": value, "items": {"all": true}},
    })
}

/// Whether a discount found in the shop gives what `code` gives (type, value, currency, usage
/// limit): then it is adopted rather than refused.
fn same_terms(found: &Value, code: &ShopCode) -> bool {
    let discount = &found["codeDiscount"];
    if discount["__typename"].as_str() != Some("DiscountCodeBasic") {
        return false;
    }
    let value = &discount["customerGets"]["value"];
    let same_value = match code.discount {
        DiscountType::Percent => value["percentage"]
            .as_f64()
            .zip(code.fraction().parse::<f64>().ok())
            .is_some_and(|(a, b)| (a - b).abs() < 1e-9),
        DiscountType::Fixed => {
            value["amount"]["amount"]
                .as_str()
                .is_some_and(|a| same_decimal(a, &code.amount()))
                && value["amount"]["currencyCode"].as_str() == Some(code.currency.code())
        }
    };
    same_value && discount["usageLimit"].as_i64() == code.usage_limit
}

/// What a found discount gives, for the message that refuses it.
fn describe(found: &Value) -> String {
    let discount = &found["codeDiscount"];
    let value = &discount["customerGets"]["value"];
    let gives = if let Some(p) = value["percentage"].as_f64() {
        format!("{}% off", (p * 100.0 * 1000.0).round() / 1000.0)
    } else if let Some(a) = value["amount"]["amount"].as_str() {
        format!(
            "{a} {} off",
            value["amount"]["currencyCode"].as_str().unwrap_or("")
        )
    } else {
        format!(
            "a {} discount",
            discount["__typename"].as_str().unwrap_or("different")
        )
    };
    super::with_limit(gives, discount["usageLimit"].as_i64())
}

pub(super) fn push(
    http: &Http,
    shop: &Shop,
    code: &ShopCode,
    known: Option<&str>,
) -> Result<String, ShopError> {
    let data = call(http, shop, LOOKUP, json!({"code": code.code}))?;
    let shop_currency = data["shop"]["currencyCode"].as_str().unwrap_or_default();
    if code.discount == DiscountType::Fixed && shop_currency != code.currency.code() {
        return Err(ShopError::Refused(format!(
            "the shop sells in {shop_currency}: a fixed amount in {} cannot be created there",
            code.currency.code()
        )));
    }
    let found = &data["codeDiscountNodeByCode"];
    let id = match found["id"].as_str() {
        None => {
            let data = call(
                http,
                shop,
                CREATE,
                json!({"basicCodeDiscount": input(code)}),
            )?;
            let created = payload(&data, "discountCodeBasicCreate")?;
            let id = created["codeDiscountNode"]["id"]
                .as_str()
                .ok_or_else(|| ShopError::Retry {
                    after: None,
                    message: "the shop created the code without an id".into(),
                })?
                .to_string();
            // A disabled code was created ended already (see `input`).
            return Ok(id);
        }
        Some(id) if known == Some(id) || same_terms(found, code) => id.to_string(),
        Some(_) => {
            return Err(ShopError::Refused(format!(
                "the code {} already exists in the shop with other terms ({})",
                code.code,
                describe(found)
            )))
        }
    };
    // Activating clears the end date: the update that follows sets it again.
    if code.enabled {
        let data = call(http, shop, ACTIVATE, json!({"id": id}))?;
        payload(&data, "discountCodeActivate")?;
    }
    let data = call(
        http,
        shop,
        UPDATE,
        json!({"id": id, "basicCodeDiscount": input(code)}),
    )?;
    payload(&data, "discountCodeBasicUpdate")?;
    if !code.enabled {
        deactivate(http, shop, &id)?;
    }
    Ok(id)
}

fn deactivate(http: &Http, shop: &Shop, id: &str) -> Result<(), ShopError> {
    let data = call(http, shop, DEACTIVATE, json!({"id": id}))?;
    payload(&data, "discountCodeDeactivate").map(|_| ())
}

pub(super) fn remove(http: &Http, shop: &Shop, id: &str) -> Result<(), ShopError> {
    let data = call(http, shop, DELETE, json!({"id": id}))?;
    match payload(&data, "discountCodeDelete") {
        Ok(_) => Ok(()),
        // Deleted in the shop already: what was asked is done.
        Err(ShopError::Refused(m)) if m.contains("does not exist") => Ok(()),
        Err(e) => Err(e),
    }
}
