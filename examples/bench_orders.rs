//! Order ingestion benchmark: orders/s recorded and attributed through `POST /api/v1/orders`,
//! with duplicates (resends of earlier orders) mixed in, against a baseline measured in the
//! same run on the same server: authenticated code lookups (one key check and a few indexed
//! reads, no write).
//!
//! `bench_orders [database url] [orders] [connections]`: starts influtrack in this process on
//! a fresh database (a temporary SQLite file by default), seeds one brand with 50 enrolled
//! influencers and 2,000 clicks, then sends the orders from `connections` concurrent clients.
//! Each order has a code (40%), one to three click ids (40%) or neither; one in ten requests
//! resends an earlier order. Afterwards it checks that every order is stored exactly once.
//! Run it with `--release` (see bench/orders/run.sh).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use influtrack::config::Settings;
use influtrack::Application;
use serde_json::{json, Value};

const OPERATOR: &str = "bench-operator-token-0123456789";
const INFLUENCERS: usize = 50;
const CLICKS: usize = 2_000;

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn send(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// A small deterministic generator (no dependency for one benchmark).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// Sends `requests` from `connections` concurrent tasks; returns (elapsed, latencies, statuses).
async fn drive(
    client: Arc<Client>,
    key: Arc<String>,
    requests: Arc<Vec<(String, Value)>>,
    connections: usize,
) -> (Duration, Vec<Duration>, Vec<u16>) {
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, key, requests, next) =
            (client.clone(), key.clone(), requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, body)) = requests.get(i) else {
                    break;
                };
                let t = Instant::now();
                let (status, _) = if let Some(get) = path.strip_prefix("GET ") {
                    let r = client
                        .http
                        .get(format!("{}{get}", client.base))
                        .bearer_auth(key.as_str())
                        .send()
                        .await
                        .expect("request");
                    let s = r.status().as_u16();
                    let _ = r.bytes().await;
                    (s, Value::Null)
                } else {
                    client.send(path, &key, body).await
                };
                out.push((t.elapsed(), status));
            }
            out
        }));
    }
    let mut latencies = Vec::new();
    let mut statuses = Vec::new();
    for t in tasks {
        for (d, s) in t.await.expect("task") {
            latencies.push(d);
            statuses.push(s);
        }
    }
    let elapsed = start.elapsed();
    latencies.sort();
    (elapsed, latencies, statuses)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = args
        .next()
        .filter(|a| a != "-")
        .unwrap_or_else(|| dir.path().join("bench.db").display().to_string());
    let orders: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let connections: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(32);
    let backend = if database_url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };

    let mut settings = Settings::for_database(&database_url);
    settings.bind = "127.0.0.1:0".into();
    settings.admin_token = Some(OPERATOR.into());
    settings.log = "warn".into();
    let app = Application::build(settings).await.expect("server starts");
    let pool = app.pool().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(connections)
            .build()
            .expect("client"),
        base: base.clone(),
    });

    // Seed: a brand, a storefront key, a linear campaign, influencers with codes and links.
    let (s, brand) = client
        .send("/api/v1/brands", OPERATOR, &json!({"name": "Bench"}))
        .await;
    assert_eq!(s, 201, "{brand}");
    let admin = brand["admin_key"].as_str().unwrap().to_string();
    let brand_id = brand["id"].as_str().unwrap().to_string();
    let (_, key) = client
        .send(
            &format!("/api/v1/brands/{brand_id}/keys"),
            &admin,
            &json!({"scope": "storefront"}),
        )
        .await;
    let storefront = Arc::new(key["key"].as_str().unwrap().to_string());
    let (_, campaign) = client
        .send(
            "/api/v1/campaigns",
            &admin,
            &json!({"name": "Bench", "destination_url": "https://shop.example/",
                    "currency": "EUR", "attribution": {"model": "linear", "code_priority": true}}),
        )
        .await;
    let campaign_id = campaign["id"].as_str().unwrap().to_string();
    let mut codes = Vec::new();
    let mut links = Vec::new();
    for i in 0..INFLUENCERS {
        let (s, inf) = client
            .send(
                "/api/v1/influencers",
                &admin,
                &json!({"handle": format!("creator{i}")}),
            )
            .await;
        assert_eq!(s, 201, "{inf}");
        let (s, e) = client
            .send(
                &format!("/api/v1/campaigns/{campaign_id}/influencers"),
                &admin,
                &json!({"influencer_id": inf["id"], "code": format!("CREATOR{i}"),
                        "commission_rate": "0.1"}),
            )
            .await;
        assert_eq!(s, 201, "{e}");
        codes.push(e["discount_code"]["code"].as_str().unwrap().to_string());
        links.push(e["link"]["code"].as_str().unwrap().to_string());
    }
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut clicks = Vec::with_capacity(CLICKS);
    for _ in 0..CLICKS {
        let code = &links[rng.below(links.len())];
        let r = client
            .http
            .get(format!("{base}/r/{code}"))
            .header(
                "user-agent",
                "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0 Safari/537.36",
            )
            .send()
            .await
            .expect("redirect");
        let location = r.headers()["location"].to_str().unwrap().to_string();
        let id = url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .find(|(k, _)| k == "itk_click")
            .map(|(_, v)| v.to_string())
            .unwrap();
        clicks.push(id);
    }

    // The orders, with resends of earlier ones mixed in.
    let mut requests: Vec<(String, Value)> = Vec::with_capacity(orders + orders / 9);
    let mut unique = 0usize;
    let mut resends = 0usize;
    while unique < orders {
        if unique > 100 && rng.below(10) == 0 {
            let earlier = requests[rng.below(requests.len())].clone();
            requests.push(earlier);
            resends += 1;
            continue;
        }
        let cents = 500 + rng.below(50_000);
        let mut body = json!({"order_id": format!("bench-{unique}"),
                              "amount": format!("{}.{:02}", cents / 100, cents % 100),
                              "currency": "EUR"});
        match rng.below(10) {
            0..=3 => body["discount_codes"] = json!([codes[rng.below(codes.len())]]),
            4..=7 => {
                let n = 1 + rng.below(3);
                let ids: Vec<&String> = (0..n).map(|_| &clicks[rng.below(clicks.len())]).collect();
                body["click_ids"] = json!(ids);
            }
            _ => {}
        }
        requests.push(("/api/v1/orders".to_string(), body));
        unique += 1;
    }
    // The baseline: as many code lookups as requests above.
    let lookups: Vec<(String, Value)> = (0..requests.len())
        .map(|i| {
            (
                format!("GET /api/v1/codes/lookup?code={}", codes[i % codes.len()]),
                Value::Null,
            )
        })
        .collect();

    let (base_elapsed, base_lat, base_status) = drive(
        client.clone(),
        storefront.clone(),
        Arc::new(lookups),
        connections,
    )
    .await;
    assert!(base_status.iter().all(|s| *s == 200), "baseline errors");
    let total = requests.len();
    let (elapsed, lat, statuses) = drive(
        client.clone(),
        storefront.clone(),
        Arc::new(requests),
        connections,
    )
    .await;
    let created = statuses.iter().filter(|s| **s == 201).count();
    let replayed = statuses.iter().filter(|s| **s == 200).count();
    let failed = total - created - replayed;

    // Every order stored exactly once, with its attribution.
    let mut conn = pool.get().expect("connection");
    use influtrack::db::schema::{attributions, orders as orders_t};
    let stored: i64 = orders_t::table
        .count()
        .get_result(&mut conn)
        .expect("count");
    let attributed: i64 = orders_t::table
        .filter(orders_t::attributed.eq(true))
        .count()
        .get_result(&mut conn)
        .expect("count");
    let credits: i64 = attributions::table
        .count()
        .get_result(&mut conn)
        .expect("count");

    let base_rps = base_status.len() as f64 / base_elapsed.as_secs_f64();
    let rps = total as f64 / elapsed.as_secs_f64();
    let orders_per_s = created as f64 / elapsed.as_secs_f64();
    println!(
        "backend={backend} connections={connections} requests={total} orders={unique} resends={resends}"
    );
    println!(
        "baseline code lookups: {base_rps:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        percentile(&base_lat, 0.5),
        percentile(&base_lat, 0.99)
    );
    println!(
        "orders: {orders_per_s:.0} orders/s recorded ({rps:.0} req/s with resends), p50 {:.2} ms, p99 {:.2} ms, {:.2}x the baseline's req/s",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        rps / base_rps
    );
    println!(
        "verified: created={created} resends answered 200={replayed} failed={failed} stored={stored} attributed={attributed} credits={credits}"
    );
    let ok = failed == 0 && created == unique && replayed == resends && stored as usize == unique;
    println!("RESULT backend={backend} orders_per_s={orders_per_s:.0} req_per_s={rps:.0} baseline_req_per_s={base_rps:.0} p99_ms={:.2} lost={} duplicated={}",
        percentile(&lat, 0.99),
        unique.saturating_sub(stored as usize),
        (stored as usize).saturating_sub(unique));
    handle.stop(true).await;
    let _ = server.await;
    if !ok {
        eprintln!("verification failed");
        std::process::exit(1);
    }
}
