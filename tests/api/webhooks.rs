//! Shopify and WooCommerce webhooks, with the platforms' public example payloads in
//! tests/fixtures (changed at run time where a test needs its own codes, clicks or times).

use crate::helpers::*;
use crate::orders::{click_id, shop, Shop};
use crate::redirect::CHROME;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

pub const SECRET: &str = "test_secret";

pub fn fixture(name: &str) -> Vec<u8> {
    // The published examples, byte for byte (the published signatures cover the bytes).
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The base64 HMAC-SHA256 both platforms put in their signature header.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub async fn deliver(
    app: &TestApp,
    path: &str,
    header: Option<(&str, String)>,
    body: Vec<u8>,
) -> Resp {
    let mut req = app
        .client
        .post(format!("{}{}", app.address, path))
        .header("content-type", "application/json")
        .body(body);
    if let Some((name, value)) = header {
        req = req.header(name, value);
    }
    let res = req.send().await.expect("delivered");
    Resp {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        text: res.text().await.expect("body"),
    }
}

pub async fn configure(app: &TestApp, s: &Shop, platform: &str) {
    let r = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/integrations/{platform}"),
            Some(&s.admin),
            Some(json!({"webhook_secret": SECRET})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(!r.text.contains(SECRET), "the secret is never returned");
}

pub async fn shopify(app: &TestApp, s: &Shop, what: &str, body: Vec<u8>) -> Resp {
    let sig = sign(SECRET, &body);
    deliver(
        app,
        &format!("/api/v1/integrations/shopify/{}/{what}", s.brand_id),
        Some(("X-Shopify-Hmac-Sha256", sig)),
        body,
    )
    .await
}

pub async fn woo(app: &TestApp, s: &Shop, body: Vec<u8>) -> Resp {
    let sig = sign(SECRET, &body);
    deliver(
        app,
        &format!("/api/v1/integrations/woocommerce/{}/orders", s.brand_id),
        Some(("X-WC-Webhook-Signature", sig)),
        body,
    )
    .await
}

#[test]
fn the_fixture_signatures_match_ours() {
    // The signatures published beside the fixtures.
    for (file, expected) in [
        (
            "shopify_order.json",
            "WcJCU9NRnwxsijYFiPvZbZB511t+mFIr8fLRMuBI0/I=",
        ),
        (
            "shopify_refund.json",
            "BInaB0BD5MSC7S/dUfzfbhpZ6n1XcSwv1+aOQ6SOmrg=",
        ),
        (
            "woo_order.json",
            "dbd8cN7BISGillqMsi0zMR+0Y9kuiw/6Hcjf+nwkYE0=",
        ),
    ] {
        assert!(
            influtrack::domain::integrations::verify_signature(
                SECRET.as_bytes(),
                &fixture(file),
                expected
            ),
            "{file}"
        );
    }
}

#[tokio::test]
async fn shopify_orders_and_refunds_are_verified_recorded_once_and_netted() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let path = format!("/api/v1/integrations/shopify/{}/orders", s.brand_id);
    let body = fixture("shopify_order.json");
    // Before a secret is configured nothing verifies.
    let r = deliver(
        &app,
        &path,
        Some(("X-Shopify-Hmac-Sha256", sign(SECRET, &body))),
        body.clone(),
    )
    .await;
    r.problem(401);
    configure(&app, &s, "shopify").await;
    // No signature, a wrong one, a body changed after signing: 401, nothing recorded.
    deliver(&app, &path, None, body.clone()).await.problem(401);
    deliver(
        &app,
        &path,
        Some(("X-Shopify-Hmac-Sha256", sign("wrong", &body))),
        body.clone(),
    )
    .await
    .problem(401);
    let mut tampered = body.clone();
    tampered.push(b' ');
    deliver(
        &app,
        &path,
        Some(("X-Shopify-Hmac-Sha256", sign(SECRET, &body))),
        tampered,
    )
    .await
    .problem(401);
    app.get("/api/v1/orders/shopify:450789469", &s.admin)
        .await
        .problem(404);
    // The published signature of the file as stored.
    let r = deliver(
        &app,
        &path,
        Some((
            "X-Shopify-Hmac-Sha256",
            "WcJCU9NRnwxsijYFiPvZbZB511t+mFIr8fLRMuBI0/I=".into(),
        )),
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["order_id"], "shopify:450789469");
    // Credited revenue is the subtotal after discounts, before tax and shipping.
    assert_eq!(
        (o["amount"].as_str(), o["currency"].as_str()),
        (Some("597.00"), Some("USD"))
    );
    // TENOFF is no code of this brand; the landing site has no click id.
    assert_eq!(o["status"], "unattributed");
    // The refund already on the order: its successful refund transaction.
    assert_eq!(o["refunded"], "209.00");
    // Shopify's retry: the same answer, counted once.
    let again = shopify(&app, &s, "orders", body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json(), o);
    // refunds/create for that same refund: already recorded, nothing added.
    let r = shopify(&app, &s, "refunds", fixture("shopify_refund.json")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = app
        .get("/api/v1/orders/shopify:450789469", &s.admin)
        .await
        .json();
    assert_eq!(stored["refunded"], "209.00");
}

#[tokio::test]
async fn a_shopify_order_with_our_code_or_click_is_attributed_and_its_refund_follows() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"code_priority": false}), &["anna", "ben"]).await;
    configure(&app, &s, "shopify").await;
    let ben_click = click_id(&app, s.link(1), CHROME).await;
    // The orders come after the click.
    let now = chrono::Utc::now().to_rfc3339();

    // Anna's code (case as typed at checkout), no refunds yet.
    let mut order: Value = serde_json::from_slice(&fixture("shopify_order.json")).unwrap();
    order["id"] = json!(9001);
    order["currency"] = json!("EUR");
    order["discount_codes"][0]["code"] = json!(s.code(0).to_lowercase());
    order["created_at"] = json!(now);
    order["processed_at"] = json!(now);
    order["refunds"] = json!([]);
    let r = shopify(&app, &s, "orders", serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["status"], "attributed", "{o}");
    assert_eq!(o["attribution"][0]["influencer_id"], s.influencer(0));
    assert_eq!(o["attribution"][0]["credited_amount"], "597.00");
    assert_eq!(o["attribution"][0]["via"], "code");

    // Ben's click from the cart attribute /t.js writes, and from the landing URL.
    for (id, place) in [(9002, "note"), (9003, "landing")] {
        let mut order: Value = serde_json::from_slice(&fixture("shopify_order.json")).unwrap();
        order["id"] = json!(id);
        order["currency"] = json!("EUR");
        order["discount_codes"] = json!([]);
        order["created_at"] = json!(now);
        order["processed_at"] = json!(now);
        order["refunds"] = json!([]);
        if place == "note" {
            order["note_attributes"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "itk_click", "value": format!("{ben_click}:1763800000")}));
        } else {
            order["landing_site"] = json!(format!(
                "/products/tee?utm_source=ben&itk_click={ben_click}"
            ));
        }
        let r = shopify(&app, &s, "orders", serde_json::to_vec(&order).unwrap()).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let o = r.json();
        assert_eq!(
            o["attribution"][0]["influencer_id"],
            s.influencer(1),
            "{place}: {o}"
        );
        assert_eq!(o["attribution"][0]["via"], "click");
    }

    // The refund webhook of order 9001: its successful transaction, 209.00.
    let mut refund: Value = serde_json::from_slice(&fixture("shopify_refund.json")).unwrap();
    refund["order_id"] = json!(9001);
    refund["transactions"][0]["currency"] = json!("EUR");
    let bytes = serde_json::to_vec(&refund).unwrap();
    let r = shopify(&app, &s, "refunds", bytes.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["order_net"], "388.00");
    let again = shopify(&app, &s, "refunds", bytes).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["order_net"], "388.00");
    // A refund of an order we have not seen: 404 so that Shopify retries it later.
    refund["order_id"] = json!(123);
    refund["id"] = json!(77);
    shopify(&app, &s, "refunds", serde_json::to_vec(&refund).unwrap())
        .await
        .problem(404);
}

#[tokio::test]
async fn woocommerce_orders_their_ping_coupons_refunds_and_cancellations() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    configure(&app, &s, "woocommerce").await;
    let path = format!("/api/v1/integrations/woocommerce/{}/orders", s.brand_id);
    // The unsigned ping sent when the webhook is created.
    let r = app
        .client
        .post(format!("{}{path}", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("webhook_id=15")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Anything else unsigned, or signed wrongly, is a 401.
    let body = fixture("woo_order.json");
    deliver(&app, &path, None, body.clone()).await.problem(401);
    deliver(
        &app,
        &path,
        Some(("X-WC-Webhook-Signature", sign("nope", &body))),
        body.clone(),
    )
    .await
    .problem(401);

    // The documentation's order, with its published signature: line items 6.00 + 12.00.
    let r = deliver(
        &app,
        &path,
        Some((
            "X-WC-Webhook-Signature",
            "dbd8cN7BISGillqMsi0zMR+0Y9kuiw/6Hcjf+nwkYE0=".into(),
        )),
        body.clone(),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["order_id"], "woocommerce:727");
    assert_eq!(
        (o["amount"].as_str(), o["currency"].as_str()),
        (Some("18.00"), Some("USD"))
    );
    assert_eq!(o["status"], "unattributed");
    assert_eq!(woo(&app, &s, body).await.status, 200);

    // The real delivery with a coupon, made ours: anna's code, 40.00 of line items in EUR.
    let mut order: Value = serde_json::from_slice(&fixture("woo_order_with_coupon.json")).unwrap();
    order["id"] = json!(5001);
    order["currency"] = json!("EUR");
    order["status"] = json!("pending");
    order["coupon_lines"][0]["code"] = json!(s.code(0).to_lowercase());
    order["line_items"][0]["total"] = json!("40.00");
    order["date_created_gmt"] = json!(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string());
    order["date_paid_gmt"] = Value::Null;
    // Not paid yet: acknowledged, not recorded.
    let r = woo(&app, &s, serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "ignored");
    app.get("/api/v1/orders/woocommerce:5001", &s.admin)
        .await
        .problem(404);
    order["status"] = json!("processing");
    let r = woo(&app, &s, serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["amount"], "40.00");
    assert_eq!(o["attribution"][0]["influencer_id"], s.influencer(0), "{o}");
    assert_eq!(o["attribution"][0]["credited_amount"], "40.00");

    // A later delivery with a partial refund (WooCommerce lists refunds as negative totals).
    order["status"] = json!("completed");
    order["refunds"] = json!([{"id": 811, "reason": "", "total": "-15.00"}]);
    let r = woo(&app, &s, serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["refunded"], "15.00");
    // Delivered again: still once.
    let r = woo(&app, &s, serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.json()["refunded"], "15.00");
    // Cancelled: the rest is taken back.
    order["status"] = json!("cancelled");
    let r = woo(&app, &s, serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["refunded"], "40.00");
}

/// Signed garbage can never be recorded: answered 200 `rejected` (so the platform stops
/// retrying), never a 5xx; nothing is recorded.
#[tokio::test]
async fn webhook_garbage_is_rejected_never_a_5xx() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    configure(&app, &s, "shopify").await;
    configure(&app, &s, "woocommerce").await;
    for body in [
        b"not json".to_vec(),
        b"[]".to_vec(),
        br#"{"id": 1}"#.to_vec(),
        br#"{"id": 1, "currency": "EUR", "subtotal_price": "-3"}"#.to_vec(),
        br#"{"id": 1, "currency": "EURO", "subtotal_price": "3"}"#.to_vec(),
    ] {
        let r = shopify(&app, &s, "orders", body.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["status"], "rejected", "{}", r.text);
        let r = woo(&app, &s, body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.json()["status"], "rejected", "{}", r.text);
    }
    let r = shopify(
        &app,
        &s,
        "orders",
        br#"{"id": 1, "currency": "EUR", "subtotal_price": "abc"}"#.to_vec(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.json()["reason"]
            .as_str()
            .unwrap()
            .contains("subtotal_price"),
        "the reason names the field: {}",
        r.text
    );
    // A brand id that is no brand: like a wrong signature.
    let body = fixture("shopify_order.json");
    let r = deliver(
        &app,
        &format!(
            "/api/v1/integrations/shopify/{}/orders",
            uuid::Uuid::now_v7()
        ),
        Some(("X-Shopify-Hmac-Sha256", sign(SECRET, &body))),
        body,
    )
    .await;
    r.problem(401);
    // Secrets: validated, platform known, admin only.
    put_secret(&app, &s.admin, "shopify", "short")
        .await
        .invalid_field("webhook_secret");
    put_secret(&app, &s.admin, "shopify", "secret\u{0}secret")
        .await
        .invalid_field("webhook_secret");
    put_secret(&app, &s.admin, "magento", SECRET)
        .await
        .problem(404);
    assert_eq!(
        put_secret(&app, &s.storefront, "shopify", SECRET)
            .await
            .status,
        403
    );
}

async fn put_secret(app: &TestApp, key: &str, platform: &str, secret: &str) -> Resp {
    app.request(
        reqwest::Method::PUT,
        &format!("/api/v1/integrations/{platform}"),
        Some(key),
        Some(json!({"webhook_secret": secret})),
    )
    .await
}

#[tokio::test]
async fn shopify_test_orders_are_skipped_and_customers_are_checked_by_email_hash() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    configure(&app, &s, "shopify").await;
    let now = chrono::Utc::now().to_rfc3339();
    let mut order: Value = serde_json::from_slice(&fixture("shopify_order.json")).unwrap();
    order["currency"] = json!("EUR");
    order["created_at"] = json!(now);
    order["processed_at"] = json!(now);
    order["refunds"] = json!([]);
    order["test"] = json!(true);
    let r = shopify(&app, &s, "orders", serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "ignored");
    app.get("/api/v1/orders/shopify:450789469", &s.admin)
        .await
        .problem(404);
    // Anna buying with her own code, garbage codes beside it (dropped, not refused).
    order["test"] = json!(false);
    order["email"] = json!("Anna@Creators.example");
    order["customer"]["email"] = json!("Anna@Creators.example");
    order["discount_codes"] = json!([{"code": s.code(0)}, {"code": "x".repeat(200)}, {"code": ""}]);
    let r = shopify(&app, &s, "orders", serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["status"], "attributed");
    assert_eq!(o["self_referral"], true);
}

/// A redelivery that changed what is credited (an edited order) keeps the first version and
/// says so; the same order delivered many times at once (a platform's retries racing) is
/// recorded once and never taken for an edit.
#[tokio::test]
async fn an_edited_order_keeps_its_first_version_and_racing_retries_are_no_edit() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    configure(&app, &s, "shopify").await;
    let mut order: Value = serde_json::from_slice(&fixture("shopify_order.json")).unwrap();
    order["refunds"] = json!([]);
    order["id"] = json!(7001);
    let body = serde_json::to_vec(&order).unwrap();
    let deliveries = (0..8).map(|_| shopify(&app, &s, "orders", body.clone()));
    let answers = futures::future::join_all(deliveries).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(
        created,
        1,
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    for r in &answers {
        assert!(
            matches!(r.status, 200 | 201 | 409),
            "{} {}",
            r.status,
            r.text
        );
        assert!(
            !r.text.contains("ignored"),
            "a race taken for an edit: {}",
            r.text
        );
    }
    let first = app
        .get("/api/v1/orders/shopify:7001", &s.admin)
        .await
        .json();
    assert_eq!(first["amount"], "597.00");

    order["subtotal_price"] = json!("500.00");
    let r = shopify(&app, &s, "orders", serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let answer = r.json();
    assert_eq!(answer["status"], "ignored", "{answer}");
    assert!(
        answer["reason"]
            .as_str()
            .unwrap()
            .contains("the first version is kept"),
        "{answer}"
    );
    let after = app
        .get("/api/v1/orders/shopify:7001", &s.admin)
        .await
        .json();
    assert_eq!(after, first);
}

/// A store connection: each part optional and kept when left out, base URLs https (http only
/// to a loopback address), secrets sealed at rest and shown masked, fields of the other
/// platform refused by name, disconnection.
#[tokio::test]
async fn store_connections_are_partial_masked_validated_and_removable() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let path = "/api/v1/integrations/shopify";
    let put = |body: Value| app.request(reqwest::Method::PUT, path, Some(&s.admin), Some(body));
    let token = "shpat_0123456789abcdefWXYZ";
    let r = put(json!({"shop_url": "https://acme.myshopify.com/", "access_token": token})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["shop_url"], "https://acme.myshopify.com");
    assert_eq!(v["access_token"], "…WXYZ");
    assert_eq!(v["configured"], false, "no webhook secret yet");
    assert!(
        v.get("site_url").is_none() && !r.text.contains(token),
        "{v}"
    );
    // A webhook secret added later keeps the token.
    let r = put(json!({"webhook_secret": SECRET})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = app.get(path, &s.admin).await.json();
    assert_eq!(
        (v["configured"].as_bool(), v["access_token"].as_str()),
        (Some(true), Some("…WXYZ"))
    );
    assert_eq!(
        v["webhook_secret"],
        format!("…{}", &SECRET[SECRET.len() - 4..])
    );
    // A read key reads it; a storefront key does not.
    let (_, read) = app
        .create_key(&s.brand_id, &s.admin, json!({"scope": "read"}))
        .await;
    assert_eq!(app.get(path, &read).await.status, 200);
    assert_eq!(app.get(path, &s.storefront).await.status, 403);
    // Sealed in the database.
    {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
            access_token: Option<String>,
        }
        let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
        let mut conn = influtrack::db::open_connection(&url).unwrap();
        let rows: Vec<Row> = diesel::sql_query("SELECT access_token FROM integrations")
            .load(&mut conn)
            .unwrap();
        let stored = rows[0].access_token.clone().unwrap();
        assert!(
            stored.starts_with("v1:") && !stored.contains("0123456789"),
            "{stored}"
        );
    }
    // Refused by name: http to a public host, a path, the other platform's fields, nothing.
    put(json!({"shop_url": "http://acme.myshopify.com"}))
        .await
        .invalid_field("shop_url");
    put(json!({"shop_url": "https://acme.myshopify.com/admin"}))
        .await
        .invalid_field("shop_url");
    put(json!({"consumer_key": "ck_0123456789"}))
        .await
        .invalid_field("consumer_key");
    put(json!({"access_token": " padded-token "}))
        .await
        .invalid_field("access_token");
    put(json!({})).await.invalid_field("body");
    // A local shop over http is fine (tests, development).
    let r = put(json!({"shop_url": "http://127.0.0.1:9"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // WooCommerce: its own fields.
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/integrations/woocommerce",
            Some(&s.admin),
            Some(
                json!({"site_url": "https://shop.example", "consumer_key": "ck_0123456789abcd",
                        "consumer_secret": "cs_0123456789efgh"}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(
        (
            v["site_url"].as_str(),
            v["consumer_key"].as_str(),
            v["consumer_secret"].as_str()
        ),
        (Some("https://shop.example"), Some("…abcd"), Some("…efgh"))
    );
    assert!(v.get("shop_url").is_none(), "{v}");
    // Disconnected: gone, and its webhooks no longer verify.
    let body = b"{}".to_vec();
    let webhook = format!("/api/v1/integrations/shopify/{}/orders", s.brand_id);
    let signed = || {
        deliver(
            &app,
            &webhook,
            Some(("X-Shopify-Hmac-Sha256", sign(SECRET, &body))),
            body.clone(),
        )
    };
    assert_eq!(signed().await.status, 200);
    assert_eq!(app.delete(path, &s.admin).await.status, 204);
    app.get(path, &s.admin).await.problem(404);
    assert_eq!(
        app.delete(path, &s.admin).await.status,
        204,
        "already disconnected"
    );
    signed().await.problem(401);
}
