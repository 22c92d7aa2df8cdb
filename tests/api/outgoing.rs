//! Outgoing webhooks against a receiver in the suite (a real HTTP server on 127.0.0.1) that
//! verifies signatures as docs/API.md tells receivers to, refuses timestamps older than five
//! minutes, can go down and come back, and records what it accepted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use hmac::{Hmac, Mac};
use parking_lot::Mutex;
use serde_json::{json, Value};
use sha2::Sha256;

use crate::helpers::*;
use crate::orders::shop;

/// One request as the receiver took it.
#[derive(Debug, Clone)]
pub struct Received {
    pub event_id: String,
    pub delivery_id: String,
    pub body: Value,
    /// What the receiver answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    secret: String,
    /// Answer 503 (with `Retry-After: 0`) to everything.
    down: bool,
    /// Seconds added to the receiver's clock (to see a stale timestamp refused).
    skew: i64,
    received: Vec<Received>,
}

/// A webhook receiver; stopped when dropped.
pub struct Receiver {
    state: Arc<Mutex<State>>,
    handle: ServerHandle,
    port: u16,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let stop = self.handle.stop(false);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(stop);
        }
    }
}

/// The check docs/API.md gives receivers: the timestamp is at most five minutes old, and the
/// signature is `v1=` hex HMAC-SHA256 of `{timestamp}.{body}` keyed with the secret, compared
/// in constant time.
pub fn verify(
    secret: &str,
    timestamp: &str,
    signature: &str,
    body: &[u8],
    now: i64,
) -> Result<(), &'static str> {
    let ts: i64 = timestamp.parse().map_err(|_| "no timestamp")?;
    if (now - ts).abs() > 300 {
        return Err("stale timestamp");
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let hex = signature.strip_prefix("v1=").ok_or("no v1 signature")?;
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| "signature is not hex")?;
    mac.verify_slice(&bytes).map_err(|_| "bad signature")
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let handler = move |req: HttpRequest, body: web::Bytes| {
            let mut s = shared.lock();
            let now = chrono::Utc::now().timestamp() + s.skew;
            let status = if s.down {
                503
            } else {
                match verify(
                    &s.secret,
                    header(&req, "influtrack-timestamp"),
                    header(&req, "influtrack-signature"),
                    &body,
                    now,
                ) {
                    Ok(()) => 200,
                    Err(_) => 400,
                }
            };
            s.received.push(Received {
                event_id: header(&req, "influtrack-event-id").to_string(),
                delivery_id: header(&req, "influtrack-delivery-id").to_string(),
                body: serde_json::from_slice(&body).unwrap_or(Value::Null),
                status,
            });
            let mut resp =
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
            if status == 503 {
                resp.insert_header(("Retry-After", "0"));
            }
            async move { resp.body("") }
        };
        let server = HttpServer::new(move || App::new().default_service(web::to(handler.clone())))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .bind(("127.0.0.1", 0))
            .unwrap();
        let port = server.addrs()[0].port();
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Receiver {
            state,
            handle,
            port,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    pub fn set_secret(&self, secret: &str) {
        self.state.lock().secret = secret.to_string();
    }

    pub fn set_down(&self, down: bool) {
        self.state.lock().down = down;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().received.clone()
    }

    /// The requests it accepted (2xx), in the order they came.
    pub fn accepted(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.status == 200)
            .collect()
    }
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An instance that calls endpoints on this machine; an endpoint is disabled after failing
/// `give_up_seconds`, and the look for flags, goals and approvals runs every `sweep_seconds`.
pub async fn spawn_allowing_private(give_up_seconds: u64, sweep_seconds: u64) -> TestApp {
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.webhook_allow_private = true;
    settings.webhook_give_up_seconds = give_up_seconds;
    settings.fraud_sweep_seconds = sweep_seconds;
    spawn_with(db, settings).await
}

pub async fn subscribe(app: &TestApp, admin: &str, receiver: &Receiver, events: Value) -> String {
    let r = app
        .post(
            "/api/v1/webhooks",
            admin,
            json!({"url": receiver.url(), "events": events, "description": "CRM"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let secret = r.json()["secret"].as_str().unwrap().to_string();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );
    receiver.set_secret(&secret);
    r.json()["id"].as_str().unwrap().to_string()
}

async fn deliveries(app: &TestApp, admin: &str, hook: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/webhooks/{hook}/deliveries?limit=100"),
            admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn events_are_signed_and_delivered_in_order_once_per_id_across_an_outage() {
    let app = spawn_allowing_private(86_400, 300).await;
    let receiver = Receiver::start().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let hook = subscribe(
        &app,
        &s.admin,
        &receiver,
        json!(["order.attributed", "order.refunded"]),
    )
    .await;
    // The secret is shown once.
    let shown = app.get(&format!("/api/v1/webhooks/{hook}"), &s.admin).await;
    assert_eq!(shown.status, 200);
    assert!(shown.json().get("secret").is_none(), "{}", shown.text);
    assert_eq!(
        shown.json()["events"],
        json!(["order.attributed", "order.refunded"])
    );

    // The receiver is down while five orders and a refund come in.
    receiver.set_down(true);
    for n in 1..=5 {
        let r = app
            .post(
                "/api/v1/orders",
                &s.storefront,
                json!({"order_id": format!("W-{n}"), "amount": format!("{n}0.00"),
                       "currency": "EUR", "discount_codes": ["ANNA15"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    // An order nobody is credited with sends nothing.
    let r = app
        .post(
            "/api/v1/orders",
            &s.storefront,
            json!({"order_id": "W-none", "amount": "9.00", "currency": "EUR"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            "/api/v1/orders/W-2/refunds",
            &s.storefront,
            json!({"refund_id": "W-2-r", "amount": "5.00"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    until(
        "the first delivery is retried while the receiver is down",
        || receiver.received().len() >= 3,
    )
    .await;
    // One delivery at a time per endpoint: only the oldest event was tried.
    let tried: std::collections::BTreeSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.event_id.clone())
        .collect();
    assert_eq!(
        tried.len(),
        1,
        "only the first event is tried while it fails"
    );
    let listed = deliveries(&app, &s.admin, &hook).await;
    assert_eq!(listed.len(), 6, "five orders and a refund: {listed:?}");
    let first = listed.last().unwrap();
    assert_eq!(first["status"], "pending");
    assert_eq!(first["response_status"], 503);
    assert!(first["attempts"].as_i64().unwrap() >= 2, "{first}");
    assert!(first["error"].as_str().unwrap().contains("503"), "{first}");
    let failing = app.get(&format!("/api/v1/webhooks/{hook}"), &s.admin).await;
    assert!(
        failing.json()["failing_since"].is_string(),
        "{}",
        failing.text
    );

    receiver.set_down(false);
    until("every event is delivered", || {
        receiver.accepted().len() >= 6
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let accepted = receiver.accepted();
    assert_eq!(accepted.len(), 6, "each event accepted once: {accepted:?}");
    assert!(
        receiver.received().iter().all(|r| r.status != 400),
        "every signature verified"
    );
    let kinds: Vec<(&str, &str)> = accepted
        .iter()
        .map(|r| {
            (
                r.body["type"].as_str().unwrap(),
                r.body["data"]["order_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("order.attributed", "W-1"),
            ("order.attributed", "W-2"),
            ("order.attributed", "W-3"),
            ("order.attributed", "W-4"),
            ("order.attributed", "W-5"),
            ("order.refunded", "W-2"),
        ],
        "in the order they happened"
    );
    let ids: std::collections::BTreeSet<&str> =
        accepted.iter().map(|r| r.event_id.as_str()).collect();
    assert_eq!(ids.len(), 6, "one id per event");
    for r in &accepted {
        assert_eq!(
            r.body["id"],
            r.event_id.as_str(),
            "the envelope carries the event id"
        );
        assert_eq!(r.body["brand_id"], s.brand_id.as_str());
        assert!(r.body["created_at"].is_string());
    }
    // The event carries the order as the API answers it.
    let w3 = &accepted[2].body["data"];
    assert_eq!(w3["amount"], "30.00");
    assert_eq!(w3["attribution"][0]["influencer_id"], s.influencer(0));
    assert_eq!(w3["attribution"][0]["credited_amount"], "30.00");
    assert_eq!(accepted[5].body["data"]["amount"], "5.00");
    assert_eq!(accepted[5].body["data"]["order_net"], "15.00");

    let listed = deliveries(&app, &s.admin, &hook).await;
    assert!(
        listed.iter().all(|d| d["status"] == "delivered"),
        "{listed:?}"
    );
    assert!(listed.iter().all(|d| d["response_status"] == 200));
    assert!(listed.iter().all(|d| d["latency_ms"].is_i64()));
    let ok = app.get(&format!("/api/v1/webhooks/{hook}"), &s.admin).await;
    assert!(ok.json()["failing_since"].is_null(), "{}", ok.text);

    // A redelivery is the same event (id and body) under a new delivery id.
    let w1 = listed.last().unwrap();
    let r = app
        .post(
            &format!(
                "/api/v1/webhooks/{hook}/deliveries/{}/redeliver",
                w1["id"].as_str().unwrap()
            ),
            &s.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 202, "{}", r.text);
    assert_eq!(r.json()["event_id"], w1["event_id"]);
    until("the redelivery arrives", || receiver.accepted().len() == 7).await;
    let again = receiver.accepted().pop().unwrap();
    assert_eq!(again.event_id, accepted[0].event_id);
    assert_ne!(again.delivery_id, accepted[0].delivery_id);
    assert_eq!(again.body, accepted[0].body);

    // A ping answers at once with how the endpoint answered.
    let r = app
        .post(
            &format!("/api/v1/webhooks/{hook}/ping"),
            &s.admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "delivered");
    assert_eq!(r.json()["event_type"], "ping");
    assert_eq!(r.json()["response_status"], 200);
    assert_eq!(receiver.accepted().last().unwrap().body["type"], "ping");
}

#[tokio::test]
async fn a_receiver_refuses_replayed_and_tampered_deliveries() {
    let app = spawn_allowing_private(86_400, 300).await;
    let receiver = Receiver::start().await;
    let (_, admin) = app.create_brand("Replays").await;
    let hook = subscribe(&app, &admin, &receiver, json!(["payout.paid"])).await;
    let r = app
        .post(&format!("/api/v1/webhooks/{hook}/ping"), &admin, json!({}))
        .await;
    assert_eq!(r.json()["status"], "delivered", "{}", r.text);
    // The same ping, six minutes later by the receiver's clock: refused as a replay.
    receiver.state.lock().skew = 360;
    let r = app
        .post(&format!("/api/v1/webhooks/{hook}/ping"), &admin, json!({}))
        .await;
    assert_eq!(r.json()["status"], "failed", "{}", r.text);
    assert_eq!(r.json()["response_status"], 400);
    receiver.state.lock().skew = 0;
    // Another secret (a forged or tampered request) fails the signature.
    receiver.set_secret("whsec_not_the_one");
    let r = app
        .post(&format!("/api/v1/webhooks/{hook}/ping"), &admin, json!({}))
        .await;
    assert_eq!(r.json()["response_status"], 400, "{}", r.text);
    let body = br#"{"id":"x"}"#;
    let now = chrono::Utc::now().timestamp();
    assert_eq!(
        verify("s", &now.to_string(), "v1=00", body, now),
        Err("bad signature")
    );
}

#[tokio::test]
async fn an_endpoint_failing_past_the_limit_is_disabled_and_its_events_held_until_re_enabled() {
    // Two seconds stand for the day an endpoint may fail.
    let app = spawn_allowing_private(2, 300).await;
    let receiver = Receiver::start().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let hook = subscribe(&app, &s.admin, &receiver, json!(["order.attributed"])).await;
    receiver.set_down(true);
    for n in 1..=3 {
        let r = app
            .post(
                "/api/v1/orders",
                &s.storefront,
                json!({"order_id": format!("D-{n}"), "amount": "10.00",
                       "currency": "EUR", "discount_codes": ["ANNA15"]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let disabled = loop {
        let r = app.get(&format!("/api/v1/webhooks/{hook}"), &s.admin).await;
        if r.json()["enabled"] == false {
            break r.json();
        }
        assert!(Instant::now() < deadline, "never disabled: {}", r.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let reason = disabled["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("503"), "{reason}");
    let held = deliveries(&app, &s.admin, &hook).await;
    assert_eq!(held.len(), 3);
    assert!(held.iter().all(|d| d["status"] == "held"), "{held:?}");
    // Nothing is sent while it is disabled, and new events wait with the rest.
    let r = app
        .post(
            "/api/v1/orders",
            &s.storefront,
            json!({"order_id": "D-4", "amount": "10.00", "currency": "EUR",
                   "discount_codes": ["ANNA15"]}),
        )
        .await;
    assert_eq!(r.status, 201);
    let redeliver = app
        .post(
            &format!(
                "/api/v1/webhooks/{hook}/deliveries/{}/redeliver",
                held[0]["id"].as_str().unwrap()
            ),
            &s.admin,
            json!({}),
        )
        .await;
    assert_eq!(redeliver.status, 409, "{}", redeliver.text);
    receiver.set_down(false);
    let before = receiver.received().len();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        receiver.received().len(),
        before,
        "nothing sent while disabled"
    );

    let r = app
        .patch(
            &format!("/api/v1/webhooks/{hook}"),
            &s.admin,
            json!({"enabled": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json()["disabled_reason"].is_null());
    until("the held events are delivered", || {
        receiver.accepted().len() >= 4
    })
    .await;
    let orders: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|r| r.body["data"]["order_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(orders, ["D-1", "D-2", "D-3", "D-4"]);
    let after = deliveries(&app, &s.admin, &hook).await;
    assert!(
        after.iter().all(|d| d["status"] == "delivered"),
        "{after:?}"
    );
}

#[tokio::test]
async fn webhook_urls_must_be_https_and_public_unless_the_operator_allows_private_ones() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Guarded").await;
    for url in [
        "http://hooks.example.com/x",
        "http://127.0.0.1:9000/x",
        "https://127.0.0.1/x",
        "https://localhost/x",
        "https://10.0.0.8/x",
        "https://192.168.1.20/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[fd12::1]/x",
        "ftp://hooks.example.com/x",
        "https://user:pass@hooks.example.com/x",
        "not a url",
    ] {
        let r = app
            .post(
                "/api/v1/webhooks",
                &admin,
                json!({"url": url, "events": ["order.attributed"]}),
            )
            .await;
        assert_eq!(r.status, 422, "{url}: {}", r.text);
        r.invalid_field("url");
    }
    for (events, field) in [
        (json!([]), "events"),
        (json!(["order.attributed", "nope"]), "events[1]"),
        (json!(["ping"]), "events[0]"),
    ] {
        let r = app
            .post(
                "/api/v1/webhooks",
                &admin,
                json!({"url": "https://hooks.example.com/x", "events": events}),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
        r.invalid_field(field);
    }
    let r = app
        .post(
            "/api/v1/webhooks",
            &admin,
            json!({"url": "https://hooks.example.com/x", "events": ["payout.paid"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let r = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &admin,
            json!({"url": "https://10.1.1.1/x"}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // A name is checked against what it resolves to at each call: this machine's own name
    // (in /etc/hosts, a loopback or private address) passes when saved and is refused when
    // called.
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    use std::net::ToSocketAddrs;
    let addrs: Vec<_> = (name.as_str(), 443).to_socket_addrs().unwrap().collect();
    assert!(
        addrs.iter().all(|a| {
            let ip = a.ip();
            ip.is_loopback() || matches!(ip, std::net::IpAddr::V4(v4) if v4.is_private())
        }),
        "{name} resolves to {addrs:?}"
    );
    let r = app
        .patch(
            &format!("/api/v1/webhooks/{id}"),
            &admin,
            json!({"url": format!("https://{name}:9/x")}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .post(&format!("/api/v1/webhooks/{id}/ping"), &admin, json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "failed");
    assert!(r.json()["response_status"].is_null());
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains("influtrack does not call"), "{error}");
    let listed = app.get("/api/v1/webhooks", &admin).await;
    assert_eq!(listed.json()["items"].as_array().unwrap().len(), 1);
    let r = app.delete(&format!("/api/v1/webhooks/{id}"), &admin).await;
    assert_eq!(r.status, 204);
    let r = app.get(&format!("/api/v1/webhooks/{id}"), &admin).await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn goals_reached_and_commission_approved_are_announced_once_each() {
    let app = spawn_allowing_private(86_400, 1).await;
    let receiver = Receiver::start().await;
    let (brand_id, admin) = app.create_brand("Goals").await;
    let (_, shop_key) = app
        .create_key(&brand_id, &admin, json!({"scope": "storefront"}))
        .await;
    subscribe(
        &app,
        &admin,
        &receiver,
        json!(["goal.reached", "payout.approved"]),
    )
    .await;
    let c = crate::resources::campaign(
        &app,
        &admin,
        json!({"name": "Goal", "destination_url": "https://shop.example/g", "currency": "EUR",
               "holding_days": 0, "goal": {"metric": "net_revenue", "target": "50.00"}}),
    )
    .await;
    let cid = c["id"].as_str().unwrap().to_string();
    let anna = crate::resources::influencer(&app, &admin, "anna").await;
    crate::resources::enroll(
        &app,
        &admin,
        &cid,
        json!({"influencer_id": anna, "code": "ANNA15", "fee": "5.00", "commission_rate": "0.1"}),
    )
    .await;
    // The fee is approved at once.
    until("the fee's approval", || receiver.accepted().len() == 1).await;
    let first = &receiver.accepted()[0].body;
    assert_eq!(first["type"], "payout.approved");
    assert_eq!(first["data"]["payout"]["approved"], "5.00");
    // An order of 60.00 reaches the 50.00 goal and approves 6.00 of commission (no holding).
    let r = app
        .post(
            "/api/v1/orders",
            &shop_key,
            json!({"order_id": "G-1", "amount": "60.00", "currency": "EUR",
                   "discount_codes": ["ANNA15"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    until("the goal and the new approval", || {
        receiver.accepted().len() == 3
    })
    .await;
    // Further looks announce nothing again.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let sent = receiver.accepted();
    assert_eq!(sent.len(), 3, "{sent:#?}");
    let goal = sent
        .iter()
        .find(|r| r.body["type"] == "goal.reached")
        .expect("goal.reached");
    assert_eq!(goal.body["data"]["scope"], "campaign");
    assert_eq!(goal.body["data"]["goal"]["actual"], "60.00");
    assert_eq!(goal.body["data"]["goal"]["target"], "50.00");
    let approved: Vec<&str> = sent
        .iter()
        .filter(|r| r.body["type"] == "payout.approved")
        .map(|r| r.body["data"]["payout"]["approved"].as_str().unwrap())
        .collect();
    assert_eq!(approved, ["5.00", "11.00"]);
}
