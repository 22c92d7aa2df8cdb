//! Fraud signals on generated traffic with known answers: each planted pattern is flagged on
//! its influencer, the honest one is not, and every new flag is sent once as `fraud.flagged`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::orders::click_id;
use crate::outgoing::{spawn_allowing_private, subscribe, Receiver};
use crate::redirect::{click, CHROME};
use crate::resources::{campaign, enroll, influencer};

async fn enrolled(app: &TestApp, admin: &str, campaign: &str, handle: &str) -> Value {
    let id = influencer(app, admin, handle).await;
    enroll(
        app,
        admin,
        campaign,
        json!({"influencer_id": id, "code": format!("{}15", handle.to_uppercase())}),
    )
    .await
}

fn link(e: &Value) -> String {
    e["link"]["code"].as_str().unwrap().to_string()
}

async fn order(app: &TestApp, key: &str, body: Value) {
    let r = app.post("/api/v1/orders", key, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["status"], "attributed", "{}", r.text);
}

fn at(days_ago: i64, hours: i64) -> String {
    (Utc::now() - Days::days(days_ago) + Days::hours(hours)).to_rfc3339()
}

/// A time on the UTC day `days_ago` days back, `minutes` after 01:00, so a burst never
/// straddles midnight whatever the hour the test runs.
fn on_day(days_ago: i64, minutes: i64) -> String {
    let day = (Utc::now() - Days::days(days_ago)).date_naive();
    (day.and_hms_opt(1, 0, 0).unwrap().and_utc() + Days::minutes(minutes)).to_rfc3339()
}

async fn flags(app: &TestApp, admin: &str, campaign: &str) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/campaigns/{campaign}/flags"), admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().clone()
}

fn kinds(flags: &[Value]) -> BTreeSet<(String, String)> {
    flags
        .iter()
        .map(|f| {
            (
                f["handle"].as_str().unwrap().to_string(),
                f["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(h, k)| (h.to_string(), k.to_string()))
        .collect()
}

#[tokio::test]
async fn planted_patterns_are_flagged_on_their_influencers_and_announced_once() {
    let app = spawn_allowing_private(86_400, 1).await;
    let receiver = Receiver::start().await;
    let (brand_id, admin) = app.create_brand("Flags").await;
    let (_, shop) = app
        .create_key(&brand_id, &admin, json!({"scope": "storefront"}))
        .await;
    subscribe(&app, &admin, &receiver, json!(["fraud.flagged"])).await;
    let c = campaign(
        &app,
        &admin,
        json!({"name": "Flags", "destination_url": "https://shop.example/x",
               "currency": "EUR", "starts_at": at(30, 0)}),
    )
    .await;
    let cid = c["id"].as_str().unwrap().to_string();
    let anna = enrolled(&app, &admin, &cid, "anna").await;
    let ben = enrolled(&app, &admin, &cid, "ben").await;
    enrolled(&app, &admin, &cid, "cara").await;
    enrolled(&app, &admin, &cid, "dan").await;
    enrolled(&app, &admin, &cid, "finn").await;

    // anna, honest: 120 visitors, 4 orders through her clicks.
    let mut anna_clicks = Vec::new();
    for i in 0..120 {
        let ua = format!("{CHROME} visitor/{i}");
        if i < 4 {
            anna_clicks.push(click_id(&app, &link(&anna), &ua).await);
        } else {
            assert_eq!(
                click(&app, &link(&anna), &[("user-agent", &ua)])
                    .await
                    .status(),
                302
            );
        }
    }
    for (i, id) in anna_clicks.iter().enumerate() {
        order(
            &app,
            &shop,
            json!({"order_id": format!("A-{i}"), "amount": "20.00", "currency": "EUR",
                   "click_ids": [id]}),
        )
        .await;
    }
    // ben, a click farm: 100 clicks from one visitor, no order.
    for _ in 0..100 {
        assert_eq!(
            click(&app, &link(&ben), &[("user-agent", CHROME)])
                .await
                .status(),
            302
        );
    }
    // cara, a leaked code: 10 redemptions, no click.
    for i in 0..10 {
        order(
            &app,
            &shop,
            json!({"order_id": format!("C-{i}"), "amount": "15.00", "currency": "EUR",
                   "discount_codes": ["CARA15"]}),
        )
        .await;
    }
    // dan: one customer ordering three times within two hours.
    for i in 0..3 {
        order(
            &app,
            &shop,
            json!({"order_id": format!("D-{i}"), "amount": "30.00", "currency": "EUR",
                   "discount_codes": ["DAN15"], "customer_ref": "same-shopper-42",
                   "occurred_at": at(1, i)}),
        )
        .await;
    }
    // finn: an order a day for two weeks, then twelve in one day (all through the code, so
    // his redemptions come without clicks too).
    for d in 0..14 {
        order(
            &app,
            &shop,
            json!({"order_id": format!("F-{d}"), "amount": "10.00", "currency": "EUR",
                   "discount_codes": ["FINN15"], "occurred_at": at(20 - d, 0)}),
        )
        .await;
    }
    for i in 0..12 {
        order(
            &app,
            &shop,
            json!({"order_id": format!("F-spike-{i}"), "amount": "10.00", "currency": "EUR",
                   "discount_codes": ["FINN15"], "occurred_at": on_day(3, i * 10)}),
        )
        .await;
    }
    // A campaign that starts tomorrow, whose link eve shares already.
    let later = campaign(
        &app,
        &admin,
        json!({"name": "Later", "destination_url": "https://shop.example/y",
               "currency": "EUR", "starts_at": at(-1, 0)}),
    )
    .await;
    let later_id = later["id"].as_str().unwrap().to_string();
    let eve = enrolled(&app, &admin, &later_id, "eve").await;
    for i in 0..12 {
        let ua = format!("{CHROME} early/{i}");
        assert_eq!(
            click(&app, &link(&eve), &[("user-agent", &ua)])
                .await
                .status(),
            302
        );
    }

    let expected = set(&[
        ("ben", "click_farm"),
        ("cara", "code_leak"),
        ("dan", "repeat_orders"),
        ("finn", "code_leak"),
        ("finn", "conversion_spike"),
    ]);
    let found = flags(&app, &admin, &cid).await;
    assert_eq!(kinds(&found), expected, "{found:#?}");
    let by = |h: &str, k: &str| {
        found
            .iter()
            .find(|f| f["handle"] == h && f["kind"] == k)
            .unwrap()
            .clone()
    };
    assert_eq!(by("ben", "click_farm")["figures"]["unique_clicks"], 1);
    assert_eq!(by("ben", "click_farm")["figures"]["clicks"], 100);
    assert_eq!(
        by("cara", "code_leak")["figures"]["redemptions_without_click"],
        10
    );
    assert_eq!(by("dan", "repeat_orders")["figures"]["orders_in_24h"], 3);
    let spike = by("finn", "conversion_spike");
    assert_eq!(spike["figures"]["orders"], 12);
    assert_eq!(
        spike["figures"]["day"],
        (Utc::now() - Days::days(3)).format("%Y-%m-%d").to_string()
    );
    assert!(spike["reason"].as_str().unwrap().contains("12 orders"));
    // The customer is named by a hash prefix only.
    assert!(!by("dan", "repeat_orders")
        .to_string()
        .contains("same-shopper"));

    // Clicks before the start are counted once folded into the hourly rollup.
    let deadline = Instant::now() + Duration::from_secs(30);
    let early = loop {
        let f = flags(&app, &admin, &later_id).await;
        if !f.is_empty() {
            break f;
        }
        assert!(
            Instant::now() < deadline,
            "the early clicks were never flagged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(kinds(&early), set(&[("eve", "early_clicks")]));
    assert_eq!(early[0]["figures"]["clicks_before_start"], 12);

    // Every flag of both active campaigns is announced, once, however many sweeps run.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.accepted().len() < 6 {
        assert!(
            Instant::now() < deadline,
            "announced: {:?}",
            receiver.accepted()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let sent = receiver.accepted();
    assert_eq!(sent.len(), 6, "each flag once: {sent:#?}");
    let announced: BTreeSet<(String, String)> = sent
        .iter()
        .map(|r| {
            assert_eq!(r.body["type"], "fraud.flagged");
            (
                r.body["data"]["handle"].as_str().unwrap().to_string(),
                r.body["data"]["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut all = expected.clone();
    all.insert(("eve".into(), "early_clicks".into()));
    assert_eq!(announced, all);
    let found = flags(&app, &admin, &cid).await;
    assert!(
        found.iter().all(|f| f["announced_at"].is_string()),
        "{found:#?}"
    );

    // The dashboard shows them beside each influencer, on the leaderboard and the
    // influencer's page, to the brand only.
    let cookie = crate::dashboard::signed_in(&app, &admin).await;
    let page = crate::dashboard::get(&app, &format!("/dashboard/campaigns/{cid}"), Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(page.matches("data-flag=").count(), 5, "one badge per flag");
    assert!(page.contains(r#"data-flag="click_farm""#));
    let finn = found.iter().find(|f| f["handle"] == "finn").unwrap();
    let page = crate::dashboard::get(
        &app,
        &format!(
            "/dashboard/campaigns/{cid}/influencers/{}",
            finn["influencer_id"].as_str().unwrap()
        ),
        Some(&cookie),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(
        page.contains("Fraud signals") && page.contains("12 orders"),
        "{page}"
    );
    let (_, finn_key) = app
        .create_key(
            &brand_id,
            &admin,
            json!({"scope": "influencer", "influencer_id": finn["influencer_id"]}),
        )
        .await;
    let cookie = crate::dashboard::signed_in(&app, &finn_key).await;
    let own = crate::dashboard::get(
        &app,
        &format!(
            "/dashboard/campaigns/{cid}/influencers/{}",
            finn["influencer_id"].as_str().unwrap()
        ),
        Some(&cookie),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(!own.contains("Fraud signals") && !own.contains("data-flag"));
    let r = app
        .get(&format!("/api/v1/campaigns/{cid}/flags"), &finn_key)
        .await;
    assert_eq!(r.status, 403);

    // A read key sees them; a storefront's key does not.
    let r = app
        .get(&format!("/api/v1/campaigns/{cid}/flags"), &shop)
        .await;
    assert_eq!(r.status, 403);
}
