//! Discount codes synced to Shopify and WooCommerce through the outbox, against the fake shops
//! of `fakeshop.rs`: created with the campaign's terms, updated, disabled when pruned, enabled
//! when reinstated, deleted; retried while the shop is down or asks to wait; refused with the
//! shop's message when it holds the code with other terms; delivered once after `kill -9`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fakeshop::{FakeShopify, FakeWoo, Mode, ShopDiscount};
use crate::helpers::*;
use crate::resources::{campaign, enroll, influencer};

const TOKEN: &str = "shpat_0123456789abcdef";
const KEY: &str = "ck_0123456789abcdef";
const SECRET: &str = "cs_0123456789abcdef";

/// A brand with a running campaign; returns `(admin key, campaign id)`.
async fn brand(app: &TestApp, name: &str) -> (String, String) {
    let (_, admin, campaign) = brand_with_id(app, name).await;
    (admin, campaign)
}

/// The same, with the brand's id first.
async fn brand_with_id(app: &TestApp, name: &str) -> (String, String, String) {
    let (brand_id, admin) = app.create_brand(name).await;
    let c = campaign(
        app,
        &admin,
        json!({"name": "Summer", "destination_url": "https://shop.example/summer",
               "currency": "USD", "starts_at": "2026-06-01T00:00:00Z",
               "ends_at": "2027-08-31T23:59:59Z"}),
    )
    .await;
    (brand_id, admin, c["id"].as_str().unwrap().to_string())
}

async fn connect_shopify(app: &TestApp, admin: &str, shop: &FakeShopify) {
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/integrations/shopify",
            Some(admin),
            Some(json!({"shop_url": shop.url(), "access_token": TOKEN})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

async fn connect_woo(app: &TestApp, admin: &str, shop: &FakeWoo) {
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/integrations/woocommerce",
            Some(admin),
            Some(json!({"site_url": shop.url(), "consumer_key": KEY, "consumer_secret": SECRET})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// An influencer enrolled with a vanity code (the campaign's default discount); the code's id.
async fn code_for(app: &TestApp, admin: &str, campaign: &str, handle: &str, code: &str) -> String {
    let id = influencer(app, admin, handle).await;
    let e = enroll(
        app,
        admin,
        campaign,
        json!({"influencer_id": id, "code": code}),
    )
    .await;
    e["discount_code"]["id"].as_str().unwrap().to_string()
}

/// Prunes every enrollment that lost money (all of them here: fees, no sales); the answer.
async fn prune_every_loss(app: &TestApp, admin: &str, campaign: &str) -> Resp {
    let r = app
        .post(
            &format!("/api/v1/campaigns/{campaign}/prune"),
            admin,
            json!({"rules": {"min_roi": 0, "min_clicks_for_judgement": 0}, "dry_run": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r
}

async fn reinstate(app: &TestApp, admin: &str, campaign: &str, influencer: &str) {
    let r = app
        .post(
            &format!("/api/v1/campaigns/{campaign}/influencers/{influencer}/reinstate"),
            admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Polls the code until its state in `platform` is `status`; returns the code.
pub async fn wait_sync(
    app: &TestApp,
    admin: &str,
    code_id: &str,
    platform: &str,
    status: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let code = app
            .get(&format!("/api/v1/codes/{code_id}"), admin)
            .await
            .json();
        let state = code["shop_sync"]
            .as_array()
            .and_then(|l| l.iter().find(|s| s["platform"] == platform))
            .cloned();
        if state.as_ref().is_some_and(|s| s["status"] == status) {
            return code;
        }
        assert!(
            Instant::now() < deadline,
            "{platform} never became {status}: {}",
            code["shop_sync"]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn state<'a>(code: &'a Value, platform: &str) -> &'a Value {
    code["shop_sync"]
        .as_array()
        .and_then(|l| l.iter().find(|s| s["platform"] == platform))
        .expect("a state for the platform")
}

#[tokio::test]
async fn a_code_follows_its_life_in_shopify() {
    let app = spawn_app().await;
    let shop = FakeShopify::start(TOKEN).await;
    let (admin, cid) = brand(&app, "Shopify life").await;
    connect_shopify(&app, &admin, &shop).await;
    let anna = influencer(&app, &admin, "anna").await;
    let e = enroll(
        &app,
        &admin,
        &cid,
        json!({"influencer_id": anna, "code": "ANNA15", "fee": "10.00",
               "discount": {"type": "percent", "value": "15"}}),
    )
    .await;
    assert_eq!(e["discount_code"]["shop_sync"][0]["status"], "pending");
    let code_id = e["discount_code"]["id"].as_str().unwrap().to_string();
    let code = wait_sync(&app, &admin, &code_id, "shopify", "synced").await;
    let d = shop.find("ANNA15").expect("the code exists in the shop");
    assert_eq!(state(&code, "shopify")["shop_id"], d.id.as_str());
    assert_eq!(d.percentage, Some(0.15));
    assert_eq!(d.usage_limit, None);
    assert_eq!(d.starts_at, "2026-06-01T00:00:00Z");
    assert_eq!(d.ends_at.as_deref(), Some("2027-08-31T23:59:59Z"));
    assert_eq!(d.status(), "ACTIVE");
    assert_eq!(d.title, "Summer · @anna · ANNA15");

    // A limit and an earlier expiry follow.
    let r = app
        .patch(
            &format!("/api/v1/codes/{code_id}"),
            &admin,
            json!({"max_redemptions": 50, "expires_at": "2027-07-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    until("the limit reaches the shop", || {
        shop.find("ANNA15").is_some_and(|d| {
            d.usage_limit == Some(50) && d.ends_at.as_deref() == Some("2027-07-01T00:00:00Z")
        })
    })
    .await;

    // Pruned: disabled in the shop. Reinstated: enabled again, with its end date back.
    let r = prune_every_loss(&app, &admin, &cid).await;
    assert_eq!(
        r.json()["pruned"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
    until("pruned: expired in the shop", || {
        shop.find("ANNA15").is_some_and(|d| d.status() == "EXPIRED")
    })
    .await;
    wait_sync(&app, &admin, &code_id, "shopify", "synced").await;
    reinstate(&app, &admin, &cid, &anna).await;
    until("reinstated: active in the shop", || {
        shop.find("ANNA15").is_some_and(|d| {
            d.status() == "ACTIVE" && d.ends_at.as_deref() == Some("2027-07-01T00:00:00Z")
        })
    })
    .await;
    assert_eq!(shop.calls("discountCodeBasicCreate"), 1, "created once");
    assert_eq!(shop.discounts().len(), 1);

    // Deleted: gone from the shop too.
    let r = app
        .delete(&format!("/api/v1/codes/{code_id}"), &admin)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        app.get(&format!("/api/v1/codes/{code_id}"), &admin)
            .await
            .status,
        404
    );
    until("deleted in the shop", || shop.find("ANNA15").is_none()).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let jobs = loop {
        let jobs = app
            .get("/api/v1/integrations/shopify/sync", &admin)
            .await
            .json();
        let done = jobs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|j| j["status"] == "done");
        if done || Instant::now() > deadline {
            break jobs;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let items = jobs["items"].as_array().unwrap();
    assert!(items.iter().all(|j| j["status"] == "done"), "{jobs}");
    assert_eq!(items[0]["action"], "delete");
    assert_eq!(items[0]["code"], "ANNA15");

    // The same text again, twice, the second time at once after a deletion: a code's jobs
    // are ordered by its text (the shop knows codes by their text), so the new code is never
    // the old one adopted and then deleted by the old code's deletion.
    let mut previous = d.id.clone();
    for round in 0..2 {
        let again = app
            .post(
                &format!("/api/v1/campaigns/{cid}/influencers/{anna}/codes"),
                &admin,
                json!({"code": "ANNA15", "discount": {"type": "percent", "value": "15"}}),
            )
            .await;
        assert_eq!(again.status, 201, "{}", again.text);
        let new_id = again.json()["id"].as_str().unwrap().to_string();
        let code = wait_sync(&app, &admin, &new_id, "shopify", "synced").await;
        let d = shop.find("ANNA15").expect("created again");
        assert_ne!(d.id, previous, "round {round}");
        assert_eq!(state(&code, "shopify")["shop_id"], d.id.as_str());
        previous = d.id;
        if round == 0 {
            let r = app.delete(&format!("/api/v1/codes/{new_id}"), &admin).await;
            assert_eq!(r.status, 204);
        }
    }
    assert_eq!(shop.discounts().len(), 1);

    // Counted on /metrics by outcome.
    let m = app.metrics().await.text;
    assert!(
        m.contains(
            r#"outbox_deliveries_total{kind="shop_sync",target="shopify",outcome="delivered"}"#
        ),
        "{m}"
    );
    assert!(m.contains("outbox_oldest_pending_seconds 0"), "{m}");
}

#[tokio::test]
async fn woocommerce_gets_coupons_drafted_when_pruned_and_published_when_reinstated() {
    let app = spawn_app().await;
    let shop = FakeWoo::start(KEY, SECRET).await;
    let (admin, cid) = brand(&app, "Woo life").await;
    let ben = influencer(&app, &admin, "ben").await;
    // Issued before the store is connected: connecting sends it.
    let e = enroll(
        &app,
        &admin,
        &cid,
        json!({"influencer_id": ben, "code": "BEN5", "fee": "10.00",
               "discount": {"type": "fixed", "value": "5"}}),
    )
    .await;
    assert_eq!(e["discount_code"]["shop_sync"], json!([]));
    let code_id = e["discount_code"]["id"].as_str().unwrap().to_string();
    connect_woo(&app, &admin, &shop).await;
    let code = wait_sync(&app, &admin, &code_id, "woocommerce", "synced").await;
    let c = shop.find("BEN5").expect("the coupon exists");
    assert_eq!(state(&code, "woocommerce")["shop_id"], c.id.to_string());
    assert_eq!(
        (c.discount_type.as_str(), c.amount.as_str()),
        ("fixed_cart", "5.00")
    );
    assert_eq!(c.status, "publish");
    assert_eq!(c.date_expires.as_deref(), Some("2027-08-31T23:59:59"));
    assert_eq!(c.code, "ben5", "WooCommerce keeps codes lower-cased");

    prune_every_loss(&app, &admin, &cid).await;
    until("drafted", || {
        shop.find("BEN5").is_some_and(|c| c.status == "draft")
    })
    .await;
    reinstate(&app, &admin, &cid, &ben).await;
    until("published", || {
        shop.find("BEN5").is_some_and(|c| c.status == "publish")
    })
    .await;
    // Another code of the enrollment, and a limit.
    let r = app
        .post(
            &format!("/api/v1/campaigns/{cid}/influencers/{ben}/codes"),
            &admin,
            json!({"code": "BEN-TEN", "discount": {"type": "percent", "value": "10"},
                   "max_redemptions": 3}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    until("the second coupon", || {
        shop.find("ben-ten").is_some_and(|c| {
            c.discount_type == "percent" && c.amount == "10.00" && c.usage_limit == Some(3)
        })
    })
    .await;
    assert_eq!(shop.calls("create"), 2);
    assert_eq!(shop.coupons().len(), 2);
    // Limits removed reach the shop (WooCommerce ignores null: influtrack sends 0 and "").
    let ben_ten = r.json()["id"].as_str().unwrap().to_string();
    let r = app
        .patch(
            &format!("/api/v1/codes/{ben_ten}"),
            &admin,
            json!({"max_redemptions": null, "expires_at": "2027-01-31T00:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    until("the limit is gone and the expiry moved", || {
        shop.find("ben-ten").is_some_and(|c| {
            c.usage_limit.is_none() && c.date_expires.as_deref() == Some("2027-01-31T00:00:00")
        })
    })
    .await;
    // A fixed amount in another currency than the store's is refused, with the reason.
    shop.set_currency("EUR");
    let r = app
        .post(
            &format!("/api/v1/campaigns/{cid}/influencers/{ben}/codes"),
            &admin,
            json!({"code": "BEN-FIX", "discount": {"type": "fixed", "value": "3"}}),
        )
        .await;
    let fix = r.json()["id"].as_str().unwrap().to_string();
    let code = wait_sync(&app, &admin, &fix, "woocommerce", "failed").await;
    assert!(state(&code, "woocommerce")["error"]
        .as_str()
        .unwrap()
        .contains("sells in EUR"));
    assert!(shop.find("BEN-FIX").is_none());

    // Disconnecting forgets the states; nothing more is sent.
    let r = app.delete("/api/v1/integrations/woocommerce", &admin).await;
    assert_eq!(r.status, 204);
    let code = app
        .get(&format!("/api/v1/codes/{code_id}"), &admin)
        .await
        .json();
    assert_eq!(code["shop_sync"], json!([]));
}

#[tokio::test]
async fn a_shop_that_is_down_or_asks_to_wait_gets_the_code_once_it_is_back() {
    let app = spawn_app().await;
    let shop = FakeShopify::start(TOKEN).await;
    shop.set_mode(Mode::Unavailable(Some(1)));
    let (admin, cid) = brand(&app, "Down").await;
    connect_shopify(&app, &admin, &shop).await;
    let code_id = code_for(&app, &admin, &cid, "cara", "CARA").await;
    until("tried while down", || shop.requests() >= 2).await;
    // Pending, with the shop's answer, and retried.
    let code = app
        .get(&format!("/api/v1/codes/{code_id}"), &admin)
        .await
        .json();
    let s = state(&code, "shopify");
    assert_eq!(s["status"], "pending");
    assert!(s["error"].as_str().unwrap().contains("503"), "{s}");
    let jobs = app
        .get("/api/v1/integrations/shopify/sync?status=pending", &admin)
        .await
        .json();
    assert!(
        jobs["items"][0]["attempts"].as_i64().unwrap() >= 2,
        "{jobs}"
    );
    assert!(jobs["items"][0]["next_attempt_at"].is_string());
    // Then a 429 with Retry-After, then back.
    shop.set_mode(Mode::RateLimited(1));
    let seen = shop.requests();
    until("tried while rate limited", || shop.requests() > seen).await;
    shop.set_mode(Mode::Normal);
    let code = wait_sync(&app, &admin, &code_id, "shopify", "synced").await;
    assert_eq!(state(&code, "shopify")["error"], Value::Null);
    assert_eq!(shop.discounts().len(), 1);
    assert_eq!(shop.calls("discountCodeBasicCreate"), 1);
}

#[tokio::test]
async fn a_code_the_shop_holds_with_other_terms_fails_with_its_message_and_the_same_is_adopted() {
    let app = spawn_app().await;
    let shop = FakeShopify::start(TOKEN).await;
    let merchant_id = shop.seed(ShopDiscount {
        code: "DANA20".into(),
        title: "Made by hand".into(),
        percentage: Some(0.5),
        starts_at: "2026-01-01T00:00:00Z".into(),
        ..Default::default()
    });
    let same_id = shop.seed(ShopDiscount {
        code: "EVE10".into(),
        title: "Made by hand too".into(),
        percentage: Some(0.1),
        starts_at: "2026-01-01T00:00:00Z".into(),
        ..Default::default()
    });
    let (admin, cid) = brand(&app, "Conflict").await;
    connect_shopify(&app, &admin, &shop).await;
    let dana = influencer(&app, &admin, "dana").await;
    let eve = influencer(&app, &admin, "eve").await;
    let e = enroll(
        &app,
        &admin,
        &cid,
        json!({"influencer_id": dana, "code": "DANA20", "discount": {"type": "percent", "value": "20"}}),
    )
    .await;
    let dana_code = e["discount_code"]["id"].as_str().unwrap().to_string();
    let e = enroll(
        &app,
        &admin,
        &cid,
        json!({"influencer_id": eve, "code": "EVE10"}),
    )
    .await;
    let eve_code = e["discount_code"]["id"].as_str().unwrap().to_string();

    let code = wait_sync(&app, &admin, &dana_code, "shopify", "failed").await;
    let error = state(&code, "shopify")["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        error.contains("already exists in the shop with other terms"),
        "{error}"
    );
    assert!(error.contains("50% off"), "{error}");
    assert_eq!(
        shop.find("DANA20").unwrap().id,
        merchant_id,
        "the merchant's code is untouched"
    );
    assert_eq!(shop.find("DANA20").unwrap().percentage, Some(0.5));

    let code = wait_sync(&app, &admin, &eve_code, "shopify", "synced").await;
    assert_eq!(
        state(&code, "shopify")["shop_id"],
        same_id.as_str(),
        "adopted"
    );
    assert_eq!(shop.calls("discountCodeBasicCreate"), 0);
    assert_eq!(shop.discounts().len(), 2);

    // Listed as failed, with the shop's message; retried by hand once the merchant fixed it.
    let failed = app
        .get("/api/v1/integrations/shopify/sync?status=failed", &admin)
        .await
        .json();
    let items = failed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{failed}");
    assert_eq!(items[0]["code"], "DANA20");
    assert_eq!(items[0]["error"], error.as_str());
    let job_id = items[0]["id"].as_str().unwrap().to_string();
    let r = app
        .get("/api/v1/integrations/shopify/sync?status=lost", &admin)
        .await;
    r.invalid_field("status");
    let r = app
        .post(
            &format!("/api/v1/integrations/woocommerce/sync/{job_id}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 404, "another platform's job: {}", r.text);
    // The merchant gives the code the same terms: the retry adopts it.
    let mut d = shop.find("DANA20").unwrap();
    d.percentage = Some(0.2);
    shop.seed(d);
    let r = app
        .post(
            &format!("/api/v1/integrations/shopify/sync/{job_id}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "pending");
    let code = wait_sync(&app, &admin, &dana_code, "shopify", "synced").await;
    assert_eq!(state(&code, "shopify")["shop_id"], merchant_id.as_str());
    let r = app
        .post(
            &format!("/api/v1/integrations/shopify/sync/{job_id}/retry"),
            &admin,
            json!({}),
        )
        .await;
    r.problem(409);
}

#[tokio::test]
async fn the_check_says_whether_credentials_work_and_what_they_lack() {
    let app = spawn_app().await;
    let shopify = FakeShopify::start(TOKEN).await;
    let woo = FakeWoo::start(KEY, SECRET).await;
    let (admin, _) = brand(&app, "Check").await;
    let r = app
        .post("/api/v1/integrations/shopify/check", &admin, json!({}))
        .await;
    r.problem(409);
    connect_shopify(&app, &admin, &shopify).await;
    let r = app
        .post("/api/v1/integrations/shopify/check", &admin, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let c = r.json();
    assert_eq!(c["ok"], true, "{c}");
    assert_eq!(c["currency"], "USD");
    assert_eq!(c["missing_scopes"], json!([]));
    shopify.set_scopes(&["read_discounts", "read_orders"]);
    let c = app
        .post("/api/v1/integrations/shopify/check", &admin, json!({}))
        .await
        .json();
    assert_eq!(
        (c["ok"].clone(), c["missing_scopes"].clone()),
        (json!(false), json!(["write_discounts"]))
    );
    // A wrong token: the shop's own words, never the token.
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/integrations/shopify",
            Some(&admin),
            Some(json!({"access_token": "shpat_wrong_token_x"})),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = app
        .post("/api/v1/integrations/shopify/check", &admin, json!({}))
        .await;
    let c = r.json();
    assert_eq!(c["ok"], false);
    assert!(
        c["error"]
            .as_str()
            .unwrap()
            .contains("Invalid API key or access token"),
        "{c}"
    );
    assert!(!r.text.contains("shpat_wrong"));

    connect_woo(&app, &admin, &woo).await;
    let c = app
        .post("/api/v1/integrations/woocommerce/check", &admin, json!({}))
        .await
        .json();
    assert_eq!(
        (c["ok"].clone(), c["scopes"].clone()),
        (json!(true), json!(["read", "write"])),
        "{c}"
    );
    woo.set_permissions("read");
    let c = app
        .post("/api/v1/integrations/woocommerce/check", &admin, json!({}))
        .await
        .json();
    assert_eq!(
        (c["ok"].clone(), c["missing_scopes"].clone()),
        (json!(false), json!(["write"])),
        "{c}"
    );
    let r = app
        .post("/api/v1/integrations/etsy/check", &admin, json!({}))
        .await;
    r.problem(404);
}

#[tokio::test]
async fn a_user_error_is_reported_and_a_slow_shop_still_gets_the_code_once() {
    let app = spawn_app().await;
    let shop = FakeShopify::start(TOKEN).await;
    let (admin, cid) = brand(&app, "Slow").await;
    connect_shopify(&app, &admin, &shop).await;
    shop.set_user_error(Some("Ends at needs to be after starts_at".into()));
    let code_id = code_for(&app, &admin, &cid, "fay", "FAY").await;
    let code = wait_sync(&app, &admin, &code_id, "shopify", "failed").await;
    assert!(state(&code, "shopify")["error"]
        .as_str()
        .unwrap()
        .contains("Ends at needs to be after starts_at"));
    // Slow but within the timeout (2 s in tests). (A shop that applies the call and answers
    // after influtrack is gone: `after_kill_9_the_code_is_synced_once`.)
    shop.set_user_error(None);
    shop.set_mode(Mode::Slow(Duration::from_millis(1_200)));
    let failed = app
        .get("/api/v1/integrations/shopify/sync?status=failed", &admin)
        .await
        .json();
    let job_id = failed["items"][0]["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/api/v1/integrations/shopify/sync/{job_id}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    wait_sync(&app, &admin, &code_id, "shopify", "synced").await;
    assert_eq!(shop.discounts().len(), 1);
    assert_eq!(
        shop.calls("discountCodeBasicCreate"),
        2,
        "the refused call and the one that worked"
    );
}

/// `kill -9` between the change and the call, and during the call: the code reaches the shop
/// after the restart, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_the_code_is_synced_once() {
    let db = TestDb::new();
    let url = db.url();
    let shop = FakeShopify::start(TOKEN).await;
    shop.set_mode(Mode::Unavailable(Some(60)));
    let env = [("INFLUTRACK_SHOP_TIMEOUT_MS", "2000")];
    let server = crate::crash::start_with(&url, &env, None).await;
    let app = TestApp::of_address(&server.address);
    let (admin, cid) = brand(&app, "Killed").await;
    connect_shopify(&app, &admin, &shop).await;
    let gus_code = code_for(&app, &admin, &cid, "gus", "GUS").await;
    until("tried once", || shop.requests() >= 1).await;
    drop(server); // kill -9: the job waits for a minute (Retry-After) in the database
                  // The shop applies the next change, then answers late; influtrack dies meanwhile.
    shop.set_mode(Mode::Slow(Duration::from_millis(1_500)));
    let server = crate::crash::start_with(&url, &env, None).await;
    let app = TestApp::of_address(&server.address);
    let hal_code = code_for(&app, &admin, &cid, "hal", "HAL").await;
    until("HAL reached the shop", || shop.find("HAL").is_some()).await;
    drop(server);
    shop.set_mode(Mode::Normal);
    let server = crate::crash::start_with(&url, &env, None).await;
    let app = TestApp::of_address(&server.address);
    // GUS's job is due in a minute: retried by hand; HAL's lease runs out on its own.
    let pending = app
        .get("/api/v1/integrations/shopify/sync?status=pending", &admin)
        .await
        .json();
    for job in pending["items"].as_array().unwrap() {
        if job["code"] == "GUS" {
            let r = app
                .post(
                    &format!(
                        "/api/v1/integrations/shopify/sync/{}/retry",
                        job["id"].as_str().unwrap()
                    ),
                    &admin,
                    json!({}),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
        }
    }
    wait_sync(&app, &admin, &gus_code, "shopify", "synced").await;
    wait_sync(&app, &admin, &hal_code, "shopify", "synced").await;
    let codes: Vec<String> = shop.discounts().into_iter().map(|d| d.code).collect();
    assert_eq!(codes.len(), 2, "{codes:?}");
    assert_eq!(
        shop.calls("discountCodeBasicCreate"),
        2,
        "each created once"
    );
    drop(server);
}

/// The query pairs of a URL (or of a path with a query).
fn pairs(url: &str) -> Vec<(String, String)> {
    let parsed = url::Url::parse(url)
        .or_else(|_| url::Url::parse("https://shop.invalid").and_then(|b| b.join(url)))
        .expect("a URL");
    parsed
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

#[tokio::test]
async fn a_link_that_applies_its_code_lands_with_the_code_and_the_order_is_credited_once() {
    let app = spawn_app().await;
    let shop = FakeShopify::start(TOKEN).await;
    let (brand_id, admin, cid) = brand_with_id(&app, "Apply").await;
    let (_, storefront) = app
        .create_key(
            &brand_id,
            &admin,
            json!({"scope": "storefront", "name": "shop"}),
        )
        .await;
    let ivy = influencer(&app, &admin, "ivy").await;
    let e = enroll(
        &app,
        &admin,
        &cid,
        json!({"influencer_id": ivy, "code": "IVY20"}),
    )
    .await;
    let plain = e["link"]["code"].as_str().unwrap().to_string();
    assert_eq!(e["link"]["apply_code"], false);
    let r = app
        .post(
            &format!("/api/v1/campaigns/{cid}/influencers/{ivy}/links"),
            &admin,
            json!({"label": "story", "apply_code": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["apply_code"], true);
    let applying = r.json()["code"].as_str().unwrap().to_string();

    // Without a connected shop the link redirects as usual.
    let r =
        crate::redirect::click(&app, &applying, &[("user-agent", crate::redirect::CHROME)]).await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert!(
        location.starts_with("https://shop.example/summer?"),
        "{location}"
    );

    connect_shopify(&app, &admin, &shop).await;
    let r =
        crate::redirect::click(&app, &applying, &[("user-agent", crate::redirect::CHROME)]).await;
    assert_eq!(r.status(), 302);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let prefix = format!("{}/discount/IVY20?redirect=", shop.url());
    assert!(location.starts_with(&prefix), "{location}");
    let redirect = param(&pairs(&location), "redirect").expect("redirect");
    assert!(redirect.starts_with("/summer?"), "{redirect}");
    let inner = pairs(&redirect);
    assert_eq!(param(&inner, "utm_source").as_deref(), Some("ivy"));
    let click_id = param(&inner, "itk_click").expect("the click id travels inside");
    // The other link does not apply the code.
    let r = crate::redirect::click(&app, &plain, &[("user-agent", crate::redirect::CHROME)]).await;
    assert!(r.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("https://shop.example/summer?"));

    // The order carries both the code and the click: one credit, via the code.
    let r = app
        .post(
            "/api/v1/orders",
            &storefront,
            json!({"order_id": "A-1", "amount": "40.00", "currency": "USD",
                   "discount_codes": ["IVY20"], "click_ids": [click_id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let o = r.json();
    let credits = o["attribution"].as_array().unwrap();
    assert_eq!(credits.len(), 1, "{o}");
    assert_eq!(credits[0]["via"], "code");
    assert_eq!(credits[0]["credited_amount"], "40.00");

    // WooCommerce instead: the tracking URL carries itk_code for t.js.
    let r = app.delete("/api/v1/integrations/shopify", &admin).await;
    assert_eq!(r.status, 204);
    let woo = FakeWoo::start(KEY, SECRET).await;
    connect_woo(&app, &admin, &woo).await;
    let r =
        crate::redirect::click(&app, &applying, &[("user-agent", crate::redirect::CHROME)]).await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let q = pairs(&location);
    assert!(
        location.starts_with("https://shop.example/summer?"),
        "{location}"
    );
    assert_eq!(param(&q, "itk_code").as_deref(), Some("IVY20"));
    assert!(param(&q, "itk_click").is_some());
    // Deactivated: no code to carry.
    let code_id = e["discount_code"]["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/codes/{code_id}"),
            &admin,
            json!({"status": "inactive"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r =
        crate::redirect::click(&app, &applying, &[("user-agent", crate::redirect::CHROME)]).await;
    let location = r.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(param(&pairs(&location), "itk_code"), None, "{location}");
}

#[tokio::test]
async fn the_dashboards_store_page_shows_the_connection_checks_it_and_retries_a_refused_code() {
    let app = spawn_app().await;
    let shop = FakeShopify::start(TOKEN).await;
    shop.seed(ShopDiscount {
        code: "JOE10".into(),
        title: "Made by hand".into(),
        percentage: Some(0.3),
        starts_at: "2026-01-01T00:00:00Z".into(),
        ..Default::default()
    });
    let (admin, cid) = brand(&app, "Store page").await;
    connect_shopify(&app, &admin, &shop).await;
    let code_id = code_for(&app, &admin, &cid, "joe", "JOE10").await;
    wait_sync(&app, &admin, &code_id, "shopify", "failed").await;

    let cookie = crate::dashboard::signed_in(&app, &admin).await;
    let token = crate::dashboard::form_token(&app, &cookie).await;
    let page = |path: &'static str| {
        app.client
            .get(format!("{}{path}", app.address))
            .header("cookie", cookie.clone())
            .send()
    };
    let html = page("/dashboard/store")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("/api/v1/integrations/shopify/"),
        "the webhook URLs to paste"
    );
    assert!(html.contains(&shop.url()), "the shop URL");
    assert!(!html.contains(TOKEN), "never the token");
    assert!(html.contains("JOE10") && html.contains("already exists in the shop with other terms"));
    let post = |path: String| {
        app.client
            .post(format!("{}{path}", app.address))
            .header("cookie", cookie.clone())
            .header("origin", app.address.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("form_token={token}"))
            .send()
    };
    let checked = post("/dashboard/store/shopify/check".into()).await.unwrap();
    assert_eq!(checked.status(), 200);
    assert!(checked
        .text()
        .await
        .unwrap()
        .contains("The connection works."));
    // The merchant aligns the terms; Retry adopts the code.
    let mut d = shop.find("JOE10").unwrap();
    d.percentage = Some(0.1);
    shop.seed(d);
    let failed = app
        .get("/api/v1/integrations/shopify/sync?status=failed", &admin)
        .await
        .json();
    let job = failed["items"][0]["id"].as_str().unwrap().to_string();
    let r = post(format!("/dashboard/store/shopify/sync/{job}/retry"))
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    wait_sync(&app, &admin, &code_id, "shopify", "synced").await;
    let html = page("/dashboard/store")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("every code is in the shop"),
        "nothing left to do"
    );
}
