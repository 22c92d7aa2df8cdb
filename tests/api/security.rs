//! Regression tests of the attack run (SECURITY.md lists each with the defence it proves).

use crate::helpers::*;
use crate::orders::shop;
use crate::resources::enroll;
use serde_json::json;

/// Handles a spreadsheet would read as formulas are guarded by column, even when they parse
/// as floats (`-inf`, `-NaN`); amounts the exporter wrote keep their sign unguarded.
#[tokio::test]
async fn csv_text_columns_are_guarded_whatever_they_parse_as() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let handles = ["-inf", "-NaN", "-infinity", "-1", "-2.5e3"];
    for h in handles {
        let r = app
            .post("/api/v1/influencers", &s.admin, json!({"handle": h}))
            .await;
        assert_eq!(r.status, 201, "{h}: {}", r.text);
        let id = r.json()["id"].as_str().unwrap().to_string();
        enroll(
            &app,
            &s.admin,
            &s.campaign_id,
            json!({"influencer_id": id, "fee": "10.00"}),
        )
        .await;
    }
    for path in ["leaderboard", "payouts"] {
        let r = app
            .client
            .get(format!(
                "{}/api/v1/campaigns/{}/{path}",
                app.address, s.campaign_id
            ))
            .bearer_auth(&s.admin)
            .header("accept", "text/csv")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        let col = |name: &str| header.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        let exported: Vec<&str> = rows.iter().map(|r| &r[col("handle")]).collect();
        for h in handles {
            assert!(
                exported.contains(&format!("'{h}").as_str()),
                "{path}: {h} unguarded in {exported:?}"
            );
        }
        // A money column the exporter wrote is a number, never prefixed.
        let money = if path == "payouts" { "balance" } else { "cost" };
        for row in &rows {
            assert!(
                row[col(money)].is_empty() || row[col(money)].parse::<f64>().is_ok(),
                "{path}: {money} = {:?}",
                &row[col(money)]
            );
        }
    }
}

/// Deleting an influencer revokes its keys at once (they used to work until a 404).
#[tokio::test]
async fn a_deleted_influencers_keys_are_revoked_with_it() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let anna = s.influencer(0).to_string();
    let (key_id, key) = app
        .create_key(
            &s.brand_id,
            &s.admin,
            json!({"scope": "influencer", "influencer_id": anna}),
        )
        .await;
    assert_eq!(app.get("/api/v1/me", &key).await.status, 200);
    let r = app
        .delete(&format!("/api/v1/influencers/{anna}"), &s.admin)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(app.get("/api/v1/me", &key).await.status, 401);
    let keys = app
        .get(&format!("/api/v1/brands/{}/keys", s.brand_id), &s.admin)
        .await
        .json();
    let row = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == key_id.as_str())
        .expect("the key is listed")
        .clone();
    assert!(row["revoked_at"].is_string(), "{row}");
}

/// A `customer_ref` that is an e-mail is stored only as the SHA-256 of its lower-case form,
/// on the REST path too; self-referral detection still finds the influencer.
#[tokio::test]
async fn customer_emails_are_stored_hashed_on_every_path() {
    use influtrack::db::{open_connection, DatabaseUrl};
    use influtrack::domain::ids::BrandId;
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    for (id, customer, self_referral) in [
        ("o-bob", " Bob@Example.com ", false),
        ("o-anna", "ANNA@creators.example", true),
        ("o-handle", "@someone", false),
    ] {
        let r = app
            .post(
                "/api/v1/orders",
                &s.storefront,
                json!({"order_id": id, "amount": "20.00", "currency": "EUR",
                       "discount_codes": [s.code(0)], "customer_ref": customer}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.json()["self_referral"], self_referral, "{id}: {}", r.text);
    }
    let mut conn = open_connection(&DatabaseUrl::parse(&app.db.url()).unwrap()).unwrap();
    let brand = BrandId::parse(&s.brand_id).unwrap();
    let stored = |conn: &mut _, id: &str| {
        influtrack::store::orders::find(conn, &brand, id)
            .unwrap()
            .unwrap()
            .customer_ref
            .unwrap()
    };
    let bob = stored(&mut conn, "o-bob");
    assert_eq!(
        bob,
        influtrack::domain::keys::sha256_hex("bob@example.com"),
        "stored as the hash of the lower-case e-mail"
    );
    assert!(!bob.contains('@'));
    assert_eq!(stored(&mut conn, "o-handle"), "@someone");
    // A plain e-mail an older version stored is hashed at the next start.
    let order_id = influtrack::store::orders::find(&mut conn, &brand, "o-bob")
        .unwrap()
        .unwrap()
        .id;
    influtrack::store::orders::set_customer_ref(&mut conn, &order_id, "Carol@Example.com").unwrap();
    assert_eq!(
        influtrack::core::ingest::orders::hash_stored_emails(&mut conn).unwrap(),
        1
    );
    assert_eq!(
        stored(&mut conn, "o-bob"),
        influtrack::domain::keys::sha256_hex("carol@example.com")
    );
}

// ---- Webhook floods (defect 1) ----

use crate::webhooks::{configure, deliver, fixture, shopify, sign, woo, SECRET};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends the head of a POST announcing `length` bytes and only `sent` of them, then waits for
/// an answer (its status line), or `None` when none came within `wait`.
async fn partial_post(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    length: usize,
    sent: usize,
    wait: Duration,
) -> (Option<u16>, tokio::net::TcpStream) {
    let addr = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b' '; sent]).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let status = match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(n)) if n > 12 => std::str::from_utf8(&buf[9..12])
            .ok()
            .and_then(|s| s.parse().ok()),
        _ => None,
    };
    (status, stream)
}

/// A path with no brand, or a brand with no secret for the platform, is answered at once,
/// before the (2 MB, trickled) body arrives.
#[tokio::test]
async fn webhook_paths_without_a_secret_answer_before_the_body() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    configure(&app, &s, "shopify").await;
    let random = uuid::Uuid::new_v4();
    for path in [
        format!("/api/v1/integrations/shopify/{random}/orders"),
        // The brand exists but has no WooCommerce secret.
        format!("/api/v1/integrations/woocommerce/{}/orders", s.brand_id),
    ] {
        let started = Instant::now();
        let (status, _) =
            partial_post(&app, &path, &[], 2_000_000, 10, Duration::from_secs(3)).await;
        assert_eq!(status, Some(401), "{path}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

/// Body reads have a deadline, and only so many unverified bodies are read at once, per
/// client address and per instance: the rest get 503 with `Retry-After` at once.
#[tokio::test]
async fn webhook_body_reads_are_bounded_in_time_and_number() {
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.trusted_proxies = "127.0.0.1/32".into();
    let app = spawn_with(db, settings).await;
    let s = shop(&app, json!({}), &["anna"]).await;
    configure(&app, &s, "shopify").await;
    let path = format!("/api/v1/integrations/shopify/{}/orders", s.brand_id);
    let from = |i: usize| format!("192.0.2.{}", i + 1);
    let slow = |address: String| {
        let path = path.clone();
        let app = &app;
        async move {
            partial_post(
                app,
                &path,
                &[("x-forwarded-for", &address)],
                100_000,
                10,
                Duration::from_millis(50),
            )
            .await
        }
    };
    // The store delivers once (signed): its address is a known sender from now on.
    let store = |body: &'static [u8]| {
        app.client
            .post(format!("{}{path}", app.address))
            .header("x-forwarded-for", "198.51.100.7")
            .header("content-type", "application/json")
            .header("X-Shopify-Hmac-Sha256", sign(SECRET, body))
            .body(body)
            .send()
    };
    assert_eq!(store(b"{}").await.unwrap().status(), 200);
    // Four trickling bodies from one address; its fifth is refused at once.
    let mut held = Vec::new();
    for _ in 0..4 {
        let (status, stream) = slow(from(0)).await;
        assert_eq!(status, None, "a read in progress is not answered yet");
        held.push(stream);
    }
    let (status, _) = slow(from(0)).await;
    assert_eq!(status, Some(503), "a fifth body from one address");
    // Seven more addresses take the instance's 32 reads; the next address is refused too.
    for i in 1..8 {
        for _ in 0..4 {
            let (status, stream) = slow(from(i)).await;
            assert_eq!(status, None);
            held.push(stream);
        }
    }
    let r = app
        .client
        .post(format!("{}{path}", app.address))
        .header("x-forwarded-for", "198.51.100.1")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    // A few reads are kept for addresses that delivered verified webhooks: the store's
    // next delivery is read and answered.
    let r = store(b"[]").await.unwrap();
    assert_eq!(r.status(), 200, "the store is not crowded out");
    // Each held read is cut off at its deadline (10 s).
    let mut first = held.remove(0);
    let mut buf = vec![0u8; 1024];
    let started = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(15), first.read(&mut buf))
        .await
        .expect("answered by the deadline")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(11));
    assert_eq!(
        &buf[9..12],
        b"408",
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    drop(held);
    // And real deliveries go through again.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = deliver(&app, &path, None, b"{}".to_vec()).await;
    assert_eq!(r.status, 401, "{}", r.text);
}

/// A store's budget is keyed by its parsed brand id (every spelling of the UUID is the same
/// store) and spent only by deliveries whose signature verified: junk from another address is
/// limited in a bucket of its own and never makes a real delivery a 429.
#[tokio::test]
async fn webhook_budgets_are_per_store_and_junk_never_spends_them() {
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.trusted_proxies = "127.0.0.1/32".into();
    settings.webhook_rate_limit = 1;
    settings.webhook_rate_limit_burst = 3;
    settings.auth_failure_limit = 20;
    settings.auth_failure_burst = 10;
    let app = spawn_with(db, settings).await;
    let s = shop(&app, json!({}), &["anna"]).await;
    configure(&app, &s, "shopify").await;
    let post = |path: String, forwarded: &'static str, signed: bool, body: Vec<u8>| {
        let mut req = app
            .client
            .post(format!("{}{path}", app.address))
            .header("content-type", "application/json")
            .header("x-forwarded-for", forwarded);
        if signed {
            req = req.header("X-Shopify-Hmac-Sha256", sign(SECRET, &body));
        }
        req.body(body).send()
    };
    let mut order: Value = serde_json::from_slice(&fixture("shopify_order.json")).unwrap();
    order["currency"] = json!("EUR");
    order["refunds"] = json!([]);
    let now = chrono::Utc::now().to_rfc3339();
    order["created_at"] = json!(now);
    order["processed_at"] = json!(now);
    let body = serde_json::to_vec(&order).unwrap();
    let path = |brand: &str| format!("/api/v1/integrations/shopify/{brand}/orders");
    // 650 unsigned posts from one address: a few 401s, then 429s; nothing of the store's.
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..650 {
        let r = post(path(&s.brand_id), "203.0.113.9", false, b"{}".to_vec())
            .await
            .unwrap();
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
    }
    assert_eq!(statuses.get(&401), Some(&10), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&640), "{statuses:?}");
    // The store, from its own address, still delivers: its budget (3 at once) is whole.
    let uuid = uuid::Uuid::parse_str(&s.brand_id).unwrap();
    let spellings = [
        s.brand_id.clone(),
        s.brand_id.to_uppercase(),
        uuid.simple().to_string(),
    ];
    for brand in &spellings {
        let r = post(path(brand), "198.51.100.7", true, body.clone())
            .await
            .unwrap();
        assert!(r.status().is_success(), "{brand}: {}", r.status());
    }
    // Every spelling is the same store: the fourth delivery at once is over its budget.
    for brand in [format!("{{{}}}", s.brand_id), uuid.urn().to_string()] {
        let r = post(path(&brand), "198.51.100.7", true, body.clone())
            .await
            .unwrap();
        assert_eq!(r.status(), 429, "{brand}");
        assert!(r.headers().contains_key("retry-after"));
    }
}

// ---- Credential guessing (defect 2) ----

/// Wrong credentials are counted per client address, whatever token or cookie each guess
/// brings; over the budget everything that authenticates from there is a 429 with
/// `Retry-After`, and other addresses are untouched.
#[tokio::test]
async fn credential_guessing_is_limited_per_address() {
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.trusted_proxies = "127.0.0.1/32".into();
    settings.auth_failure_limit = 20;
    settings.auth_failure_burst = 10;
    let app = spawn_with(db, settings).await;
    let (brand_id, admin) = app.create_brand("Acme").await;
    let guess = |token: String, from: &'static str| {
        app.client
            .get(format!("{}/api/v1/influencers", app.address))
            .header("authorization", format!("Bearer {token}"))
            .header("x-forwarded-for", from)
            .send()
    };
    let mut statuses = Vec::new();
    for i in 0..40 {
        let token = format!("itk_{:012}_{}", i, "x".repeat(32));
        statuses.push(guess(token, "203.0.113.5").await.unwrap().status().as_u16());
    }
    assert!(statuses[..10].iter().all(|s| *s == 401), "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    let r = guess(admin.clone(), "203.0.113.5").await.unwrap();
    assert_eq!(
        r.status(),
        429,
        "the address is blocked, even with a good key"
    );
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3).contains(&wait), "{wait}");
    // Another address, and the scheme in any case.
    let r = app
        .client
        .get(format!("{}/api/v1/brands/{brand_id}", app.address))
        .header("authorization", format!("BEARER {admin}"))
        .header("x-forwarded-for", "198.51.100.1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Dashboard sessions guessed with a random cookie each time: the same budget.
    let mut statuses = Vec::new();
    for i in 0..15 {
        let r = app
            .client
            .get(format!("{}/dashboard", app.address))
            .header("cookie", format!("itk_session=guess{i}"))
            .header("x-forwarded-for", "203.0.113.6")
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..10].iter().all(|s| *s == 303), "{statuses:?}");
    assert!(statuses[10..].iter().all(|s| *s == 429), "{statuses:?}");
    // Counted in /metrics, on its own listener.
    let metrics = reqwest::get(format!(
        "http://127.0.0.1:{}/metrics",
        app.metrics_port.expect("a metrics listener")
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert!(
        metrics.contains("auth_failures_total{kind=\"api_key\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("rate_limited_total{class=\"auth_failures\"}"),
        "{metrics}"
    );
}

/// A short or uniform operator token stops the server at start, saying why.
#[tokio::test]
async fn a_weak_operator_token_stops_the_server() {
    for weak in ["a", "short-token", &"ab".repeat(20)] {
        let db = TestDb::new();
        let mut settings = settings_for(&db);
        settings.admin_token = Some(weak.to_string());
        let error = match influtrack::Application::build(settings).await {
            Ok(_) => panic!("{weak:?} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains("INFLUTRACK_ADMIN_TOKEN"), "{error}");
    }
}

// ---- Dashboard: sign-in CSRF and server-side sessions (defects 3, 4) ----

/// The form token a page prints.
pub fn form_token_of(html: &str) -> String {
    let at = html
        .find("name=\"form_token\" value=\"")
        .expect("a form token on the page")
        + "name=\"form_token\" value=\"".len();
    html[at..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn sign_in_needs_our_origin_and_the_pages_form_token() {
    let app = spawn_app().await;
    let (_, attacker_key) = app.create_brand("Attacker").await;
    let (cookie, token) = crate::dashboard::sign_in_page(&app).await;
    let login = format!("{}/dashboard/login", app.address);
    let post = |headers: Vec<(&'static str, String)>, form: Vec<(&'static str, String)>| {
        let mut req = app.client.post(&login).form(&form);
        for (name, value) in headers {
            req = req.header(name, value);
        }
        req.send()
    };
    let key = ("key", attacker_key.clone());
    let with_token = vec![key.clone(), ("form_token", token.clone())];
    for headers in [
        vec![("origin", "null".to_string())],
        vec![("origin", "not a url".to_string())],
        vec![("origin", "https://evil.example".to_string())],
        vec![("referer", "https://evil.example/page".to_string())],
        vec![],
    ] {
        let mut h = headers.clone();
        h.push(("cookie", cookie.clone()));
        let r = post(h, with_token.clone()).await.unwrap();
        assert_eq!(r.status(), 403, "{headers:?}");
        assert!(r
            .headers()
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("itk_session=")));
    }
    // Our origin but no token, a wrong one, or no sign-in cookie: refused too.
    let here = ("origin", app.address.clone());
    for (headers, form) in [
        (
            vec![here.clone(), ("cookie", cookie.clone())],
            vec![key.clone()],
        ),
        (
            vec![here.clone(), ("cookie", cookie.clone())],
            vec![key.clone(), ("form_token", "0".repeat(64))],
        ),
        (vec![here.clone()], with_token.clone()),
    ] {
        assert_eq!(post(headers, form).await.unwrap().status(), 403);
    }
    // From our own page: signed in (a Referer of ours also does without Origin).
    let r = post(
        vec![("referer", login.clone()), ("cookie", cookie.clone())],
        with_token,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 303);
}

/// The cookie is a server-side session's secret, not the key: useless on the API, dead after
/// sign-out, after the key is revoked and once expired; only its hash is stored.
#[tokio::test]
async fn dashboard_sessions_live_on_the_server() {
    use diesel::RunQueryDsl;
    let app = spawn_app().await;
    let (brand_id, admin) = app.create_brand("Acme").await;
    let (key_id, read_key) = app
        .create_key(&brand_id, &admin, json!({"scope": "read"}))
        .await;
    let session = crate::dashboard::signed_in(&app, &read_key).await;
    let secret = session.trim_start_matches("itk_session=").to_string();
    assert!(!secret.contains(&read_key) && !read_key.contains(&secret));
    let page = |cookie: String| {
        app.client
            .get(format!("{}/dashboard", app.address))
            .header("cookie", cookie)
            .send()
    };
    assert_eq!(page(session.clone()).await.unwrap().status(), 200);
    // Useless as a bearer key.
    assert_eq!(app.get("/api/v1/influencers", &secret).await.status, 401);
    // Stored hashed.
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT id FROM dashboard_sessions")
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, influtrack::domain::keys::sha256_hex(&secret));
    // Sign-out ends it on the server: the old cookie opens nothing.
    let html = page(session.clone()).await.unwrap().text().await.unwrap();
    let r = app
        .client
        .post(format!("{}/dashboard/logout", app.address))
        .header("origin", &app.address)
        .header("cookie", &session)
        .form(&[("form_token", form_token_of(&html))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let r = page(session.clone()).await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/dashboard/login");
    // Revoking the key ends its sessions.
    let session = crate::dashboard::signed_in(&app, &read_key).await;
    assert_eq!(page(session.clone()).await.unwrap().status(), 200);
    assert_eq!(
        app.delete(&format!("/api/v1/keys/{key_id}"), &admin)
            .await
            .status,
        204
    );
    assert_eq!(page(session).await.unwrap().status(), 303);
    // An expired session (idle or absolute) is dead.
    let session = crate::dashboard::signed_in(&app, &admin).await;
    assert_eq!(page(session.clone()).await.unwrap().status(), 200);
    diesel::sql_query("UPDATE dashboard_sessions SET expires_at = 0")
        .execute(&mut conn)
        .unwrap();
    assert_eq!(page(session).await.unwrap().status(), 303);
}

// ---- Webhook amounts keep their sign (defect 6) ----

#[tokio::test]
async fn negative_webhook_amounts_are_rejected_never_flipped() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    configure(&app, &s, "shopify").await;
    configure(&app, &s, "woocommerce").await;
    // WooCommerce line totals 10.00 and -20.00: rejected (2xx), nothing recorded.
    let mut order: Value = serde_json::from_slice(&fixture("woo_order_with_coupon.json")).unwrap();
    order["id"] = json!(7001);
    order["currency"] = json!("EUR");
    order["status"] = json!("processing");
    let line = order["line_items"][0].clone();
    let mut second = line.clone();
    order["line_items"][0]["total"] = json!("10.00");
    second["total"] = json!("-20.00");
    order["line_items"].as_array_mut().unwrap().push(second);
    let r = woo(&app, &s, serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "rejected", "{}", r.text);
    assert!(r.json()["reason"]
        .as_str()
        .unwrap()
        .contains("line_items[1].total"));
    app.get("/api/v1/orders/woocommerce:7001", &s.admin)
        .await
        .problem(404);
    // A Shopify refund of -5.00 on a recorded order: rejected, nothing refunded.
    let mut order: Value = serde_json::from_slice(&fixture("shopify_order.json")).unwrap();
    let now = chrono::Utc::now().to_rfc3339();
    order["id"] = json!(8001);
    order["currency"] = json!("EUR");
    order["created_at"] = json!(now);
    order["processed_at"] = json!(now);
    order["refunds"] = json!([]);
    let r = shopify(&app, &s, "orders", serde_json::to_vec(&order).unwrap()).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let mut refund: Value = serde_json::from_slice(&fixture("shopify_refund.json")).unwrap();
    refund["order_id"] = json!(8001);
    for t in refund["transactions"].as_array_mut().unwrap() {
        t["amount"] = json!("-5.00");
        t["currency"] = json!("EUR");
        t["kind"] = json!("refund");
        t["status"] = json!("success");
    }
    let r = shopify(&app, &s, "refunds", serde_json::to_vec(&refund).unwrap()).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "rejected", "{}", r.text);
    let o = app
        .get("/api/v1/orders/shopify:8001", &s.admin)
        .await
        .json();
    assert_eq!(o["refunded"], "0.00", "{o}");
    // Kept with their reasons.
    let mut conn = influtrack::db::open_connection(
        &influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap(),
    )
    .unwrap();
    let brand = influtrack::domain::ids::BrandId::parse(&s.brand_id).unwrap();
    for platform in [
        influtrack::domain::integrations::Platform::WooCommerce,
        influtrack::domain::integrations::Platform::Shopify,
    ] {
        let kept =
            influtrack::store::integrations::rejections(&mut conn, &brand, platform, 10).unwrap();
        assert_eq!(kept.len(), 1, "{platform:?}");
        assert!(kept[0].0.contains("negative"), "{kept:?}");
    }
}

// ---- Backdated orders (defect 7) ----

#[tokio::test]
async fn backdated_orders_are_refused_and_never_skip_the_holding_period() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let r = app
        .patch(
            &format!("/api/v1/campaigns/{}", s.campaign_id),
            &s.admin,
            json!({"holding_days": 30}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let order = |id: &str, at: String| {
        app.post(
            "/api/v1/orders",
            &s.storefront,
            json!({"order_id": id, "amount": "100.00", "currency": "EUR",
                   "discount_codes": [s.code(0)], "occurred_at": at}),
        )
    };
    let ago = |days: i64| (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339();
    order("o-1970", "1970-01-01T00:00:00Z".into())
        .await
        .invalid_field("occurred_at");
    order("o-old", ago(400)).await.invalid_field("occurred_at");
    let ahead = (chrono::Utc::now() + chrono::Duration::minutes(30)).to_rfc3339();
    order("o-ahead", ahead).await.invalid_field("occurred_at");
    // Within the bound and 40 days "ago": still held, from when it was received.
    let r = order("o-40", ago(40)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let payouts = app
        .get(
            &format!("/api/v1/campaigns/{}/payouts", s.campaign_id),
            &s.admin,
        )
        .await
        .json();
    let line = &payouts["items"][0];
    assert_eq!(line["commission_approved"], "0.00", "{line}");
    assert_eq!(line["commission_pending"], "10.00", "{line}");
}

// ---- Random link codes (defect 8) ----

/// Unknown codes are answered from memory: on PostgreSQL the links table is locked against
/// every read meanwhile, and 50 unknown codes still answer 404 at once while a known link
/// redirects. A scan is limited per address; known links never are.
#[tokio::test]
async fn unknown_link_codes_cost_no_database_read_and_scans_are_limited() {
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.unknown_link_rate_limit = 1;
    let app = spawn_with(db, settings).await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let get = |code: String| {
        app.client
            .get(format!("{}/r/{code}", app.address))
            .timeout(Duration::from_secs(3))
            .send()
    };
    assert_eq!(get(s.link(0).to_string()).await.unwrap().status(), 302);
    let lock = match &app.db {
        TestDb::Postgres { .. } => {
            use diesel::connection::SimpleConnection;
            let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
            let mut conn = influtrack::db::open_connection(&url).unwrap();
            conn.batch_execute("BEGIN; LOCK TABLE links IN ACCESS EXCLUSIVE MODE")
                .unwrap();
            Some(conn)
        }
        TestDb::Sqlite(_) => None,
    };
    let mut statuses = std::collections::BTreeMap::new();
    for _ in 0..50 {
        let code: String = uuid::Uuid::new_v4().simple().to_string()[..8].into();
        let r = get(code)
            .await
            .expect("answered without waiting for the database");
        *statuses.entry(r.status().as_u16()).or_insert(0) += 1;
    }
    // A burst of ten, then 429s; the known link still redirects.
    assert_eq!(statuses.get(&404), Some(&10), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&40), "{statuses:?}");
    assert_eq!(get(s.link(0).to_string()).await.unwrap().status(), 302);
    drop(lock);
}

// ---- /metrics (defect 9) ----

#[tokio::test]
async fn metrics_are_served_off_the_public_port() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let port = app.metrics_port.expect("a metrics listener");
    let r = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("db_pool_connections"));
    // The metrics listener serves nothing else.
    let r = reqwest::get(format!("http://127.0.0.1:{port}/api/v1/brands"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

// ---- Storefront secrets at rest ----

/// An app on an existing database (the caller keeps the database).
struct Running {
    address: String,
    handle: actix_web::dev::ServerHandle,
    run: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// A brand with a campaign and anna enrolled, its Shopify webhook secret set.
    async fn shop_with_shopify_secret(&self) -> crate::orders::Shop {
        // A view of the running app for the helpers (its own TestDb is unused: the app runs
        // on the caller's database, which outlives the restarts).
        let app = TestApp {
            address: self.address.clone(),
            client: reqwest::Client::new(),
            handle: Some(self.handle.clone()),
            db: TestDb::new(),
            metrics_port: None,
        };
        let s = shop(&app, json!({}), &["anna"]).await;
        configure(&app, &s, "shopify").await;
        s
    }

    /// Stops it and waits until it let go of the database (its click writer stopped too).
    async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.run.await;
    }
}

async fn start_on(settings: influtrack::config::Settings) -> Running {
    let app = influtrack::Application::build(settings)
        .await
        .expect("the application starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let run = tokio::spawn(app.run_until_stopped());
    Running {
        address,
        handle,
        run,
    }
}

fn stored_secret(db: &TestDb) -> String {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        webhook_secret: String,
    }
    let url = influtrack::db::DatabaseUrl::parse(&db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    let rows: Vec<Row> = diesel::sql_query("SELECT webhook_secret FROM integrations")
        .load(&mut conn)
        .unwrap();
    assert_eq!(rows.len(), 1);
    rows.into_iter().next().unwrap().webhook_secret
}

/// A signed test delivery to a brand: 200 (`rejected`, an empty order) when the secret
/// verifies, 401 when it does not.
async fn signed_status(address: &str, brand_id: &str) -> u16 {
    reqwest::Client::new()
        .post(format!(
            "{address}/api/v1/integrations/shopify/{brand_id}/orders"
        ))
        .header("content-type", "application/json")
        .header("X-Shopify-Hmac-Sha256", sign(SECRET, b"{}"))
        .body("{}")
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Webhook secrets are sealed at rest with the operator's key; a rotation (new key, old one
/// as previous) seals them again at start; the wrong key stops the start, saying what to do;
/// secrets stored in plain text by an older version are sealed at start.
#[tokio::test]
async fn webhook_secrets_are_sealed_at_rest_and_survive_a_key_rotation() {
    let db = TestDb::new();
    let key_a = "a".repeat(48) + "0123456789abcdef";
    let key_b = "b".repeat(48) + "0123456789abcdef";
    let with_keys = |current: &str, previous: Option<&str>| {
        let mut s = settings_for(&db);
        s.secret_key = Some(current.to_string());
        s.secret_key_previous = previous.map(str::to_string);
        s
    };
    let first = start_on(with_keys(&key_a, None)).await;
    let s = first.shop_with_shopify_secret().await;
    let sealed = stored_secret(&db);
    assert!(
        sealed.starts_with("v1:") && !sealed.contains(SECRET),
        "{sealed}"
    );
    assert_eq!(signed_status(&first.address, &s.brand_id).await, 200);
    first.stop().await;

    // The wrong key: the server refuses to start and says what to set.
    let error = match influtrack::Application::build(with_keys(&key_b, None)).await {
        Ok(_) => panic!("started with a key that opens nothing"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("INFLUTRACK_SECRET_KEY_PREVIOUS"), "{error}");

    // Rotated: sealed again with the new key, still verifying.
    let rotated = start_on(with_keys(&key_b, Some(&key_a))).await;
    assert_eq!(signed_status(&rotated.address, &s.brand_id).await, 200);
    rotated.stop().await;
    let resealed = stored_secret(&db);
    assert_ne!(resealed, sealed);
    let after = start_on(with_keys(&key_b, None)).await;
    assert_eq!(signed_status(&after.address, &s.brand_id).await, 200);
    after.stop().await;

    // A secret stored in plain text by an older version is sealed at start.
    {
        use diesel::connection::SimpleConnection;
        let url = influtrack::db::DatabaseUrl::parse(&db.url()).unwrap();
        let mut conn = influtrack::db::open_connection(&url).unwrap();
        conn.batch_execute(&format!(
            "UPDATE integrations SET webhook_secret = '{SECRET}'"
        ))
        .unwrap();
    }
    let legacy = start_on(with_keys(&key_b, None)).await;
    assert_eq!(signed_status(&legacy.address, &s.brand_id).await, 200);
    legacy.stop().await;
    assert!(stored_secret(&db).starts_with("v1:"));
}

/// Without `INFLUTRACK_SECRET_KEY`, a key file is generated beside a SQLite database at first
/// start (readable by its owner only) and used again at the next.
#[tokio::test]
async fn a_key_file_is_generated_beside_the_database() {
    let db = TestDb::new();
    let TestDb::Sqlite(dir) = &db else {
        return; // The PostgreSQL run keeps its key in the working directory: not tested here.
    };
    let mut settings = settings_for(&db);
    settings.secret_key = None;
    let first = start_on(settings.clone()).await;
    let file = dir.path().join("test.secret-key");
    let key = std::fs::read_to_string(&file).expect("the key file");
    assert_eq!(key.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
    }
    let s = first.shop_with_shopify_secret().await;
    first.stop().await;
    let again = start_on(settings).await;
    assert_eq!(signed_status(&again.address, &s.brand_id).await, 200);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), key);
    again.stop().await;
}
