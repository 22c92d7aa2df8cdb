//! Soak and crash runs of the real `influtrack serve` binary, started as a child process on a
//! fresh database. A mixed load runs for a set time: redirects from many connections (a
//! browser's user agent, so each is a click), orders (with discount codes, with click ids
//! taken from the redirects' `Location`, one request in ten a resend of an acknowledged order,
//! which must answer 200 with the stored result), refunds (partial, partial then the rest, or
//! full; one in ten a resend) and report and leaderboard reads. The driver records everything
//! the server acknowledged: the click id of every 302, every order and refund answered 201 or
//! 200. Afterwards it checks in the database that each of them is stored exactly once, that
//! every order's refunded total is the sum of its refunds and that the click rollups agree
//! with the raw clicks.
//!
//! With `--kills N` it is a crash run: the load is cut into N + 1 phases and each of the first
//! N ends with `kill -9` of the server under load. The server is restarted on the same
//! database, every order and refund that was in flight (sent, never answered) is resent —
//! each must answer 201 (it had not been stored) or 200 (it had), and is then acknowledged —
//! and the load goes on.
//!
//! With `--instances N` (PostgreSQL) it starts N servers on the one database behind a
//! round-robin TCP balancer of its own; each kill takes down one of them in turn while the
//! others serve. Afterwards it pauses a link through one instance and measures how long the
//! others keep attributing its clicks.
//!
//! `soak --bin target/release/influtrack --database -|<sqlite path>|<postgres url>
//! [--seconds 60] [--kills 0] [--instances 1]` (`-` is a fresh temporary SQLite file). bench/soak/run.sh and
//! bench/soak/crash.sh run it on both databases. Exits non-zero when anything acknowledged is
//! lost or stored twice, a 5xx or another unexpected answer was seen, or a request failed
//! outside a kill.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fs::OpenOptions;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use common::{percentile, seed, Api, Response, Rng, Seeded, CHROME, OPERATOR};
use diesel::prelude::*;
use influtrack::db::schema::{clicks, links, orders, refunds};
use influtrack::db::{open_connection, DatabaseUrl};
use serde_json::{json, Value};

#[derive(Parser)]
#[command(about = "Soak and crash runs of the influtrack binary under a mixed load")]
struct Args {
    /// The influtrack binary (build it with --release).
    #[arg(long, default_value = "target/release/influtrack")]
    bin: PathBuf,
    /// A SQLite path, `-` for a fresh temporary SQLite file, or the URL of a fresh PostgreSQL
    /// database.
    #[arg(long, default_value = "-")]
    database: String,
    /// Seconds of load in all (in a crash run, over all phases).
    #[arg(long, env = "SOAK_SECONDS", default_value_t = 60)]
    seconds: u64,
    /// How many times to kill -9 the server under load (0: a soak without kills).
    #[arg(long, default_value_t = 0)]
    kills: u32,
    #[arg(long, default_value_t = 32)]
    redirect_connections: usize,
    #[arg(long, default_value_t = 8)]
    order_connections: usize,
    #[arg(long, default_value_t = 2)]
    refund_connections: usize,
    #[arg(long, default_value_t = 2)]
    report_connections: usize,
    /// Enrolled influencers (each with a link and a discount code).
    #[arg(long, default_value_t = 50)]
    influencers: usize,
    /// A file the server's output is appended to (default: discarded).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Instances on the one (PostgreSQL) database, behind a round-robin balancer in this
    /// process; each kill takes down one of them in turn.
    #[arg(long, default_value_t = 1)]
    instances: usize,
}

impl Args {
    fn connections(&self) -> usize {
        self.redirect_connections
            + self.order_connections
            + self.refund_connections
            + self.report_connections
    }
}

/// The server as a child process.
struct Server {
    child: Child,
    api: Api,
    /// Base URL of its metrics listener.
    metrics: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Server {
    async fn start(args: &Args, database: &str) -> Server {
        let port = free_port();
        let metrics_port = free_port();
        let (out, err) = match &args.log {
            Some(path) => {
                let file = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("the log file opens");
                (
                    Stdio::from(file.try_clone().expect("log")),
                    Stdio::from(file),
                )
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(&args.bin)
            .arg("serve")
            .env("INFLUTRACK_DATABASE_URL", database)
            .env("INFLUTRACK_BIND", format!("127.0.0.1:{port}"))
            .env("INFLUTRACK_ADMIN_TOKEN", OPERATOR)
            .env("INFLUTRACK_LOG", "warn")
            // No per-key rate limit (where the server has one): the load is the point. A 429
            // is still handled: not acknowledged, sent again later.
            .env("INFLUTRACK_RATE_LIMIT", "0")
            .env(
                "INFLUTRACK_METRICS_BIND",
                format!("127.0.0.1:{metrics_port}"),
            )
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", args.bin.display()));
        let mut server = Server {
            child,
            api: Api::new(format!("http://127.0.0.1:{port}"), args.connections()),
            metrics: format!("http://127.0.0.1:{metrics_port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = server
                .api
                .http
                .get(format!("{}/readyz", server.api.base))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ready {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("the server exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "the server did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`.
    fn kill(&mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("wait");
    }

    /// SIGTERM, and a wait for the graceful stop.
    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("the server did not stop within 30 s of SIGTERM; killing it");
        self.kill();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// An acknowledged order: what was sent and the result that a resend must answer again.
struct AckOrder {
    body: Value,
    cents: u64,
    result: Value,
}

/// An acknowledged refund.
struct AckRefund {
    order_id: String,
    body: Value,
}

/// Everything the server acknowledged, and what was in flight when it was killed.
#[derive(Default)]
struct Ledger {
    clicks: Vec<String>,
    orders: HashMap<String, AckOrder>,
    order_ids: Vec<String>,
    /// Acknowledged orders waiting for a refund worker.
    refundable: VecDeque<String>,
    refunds: HashMap<String, AckRefund>,
    refund_ids: Vec<String>,
    /// Sent and never answered: (body, cents).
    in_flight_orders: Vec<(Value, u64)>,
    /// Sent and never answered: (order_id, body).
    in_flight_refunds: Vec<(String, Value)>,
}

impl Ledger {
    fn acknowledge_order(&mut self, body: Value, cents: u64, answer: &Value, refund: bool) {
        let id = body["order_id"].as_str().expect("order_id").to_string();
        self.orders.insert(
            id.clone(),
            AckOrder {
                body,
                cents,
                result: stored_result(answer),
            },
        );
        self.order_ids.push(id.clone());
        if refund {
            self.refundable.push_back(id);
        }
    }

    fn acknowledge_refund(&mut self, order_id: &str, body: Value) {
        let id = body["refund_id"].as_str().expect("refund_id").to_string();
        self.refunds.insert(
            id.clone(),
            AckRefund {
                order_id: order_id.to_string(),
                body,
            },
        );
        self.refund_ids.push(id);
    }
}

/// The part of an order's answer that a resend must repeat (the refunded total moves on).
fn stored_result(answer: &Value) -> Value {
    json!({
        "order_id": answer["order_id"],
        "status": answer["status"],
        "amount": answer["amount"],
        "attribution": answer["attribution"],
        "assists": answer["assists"],
    })
}

fn money(cents: u64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Request kinds, in the order they are printed.
const KINDS: [&str; 11] = [
    "redirect",
    "order",
    "order resend",
    "refund",
    "refund resend",
    "leaderboard",
    "report",
    "timeseries",
    "funnel",
    "dashboard",
    "in-flight resend",
];

#[derive(Default)]
struct Kind {
    latencies: Vec<Duration>,
    statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer while the server was up.
    transport_errors: u64,
    /// Requests cut by a kill -9.
    cut: u64,
}

#[derive(Default)]
struct Stats {
    kinds: BTreeMap<&'static str, Kind>,
    /// Answers the driver did not expect (a wrong status, a resend with another result).
    unexpected: u64,
    examples: Vec<String>,
}

impl Stats {
    fn record(&mut self, kind: &'static str, took: Duration, status: u16) {
        let k = self.kinds.entry(kind).or_default();
        k.latencies.push(took);
        *k.statuses.entry(status).or_default() += 1;
    }

    fn failed(&mut self, kind: &'static str, killed: bool, error: &reqwest::Error) {
        let k = self.kinds.entry(kind).or_default();
        if killed {
            k.cut += 1;
        } else {
            k.transport_errors += 1;
            // The whole chain: reqwest's own message rarely says what the connection did.
            let mut what = format!("{kind}: no answer: {error}");
            let mut source = std::error::Error::source(error);
            while let Some(e) = source {
                what += &format!(": {e}");
                source = e.source();
            }
            self.note(what);
        }
    }

    fn note(&mut self, what: String) {
        if self.examples.len() < 10 {
            self.examples.push(what);
        }
    }

    fn unexpected(&mut self, what: String) {
        self.unexpected += 1;
        self.note(format!("unexpected: {what}"));
    }

    fn merge(&mut self, other: Stats) {
        for (name, k) in other.kinds {
            let mine = self.kinds.entry(name).or_default();
            mine.latencies.extend(k.latencies);
            for (s, n) in k.statuses {
                *mine.statuses.entry(s).or_default() += n;
            }
            mine.transport_errors += k.transport_errors;
            mine.cut += k.cut;
        }
        self.unexpected += other.unexpected;
        for e in other.examples {
            if self.examples.len() < 10 {
                self.examples.push(e);
            }
        }
    }

    fn count(&self, f: impl Fn(u16) -> bool) -> u64 {
        self.kinds
            .values()
            .flat_map(|k| k.statuses.iter())
            .filter(|(s, _)| f(**s))
            .map(|(_, n)| n)
            .sum()
    }
}

/// What a storefront request came to.
enum Sent {
    /// An answer other than 429.
    Answer(Response),
    /// No answer: it may or may not have been recorded.
    InFlight,
    /// Only 429s until the load stopped: not recorded.
    Dropped,
}

/// One phase of load against one server process.
#[derive(Clone)]
struct Load {
    api: Api,
    seeded: Arc<Seeded>,
    ledger: Arc<Mutex<Ledger>>,
    next_order: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    killed: Arc<AtomicBool>,
}

impl Load {
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    fn killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("ledger")
    }

    /// A storefront `POST`; a 429 is not an acknowledgement: the same body goes again after
    /// `Retry-After` (at most a second), until the load stops.
    async fn post(&self, stats: &mut Stats, kind: &'static str, path: &str, body: &Value) -> Sent {
        loop {
            let t = Instant::now();
            match self.api.post(path, &self.seeded.storefront, body).await {
                Ok(r) => {
                    stats.record(kind, t.elapsed(), r.status);
                    if r.status != 429 {
                        return Sent::Answer(r);
                    }
                    if self.stopped() {
                        return Sent::Dropped;
                    }
                    let wait = Duration::from_secs(r.retry_after.unwrap_or(1).clamp(0, 1));
                    tokio::time::sleep(wait.max(Duration::from_millis(50))).await;
                }
                Err(e) => {
                    stats.failed(kind, self.killed(), &e);
                    return Sent::InFlight;
                }
            }
        }
    }
}

async fn redirects(load: Load, worker: u64) -> Stats {
    let mut stats = Stats::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (worker + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let links = &load.seeded.links;
    while !load.stopped() {
        let code = &links[rng.below(links.len())];
        // Many visitors: the unique-click rollups have work to do.
        let agent = format!("{CHROME} shopper/{}", rng.below(5_000));
        let t = Instant::now();
        match load.api.follow(code, &agent).await {
            Ok(f) => {
                stats.record("redirect", t.elapsed(), f.status);
                match (f.status, f.click) {
                    (302, Some(id)) => load.ledger().clicks.push(id),
                    (302, None) => stats.unexpected("a 302 without itk_click".into()),
                    (429, _) => tokio::time::sleep(Duration::from_millis(50)).await,
                    (s, _) => stats.unexpected(format!("redirect answered {s}")),
                }
            }
            Err(e) => {
                stats.failed("redirect", load.killed(), &e);
                if load.killed() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    stats
}

async fn orders_worker(load: Load, worker: u64) -> Stats {
    let mut stats = Stats::default();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (worker + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let seeded = load.seeded.clone();
    while !load.stopped() {
        // One request in ten resends an acknowledged order: 200 with the stored result.
        if rng.below(10) == 0 {
            let pick = {
                let l = load.ledger();
                (!l.order_ids.is_empty()).then(|| {
                    let id = &l.order_ids[rng.below(l.order_ids.len())];
                    let o = &l.orders[id];
                    (id.clone(), o.body.clone(), o.result.clone())
                })
            };
            if let Some((id, body, result)) = pick {
                match load
                    .post(&mut stats, "order resend", "/api/v1/orders", &body)
                    .await
                {
                    Sent::Answer(r) if r.status == 200 => {
                        if stored_result(&r.body) != result {
                            stats.unexpected(format!(
                                "resend of order {id} answered another result: {} vs {}",
                                stored_result(&r.body),
                                result
                            ));
                        }
                    }
                    Sent::Answer(r) => stats.unexpected(format!(
                        "resend of order {id} answered {} {}",
                        r.status, r.body
                    )),
                    Sent::InFlight if load.killed() => break,
                    // Already acknowledged: nothing is unknown about it.
                    Sent::InFlight | Sent::Dropped => {}
                }
                continue;
            }
        }
        let n = load.next_order.fetch_add(1, Ordering::Relaxed);
        let cents = 500 + rng.below(50_000) as u64;
        let mut body = json!({"order_id": format!("soak-{n}"), "amount": money(cents),
                              "currency": "EUR"});
        match rng.below(10) {
            0..=3 => body["discount_codes"] = json!([seeded.codes[rng.below(seeded.codes.len())]]),
            4..=7 => {
                // One to three clicks among the latest acknowledged.
                let l = load.ledger();
                if !l.clicks.is_empty() {
                    let recent = &l.clicks[l.clicks.len().saturating_sub(5_000)..];
                    let ids: Vec<&String> = (0..1 + rng.below(3))
                        .map(|_| &recent[rng.below(recent.len())])
                        .collect();
                    body["click_ids"] = json!(ids);
                }
            }
            _ => {}
        }
        match load
            .post(&mut stats, "order", "/api/v1/orders", &body)
            .await
        {
            Sent::Answer(r) if r.status == 201 => {
                let refund = rng.below(3) == 0;
                load.ledger()
                    .acknowledge_order(body, cents, &r.body, refund);
            }
            Sent::Answer(r) => stats.unexpected(format!(
                "new order {} answered {} {}",
                body["order_id"], r.status, r.body
            )),
            Sent::InFlight => {
                load.ledger().in_flight_orders.push((body, cents));
                if load.killed() {
                    break;
                }
            }
            Sent::Dropped => {}
        }
    }
    stats
}

async fn refunds_worker(load: Load, worker: u64) -> Stats {
    let mut stats = Stats::default();
    let mut rng = Rng(0xA076_1D64_78BD_642F ^ (worker + 1).wrapping_mul(0xE703_7ED1_A0B4_28DB));
    while !load.stopped() {
        // One in ten resends an acknowledged refund: 200 with the same refund.
        if rng.below(10) == 0 {
            let pick = {
                let l = load.ledger();
                (!l.refund_ids.is_empty()).then(|| {
                    let r = &l.refunds[&l.refund_ids[rng.below(l.refund_ids.len())]];
                    (r.order_id.clone(), r.body.clone())
                })
            };
            if let Some((order_id, body)) = pick {
                let path = format!("/api/v1/orders/{order_id}/refunds");
                match load.post(&mut stats, "refund resend", &path, &body).await {
                    Sent::Answer(r)
                        if r.status == 200
                            && r.body["refund_id"] == body["refund_id"]
                            && r.body["amount"] == body["amount"] => {}
                    Sent::Answer(r) => stats.unexpected(format!(
                        "resend of refund {} answered {} {}",
                        body["refund_id"], r.status, r.body
                    )),
                    Sent::InFlight if load.killed() => break,
                    Sent::InFlight | Sent::Dropped => {}
                }
                continue;
            }
        }
        let next = {
            let mut l = load.ledger();
            l.refundable.pop_front().map(|id| (l.orders[&id].cents, id))
        };
        let Some((cents, order_id)) = next else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        // A third partly, a third partly and then the rest, a third in full.
        let parts = match rng.below(3) {
            0 => vec![cents / 3],
            1 => vec![cents / 3, cents - cents / 3],
            _ => vec![cents],
        };
        let path = format!("/api/v1/orders/{order_id}/refunds");
        for (k, part) in parts.into_iter().enumerate() {
            let body = json!({"refund_id": format!("{order_id}-r{k}"), "amount": money(part)});
            match load.post(&mut stats, "refund", &path, &body).await {
                Sent::Answer(r) if r.status == 201 => {
                    load.ledger().acknowledge_refund(&order_id, body)
                }
                Sent::Answer(r) => {
                    stats.unexpected(format!(
                        "new refund {} answered {} {}",
                        body["refund_id"], r.status, r.body
                    ));
                    break;
                }
                Sent::InFlight => {
                    load.ledger()
                        .in_flight_refunds
                        .push((order_id.clone(), body));
                    break;
                }
                Sent::Dropped => break,
            }
        }
        if load.killed() {
            break;
        }
    }
    stats
}

/// The reads a brand makes at a campaign's peak, in turn: the leaderboard, the report, the
/// timeseries, the funnel and the dashboard's campaign page (signed in as a browser is).
async fn reports_worker(load: Load, worker: u64) -> Stats {
    let mut stats = Stats::default();
    let campaign = &load.seeded.campaign_id;
    let reads: [(&'static str, String); 5] = [
        (
            "leaderboard",
            format!("/api/v1/campaigns/{campaign}/leaderboard?sort=net_revenue"),
        ),
        ("report", format!("/api/v1/campaigns/{campaign}/report")),
        (
            "timeseries",
            format!("/api/v1/campaigns/{campaign}/timeseries"),
        ),
        ("funnel", format!("/api/v1/campaigns/{campaign}/funnel")),
        ("dashboard", format!("/dashboard/campaigns/{campaign}")),
    ];
    let mut cookie: Option<String> = None;
    let mut i = worker as usize;
    while !load.stopped() {
        let (kind, path) = &reads[i % reads.len()];
        i += 1;
        if *kind == "dashboard" && cookie.is_none() {
            match load.api.sign_in(&load.seeded.admin).await {
                Ok(Some(c)) => cookie = Some(c),
                Ok(None) => {
                    stats.unexpected("signing in to the dashboard gave no session".into());
                    continue;
                }
                Err(e) => {
                    stats.failed(kind, load.killed(), &e);
                    if load.killed() {
                        break;
                    }
                    continue;
                }
            }
        }
        let t = Instant::now();
        let answer = match (&cookie, *kind) {
            (Some(c), "dashboard") => load.api.page(path, c).await,
            _ => load
                .api
                .get(path, &load.seeded.admin)
                .await
                .map(|r| (r.status, 0)),
        };
        match answer {
            Ok((status, _)) => {
                stats.record(kind, t.elapsed(), status);
                match status {
                    200 => {}
                    429 => tokio::time::sleep(Duration::from_millis(50)).await,
                    // A session ended by a restart (kill -9): sign in again.
                    303 if *kind == "dashboard" => cookie = None,
                    s => stats.unexpected(format!("{path} answered {s}")),
                }
            }
            Err(e) => {
                stats.failed(kind, load.killed(), &e);
                if load.killed() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    stats
}

/// A process's resident memory in KiB (Linux), `None` when it cannot be read.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// After a restart: every order and refund that was in flight is sent again and must be
/// answered 201 (it had not been stored) or 200 (it had); it is acknowledged then.
/// Returns (orders that had been stored, orders that had not, the same for refunds).
async fn resend_in_flight(load: &Load, stats: &mut Stats) -> [u64; 4] {
    let (orders, refunds) = {
        let mut l = load.ledger();
        (
            std::mem::take(&mut l.in_flight_orders),
            std::mem::take(&mut l.in_flight_refunds),
        )
    };
    let mut counts = [0; 4];
    for (body, cents) in orders {
        match load
            .post(stats, "in-flight resend", "/api/v1/orders", &body)
            .await
        {
            Sent::Answer(r) if r.status == 200 || r.status == 201 => {
                counts[usize::from(r.status == 201)] += 1;
                load.ledger().acknowledge_order(body, cents, &r.body, false);
            }
            Sent::Answer(r) => stats.unexpected(format!(
                "in-flight order {} resent after the restart answered {} {}",
                body["order_id"], r.status, r.body
            )),
            Sent::InFlight | Sent::Dropped => stats.unexpected(format!(
                "in-flight order {} resent after the restart got no answer",
                body["order_id"]
            )),
        }
    }
    for (order_id, body) in refunds {
        let path = format!("/api/v1/orders/{order_id}/refunds");
        match load.post(stats, "in-flight resend", &path, &body).await {
            Sent::Answer(r) if r.status == 200 || r.status == 201 => {
                counts[2 + usize::from(r.status == 201)] += 1;
                load.ledger().acknowledge_refund(&order_id, body);
            }
            Sent::Answer(r) => stats.unexpected(format!(
                "in-flight refund {} resent after the restart answered {} {}",
                body["refund_id"], r.status, r.body
            )),
            Sent::InFlight | Sent::Dropped => stats.unexpected(format!(
                "in-flight refund {} resent after the restart got no answer",
                body["refund_id"]
            )),
        }
    }
    counts
}

/// One kind of acknowledged thing checked against the database.
#[derive(Default, Debug)]
struct Check {
    acknowledged: usize,
    stored: usize,
    lost: usize,
    duplicated: usize,
    /// Stored, never acknowledged (in flight at a kill or at the end).
    unacknowledged: usize,
}

fn check<'a>(
    acknowledged: impl Iterator<Item = &'a str>,
    stored: impl Iterator<Item = String>,
) -> Check {
    let mut copies: HashMap<String, usize> = HashMap::new();
    for id in stored {
        *copies.entry(id).or_default() += 1;
    }
    let mut c = Check {
        stored: copies.values().sum(),
        ..Check::default()
    };
    let mut seen = HashSet::new();
    for id in acknowledged {
        c.acknowledged += 1;
        if !seen.insert(id) {
            // The server acknowledged the same id twice.
            c.duplicated += 1;
            continue;
        }
        match copies.get(id) {
            None => c.lost += 1,
            Some(n) => c.duplicated += n - 1,
        }
    }
    c.unacknowledged = copies
        .keys()
        .filter(|id| !seen.contains(id.as_str()))
        .count();
    c
}

struct Verified {
    clicks: Check,
    orders: Check,
    refunds: Check,
    /// Refunds stored under another order than the one they were sent for.
    misfiled_refunds: usize,
    /// Orders whose refunded total is not the sum of their refunds.
    refund_totals_off: usize,
    links_checked: usize,
    /// Links whose click count as reported (rollups and unfolded clicks) differs from the raw
    /// clicks.
    rollups_off: usize,
}

fn verify(database: &str, brand_id: &str, ledger: &Ledger) -> Verified {
    let url = DatabaseUrl::parse(database).expect("database url");
    let mut conn = open_connection(&url).expect("the database opens");
    let stored_clicks: Vec<String> = clicks::table
        .filter(clicks::brand_id.eq(brand_id))
        .select(clicks::id)
        .load(&mut conn)
        .expect("clicks");
    let clicks = check(
        ledger.clicks.iter().map(String::as_str),
        stored_clicks.into_iter(),
    );

    let stored_orders: Vec<(String, String, i64)> = orders::table
        .filter(orders::brand_id.eq(brand_id))
        .select((orders::id, orders::external_id, orders::refunded_micros))
        .load(&mut conn)
        .expect("orders");
    let order_check = check(
        ledger.orders.keys().map(String::as_str),
        stored_orders.iter().map(|o| o.1.clone()),
    );

    let stored_refunds: Vec<(String, String, i64)> = refunds::table
        .filter(refunds::brand_id.eq(brand_id))
        .select((
            refunds::external_id,
            refunds::order_id,
            refunds::amount_micros,
        ))
        .load(&mut conn)
        .expect("refunds");
    let refund_check = check(
        ledger.refunds.keys().map(String::as_str),
        stored_refunds.iter().map(|r| r.0.clone()),
    );
    let external_of: HashMap<&str, &str> = stored_orders
        .iter()
        .map(|o| (o.0.as_str(), o.1.as_str()))
        .collect();
    let mut refunded: HashMap<&str, i64> = HashMap::new();
    let mut misfiled_refunds = 0;
    for (refund_id, order_pk, amount) in &stored_refunds {
        *refunded.entry(order_pk.as_str()).or_default() += amount;
        if let Some(ack) = ledger.refunds.get(refund_id) {
            if external_of.get(order_pk.as_str()) != Some(&ack.order_id.as_str()) {
                misfiled_refunds += 1;
            }
        }
    }
    let refund_totals_off = stored_orders
        .iter()
        .filter(|(pk, _, total)| refunded.get(pk.as_str()).copied().unwrap_or(0) != *total)
        .count();

    // Clicks as the API counts them (rollups plus clicks not yet folded) against the raw
    // clicks, link by link.
    let link_ids: Vec<String> = links::table
        .filter(links::brand_id.eq(brand_id))
        .select(links::id)
        .load(&mut conn)
        .expect("links");
    let mut rollups_off = 0;
    for link in &link_ids {
        let human: i64 = clicks::table
            .filter(clicks::link_id.eq(link))
            .filter(clicks::kind.eq("human"))
            .count()
            .get_result(&mut conn)
            .expect("count");
        let days = influtrack::store::rollups::daily_for_link(
            &mut conn,
            &influtrack::domain::ids::LinkId::stored(link.clone()),
            i32::MIN,
            i32::MAX,
        )
        .expect("rollups");
        if days.iter().map(|d| d.clicks).sum::<i64>() != human {
            rollups_off += 1;
        }
    }
    Verified {
        clicks,
        orders: order_check,
        refunds: refund_check,
        misfiled_refunds,
        refund_totals_off,
        links_checked: link_ids.len(),
        rollups_off,
    }
}

/// Clicks the server redirected without recording them (its own count, from /metrics on the
/// metrics listener).
async fn unrecorded_clicks(server: &Server) -> u64 {
    let url = format!("{}/metrics", server.metrics);
    let Ok(r) = server.api.http.get(url).send().await else {
        return 0;
    };
    let text = r.text().await.unwrap_or_default();
    if std::env::var_os("SOAK_METRICS").is_some() {
        // The background work's time, for a look at what holds the writers up.
        for l in text.lines().filter(|l| {
            [
                "click_fold_seconds",
                "click_fence_seconds",
                "wal_",
                "click_commit_seconds",
            ]
            .iter()
            .any(|p| l.starts_with(p))
                && (l.contains("_sum") || l.contains("_count") || l.contains("quantile=\"0.99\""))
        }) {
            println!("  metric {l}");
        }
    }
    text.lines()
        .filter(|l| l.starts_with("clicks_unrecorded_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// A TCP balancer on 127.0.0.1 (like HAProxy in TCP mode): each connection goes to the next
/// instance that accepts it, round robin. `ports` is updated when an instance restarts.
async fn balancer(ports: Arc<Mutex<Vec<u16>>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the balancer binds");
    let port = listener.local_addr().expect("address").port();
    let next = Arc::new(AtomicU64::new(0));
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (ports, next) = (ports.clone(), next.clone());
            tokio::spawn(async move {
                let candidates = ports.lock().expect("ports").clone();
                for _ in 0..candidates.len() {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize % candidates.len();
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", candidates[i])).await
                    {
                        let _ = inbound.set_nodelay(true);
                        let _ = outbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        return;
                    }
                }
            });
        }
    });
    port
}

fn port_of(server: &Server) -> u16 {
    server
        .api
        .base
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port")
}

/// Pauses a link through the first instance and clicks it through each of the others until
/// one is stored as not attributable: how long each kept attributing it, at most.
async fn pause_reaches_all(servers: &[Server], seeded: &Seeded) -> Duration {
    let (code, link_id) = (&seeded.links[0], &seeded.link_ids[0]);
    let api = &servers[0].api;
    let attributable = |id: String| async move {
        let r = api
            .get(&format!("/api/v1/links/{link_id}/clicks"), &seeded.admin)
            .await
            .expect("clicks");
        r.body["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["id"] == id.as_str()))
            .and_then(|c| c["attributable"].as_bool())
    };
    let click = |server: &Server| {
        let http = server.api.http.clone();
        let url = format!("{}/r/{code}", server.api.base);
        async move {
            let r = http
                .get(url)
                .header("user-agent", CHROME)
                .send()
                .await
                .expect("click");
            let location = r.headers()["location"]
                .to_str()
                .expect("location")
                .to_string();
            location
                .rsplit("itk_click=")
                .next()
                .expect("itk_click")
                .to_string()
        }
    };
    // Every instance has the link cached, attributable.
    for server in servers {
        let id = click(server).await;
        assert_eq!(attributable(id).await, Some(true), "an active link's click");
    }
    let paused = Instant::now();
    let r = api
        .http
        .patch(format!("{}/api/v1/links/{link_id}", api.base))
        .bearer_auth(&seeded.admin)
        .json(&json!({"status": "paused"}))
        .send()
        .await
        .expect("pause");
    assert_eq!(r.status(), 200, "pausing the link");
    let mut worst = Duration::ZERO;
    for server in &servers[1..] {
        loop {
            let id = click(server).await;
            if attributable(id).await == Some(false) {
                worst = worst.max(paused.elapsed());
                break;
            }
            assert!(
                paused.elapsed() < Duration::from_secs(60),
                "an instance attributes a paused link after 60 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    worst
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let dir = tempfile::tempdir().expect("temp dir");
    let database = if args.database == "-" {
        dir.path().join("soak.db").display().to_string()
    } else {
        args.database.clone()
    };
    let backend = match DatabaseUrl::parse(&database)
        .expect("database url")
        .backend()
    {
        influtrack::db::Backend::Postgres => "postgresql",
        influtrack::db::Backend::Sqlite => "sqlite",
    };
    let mode = if args.kills > 0 { "crash" } else { "soak" };
    println!(
        "{mode} run, {backend}: {} s of load, {} redirect + {} order + {} refund + {} report connections, {} kill -9, {} cores",
        args.seconds,
        args.redirect_connections,
        args.order_connections,
        args.refund_connections,
        args.report_connections,
        args.kills,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );

    assert!(
        args.instances == 1 || backend == "postgresql",
        "several instances share a PostgreSQL database (one process serves a SQLite file)"
    );
    let mut servers = Vec::with_capacity(args.instances);
    for _ in 0..args.instances.max(1) {
        servers.push(Server::start(&args, &database).await);
    }
    // The load goes through a balancer when there are several instances.
    let ports = Arc::new(Mutex::new(servers.iter().map(port_of).collect::<Vec<_>>()));
    let balanced = if servers.len() > 1 {
        let port = balancer(ports.clone()).await;
        println!(
            "  {} instances behind a round-robin balancer on port {port}",
            servers.len()
        );
        Some(format!("http://127.0.0.1:{port}"))
    } else {
        None
    };
    // A client of its own for each phase: none of its pooled connections went to an instance
    // killed before.
    let client = |servers: &[Server]| match &balanced {
        Some(base) => Api::new(base.clone(), args.connections()),
        None => servers[0].api.clone(),
    };
    let seeded = Arc::new(seed(&client(&servers), args.influencers).await);
    if servers.len() > 1 {
        // New links reach the other instances' sets of codes within tens of milliseconds (a
        // click before that is a 404 there); the load starts once they have.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let next_order = Arc::new(AtomicU64::new(0));
    let mut stats = Stats::default();
    let mut loaded = Duration::ZERO;
    let mut resent = [0u64; 4];
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    let phases = args.kills + 1;
    let total = Duration::from_secs(args.seconds);
    let (rss_peak, rss_end) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    for phase in 0..phases {
        let last = phase + 1 == phases;
        // Each phase gets an equal share of the time, give or take 30%, so that the kills do
        // not fall at the same point of the background fold's cycle.
        let share = total.as_secs_f64() / phases as f64;
        let length = if last {
            total.saturating_sub(loaded)
        } else {
            Duration::from_secs_f64(share * (0.7 + 0.6 * rng.below(1_000) as f64 / 1_000.0))
        };
        // The instance this phase's kill takes down.
        let victim = phase as usize % servers.len();
        let load = Load {
            api: client(&servers),
            seeded: seeded.clone(),
            ledger: ledger.clone(),
            next_order: next_order.clone(),
            stop: Arc::new(AtomicBool::new(false)),
            killed: Arc::new(AtomicBool::new(false)),
        };
        let started = Instant::now();
        let mut tasks = Vec::new();
        let workers = [
            args.redirect_connections,
            args.order_connections,
            args.refund_connections,
            args.report_connections,
        ];
        for (role, &n) in workers.iter().enumerate() {
            for w in 0..n as u64 {
                let w = w + 1_000 * u64::from(phase);
                let load = load.clone();
                tasks.push(match role {
                    0 => tokio::spawn(redirects(load, w)),
                    1 => tokio::spawn(orders_worker(load, w)),
                    2 => tokio::spawn(refunds_worker(load, w)),
                    _ => tokio::spawn(reports_worker(load, w)),
                });
            }
        }
        // The server's resident memory, sampled each second of the load.
        let sampler = {
            let (pid, stop, peak) = (servers[0].child.id(), load.stop.clone(), rss_peak.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kb) = rss_kib(pid) {
                        peak.fetch_max(kb, Ordering::Relaxed);
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        };
        tokio::time::sleep(length).await;
        if let Some(kb) = rss_kib(servers[0].child.id()) {
            rss_end.store(kb, Ordering::Relaxed);
        }
        if last {
            load.stop.store(true, Ordering::Relaxed);
        } else {
            load.killed.store(true, Ordering::Relaxed);
            servers[victim].kill();
            load.stop.store(true, Ordering::Relaxed);
        }
        for t in tasks {
            stats.merge(t.await.expect("worker"));
        }
        let _ = sampler.await;
        loaded += started.elapsed();
        if !last {
            let (orders, refunds) = {
                let l = load.ledger();
                (l.in_flight_orders.len(), l.in_flight_refunds.len())
            };
            println!(
                "  kill -9 after {:.1} s of phase {}: {orders} orders and {refunds} refunds in flight; restarting on the same database",
                started.elapsed().as_secs_f64(),
                phase + 1,
            );
            servers[victim] = Server::start(&args, &database).await;
            ports.lock().expect("ports")[victim] = port_of(&servers[victim]);
        }
        // What got no answer (in flight at the kill, or a failed request) is sent again.
        let after = Load {
            api: client(&servers),
            stop: Arc::new(AtomicBool::new(false)),
            killed: Arc::new(AtomicBool::new(false)),
            ..load
        };
        let counts = resend_in_flight(&after, &mut stats).await;
        for (total, n) in resent.iter_mut().zip(counts) {
            *total += n;
        }
    }
    let mut unrecorded = 0;
    for server in &servers {
        unrecorded += unrecorded_clicks(server).await;
    }
    let pause_took = if servers.len() > 1 {
        Some(pause_reaches_all(&servers, &seeded).await)
    } else {
        None
    };
    for server in &mut servers {
        server.stop();
    }

    let ledger = ledger.lock().expect("ledger");
    let v = verify(&database, &seeded.brand_id, &ledger);

    let secs = loaded.as_secs_f64();
    println!(
        "{:<17} {:>9} {:>9} {:>8} {:>8}  statuses",
        "kind", "served", "req/s", "p50 ms", "p99 ms"
    );
    let mut result = format!("RESULT mode={mode} backend={backend} seconds={secs:.0}");
    for name in KINDS {
        let Some(k) = stats.kinds.get_mut(name) else {
            continue;
        };
        k.latencies.sort();
        let served = k.latencies.len();
        let mut statuses: Vec<String> =
            k.statuses.iter().map(|(s, n)| format!("{s}:{n}")).collect();
        if k.cut > 0 {
            statuses.push(format!("cut by kill:{}", k.cut));
        }
        if k.transport_errors > 0 {
            statuses.push(format!("NO ANSWER:{}", k.transport_errors));
        }
        println!(
            "{name:<17} {served:>9} {:>9.1} {:>8.2} {:>8.2}  {}",
            served as f64 / secs,
            percentile(&k.latencies, 0.5),
            percentile(&k.latencies, 0.99),
            statuses.join(" ")
        );
        let key = name.replace([' ', '-'], "_");
        result += &format!(
            " {key}={served} {key}_rps={:.1} {key}_p50_ms={:.2} {key}_p99_ms={:.2}",
            served as f64 / secs,
            percentile(&k.latencies, 0.5),
            percentile(&k.latencies, 0.99)
        );
    }
    if args.kills > 0 {
        println!(
            "in flight at the kills, resent after the restart: orders {} already stored (200) + {} not stored (201), refunds {} + {}",
            resent[0], resent[1], resent[2], resent[3]
        );
    }
    for (name, c) in [
        ("clicks", &v.clicks),
        ("orders", &v.orders),
        ("refunds", &v.refunds),
    ] {
        println!(
            "verified {name:<8} acknowledged {:>8}  stored {:>8}  lost {}  duplicated {}  stored but never acknowledged {}",
            c.acknowledged, c.stored, c.lost, c.duplicated, c.unacknowledged
        );
    }
    println!(
        "verified refunds under the wrong order {}, orders whose refunded total is not the sum of their refunds {}, links whose rollups disagree with the raw clicks {} of {}",
        v.misfiled_refunds, v.refund_totals_off, v.rollups_off, v.links_checked
    );
    let (peak, end) = (
        rss_peak.load(Ordering::Relaxed),
        rss_end.load(Ordering::Relaxed),
    );
    println!(
        "server memory (RSS): {:.0} MB at the end of the load, {:.0} MB at most",
        end as f64 / 1024.0,
        peak.max(end) as f64 / 1024.0
    );
    result += &format!(
        " rss_end_mb={:.0} rss_max_mb={:.0}",
        end as f64 / 1024.0,
        peak.max(end) as f64 / 1024.0
    );
    if let Some(took) = pause_took {
        println!(
            "a link paused through one instance stopped attributing on all {} others after {:.0} ms",
            servers.len() - 1,
            took.as_secs_f64() * 1000.0
        );
        result += &format!(
            " instances={} pause_reached_all_ms={:.0}",
            servers.len(),
            took.as_secs_f64() * 1000.0
        );
    }
    if unrecorded > 0 {
        println!("the server reports {unrecorded} clicks redirected without being recorded (since its last start)");
    }
    let lost = v.clicks.lost + v.orders.lost + v.refunds.lost;
    let duplicated = v.clicks.duplicated + v.orders.duplicated + v.refunds.duplicated;
    let server_errors = stats.count(|s| s >= 500);
    let no_answer: u64 = stats.kinds.values().map(|k| k.transport_errors).sum();
    // Orders and refunds are all resent until answered, so none may be stored unacknowledged.
    let strays = v.orders.unacknowledged + v.refunds.unacknowledged;
    let inconsistent = v.misfiled_refunds + v.refund_totals_off + v.rollups_off;
    println!(
        "rows verified = {}, lost = {lost}, duplicated = {duplicated}, 5xx = {server_errors}, unexpected answers = {}, no answer outside a kill = {no_answer}, inconsistent = {}",
        v.clicks.acknowledged + v.orders.acknowledged + v.refunds.acknowledged,
        stats.unexpected,
        inconsistent + strays,
    );
    for e in &stats.examples {
        println!("  {e}");
    }
    println!(
        "{result} clicks_verified={} orders_verified={} refunds_verified={} lost={lost} duplicated={duplicated} errors_5xx={server_errors} unexpected={} no_answer={no_answer}",
        v.clicks.acknowledged, v.orders.acknowledged, v.refunds.acknowledged, stats.unexpected
    );
    let ok = lost == 0
        && duplicated == 0
        && server_errors == 0
        && stats.unexpected == 0
        && no_answer == 0
        && strays == 0
        && inconsistent == 0;
    if !ok {
        eprintln!("{mode} run on {backend} FAILED");
        std::process::exit(1);
    }
}
