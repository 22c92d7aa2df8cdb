//! Rate limits: per key on the API, per store on the webhooks, never on the redirect.

use reqwest::Method;
use serde_json::json;

use crate::helpers::*;
use crate::redirect::CHROME;
use crate::resources::{campaign, enroll, influencer, spring};

async fn limited_app() -> TestApp {
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.rate_limit = 1;
    settings.rate_limit_burst = 8;
    settings.webhook_rate_limit = 1;
    settings.webhook_rate_limit_burst = 2;
    spawn_with(db, settings).await
}

/// Sends `n` requests as fast as it can; returns the statuses in order and the last 429.
async fn burst(app: &TestApp, n: usize, path: &str, key: Option<&str>) -> (Vec<u16>, Option<Resp>) {
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..n {
        let r = app.request(Method::GET, path, key, None).await;
        statuses.push(r.status);
        if r.status == 429 {
            limited = Some(r);
        }
    }
    (statuses, limited)
}

#[tokio::test]
async fn a_key_over_its_budget_gets_429_with_retry_after_and_others_do_not() {
    let app = limited_app().await;
    let (brand, admin) = app.create_brand("Limited").await;
    let (_, reader) = app
        .create_key(&brand, &admin, json!({"scope": "read"}))
        .await;
    let (_, storefront) = app
        .create_key(&brand, &admin, json!({"scope": "storefront"}))
        .await;

    let (statuses, limited) = burst(&app, 14, "/api/v1/campaigns", Some(&reader)).await;
    assert!(
        statuses[..8].iter().all(|s| *s == 200),
        "the burst is served: {statuses:?}"
    );
    let limited = limited.unwrap_or_else(|| panic!("no 429 in {statuses:?}"));
    let problem = limited.problem(429);
    assert_eq!(limited.header("x-content-type-options"), Some("nosniff"));
    assert!(problem["detail"].as_str().unwrap().contains("retry"));
    let retry: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=2).contains(&retry), "Retry-After {retry}");

    // Another key of the same brand has its own budget.
    let r = app.get("/api/v1/codes/lookup?code=NOPE", &storefront).await;
    assert_eq!(r.status, 200, "{}", r.text);

    // Counted on /metrics.
    let metrics = app.metrics().await;
    assert!(metrics.text.contains("rate_limited_total"));

    // After the wait, the key is served again.
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    assert_eq!(app.get("/api/v1/campaigns", &reader).await.status, 200);
}

#[tokio::test]
async fn requests_without_a_key_are_limited_per_client_address() {
    let app = limited_app().await;
    let (statuses, limited) = burst(&app, 14, "/api/v1/campaigns", None).await;
    assert!(statuses[..8].iter().all(|s| *s == 401), "{statuses:?}");
    limited
        .unwrap_or_else(|| panic!("no 429 in {statuses:?}"))
        .problem(429);
    // Sign-in guessing on the dashboard draws from the same budget.
    let r = app
        .client
        .post(format!("{}/dashboard/login", app.address))
        .form(&[("key", "itk_guess")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test]
async fn the_redirect_and_health_checks_are_never_limited() {
    let app = limited_app().await;
    let (_, admin) = app.create_brand("Shop").await;
    let c = campaign(&app, &admin, spring()).await;
    let cid = c["id"].as_str().unwrap();
    let anna = influencer(&app, &admin, "anna").await;
    let e = enroll(&app, &admin, cid, json!({"influencer_id": anna})).await;
    let code = e["link"]["code"].as_str().unwrap().to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for _ in 0..60 {
        let r = client
            .get(format!("{}/r/{code}", app.address))
            .header("user-agent", CHROME)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 302);
    }
    for path in ["/healthz", "/readyz", "/t.js", "/dashboard/app.css"] {
        let (statuses, _) = burst(&app, 20, path, None).await;
        assert!(statuses.iter().all(|s| *s == 200), "{path}: {statuses:?}");
    }
}

/// Verified deliveries spend their store's budget (junk is limited per address instead, see
/// `security::webhook_budgets_are_per_store_and_junk_never_spends_them`).
#[tokio::test]
async fn webhooks_are_limited_per_store() {
    let app = limited_app().await;
    let (brand_a, admin_a) = app.create_brand("A").await;
    let (brand_b, admin_b) = app.create_brand("B").await;
    for admin in [&admin_a, &admin_b] {
        let r = app
            .request(
                Method::PUT,
                "/api/v1/integrations/shopify",
                Some(admin),
                Some(json!({"webhook_secret": crate::webhooks::SECRET})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let deliver = |brand: String| {
        let client = app.client.clone();
        let url = format!("{}/api/v1/integrations/shopify/{brand}/orders", app.address);
        async move {
            client
                .post(url)
                .header(
                    "x-shopify-hmac-sha256",
                    crate::webhooks::sign(crate::webhooks::SECRET, b"{}"),
                )
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .unwrap()
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(deliver(brand_a.clone()).await.status().as_u16());
    }
    // Signed but empty: rejected (200), until the store's burst of 2 is spent.
    assert_eq!(&statuses[..2], &[200, 200], "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    let limited = deliver(brand_a.clone()).await;
    if limited.status() == 429 {
        assert!(limited.headers().contains_key("retry-after"));
    }
    // Another store's endpoint is not slowed by the first one.
    assert_eq!(deliver(brand_b).await.status(), 200);
}
