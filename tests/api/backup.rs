//! `influtrack backup` while clicks and orders pour in, and `influtrack restore`: everything
//! acknowledged before the backup started is in the restored database; a database in use is
//! neither restored over nor served twice.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use influtrack::db::schema::{clicks, orders};
use serde_json::{json, Value};

use crate::cli::influtrack;
use crate::crash::{start_with, Seeded};
use crate::helpers::*;
use crate::redirect::CHROME;

/// Everything acknowledged so far: click ids from the 302s, order ids from the 201s.
#[derive(Default)]
struct Acknowledged {
    clicks: Vec<String>,
    orders: Vec<String>,
}

fn stored(url: &str) -> (HashSet<String>, HashSet<String>) {
    let mut conn =
        influtrack::db::open_connection(&influtrack::db::DatabaseUrl::parse(url).unwrap()).unwrap();
    let c = clicks::table
        .select(clicks::id)
        .load::<String>(&mut conn)
        .unwrap();
    let o = orders::table
        .select(orders::external_id)
        .load::<String>(&mut conn)
        .unwrap();
    (c.into_iter().collect(), o.into_iter().collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_everything_acknowledged_before_it() {
    let db = TestDb::new();
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("influtrack.backup");
    let archive_arg = archive.display().to_string();
    if url.starts_with("postgres") {
        // PostgreSQL's own tools do this; the command says which and how.
        let (ok, _, err) = influtrack(&url, &["backup", &archive_arg]);
        assert!(!ok);
        assert!(err.contains("pg_dump"), "{err}");
        assert!(!archive.exists());
        return;
    }
    // No rate limit: the load is one client.
    let server = start_with(&url, &[("INFLUTRACK_RATE_LIMIT", "0")], None).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, key: &str, body: Value| {
        client
            .post(format!("{}{path}", server.address))
            .bearer_auth(key)
            .json(&body)
            .send()
    };
    let seeded = Seeded::new(&client, &server.address, &["anna"]).await;
    let (brand_id, admin) = (seeded.brand_id.clone(), seeded.admin.clone());
    let key: Value = post(
        &format!("/api/v1/brands/{brand_id}/keys"),
        &admin,
        json!({"scope": "storefront"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let storefront = key["key"].as_str().unwrap().to_string();
    let enrolled = &seeded.enrollments[0];
    let code = enrolled["link"]["code"].as_str().unwrap().to_string();

    // Clicks and orders (each with the click before it) until told to stop.
    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for worker in 0..12 {
        let (client, address, code, storefront) = (
            client.clone(),
            server.address.clone(),
            code.clone(),
            storefront.clone(),
        );
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let r = client
                    .get(format!("{address}/r/{code}"))
                    .header("user-agent", format!("{CHROME} shopper/{worker}-{i}"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 302);
                let location = r.headers()["location"].to_str().unwrap();
                let click = location.rsplit("itk_click=").next().unwrap().to_string();
                acknowledged.lock().unwrap().clicks.push(click.clone());
                if i % 4 == 0 {
                    let order_id = format!("w{worker}-{i}");
                    let r = client
                        .post(format!("{address}/api/v1/orders"))
                        .bearer_auth(&storefront)
                        .json(
                            &json!({"order_id": order_id, "amount": "12.50", "currency": "EUR",
                                      "click_ids": [click]}),
                        )
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 201);
                    acknowledged.lock().unwrap().orders.push(order_id);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // What was acknowledged before the backup starts must all be in it.
    let before = {
        let a = acknowledged.lock().unwrap();
        (a.clicks.clone(), a.orders.clone())
    };
    let (backup_url, backup_file) = (url.clone(), archive_arg.clone());
    let (ok, out, err) =
        tokio::task::spawn_blocking(move || influtrack(&backup_url, &["backup", &backup_file]))
            .await
            .unwrap();
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["format"], 1);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }
    assert!(
        before.0.len() > 50 && before.1.len() > 10,
        "too little load"
    );
    // The load went on during the backup.
    assert!(acknowledged.lock().unwrap().clicks.len() > before.0.len());

    // The same file again is refused (a backup is never overwritten).
    let (ok, _, err) = influtrack(&url, &["backup", &archive_arg]);
    assert!(!ok && err.contains("exists"), "{err}");
    // Neither a restore over the database nor a second server on it while it serves.
    let (ok, _, err) = influtrack(&url, &["restore", &archive_arg]);
    assert!(!ok && err.contains("in use"), "{err}");
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_influtrack"))
        .arg("serve")
        .env("INFLUTRACK_DATABASE_URL", &url)
        .env("INFLUTRACK_BIND", "127.0.0.1:0")
        .env("INFLUTRACK_METRICS_BIND", "127.0.0.1:0")
        .env("INFLUTRACK_LOG", "error")
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("in use"));

    // Restored elsewhere: every click and order acknowledged before the backup is there.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored = restored_dir
        .path()
        .join("restored.db")
        .display()
        .to_string();
    let (ok, out, err) = influtrack(&restored, &["restore", &archive_arg]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["moved_aside"], json!([]));
    let (clicks, orders) = stored(&restored);
    let lost_clicks = before.0.iter().filter(|c| !clicks.contains(*c)).count();
    let lost_orders = before.1.iter().filter(|o| !orders.contains(*o)).count();
    assert_eq!(
        (lost_clicks, lost_orders),
        (0, 0),
        "of {} clicks and {} orders acknowledged before the backup",
        before.0.len(),
        before.1.len()
    );
    assert_eq!(report["clicks"].as_i64().unwrap(), clicks.len() as i64);
    eprintln!(
        "backup test: {} clicks and {} orders acknowledged before the backup, all restored \
         ({} and {} in the archive)",
        before.0.len(),
        before.1.len(),
        clicks.len(),
        orders.len()
    );
    assert_eq!(report["orders"].as_i64().unwrap(), orders.len() as i64);

    // The restored database serves, and its report counts the restored clicks.
    let restarted = start_with(&restored, &[], None).await;
    let r = client
        .get(format!(
            "{}/api/v1/links/{}",
            restarted.address,
            enrolled["link"]["id"].as_str().unwrap()
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(restarted);
    // Restored over a database at rest: its files are kept aside, not deleted.
    let (ok, out, err) = influtrack(&restored, &["restore", &archive_arg]);
    assert!(ok, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let aside = report["moved_aside"].as_array().unwrap();
    assert!(aside.len() >= 2, "{report}");
    for path in aside {
        assert!(std::path::Path::new(path.as_str().unwrap()).exists());
    }
    // Not a backup: refused, and nothing moved.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"not a tar").unwrap();
    let (ok, _, err) = influtrack(&restored, &["restore", &junk.display().to_string()]);
    assert!(!ok && err.contains("not an influtrack backup"), "{err}");
    let (clicks_after, _) = stored(&restored);
    assert_eq!(clicks_after, clicks);
}
