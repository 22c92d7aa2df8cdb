//! kill -9 under load: every click whose 302 reached the client is in the database after a
//! restart, and the rollups agree with the raw clicks.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use influtrack::db::schema::clicks;
use serde_json::json;

use crate::helpers::*;
use crate::redirect::CHROME;

pub struct Server {
    pub child: Child,
    pub address: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(db_url: &str) -> Server {
    start_with(db_url, &[], None).await
}

/// Starts the real binary on `db_url` with extra environment; its output goes to `log` (both
/// streams) or nowhere.
pub async fn start_with(db_url: &str, env: &[(&str, &str)], log: Option<&std::fs::File>) -> Server {
    let port = free_port();
    let output = |f: Option<&std::fs::File>| match f {
        Some(f) => Stdio::from(f.try_clone().expect("log file")),
        None => Stdio::null(),
    };
    let child = Command::new(env!("CARGO_BIN_EXE_influtrack"))
        .arg("serve")
        .env("INFLUTRACK_DATABASE_URL", db_url)
        .env("INFLUTRACK_BIND", format!("127.0.0.1:{port}"))
        .env("INFLUTRACK_ADMIN_TOKEN", OPERATOR)
        .env("INFLUTRACK_SECRET_KEY", crate::helpers::SECRET_KEY)
        .env("INFLUTRACK_LOG", "error")
        .env("INFLUTRACK_WORKERS", "2")
        // Tests run servers side by side: each its own metrics port.
        .env("INFLUTRACK_METRICS_BIND", "127.0.0.1:0")
        .envs(env.iter().copied())
        .stdout(output(log))
        .stderr(output(log))
        .spawn()
        .expect("the binary starts");
    let server = Server {
        child,
        address: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = client
            .get(format!("{}/readyz", server.address))
            .send()
            .await
        {
            if r.status() == 200 {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "the server did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A brand made through the API of a server in another process: its admin key, a campaign and
/// one enrolled influencer per handle (each enrollment as answered, with its link).
pub struct Seeded {
    pub brand_id: String,
    pub admin: String,
    pub enrollments: Vec<serde_json::Value>,
}

impl Seeded {
    pub async fn new(client: &reqwest::Client, address: &str, handles: &[&str]) -> Self {
        let post = |path: &str, key: &str, body: serde_json::Value| {
            let request = client
                .post(format!("{address}{path}"))
                .bearer_auth(key)
                .json(&body)
                .send();
            let path = path.to_string();
            async move {
                let r = request.await.unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.status());
                r.json::<serde_json::Value>().await.unwrap()
            }
        };
        let brand = post("/api/v1/brands", OPERATOR, json!({"name": "Acme"})).await;
        let admin = brand["admin_key"].as_str().unwrap().to_string();
        let campaign = post(
            "/api/v1/campaigns",
            &admin,
            json!({"name": "C", "destination_url": "https://shop.example/", "currency": "EUR"}),
        )
        .await;
        let mut enrollments = Vec::new();
        for handle in handles {
            let inf = post("/api/v1/influencers", &admin, json!({"handle": handle})).await;
            let path = format!(
                "/api/v1/campaigns/{}/influencers",
                campaign["id"].as_str().unwrap()
            );
            enrollments.push(post(&path, &admin, json!({"influencer_id": inf["id"]})).await);
        }
        Self {
            brand_id: brand["id"].as_str().unwrap().to_string(),
            admin,
            enrollments,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_click_survives_kill_9() {
    let db = TestDb::new();
    let url = db.url();
    let server = start(&url).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let brand = Seeded::new(&client, &server.address, &["a1", "b2", "c3"]).await;
    let codes: Vec<String> = brand
        .enrollments
        .iter()
        .map(|e| e["link"]["code"].as_str().unwrap().to_string())
        .collect();

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut load = Vec::new();
    for worker in 0..32 {
        let client = client.clone();
        let address = server.address.clone();
        let code = codes[worker % codes.len()].clone();
        let acknowledged = acknowledged.clone();
        load.push(tokio::spawn(async move {
            for i in 0.. {
                let ua = format!("{CHROME} shopper/{}", (worker * 7 + i) % 40);
                let Ok(r) = client
                    .get(format!("{address}/r/{code}"))
                    .header("user-agent", ua)
                    .send()
                    .await
                else {
                    return;
                };
                if r.status() != 302 {
                    return;
                }
                let location = r.headers()["location"].to_str().unwrap();
                let id = location.rsplit("itk_click=").next().unwrap().to_string();
                acknowledged.lock().unwrap().push(id);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut server = server;
    server.child.kill().expect("kill -9");
    server.child.wait().unwrap();
    for task in load {
        task.await.unwrap();
    }
    let acknowledged: Vec<String> = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() > 100,
        "too little load: {}",
        acknowledged.len()
    );

    // Restart on the same database: it opens, and every acknowledged click is there.
    let restarted = start(&url).await;
    let mut conn =
        influtrack::db::open_connection(&influtrack::db::DatabaseUrl::parse(&url).unwrap())
            .unwrap();
    let stored: HashSet<String> = clicks::table
        .select(clicks::id)
        .load(&mut conn)
        .unwrap()
        .into_iter()
        .collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !stored.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged clicks lost",
        missing.len(),
        acknowledged.len()
    );
    let distinct: HashSet<&String> = acknowledged.iter().collect();
    assert_eq!(
        distinct.len(),
        acknowledged.len(),
        "a click id was handed out twice"
    );
    // Counts as the API reports them (rollups plus clicks not yet folded) agree with the raw
    // clicks, link by link.
    let links: Vec<String> = clicks::table
        .select(clicks::link_id)
        .distinct()
        .load(&mut conn)
        .unwrap();
    for link in &links {
        let human: i64 = clicks::table
            .filter(clicks::link_id.eq(link))
            .filter(clicks::kind.eq("human"))
            .count()
            .get_result(&mut conn)
            .unwrap();
        let days = influtrack::store::rollups::daily_for_link(
            &mut conn,
            &influtrack::domain::ids::LinkId::stored(link.clone()),
            i32::MIN,
            i32::MAX,
        )
        .unwrap();
        assert_eq!(
            days.iter().map(|d| d.clicks).sum::<i64>(),
            human,
            "rollups disagree for {link}"
        );
    }
    eprintln!(
        "crash test: {} acknowledged, {} stored, 0 lost",
        acknowledged.len(),
        stored.len()
    );
    drop(restarted);
}
