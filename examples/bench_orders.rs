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
//! With `BENCH_WEBHOOK=1` the brand subscribes an endpoint (a receiver in this process) to
//! `order.attributed`: each attributed order also writes its delivery and outbox job, and the
//! run waits until every one has reached the receiver, once.
//! Run it with `--release` (see bench/orders/run.sh).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{percentile, seed, Api, Rng, CHROME, OPERATOR};
use diesel::prelude::*;
use influtrack::config::Settings;
use influtrack::Application;
use serde_json::{json, Value};

const INFLUENCERS: usize = 50;
const CLICKS: usize = 2_000;

/// Sends `requests` from `connections` concurrent tasks; returns (elapsed, latencies, statuses).
async fn drive(
    client: Arc<Api>,
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
                let r = if let Some(get) = path.strip_prefix("GET ") {
                    client.get(get, &key).await
                } else {
                    client.post(path, &key, body).await
                };
                out.push((t.elapsed(), r.expect("request").status));
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

    let webhook = std::env::var("BENCH_WEBHOOK").is_ok_and(|v| v == "1");
    let mut settings = Settings::for_database(&database_url);
    settings.bind = "127.0.0.1:0".into();
    settings.admin_token = Some(OPERATOR.into());
    settings.log = "warn".into();
    // The receiver is on this machine.
    settings.webhook_allow_private = webhook;
    let app = Application::build(settings).await.expect("server starts");
    let pool = app.pool().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let client = Arc::new(Api::new(base, connections));

    // Seed: a brand, a storefront key, a linear campaign, influencers with codes and links,
    // and clicks on those links.
    let seeded = seed(&client, INFLUENCERS).await;
    let received = Arc::new(std::sync::Mutex::new(
        std::collections::HashSet::<String>::new(),
    ));
    let deliveries = Arc::new(AtomicUsize::new(0));
    if webhook {
        let (seen, count) = (received.clone(), deliveries.clone());
        let receiver = actix_web::HttpServer::new(move || {
            let (seen, count) = (seen.clone(), count.clone());
            actix_web::App::new().default_service(actix_web::web::to(
                move |req: actix_web::HttpRequest| {
                    let id = req
                        .headers()
                        .get("influtrack-event-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    seen.lock().unwrap().insert(id);
                    count.fetch_add(1, Ordering::Relaxed);
                    async { actix_web::HttpResponse::NoContent().finish() }
                },
            ))
        })
        .workers(1)
        .bind(("127.0.0.1", 0))
        .expect("the receiver binds");
        let port = receiver.addrs()[0].port();
        tokio::spawn(receiver.run());
        let r = client
            .post(
                "/api/v1/webhooks",
                &seeded.admin,
                &json!({"url": format!("http://127.0.0.1:{port}/in"), "events": ["order.attributed"]}),
            )
            .await
            .expect("subscribe");
        assert_eq!(r.status, 201, "subscribing the receiver");
    }
    let storefront = Arc::new(seeded.storefront.clone());
    let (codes, links) = (seeded.codes, seeded.links);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut clicks = Vec::with_capacity(CLICKS);
    for _ in 0..CLICKS {
        let code = &links[rng.below(links.len())];
        let r = client.follow(code, CHROME).await.expect("redirect");
        clicks.push(r.click.expect("a click id"));
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
    // With a webhook: how long after the last order every event has reached the receiver.
    let mut drained = None;
    if webhook {
        let attributed_now = |pool: &influtrack::db::DbPool| -> usize {
            use influtrack::db::schema::orders as o;
            let mut conn = pool.get().expect("connection");
            o::table
                .filter(o::attributed.eq(true))
                .count()
                .get_result::<i64>(&mut conn)
                .expect("count") as usize
        };
        let want = attributed_now(&pool);
        let t = Instant::now();
        while received.lock().unwrap().len() < want && t.elapsed() < Duration::from_secs(600) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drained = Some((t.elapsed(), want));
    }
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
    // Orders per SQLite commit (group commit), from the server's own histogram.
    let exposition = influtrack::web::observe::prometheus().render();
    let metric = |name: &str| -> f64 {
        exposition
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let (batched, commits) = (
        metric("group_commit_batch_size_sum"),
        metric("group_commit_batch_size_count"),
    );
    if commits > 0.0 {
        println!(
            "group commit: {commits:.0} commits, {:.1} writes per commit",
            batched / commits
        );
    }
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
    let mut ok =
        failed == 0 && created == unique && replayed == resends && stored as usize == unique;
    if let Some((after, want)) = drained {
        let (events, posts) = (
            received.lock().unwrap().len(),
            deliveries.load(Ordering::Relaxed),
        );
        println!(
            "webhooks: {events} of {want} order.attributed events received ({posts} requests), the last {:.2} s after the last order",
            after.as_secs_f64()
        );
        ok &= events == want;
    }
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
