//! Report benchmark: a campaign with 1,000 enrollments, 10 million clicks over 30 days and
//! 200,000 orders (5% partly refunded); prints leaderboard and report latency (p50/p95 over
//! repeated calls through the HTTP API) beside the same figures computed naively from the raw
//! tables (clicks counted from the click table, credit recomputed from every order's stored
//! touches; leads and their value counted from the events), and checks that both agree for
//! every enrollment. With leads and costs loaded unless `BENCH_LEADS=0`.
//!
//! `bench_reports [database url|-] [clicks] [orders] [enrollments]` (defaults: a temporary
//! SQLite file, 10,000,000, 200,000, 1,000). Run it with `--release` (bench/reports/run.sh).

mod common;

use std::collections::HashMap;
use std::time::Instant;

use common::{ms, percentile, Rng, OPERATOR};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use influtrack::config::Settings;
use influtrack::db::schema::{order_touches, orders, refunds};
use influtrack::db::AnyConnection;
use influtrack::domain::attribution;
use influtrack::domain::campaign::Model;
use influtrack::domain::orders::{OrderInput, OrderSource, RefundInput};
use influtrack::Application;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000_000;
const CALLS: usize = 30;

/// The synthetic click id of click `i` (sorts before every real UUIDv7, so the fold takes
/// them first; valid UUID text).
fn click_id(i: u64) -> String {
    format!("00000000-0000-7000-8000-{i:012}")
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Figures {
    clicks: i64,
    unique_clicks: i64,
    conversions_micros: i64,
    gross_micros: i64,
    refunded_micros: i64,
    leads: i64,
    event_value_micros: i64,
}

#[derive(QueryableByName)]
struct LeadCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    enrollment_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    leads: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    value: i64,
}

/// The value the campaign gives a lead sent without one (`event_values`).
const LEAD_VALUE_MICROS: i64 = 20_000_000;

#[derive(QueryableByName)]
struct ClickCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    enrollment_id: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    clicks: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    unique_clicks: i64,
}

/// The leaderboard's figures computed from the raw tables only.
fn naive(
    conn: &mut AnyConnection,
    campaign_id: &str,
    model: Option<Model>,
) -> HashMap<String, Figures> {
    let mut out: HashMap<String, Figures> = HashMap::new();
    let sql = format!(
        "SELECT enrollment_id, \
           CAST(SUM(CASE WHEN kind = 'human' THEN 1 ELSE 0 END) AS BIGINT) AS clicks, \
           CAST(COUNT(DISTINCT CASE WHEN kind = 'human' THEN \
             link_id || ':' || CAST(ts / {DAY} AS TEXT) || ':' || visitor_hash END) AS BIGINT) AS unique_clicks \
         FROM clicks WHERE campaign_id = '{campaign_id}' GROUP BY enrollment_id"
    );
    let counts: Vec<ClickCount> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(sql).load(c),
        AnyConnection::Postgresql(c) => diesel::sql_query(sql).load(c),
    }
    .expect("naive clicks");
    for c in counts {
        let f = out.entry(c.enrollment_id).or_default();
        f.clicks = c.clicks;
        f.unique_clicks = c.unique_clicks;
    }
    let sql = format!(
        "SELECT enrollment_id, CAST(COUNT(*) AS BIGINT) AS leads, \
           CAST(SUM(COALESCE(value_micros, {LEAD_VALUE_MICROS})) AS BIGINT) AS value \
         FROM events WHERE campaign_id = '{campaign_id}' AND kind = 'lead' GROUP BY enrollment_id"
    );
    let leads: Vec<LeadCount> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(sql).load(c),
        AnyConnection::Postgresql(c) => diesel::sql_query(sql).load(c),
    }
    .expect("naive leads");
    for l in leads {
        let f = out.entry(l.enrollment_id).or_default();
        f.leads = l.leads;
        f.event_value_micros = l.value;
    }
    let order_rows: Vec<(String, i64, i64, i64)> = orders::table
        .select((
            orders::id,
            orders::amount_micros,
            orders::occurred_at,
            orders::refunded_micros,
        ))
        .load(conn)
        .expect("orders");
    let touches: Vec<influtrack::store::orders::TouchRow> = order_touches::table
        .select(influtrack::store::orders::TouchRow::as_select())
        .load(conn)
        .expect("touches");
    let mut by_order: HashMap<String, Vec<influtrack::store::orders::TouchRow>> = HashMap::new();
    for t in touches {
        by_order.entry(t.order_id.to_string()).or_default().push(t);
    }
    let unit = 10_000; // EUR cents
    for (id, amount, at, refunded) in order_rows {
        let Some(rows) = by_order.get_mut(&id) else {
            continue;
        };
        rows.sort_by_key(|t| t.position);
        let domain = influtrack::core::ingest::orders::domain_touches(rows);
        let decision = attribution::attribute(&domain, at, amount / unit, model);
        let mut credits: Vec<(i32, String, i64)> = Vec::new();
        for c in decision.credits {
            let t = &rows[c.touch];
            let f = out.entry(t.enrollment_id.to_string()).or_default();
            let credited = c.amount * unit;
            f.conversions_micros += c.share;
            f.gross_micros += credited;
            credits.push((t.position, t.enrollment_id.to_string(), credited));
        }
        // Refunds: the order's refunded share of its credits, split like the credit.
        // (in the order of the touches' positions, as stored)
        credits.sort();
        let sum: i64 = credits.iter().map(|c| c.2).sum();
        let total = influtrack::store::credits::refunded_part(sum, refunded, amount, unit);
        let weights: Vec<u128> = credits.iter().map(|c| c.2 as u128).collect();
        for ((_, enrollment, _), part) in credits
            .drain(..)
            .zip(attribution::allocate(total / unit, &weights))
        {
            out.entry(enrollment).or_default().refunded_micros += part * unit;
        }
    }
    out
}

fn micros(s: &Value) -> i64 {
    let d: rust_decimal::Decimal = s.as_str().expect("money").parse().expect("decimal");
    (d * rust_decimal::Decimal::from(1_000_000))
        .try_into()
        .expect("fits")
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = args
        .next()
        .filter(|a| a != "-")
        .unwrap_or_else(|| dir.path().join("bench.db").display().to_string());
    let n_clicks: u64 = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000_000);
    let n_orders: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(200_000);
    let n_enrollments: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(1_000);
    let postgres = database_url.starts_with("postgres");
    let backend = if postgres { "postgresql" } else { "sqlite" };

    let mut settings = Settings::for_database(&database_url);
    settings.bind = "127.0.0.1:0".into();
    settings.admin_token = Some(OPERATOR.into());
    settings.log = "warn".into();
    settings.db_pool_size = 24;
    let app = Application::build(settings).await.expect("server starts");
    let pool = app.pool().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let server = tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    let post = |path: String, key: String, body: Value| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let r = http
                .post(format!("{base}{path}"))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = r.status();
            let v: Value = r.json().await.expect("json");
            assert!(status.is_success(), "{path}: {status} {v}");
            v
        }
    };

    // The campaign and its enrollments, through the API.
    let t0 = Instant::now();
    let brand = post(
        "/api/v1/brands".into(),
        OPERATOR.into(),
        json!({"name": "Bench"}),
    )
    .await;
    let admin = brand["admin_key"].as_str().unwrap().to_string();
    let brand_id = influtrack::domain::ids::BrandId::parse(brand["id"].as_str().unwrap()).unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    let start = now - 30 * DAY;
    let campaign = post(
        "/api/v1/campaigns".into(),
        admin.clone(),
        json!({"name": "Bench", "destination_url": "https://shop.example/", "currency": "EUR",
               "attribution": {"model": "linear", "code_priority": true, "window_days": 30}}),
    )
    .await;
    let campaign_id = campaign["id"].as_str().unwrap().to_string();
    for i in 0..n_enrollments {
        let inf = post(
            "/api/v1/influencers".into(),
            admin.clone(),
            json!({"handle": format!("creator{i:04}")}),
        )
        .await;
        post(
            format!("/api/v1/campaigns/{campaign_id}/influencers"),
            admin.clone(),
            json!({"influencer_id": inf["id"], "code": format!("CODE{i:04}"),
                   "fee": format!("{}", 50 + i % 200), "commission_rate": "0.1"}),
        )
        .await;
    }
    println!(
        "backend={backend} seeded {n_enrollments} enrollments in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // Clicks, written straight into the click table: click i is on link i mod N at
    // start + i × step; three clicks in a row of one link share a visitor; one in 50 is a bot.
    let t0 = Instant::now();
    let step = (30 * DAY - DAY) / n_clicks as i64;
    let series = if postgres {
        format!(
            "SELECT generate_series(CAST(0 AS BIGINT), {}) AS i",
            n_clicks - 1
        )
    } else {
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {}) SELECT i FROM s",
            n_clicks - 1
        )
    };
    let pad = if postgres {
        "lpad(s.i::text, 12, '0')".to_string()
    } else {
        "printf('%012d', s.i)".to_string()
    };
    let bool_true = if postgres { "true" } else { "1" };
    let sql = format!(
        "CREATE TEMPORARY TABLE bench_links AS \
           SELECT id, brand_id, campaign_id, enrollment_id, influencer_id, \
                  ROW_NUMBER() OVER (ORDER BY id) - 1 AS n FROM links; \
         INSERT INTO clicks (id, link_id, brand_id, campaign_id, enrollment_id, influencer_id, ts, \
                             visitor_hash, kind, attributable, referrer_host, device, browser, os, country) \
         SELECT '00000000-0000-7000-8000-' || {pad}, l.id, l.brand_id, l.campaign_id, l.enrollment_id, \
                l.influencer_id, {start} + s.i * {step}, \
                'v' || CAST((s.i / {k}) / 3 AS TEXT) || '-' || CAST(s.i % {n_enrollments} AS TEXT), \
                CASE WHEN s.i % 50 = 0 THEN 'bot' ELSE 'human' END, {bool_true}, NULL, 'mobile', 'Safari', 'iOS', NULL \
         FROM ({series}) s JOIN bench_links l ON l.n = s.i % {n_enrollments};",
        k = n_enrollments,
    );
    {
        let mut conn = pool.get().expect("connection");
        conn.batch_execute(&sql).expect("clicks inserted");
        if postgres {
            conn.batch_execute("ANALYZE clicks").expect("analyze");
        }
    }
    println!(
        "inserted {n_clicks} clicks in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // Orders through the ingestion path (attribution, every model, rollups): 30% with the
    // enrollment's code, 60% with one to three of its earlier clicks, 10% unattributed; 5%
    // partly refunded.
    // The clicks are folded first (as the background fold would, and as a live system has
    // them), then the orders are recorded from several connections at once.
    let t0 = Instant::now();
    {
        let mut conn = pool.get().expect("connection");
        let horizon = chrono::Utc::now().timestamp_micros();
        while influtrack::store::rollups::fold(&mut conn, horizon, 200_000).expect("fold") > 0 {}
    }
    println!(
        "folded the clicks into rollups in {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut work: Vec<(OrderInput, Option<String>)> = Vec::with_capacity(n_orders as usize);
    for o in 0..n_orders {
        let e = rng.below64(n_enrollments);
        let at = start + DAY + rng.below64((28 * DAY) as u64) as i64;
        let cents = 1_000 + rng.below64(20_000);
        let mut input = OrderInput {
            order_id: format!("order-{o}"),
            amount: format!("{}.{:02}", cents / 100, cents % 100),
            currency: "EUR".into(),
            occurred_at: chrono::DateTime::from_timestamp_micros(at),
            discount_codes: vec![],
            click_ids: vec![],
            customer_ref: None,
        };
        match rng.below64(10) {
            0..=2 => input.discount_codes.push(format!("CODE{e:04}")),
            3..=8 => {
                // Clicks of this enrollment shortly before the order.
                let last = ((at - start) / step) as u64;
                let last = last - (last % n_enrollments) + e;
                let last = if last * step as u64 + start as u64 > at as u64 {
                    last.saturating_sub(n_enrollments)
                } else {
                    last
                };
                for back in 0..(1 + rng.below64(3)) {
                    let i =
                        last.saturating_sub(back * n_enrollments * (1 + rng.below64(50)) + back);
                    input.click_ids.push(click_id(i));
                }
            }
            _ => {}
        }
        let refund = (rng.below64(20) == 0).then(|| format!("{}.{:02}", cents / 300, cents % 100));
        work.push((input, refund));
    }
    let refunded = work.iter().filter(|w| w.1.is_some()).count() as i64;
    let workers = if postgres { 16 } else { 4 };
    let chunk = work.len().div_ceil(workers).max(1);
    let writes = influtrack::db::GroupCommit::default();
    std::thread::scope(|scope| {
        for part in work.chunks(chunk) {
            let pool = pool.clone();
            let brand_id = brand_id.clone();
            let writes = writes.clone();
            scope.spawn(move || {
                let mut conn = pool.get().expect("connection");
                for (input, refund) in part {
                    let order_id = input.order_id.clone();
                    let order = input.clone().validate(now).expect("valid order");
                    influtrack::core::ingest::orders::record(
                        &mut conn,
                        &writes,
                        &brand_id,
                        order,
                        OrderSource::Api,
                    )
                    .expect("recorded");
                    if let Some(amount) = refund {
                        let refund = RefundInput {
                            refund_id: format!("refund-{order_id}"),
                            amount: amount.clone(),
                            occurred_at: None,
                        };
                        influtrack::core::ingest::refunds::record_input(
                            &mut conn, &brand_id, &order_id, refund,
                        )
                        .expect("refunded");
                    }
                }
            });
        }
    });
    let mut conn = pool.get().expect("connection");
    if postgres {
        // A settled database, as autovacuum keeps a live one: the bulk fold above rewrote each
        // enrollment's all-time click totals ~1,800 times (880,000 dead versions of 1,000
        // rows, 65 ms to scan until vacuumed); a live fold writes each once per second.
        conn.batch_execute("VACUUM ANALYZE")
            .expect("vacuum analyze");
    }
    let stored_refunds: i64 = refunds::table.count().get_result(&mut conn).expect("count");
    assert_eq!(stored_refunds, refunded);
    println!(
        "recorded {n_orders} orders ({refunded} refunded) in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // Leads and costs (BENCH_LEADS=0 leaves them out, for a baseline in the same build): a
    // lead event for one click in 100 (scored 0–99, one in ten valued 5.00 by the CRM, one in
    // five followed by an order of its customer three days later), a product cost for every
    // enrollment and ten tool costs of the campaign spread by net revenue.
    let with_leads = std::env::var("BENCH_LEADS").map_or(true, |v| v != "0");
    if with_leads {
        let t0 = Instant::now();
        let sql = format!(
            "INSERT INTO events (id, brand_id, external_id, fingerprint, kind, click_id, campaign_id, \
                                 enrollment_id, influencer_id, occurred_at, created_at, customer_ref, \
                                 value_micros, score, first_order_at) \
             SELECT 'ev-' || c.id, c.brand_id, 'ev-' || c.id, 'bench', 'lead', c.id, c.campaign_id, \
                    c.enrollment_id, c.influencer_id, c.ts + 60000000, c.ts, 'customer-' || c.id, \
                    CASE WHEN substr(c.id, 33, 1) = '0' THEN 5000000 ELSE NULL END, \
                    CAST(substr(c.id, 31, 2) AS INTEGER), \
                    CASE WHEN substr(c.id, 32, 1) IN ('0', '1') THEN c.ts + {three_days} ELSE NULL END \
             FROM clicks c WHERE substr(c.id, 35, 2) = '00' AND c.kind = 'human'; \
             INSERT INTO costs (id, brand_id, campaign_id, kind, amount_micros, original_micros, \
                                original_currency, influencer_id, enrollment_id, post_url, note, \
                                incurred_at, created_at, updated_at) \
             SELECT 'cost-' || e.id, e.brand_id, e.campaign_id, 'product', 25000000, 25000000, 'EUR', \
                    e.influencer_id, e.id, NULL, NULL, {start}, {start}, {start} FROM enrollments e;",
            three_days = 3 * DAY,
        );
        conn.batch_execute(&sql).expect("leads and costs inserted");
        for i in 0..10 {
            post(
                format!("/api/v1/campaigns/{campaign_id}/costs"),
                admin.clone(),
                json!({"kind": "tool", "amount": format!("{}.00", 100 + i), "note": "bench"}),
            )
            .await;
        }
        let r = http
            .patch(format!("{base}/api/v1/campaigns/{campaign_id}"))
            .bearer_auth(&admin)
            .json(&json!({"event_values": {"lead": "20.00"}, "cost_allocation": "by_net_revenue"}))
            .send()
            .await
            .expect("request");
        assert!(r.status().is_success(), "campaign settings: {}", r.status());
        if postgres {
            conn.batch_execute("ANALYZE events; ANALYZE costs")
                .expect("analyze");
        }
        println!(
            "inserted lead events and costs in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
    }

    // The API's answers, timed.
    let time_get = |path: String| {
        let http = http.clone();
        let base = base.clone();
        let admin = admin.clone();
        async move {
            let mut times = Vec::with_capacity(CALLS);
            let mut last = Value::Null;
            for i in 0..CALLS + 3 {
                let t = Instant::now();
                let r = http
                    .get(format!("{base}{path}"))
                    .bearer_auth(&admin)
                    .send()
                    .await
                    .expect("request");
                assert!(r.status().is_success(), "{path}: {}", r.status());
                last = r.json().await.expect("json");
                if i >= 3 {
                    times.push(t.elapsed());
                }
            }
            times.sort();
            (times, last)
        }
    };
    let (board_times, board) = time_get(format!(
        "/api/v1/campaigns/{campaign_id}/leaderboard?sort=net_revenue"
    ))
    .await;
    let (report_times, _) = time_get(format!("/api/v1/campaigns/{campaign_id}/report")).await;
    let (board_lc_times, board_lc) = time_get(format!(
        "/api/v1/campaigns/{campaign_id}/leaderboard?model=last_click"
    ))
    .await;

    // One exclusion rule in force that matches nothing: what reading the campaign's clicks to
    // find excluded ones costs each report, beside the same calls without a rule.
    let r = http
        .post(format!("{base}/api/v1/campaigns/{campaign_id}/exclusions"))
        .bearer_auth(&admin)
        .json(&json!({"rule": {"referrer_host": "coupons.example"}, "reason": "bench"}))
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "exclusion: {}", r.status());
    let rule: Value = r.json().await.expect("json");
    let (ruled_board_times, ruled_board) = time_get(format!(
        "/api/v1/campaigns/{campaign_id}/leaderboard?sort=net_revenue"
    ))
    .await;
    let (ruled_report_times, _) = time_get(format!("/api/v1/campaigns/{campaign_id}/report")).await;
    assert_eq!(
        ruled_board["items"], board["items"],
        "a rule that matches nothing changes nothing"
    );
    let r = http
        .delete(format!(
            "{base}/api/v1/campaigns/{campaign_id}/exclusions/{}?reason=done",
            rule["id"].as_str().expect("id")
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("request");
    assert!(r.status().is_success(), "delete exclusion: {}", r.status());

    // The same figures, naively, and the comparison.
    let mut naive_times = Vec::new();
    let mut expected = HashMap::new();
    for _ in 0..3 {
        let t = Instant::now();
        expected = naive(&mut conn, &campaign_id, None);
        naive_times.push(t.elapsed());
    }
    naive_times.sort();
    let expected_lc = naive(&mut conn, &campaign_id, Some(Model::LastClick));
    let mut mismatches = 0;
    for (b, exp) in [(&board, &expected), (&board_lc, &expected_lc)] {
        for item in b["items"].as_array().expect("items") {
            let id = item["enrollment_id"].as_str().unwrap();
            let got = Figures {
                clicks: item["clicks"].as_i64().unwrap(),
                unique_clicks: item["unique_clicks"].as_i64().unwrap(),
                conversions_micros: (item["conversions"].as_f64().unwrap() * 1e6).round() as i64,
                gross_micros: micros(&item["gross_revenue"]),
                refunded_micros: micros(&item["refunds"]),
                leads: item["leads"].as_i64().unwrap(),
                event_value_micros: micros(&item["event_value"]),
            };
            let want = exp.get(id).cloned().unwrap_or_default();
            if got != want {
                mismatches += 1;
                if mismatches < 5 {
                    eprintln!("mismatch for {id}: api {got:?} naive {want:?}");
                }
            }
        }
    }
    let naive_p50 = ms(naive_times[1]);
    let board_p50 = percentile(&board_times, 0.5);
    println!(
        "leaderboard ({} rows, as decided): p50 {board_p50:.1} ms, p95 {:.1} ms; last_click: p50 {:.1} ms",
        board["items"].as_array().map_or(0, Vec::len),
        percentile(&board_times, 0.95),
        percentile(&board_lc_times, 0.5)
    );
    println!(
        "report: p50 {:.1} ms, p95 {:.1} ms",
        percentile(&report_times, 0.5),
        percentile(&report_times, 0.95)
    );
    let ruled_p50 = percentile(&ruled_board_times, 0.5);
    println!(
        "with one exclusion rule in force (matching none of the {n_clicks} clicks): leaderboard p50 {ruled_p50:.1} ms ({:.1}x), report p50 {:.1} ms ({:.1}x)",
        ruled_p50 / board_p50,
        percentile(&ruled_report_times, 0.5),
        percentile(&ruled_report_times, 0.5) / percentile(&report_times, 0.5)
    );
    println!(
        "naive from raw tables: median {naive_p50:.0} ms ({:.0}x the leaderboard's p50)",
        naive_p50 / board_p50
    );
    println!(
        "checked: {} rows per model, mismatches={mismatches}",
        board["items"].as_array().unwrap().len()
    );
    println!(
        "RESULT backend={backend} clicks={n_clicks} orders={n_orders} enrollments={n_enrollments} leads_and_costs={with_leads} leaderboard_p50_ms={board_p50:.1} leaderboard_p95_ms={:.1} report_p50_ms={:.1} naive_ms={naive_p50:.0} speedup={:.0} mismatches={mismatches} ruled_leaderboard_p50_ms={ruled_p50:.1} ruled_report_p50_ms={:.1}",
        percentile(&board_times, 0.95),
        percentile(&report_times, 0.5),
        naive_p50 / board_p50,
        percentile(&ruled_report_times, 0.5)
    );
    drop(conn);
    handle.stop(true).await;
    let _ = server.await;
    if mismatches > 0 {
        std::process::exit(1);
    }
}
