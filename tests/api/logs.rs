//! Secrets never reach the logs: a full run of the real binary at the most verbose level,
//! with JSON and with text logs, then a search of everything it wrote for every key, token,
//! webhook secret, session cookie, customer e-mail and shopper address it was given.

use serde_json::{json, Value};

use crate::crash::{start_with, Server};
use crate::helpers::*;
use crate::redirect::CHROME;

const SHOPPER_IP: &str = "198.51.100.77";
const WEBHOOK_SECRET: &str = "whsec-very-secret-4242";
const CUSTOMER: &str = "shopper.secret@example.org";

struct Run {
    server: Server,
    client: reqwest::Client,
}

impl Run {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.server.address));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Drives one of everything that handles a secret; returns the secrets it used.
async fn full_run(run: &Run) -> Vec<String> {
    use reqwest::Method;
    let mut secrets = vec![
        OPERATOR.to_string(),
        WEBHOOK_SECRET.to_string(),
        SHOPPER_IP.to_string(),
        CUSTOMER.to_string(),
    ];
    let (status, brand) = run
        .send(
            Method::POST,
            "/api/v1/brands",
            Some(OPERATOR),
            Some(json!({"name": "Logged"})),
        )
        .await;
    assert_eq!(status, 201);
    let brand_id = brand["id"].as_str().unwrap().to_string();
    let admin = brand["admin_key"].as_str().unwrap().to_string();
    secrets.push(admin.clone());
    let (_, inf) = run
        .send(
            Method::POST,
            "/api/v1/influencers",
            Some(&admin),
            Some(json!({"handle": "anna", "email": "anna.private@example.org"})),
        )
        .await;
    secrets.push("anna.private@example.org".into());
    let mut keys = Vec::new();
    for body in [
        json!({"scope": "read"}),
        json!({"scope": "storefront"}),
        json!({"scope": "influencer", "influencer_id": inf["id"]}),
    ] {
        let (status, k) = run
            .send(
                Method::POST,
                &format!("/api/v1/brands/{brand_id}/keys"),
                Some(&admin),
                Some(body),
            )
            .await;
        assert_eq!(status, 201);
        keys.push(k["key"].as_str().unwrap().to_string());
    }
    secrets.extend(keys.iter().cloned());
    let (reader, storefront, influencer) = (&keys[0], &keys[1], &keys[2]);
    let (_, c) = run
        .send(
            Method::POST,
            "/api/v1/campaigns",
            Some(&admin),
            Some(
                json!({"name": "C", "destination_url": "https://shop.example/", "currency": "EUR"}),
            ),
        )
        .await;
    let cid = c["id"].as_str().unwrap().to_string();
    let (_, e) = run
        .send(
            Method::POST,
            &format!("/api/v1/campaigns/{cid}/influencers"),
            Some(&admin),
            Some(json!({"influencer_id": inf["id"], "code": "ANNA15"})),
        )
        .await;
    let code = e["link"]["code"].as_str().unwrap().to_string();

    // A shopper's click through a trusted proxy, and one directly.
    let location = run
        .client
        .get(format!("{}/r/{code}", run.server.address))
        .header("user-agent", CHROME)
        .header("x-forwarded-for", SHOPPER_IP)
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    let click = location.rsplit("itk_click=").next().unwrap().to_string();

    // Orders, a refund, an event, a lookup with the storefront key.
    let (status, _) = run
        .send(
            Method::POST,
            "/api/v1/orders",
            Some(storefront),
            Some(
                json!({"order_id": "L-1", "amount": "40.00", "currency": "EUR",
                        "click_ids": [click], "discount_codes": ["ANNA15"],
                        "customer_ref": CUSTOMER}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    run.send(
        Method::POST,
        "/api/v1/orders/L-1/refunds",
        Some(storefront),
        Some(json!({"refund_id": "LR-1", "amount": "5.00"})),
    )
    .await;
    run.send(
        Method::GET,
        "/api/v1/codes/lookup?code=ANNA15",
        Some(storefront),
        None,
    )
    .await;
    // Reads with every scope, and failures: a wrong key, a revoked key, a bad body.
    run.send(
        Method::GET,
        &format!("/api/v1/campaigns/{cid}/leaderboard"),
        Some(reader),
        None,
    )
    .await;
    run.send(Method::GET, "/api/v1/me", Some(influencer), None)
        .await;
    let wrong = format!("{admin}x");
    assert_eq!(
        run.send(Method::GET, "/api/v1/campaigns", Some(&wrong), None)
            .await
            .0,
        401
    );
    secrets.push(wrong);
    run.send(
        Method::POST,
        "/api/v1/campaigns",
        Some(&admin),
        Some(json!({"name": 5})),
    )
    .await;

    // Store connections: secrets and tokens set, read back masked, and a bad request.
    let token = "shpat_log-test-token-0123456789";
    let woo = [
        "ck_log-test-key-0123456789",
        "cs_log-test-secret-0123456789",
    ];
    secrets.extend([token.to_string(), woo[0].to_string(), woo[1].to_string()]);
    run.send(
        Method::PUT,
        "/api/v1/integrations/woocommerce",
        Some(&admin),
        Some(
            json!({"site_url": "https://shop.example", "consumer_key": woo[0],
                    "consumer_secret": woo[1]}),
        ),
    )
    .await;
    run.send(
        Method::PUT,
        "/api/v1/integrations/shopify",
        Some(&admin),
        Some(json!({"shop_url": "http://acme.example", "access_token": token})),
    )
    .await;
    run.send(
        Method::GET,
        "/api/v1/integrations/woocommerce",
        Some(&admin),
        None,
    )
    .await;
    // Webhooks: the secret is set, then deliveries with a good and a bad signature.
    run.send(
        Method::PUT,
        "/api/v1/integrations/shopify",
        Some(&admin),
        Some(
            json!({"webhook_secret": WEBHOOK_SECRET, "shop_url": "https://acme.myshopify.com",
                    "access_token": token}),
        ),
    )
    .await;
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/shopify_order.json"
    ))
    .unwrap();
    let signature = crate::webhooks::sign(WEBHOOK_SECRET, &body);
    secrets.push(signature.clone());
    for sig in [signature.as_str(), "AAAAbadsignature=="] {
        run.client
            .post(format!(
                "{}/api/v1/integrations/shopify/{brand_id}/orders",
                run.server.address
            ))
            .header("content-type", "application/json")
            .header("x-shopify-hmac-sha256", sig)
            .body(body.clone())
            .send()
            .await
            .unwrap();
    }

    // The dashboard: sign in (the key goes in a form, then a cookie), browse, sign out.
    let dashboard = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = dashboard
        .get(format!("{}/dashboard/login", run.server.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = crate::security::form_token_of(&page);
    let r = dashboard
        .post(format!("{}/dashboard/login", run.server.address))
        .header("origin", run.server.address.clone())
        .form(&[("key", admin.as_str()), ("form_token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert!(r.status().is_redirection(), "{}", r.status());
    let r = dashboard
        .get(format!("{}/dashboard/campaigns/{cid}", run.server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Revoke the reader's key, then use it.
    let (_, listed) = run
        .send(
            Method::GET,
            &format!("/api/v1/brands/{brand_id}/keys"),
            Some(&admin),
            None,
        )
        .await;
    let read_id = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["scope"] == "read")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    run.send(
        Method::DELETE,
        &format!("/api/v1/keys/{read_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        run.send(Method::GET, "/api/v1/campaigns", Some(reader), None)
            .await
            .0,
        401
    );
    secrets
}

async fn logged_run(json_logs: bool) {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server.log");
    let log = std::fs::File::create(&path).unwrap();
    let server = start_with(
        &db.url(),
        &[
            // Everything, including every dependency's debug output.
            ("INFLUTRACK_LOG", "trace"),
            (
                "INFLUTRACK_LOG_JSON",
                if json_logs { "true" } else { "false" },
            ),
            ("INFLUTRACK_TRUSTED_PROXIES", "127.0.0.1"),
            ("INFLUTRACK_RATE_LIMIT", "0"),
        ],
        Some(&log),
    )
    .await;
    let run = Run {
        server,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
    };
    let secrets = full_run(&run).await;
    // Let the writer and the fold log what they log, then stop.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(run);
    let text = std::fs::read_to_string(&path).unwrap();
    // The run was logged (so the search below can find something).
    assert!(text.lines().count() > 50, "too little logged:\n{text}");
    assert!(
        text.contains("request served") && text.contains("/api/v1/orders"),
        "requests are logged:\n{}",
        text.lines().take(60).collect::<Vec<_>>().join("\n")
    );
    if json_logs {
        for line in text.lines().filter(|l| l.starts_with('{')) {
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        }
    }
    let leaked: Vec<String> = secrets
        .iter()
        .filter(|s| text.contains(s.as_str()))
        .map(|s| {
            let line = text.lines().find(|l| l.contains(s.as_str())).unwrap();
            format!("{s:?} in: {line}")
        })
        .collect();
    assert!(
        leaked.is_empty(),
        "secrets in the logs:\n{}",
        leaked.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_json_logs_at_trace_level() {
    logged_run(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_text_logs_at_trace_level() {
    logged_run(false).await;
}
