//! Orders, refunds, funnel events and attribution, as a storefront integrator reports them.

use crate::helpers::*;
use crate::redirect::{click, CHROME};
use crate::resources::{campaign, enroll};
use serde_json::{json, Value};

/// A brand with one campaign (`attribution` as given) and the named influencers enrolled,
/// each with vanity code `<HANDLE>15` and one link.
pub struct Shop {
    pub brand_id: String,
    pub admin: String,
    pub storefront: String,
    pub campaign_id: String,
    pub enrollments: Vec<Value>,
}

impl Shop {
    pub fn link(&self, i: usize) -> &str {
        self.enrollments[i]["link"]["code"].as_str().unwrap()
    }
    pub fn influencer(&self, i: usize) -> &str {
        self.enrollments[i]["influencer_id"].as_str().unwrap()
    }
    pub fn code(&self, i: usize) -> &str {
        self.enrollments[i]["discount_code"]["code"]
            .as_str()
            .unwrap()
    }
}

pub async fn shop(app: &TestApp, attribution: Value, handles: &[&str]) -> Shop {
    let (brand_id, admin) = app.create_brand("Acme").await;
    let (_, storefront) = app
        .create_key(&brand_id, &admin, json!({"scope": "storefront"}))
        .await;
    let c = campaign(
        app,
        &admin,
        json!({
            "name": "Spring Sale",
            "destination_url": "https://shop.example/landing",
            "currency": "EUR",
            "attribution": attribution,
        }),
    )
    .await;
    let campaign_id = c["id"].as_str().unwrap().to_string();
    let mut enrollments = Vec::new();
    for h in handles {
        let r = app
            .post(
                "/api/v1/influencers",
                &admin,
                json!({"handle": h, "email": format!("{h}@creators.example")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let id = r.json()["id"].as_str().unwrap().to_string();
        enrollments.push(
            enroll(
                app,
                &admin,
                &campaign_id,
                json!({"influencer_id": id, "code": format!("{h}15"), "commission_rate": "0.1"}),
            )
            .await,
        );
    }
    Shop {
        brand_id,
        admin,
        storefront,
        campaign_id,
        enrollments,
    }
}

/// Follows a link as a shopper would and returns the click id the redirect appended.
pub async fn click_id(app: &TestApp, link_code: &str, user_agent: &str) -> String {
    let r = click(app, link_code, &[("user-agent", user_agent)]).await;
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap();
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "itk_click")
        .map(|(_, v)| v.to_string())
        .expect("itk_click in the redirect")
}

async fn order(app: &TestApp, key: &str, body: Value) -> Resp {
    app.post("/api/v1/orders", key, body).await
}

fn credited(o: &Value) -> Vec<(String, String)> {
    o["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["influencer_id"].as_str().unwrap().to_string(),
                c["credited_amount"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_code_credits_its_influencer_once_however_often_the_order_is_sent() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "last_click"}), &["anna", "ben"]).await;
    // A click of ben's, but anna's code wins by priority (the campaign default).
    let ben_click = click_id(&app, s.link(1), CHROME).await;
    let body = json!({"order_id": "1001", "amount": "129.90", "currency": "EUR",
                      "discount_codes": ["anna15"], "click_ids": [ben_click]});
    let r = order(&app, &s.storefront, body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["order_id"], "1001");
    assert_eq!(o["status"], "attributed");
    assert_eq!(o["amount"], "129.90");
    assert_eq!(
        credited(&o),
        [(s.influencer(0).to_string(), "129.90".to_string())]
    );
    assert_eq!(o["attribution"][0]["via"], "code");
    assert_eq!(o["attribution"][0]["share"], 1.0);
    assert_eq!(o["attribution"][0]["campaign_id"], s.campaign_id.as_str());
    assert_eq!(o["model"], Value::Null);
    // Ben's click was eligible but earned nothing: an assist.
    assert_eq!(o["assists"].as_array().unwrap().len(), 1);
    assert_eq!(o["assists"][0]["influencer_id"], s.influencer(1));

    // The same order again (even without the defaults spelled out): 200, the same result.
    let again = order(&app, &s.storefront, body.clone()).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json(), o);
    // Another body for the same order id: 409, nothing changes.
    let mut changed = body.clone();
    changed["amount"] = json!("10.00");
    order(&app, &s.storefront, changed).await.problem(409);
    let stored = app.get("/api/v1/orders/1001", &s.admin).await;
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json(), o);
    // The code was redeemed once.
    let code_id = s.enrollments[0]["discount_code"]["id"].as_str().unwrap();
    let code = app
        .get(&format!("/api/v1/codes/{code_id}"), &s.admin)
        .await
        .json();
    assert_eq!(code["redemptions"], 1);
}

#[tokio::test]
async fn concurrent_duplicates_count_once() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let body = json!({"order_id": "race-1", "amount": "50.00", "currency": "EUR",
                      "discount_codes": ["ANNA15"]});
    let sends = (0..8).map(|_| order(&app, &s.storefront, body.clone()));
    let answers = futures::future::join_all(sends).await;
    let mut statuses: Vec<u16> = answers.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 200, 200, 200, 201],
        "{answers:?}"
    );
    let first = answers[0].json();
    assert!(answers.iter().all(|r| r.json() == first));
    let code_id = s.enrollments[0]["discount_code"]["id"].as_str().unwrap();
    let code = app
        .get(&format!("/api/v1/codes/{code_id}"), &s.admin)
        .await
        .json();
    assert_eq!(code["redemptions"], 1);
}

#[tokio::test]
async fn linear_credit_over_clicks_adds_up_to_the_cent() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "linear"}), &["anna", "ben", "cleo"]).await;
    let mut clicks = Vec::new();
    for i in 0..3 {
        clicks.push(click_id(&app, s.link(i), CHROME).await);
    }
    let r = order(
        &app,
        &s.storefront,
        json!({"order_id": "A-1", "amount": "100.00", "currency": "EUR", "click_ids": clicks}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["model"], "linear");
    let credits = credited(&o);
    assert_eq!(credits.len(), 3);
    let cents: i64 = credits
        .iter()
        .map(|(_, a)| (a.parse::<f64>().unwrap() * 100.0).round() as i64)
        .sum();
    assert_eq!(cents, 10_000);
    let mut amounts: Vec<&str> = credits.iter().map(|(_, a)| a.as_str()).collect();
    amounts.sort();
    assert_eq!(amounts, ["33.33", "33.33", "33.34"]);
    let shares: f64 = o["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["share"].as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9, "{shares}");
    assert!(o["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["via"] == "click"));
}

#[tokio::test]
async fn a_resend_answers_the_credits_in_the_first_answers_order() {
    // Found by the soak run (bench/soak): click ids sent newest first were answered oldest
    // first by the 201 and in the order they were sent by every later 200 and GET.
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "linear"}), &["anna", "ben", "cleo"]).await;
    let mut clicks = Vec::new();
    for i in 0..3 {
        clicks.push(click_id(&app, s.link(i), CHROME).await);
    }
    clicks.reverse();
    let body = json!({"order_id": "R-1", "amount": "100.00", "currency": "EUR",
                      "click_ids": clicks});
    let r = order(&app, &s.storefront, body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    // Oldest touch first, as attribution orders them.
    let credited_to: Vec<&str> = o["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["influencer_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        credited_to,
        [s.influencer(0), s.influencer(1), s.influencer(2)]
    );
    let again = order(&app, &s.storefront, body).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json(), o);
    let stored = app.get("/api/v1/orders/R-1", &s.admin).await;
    assert_eq!(stored.status, 200);
    assert_eq!(stored.json(), o);
}

#[tokio::test]
async fn orders_without_anything_attributable_are_kept_unattributed() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    // Neither code nor click; an unknown code; a bot's click; a click from after the order.
    let bot = click_id(&app, s.link(0), "facebookexternalhit/1.1").await;
    let later = click_id(&app, s.link(0), CHROME).await;
    for (id, extra) in [
        ("n-1", json!({})),
        ("n-2", json!({"discount_codes": ["NOPE99"]})),
        ("n-3", json!({"click_ids": [bot]})),
        (
            "n-4",
            json!({"click_ids": [later], "occurred_at": (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339()}),
        ),
    ] {
        let mut body = json!({"order_id": id, "amount": "20.00", "currency": "EUR"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let r = order(&app, &s.storefront, body).await;
        assert_eq!(r.status, 201, "{id}: {}", r.text);
        let o = r.json();
        assert_eq!(o["status"], "unattributed", "{id}");
        assert_eq!(o["attribution"], json!([]), "{id}");
        assert_eq!(o["assists"], json!([]), "{id}");
    }
}

#[tokio::test]
async fn garbage_amounts_currencies_and_ids_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let base = json!({"order_id": "g-1", "amount": "10.00", "currency": "EUR"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("amount", json!("-5")), "amount"),
        (with("amount", json!("ten")), "amount"),
        (with("amount", json!("1e400")), "amount"),
        (with("amount", json!("99999999999999999999")), "amount"),
        (with("amount", json!("10.001")), "amount"),
        (with("amount", json!(true)), "amount"),
        (with("amount", json!("100000000000000000000000")), "amount"),
        (with("amount", json!(1e23)), "amount"),
        (
            with("amount", json!("79228162514264337593543950335")),
            "amount",
        ),
        (
            with("discount_codes", json!(["A\u{0}B"])),
            "discount_codes[0]",
        ),
        (with("customer_ref", json!("x\u{0}")), "customer_ref"),
        (with("currency", json!("EURO")), "currency"),
        (with("currency", json!("XYZ")), "currency"),
        (with("order_id", json!("")), "order_id"),
        (with("click_ids", json!(["not-a-click"])), "click_ids[0]"),
        (with("discount_codes", json!([""])), "discount_codes[0]"),
        (with("occurred_at", json!("yesterday")), "occurred_at"),
        (
            with("occurred_at", json!("2999-01-01T00:00:00Z")),
            "occurred_at",
        ),
        (with("surprise", json!(1)), "surprise"),
    ] {
        order(&app, &s.storefront, body).await.invalid_field(field);
    }
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("currency");
    order(&app, &s.storefront, missing)
        .await
        .invalid_field("currency");
    // Nothing of it was recorded.
    app.get("/api/v1/orders/g-1", &s.admin).await.problem(404);
    // A JSON number is read as written.
    let r = order(&app, &s.storefront, with("amount", json!(129.9))).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["amount"], "129.90");
    // A currency without minor units.
    let r = order(
        &app,
        &s.storefront,
        json!({"order_id": "yen", "amount": "1500", "currency": "jpy"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (r.json()["amount"].as_str(), r.json()["currency"].as_str()),
        (Some("1500"), Some("JPY"))
    );
}

#[tokio::test]
async fn refunds_are_partial_or_full_idempotent_and_never_exceed_the_order() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let r = order(
        &app,
        &s.storefront,
        json!({"order_id": "R-1", "amount": "100.00", "currency": "EUR", "discount_codes": ["ANNA15"]}),
    )
    .await;
    assert_eq!(r.status, 201);
    let refund = |id: &str, amount: &str| json!({"refund_id": id, "amount": amount});
    let r = app
        .post(
            "/api/v1/orders/R-1/refunds",
            &s.storefront,
            refund("rf-1", "30.00"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        (
            r.json()["order_refunded"].as_str(),
            r.json()["order_net"].as_str()
        ),
        (Some("30.00"), Some("70.00"))
    );
    // A resend counts once; the same id with another amount is a conflict.
    let again = app
        .post(
            "/api/v1/orders/R-1/refunds",
            &s.storefront,
            refund("rf-1", "30.00"),
        )
        .await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["order_refunded"], "30.00");
    app.post(
        "/api/v1/orders/R-1/refunds",
        &s.storefront,
        refund("rf-1", "31.00"),
    )
    .await
    .problem(409);
    // More than what is left: 422 naming the amount, nothing recorded.
    app.post(
        "/api/v1/orders/R-1/refunds",
        &s.storefront,
        refund("rf-2", "70.01"),
    )
    .await
    .invalid_field("amount");
    for bad in ["0", "-1", "abc", "100000000000000000000000"] {
        app.post(
            "/api/v1/orders/R-1/refunds",
            &s.storefront,
            refund("rf-x", bad),
        )
        .await
        .invalid_field("amount");
    }
    let r = app
        .post(
            "/api/v1/orders/R-1/refunds",
            &s.storefront,
            refund("rf-2", "70.00"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["order_net"], "0.00");
    let o = app.get("/api/v1/orders/R-1", &s.storefront).await.json();
    assert_eq!(o["refunded"], "100.00");
    // An unknown order is a 404.
    app.post(
        "/api/v1/orders/NOPE/refunds",
        &s.storefront,
        refund("rf-9", "1.00"),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn concurrent_refunds_never_overshoot() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let r = order(
        &app,
        &s.storefront,
        json!({"order_id": "C-1", "amount": "50.00", "currency": "EUR"}),
    )
    .await;
    assert_eq!(r.status, 201);
    let sends = (0..10).map(|i| {
        app.post(
            "/api/v1/orders/C-1/refunds",
            &s.storefront,
            json!({"refund_id": format!("c-{i}"), "amount": "10.00"}),
        )
    });
    let answers = futures::future::join_all(sends).await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    let refused = answers.iter().filter(|r| r.status == 422).count();
    assert_eq!((created, refused), (5, 5), "{answers:?}");
    let o = app.get("/api/v1/orders/C-1", &s.storefront).await.json();
    assert_eq!(o["refunded"], "50.00");
}

#[tokio::test]
async fn funnel_events_are_tied_to_a_click_and_recorded_once() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let click = click_id(&app, s.link(0), CHROME).await;
    let body = json!({"event_id": "ev-1", "type": "add_to_cart", "click_id": click});
    let r = app
        .post("/api/v1/events", &s.storefront, body.clone())
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let e = r.json();
    assert_eq!(e["influencer_id"], s.influencer(0));
    assert_eq!(e["campaign_id"], s.campaign_id.as_str());
    assert_eq!(e["type"], "add_to_cart");
    let again = app
        .post("/api/v1/events", &s.storefront, body.clone())
        .await;
    assert_eq!((again.status, again.json()), (200, e));
    let mut other = body.clone();
    other["type"] = json!("lead");
    app.post("/api/v1/events", &s.storefront, other)
        .await
        .problem(409);
    let mut bad = body.clone();
    bad["event_id"] = json!("ev-2");
    bad["type"] = json!("purchase");
    app.post("/api/v1/events", &s.storefront, bad)
        .await
        .invalid_field("type");
    let unknown = json!({"event_id": "ev-3", "type": "lead", "click_id": uuid::Uuid::now_v7()});
    app.post("/api/v1/events", &s.storefront, unknown)
        .await
        .invalid_field("click_id");
}

#[tokio::test]
async fn an_order_in_another_currency_needs_a_registered_rate() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "linear"}), &["anna", "ben"]).await;
    let clicks = vec![
        click_id(&app, s.link(0), CHROME).await,
        click_id(&app, s.link(1), CHROME).await,
    ];
    let body =
        json!({"order_id": "usd-1", "amount": "100.01", "currency": "USD", "click_ids": clicks});
    let r = order(&app, &s.storefront, body.clone()).await;
    r.invalid_field("currency");
    assert!(
        r.text.contains("USD") && r.text.contains("EUR"),
        "{}",
        r.text
    );
    app.get("/api/v1/orders/usd-1", &s.admin).await.problem(404);
    // Rates: validated, then used (its inverse too).
    let put = |b: Value| {
        app.request(
            reqwest::Method::PUT,
            "/api/v1/fx-rates",
            Some(&s.admin),
            Some(b),
        )
    };
    put(json!({"base": "USD", "quote": "USD", "rate": "1"}))
        .await
        .invalid_field("quote");
    put(json!({"base": "USD", "quote": "EUR", "rate": "0"}))
        .await
        .invalid_field("rate");
    put(json!({"base": "USD", "quote": "EUR", "rate": "abc"}))
        .await
        .invalid_field("rate");
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/fx-rates",
            Some(&s.storefront),
            Some(json!({"base": "EUR", "quote": "USD", "rate": "1.25"})),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = put(json!({"base": "eur", "quote": "usd", "rate": "1.25"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["rate"], "1.25");
    let rates = app.get("/api/v1/fx-rates", &s.admin).await.json();
    assert_eq!(rates["items"].as_array().unwrap().len(), 1);
    // 100.01 USD at 1/1.25 = 80.008 EUR → 80.01, split 40.01 / 40.00.
    let r = order(&app, &s.storefront, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    assert_eq!(o["currency"], "USD");
    let mut amounts: Vec<String> = credited(&o).into_iter().map(|(_, a)| a).collect();
    amounts.sort();
    assert_eq!(amounts, ["40.00", "40.01"]);
    assert!(o["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["currency"] == "EUR"));
}

#[tokio::test]
async fn paused_links_pruned_codes_and_self_referrals_earn_nothing() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna", "ben"]).await;
    // A click through a paused link still redirects but is not attributable.
    let link_id = s.enrollments[0]["link"]["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/links/{link_id}"),
            &s.admin,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let paused = click_id(&app, s.link(0), CHROME).await;
    let o = order(
        &app,
        &s.storefront,
        json!({"order_id": "p-1", "amount": "10.00", "currency": "EUR", "click_ids": [paused]}),
    )
    .await
    .json();
    assert_eq!(o["status"], "unattributed");
    // A deactivated code earns nothing.
    let code_id = s.enrollments[0]["discount_code"]["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/codes/{code_id}"),
            &s.admin,
            json!({"status": "inactive"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let o = order(
        &app,
        &s.storefront,
        json!({"order_id": "p-2", "amount": "10.00", "currency": "EUR", "discount_codes": [s.code(0)]}),
    )
    .await
    .json();
    assert_eq!(o["status"], "unattributed");
    // Ben buying with his own code: credited, flagged (by e-mail, handle or e-mail hash).
    for (id, customer) in [
        ("s-1", "Ben@Creators.example".to_string()),
        ("s-2", "@ben".to_string()),
        ("s-3", sha2_hex("ben@creators.example")),
    ] {
        let o = order(
            &app,
            &s.storefront,
            json!({"order_id": id, "amount": "10.00", "currency": "EUR",
                   "discount_codes": [s.code(1)], "customer_ref": customer}),
        )
        .await
        .json();
        assert_eq!(o["status"], "attributed", "{id}");
        assert_eq!(o["self_referral"], true, "{id}");
    }
    let o = order(
        &app,
        &s.storefront,
        json!({"order_id": "s-4", "amount": "10.00", "currency": "EUR",
               "discount_codes": [s.code(1)], "customer_ref": "someone@else.example"}),
    )
    .await
    .json();
    assert_eq!(o["self_referral"], false);
}

fn sha2_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn keys_see_only_their_brand_and_scope() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let body = json!({"order_id": "k-1", "amount": "10.00", "currency": "EUR"});
    let (_, read) = app
        .create_key(&s.brand_id, &s.admin, json!({"scope": "read"}))
        .await;
    let (_, mine) = app
        .create_key(
            &s.brand_id,
            &s.admin,
            json!({"scope": "influencer", "influencer_id": s.influencer(0)}),
        )
        .await;
    assert_eq!(order(&app, &read, body.clone()).await.status, 403);
    assert_eq!(order(&app, &mine, body.clone()).await.status, 403);
    assert_eq!(order(&app, "itk_nope_nope", body.clone()).await.status, 401);
    assert_eq!(order(&app, &s.admin, body.clone()).await.status, 201);
    assert_eq!(app.get("/api/v1/orders/k-1", &read).await.status, 200);
    assert_eq!(app.get("/api/v1/orders/k-1", &mine).await.status, 403);
    // Another brand: the order does not exist for it, and its own k-1 is its own.
    let other = shop(&app, json!({}), &["zoe"]).await;
    app.get("/api/v1/orders/k-1", &other.admin)
        .await
        .problem(404);
    app.post(
        "/api/v1/orders/k-1/refunds",
        &other.storefront,
        json!({"refund_id": "x", "amount": "1.00"}),
    )
    .await
    .problem(404);
    assert_eq!(order(&app, &other.storefront, body).await.status, 201);
    // A click of another brand is no touch here.
    let foreign = click_id(&app, other.link(0), CHROME).await;
    let o = order(
        &app,
        &s.storefront,
        json!({"order_id": "k-2", "amount": "10.00", "currency": "EUR", "click_ids": [foreign]}),
    )
    .await
    .json();
    assert_eq!(o["status"], "unattributed");
    let ev = json!({"event_id": "e", "type": "lead", "click_id": foreign});
    app.post("/api/v1/events", &s.storefront, ev)
        .await
        .invalid_field("click_id");
}

#[tokio::test]
async fn the_tracking_script_is_served() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/t.js", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/javascript"));
    let text = r.text().await.unwrap();
    assert!(text.contains("itk_click") && text.contains("clickIds"));
}

#[tokio::test]
async fn a_code_past_its_redemption_limit_earns_nothing() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let code_id = s.enrollments[0]["discount_code"]["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/codes/{code_id}"),
            &s.admin,
            json!({"max_redemptions": 1}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let statuses: Vec<String> = {
        let mut out = Vec::new();
        for id in ["m-1", "m-2"] {
            let o = order(
                &app,
                &s.storefront,
                json!({"order_id": id, "amount": "10.00", "currency": "EUR", "discount_codes": [s.code(0)]}),
            )
            .await
            .json();
            out.push(o["status"].as_str().unwrap().to_string());
        }
        out
    };
    assert_eq!(statuses, ["attributed", "unattributed"]);
    let code = app
        .get(&format!("/api/v1/codes/{code_id}"), &s.admin)
        .await
        .json();
    assert_eq!(code["redemptions"], 1);
    let lookup = app
        .get(
            &format!("/api/v1/codes/lookup?code={}", s.code(0)),
            &s.storefront,
        )
        .await
        .json();
    assert_eq!(
        (lookup["valid"].as_bool(), lookup["reason"].as_str()),
        (Some(false), Some("exhausted"))
    );
}

/// Many orders at once are committed together (group commit on SQLite); each keeps its own
/// outcome: a code with three redemptions left is credited to exactly three of them (the
/// others, whose redemption failed inside the shared transaction, are retried and recorded
/// unattributed), duplicates answer the stored order, and the rollups hold exactly the
/// credited orders.
#[tokio::test]
async fn orders_committed_together_each_keep_their_own_outcome() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna", "ben"]).await;
    let code_id = s.enrollments[0]["discount_code"]["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/codes/{code_id}"),
            &s.admin,
            json!({"max_redemptions": 3}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut bodies = Vec::new();
    for i in 0..12 {
        bodies.push(json!({"order_id": format!("anna-{i}"), "amount": "10.00",
                           "currency": "EUR", "discount_codes": [s.code(0)]}));
        bodies.push(json!({"order_id": format!("ben-{i}"), "amount": "20.00",
                           "currency": "EUR", "discount_codes": [s.code(1)]}));
    }
    // Each of the first four sent twice at once.
    for i in 0..4 {
        bodies.push(bodies[i].clone());
    }
    let answers =
        futures::future::join_all(bodies.iter().map(|b| order(&app, &s.storefront, b.clone())))
            .await;
    let created = answers.iter().filter(|r| r.status == 201).count();
    let replayed = answers.iter().filter(|r| r.status == 200).count();
    assert_eq!((created, replayed), (24, 4), "{answers:?}");
    let anna_credited = answers
        .iter()
        .filter(|r| r.status == 201)
        .map(|r| r.json())
        .filter(|o| o["order_id"].as_str().unwrap().starts_with("anna-"))
        .filter(|o| o["status"] == "attributed")
        .count();
    assert_eq!(anna_credited, 3);
    let code = app
        .get(&format!("/api/v1/codes/{code_id}"), &s.admin)
        .await
        .json();
    assert_eq!(code["redemptions"], 3);
    let board = app
        .get(
            &format!("/api/v1/campaigns/{}/leaderboard", s.campaign_id),
            &s.admin,
        )
        .await
        .json();
    let row = |handle: &str| {
        board["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["handle"] == handle)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        (
            row("anna")["orders"].as_i64(),
            row("anna")["gross_revenue"].as_str()
        ),
        (Some(3), Some("30.00"))
    );
    assert_eq!(
        (
            row("ben")["orders"].as_i64(),
            row("ben")["gross_revenue"].as_str()
        ),
        (Some(12), Some("240.00"))
    );
}

#[derive(diesel::QueryableByName)]
struct Analyzed {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    analyzed: bool,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    autovacuum: bool,
}

/// Whether `orders` has been analyzed by hand (not by autovacuum), and whether the server
/// runs autovacuum.
fn orders_analyzed(url: &str) -> Analyzed {
    use diesel::{Connection, RunQueryDsl};
    let mut conn = diesel::PgConnection::establish(url).expect("connect");
    diesel::sql_query(
        "SELECT COALESCE((SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables \
         WHERE relname = 'orders' AND schemaname = current_schema()), false) AS analyzed, \
         current_setting('autovacuum') = 'on' AS autovacuum",
    )
    .get_result(&mut conn)
    .expect("read the table statistics")
}

/// On a PostgreSQL server run without autovacuum (as this machine's is), influtrack analyzes
/// the tables that grew: without it, a cached plan looked each order up by scanning all of
/// its brand's orders. With autovacuum on, it leaves the tables to it. (SQLite: nothing to do.)
#[tokio::test]
async fn without_autovacuum_influtrack_analyzes_the_tables_that_grew() {
    let db = TestDb::new();
    let url = db.url();
    if !url.starts_with("postgres") {
        return;
    }
    let mut settings = settings_for(&db);
    settings.pg_maintenance_seconds = 1;
    let app = spawn_with(db, settings).await;
    let s = shop(&app, json!({}), &["anna"]).await;
    for i in 0..80 {
        let r = order(
            &app,
            &s.storefront,
            json!({"order_id": format!("o-{i}"), "amount": "10.00", "currency": "EUR",
                   "discount_codes": [s.code(0)]}),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let started = std::time::Instant::now();
    loop {
        let url = url.clone();
        let now = tokio::task::spawn_blocking(move || orders_analyzed(&url))
            .await
            .unwrap();
        if now.autovacuum {
            // Left to autovacuum: a few maintenance periods pass without a manual analyze.
            assert!(!now.analyzed, "analyzed by hand although autovacuum runs");
            if started.elapsed() > std::time::Duration::from_secs(4) {
                break;
            }
        } else if now.analyzed {
            break;
        } else {
            // Backends report their table statistics within ~10 s of going idle.
            assert!(
                started.elapsed() < std::time::Duration::from_secs(40),
                "orders never analyzed without autovacuum"
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
