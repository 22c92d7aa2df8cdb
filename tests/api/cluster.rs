//! Several instances on one PostgreSQL: a change made through one reaches the others' redirect
//! caches within a second (NOTIFY), not after their 30-second time to live.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::*;
use crate::orders::click_id;
use crate::redirect::{setup, CHROME};

/// Whether the click `id` of the link was stored as attributable.
async fn attributable(app: &TestApp, admin: &str, link_id: &str, id: &str) -> bool {
    let clicks = app
        .get(&format!("/api/v1/links/{link_id}/clicks"), admin)
        .await
        .json();
    clicks["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .map(|c| c["attributable"].as_bool().unwrap())
        .expect("the click is listed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_paused_on_one_instance_stops_attributing_on_another_within_a_second() {
    let first = spawn_app().await;
    if !first.db.url().starts_with("postgres") {
        // One process serves a SQLite database (a second one refuses to start).
        return;
    }
    let second = spawn_beside(&first).await;
    let s = setup(&first).await;
    // The new link reaches the second instance too (within a moment: until then its code is
    // unknown there, and a click is a 404).
    let created_at = Instant::now();
    while crate::redirect::click(&second, s.code(), &[("user-agent", CHROME)])
        .await
        .status()
        != 302
    {
        assert!(
            created_at.elapsed() < Duration::from_secs(1),
            "the new link is unknown to the second instance after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!(
        "a new link was known to the other instance after {:?}",
        created_at.elapsed()
    );
    // The second instance has the link cached as attributable.
    let id = click_id(&second, s.code(), CHROME).await;
    assert!(attributable(&first, &s.admin, s.link_id(), &id).await);

    let paused_at = Instant::now();
    let r = first
        .patch(
            &format!("/api/v1/links/{}", s.link_id()),
            &s.admin,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(r.status, 200);
    // Clicks through the second instance until one is stored as not attributable.
    let took = loop {
        let id = click_id(&second, s.code(), CHROME).await;
        if !attributable(&first, &s.admin, s.link_id(), &id).await {
            break paused_at.elapsed();
        }
        assert!(
            paused_at.elapsed() < Duration::from_secs(1),
            "the second instance still attributes the paused link after 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    eprintln!("a paused link stopped attributing on the other instance after {took:?}");
    // And back: resumed on the second, attributed again on the first.
    let id = click_id(&first, s.code(), CHROME).await;
    assert!(!attributable(&first, &s.admin, s.link_id(), &id).await);
    second
        .patch(
            &format!("/api/v1/links/{}", s.link_id()),
            &s.admin,
            json!({"status": "active"}),
        )
        .await;
    let resumed_at = Instant::now();
    loop {
        let id = click_id(&first, s.code(), CHROME).await;
        if attributable(&first, &s.admin, s.link_id(), &id).await {
            break;
        }
        assert!(resumed_at.elapsed() < Duration::from_secs(1));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Table maintenance (the stand-in for a missing autovacuum) runs on one instance at a time:
/// while another session holds its lock, an instance skips its turn; once that session ends,
/// it does the work.
#[tokio::test]
async fn table_maintenance_runs_on_one_instance_at_a_time() {
    use diesel::{Connection, PgConnection, RunQueryDsl};
    // The server's own maintenance off (on a PostgreSQL without autovacuum it would take
    // turns too): this test takes the turns itself.
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.pg_maintenance_seconds = 0;
    let app = spawn_with(db, settings).await;
    let url = app.db.url();
    if !url.starts_with("postgres") {
        return;
    }
    let mut conn = PgConnection::establish(&url).unwrap();
    // So that the server's own autovacuum cannot analyze it first.
    diesel::sql_query("ALTER TABLE influencers SET (autovacuum_enabled = false)")
        .execute(&mut conn)
        .unwrap();
    let (_, admin) = app.create_brand("Acme").await;
    for i in 0..60 {
        app.post(
            "/api/v1/influencers",
            &admin,
            serde_json::json!({"handle": format!("h{i}")}),
        )
        .await;
    }
    let mut other = PgConnection::establish(&url).unwrap();
    diesel::sql_query("SELECT pg_advisory_lock(7336003)")
        .execute(&mut other)
        .unwrap();
    let done = influtrack::db::postgres::maintain_postgres(&mut conn).unwrap();
    assert!(
        done.is_empty(),
        "maintained while another instance holds the turn: {done:?}"
    );
    drop(other);
    // The lock went with the other session.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let done = influtrack::db::postgres::maintain_postgres(&mut conn).unwrap();
        if done.iter().any(|t| t == "influencers") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "nothing maintained after the other session ended: {done:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
