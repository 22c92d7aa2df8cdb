//! The redirect: 302s with click ids, every click durable, bots and HEADs not counted,
//! paused and pruned links still redirecting.

use crate::helpers::*;
use crate::resources::{campaign, enroll, influencer, spring};
use serde_json::{json, Value};

pub const CHROME: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
pub const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1";

pub struct Setup {
    pub admin: String,
    pub campaign_id: String,
    pub influencer_id: String,
    pub enrollment: Value,
}

impl Setup {
    pub fn code(&self) -> &str {
        self.enrollment["link"]["code"].as_str().unwrap()
    }
    pub fn link_id(&self) -> &str {
        self.enrollment["link"]["id"].as_str().unwrap()
    }
}

pub async fn setup(app: &TestApp) -> Setup {
    let (_, admin) = app.create_brand("Acme").await;
    let c = campaign(app, &admin, spring()).await;
    let campaign_id = c["id"].as_str().unwrap().to_string();
    let influencer_id = influencer(app, &admin, "anna").await;
    let enrollment = enroll(
        app,
        &admin,
        &campaign_id,
        json!({"influencer_id": influencer_id}),
    )
    .await;
    Setup {
        admin,
        campaign_id,
        influencer_id,
        enrollment,
    }
}

pub async fn click(app: &TestApp, code: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.client.get(format!("{}/r/{code}", app.address));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.expect("redirect answered")
}

async fn stats(app: &TestApp, s: &Setup) -> Value {
    let r = app
        .get(&format!("/api/v1/links/{}/stats", s.link_id()), &s.admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

fn counts(v: &Value) -> (i64, i64, i64, i64) {
    (
        v["clicks"].as_i64().unwrap(),
        v["unique_clicks"].as_i64().unwrap(),
        v["bot_clicks"].as_i64().unwrap(),
        v["attributable_clicks"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn a_click_redirects_with_utm_and_a_click_id_and_is_stored() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let r = click(
        &app,
        s.code(),
        &[
            ("user-agent", CHROME),
            ("referer", "https://l.instagram.com/?u=x"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let url = url::Url::parse(&location).unwrap();
    assert_eq!(url.fragment(), Some("top"));
    let params: std::collections::HashMap<String, String> =
        url.query_pairs().into_owned().collect();
    assert_eq!(params["ref"], "ig");
    assert_eq!(params["utm_source"], "anna");
    assert_eq!(params["utm_medium"], "influencer");
    assert_eq!(params["utm_campaign"], "spring-sale");
    let click_id = &params["itk_click"];
    assert_eq!(
        uuid::Uuid::parse_str(click_id).unwrap().get_version_num(),
        7
    );

    assert_eq!(counts(&stats(&app, &s).await), (1, 1, 0, 1));
    let clicks = app
        .get(&format!("/api/v1/links/{}/clicks", s.link_id()), &s.admin)
        .await
        .json();
    let stored = &clicks["items"][0];
    assert_eq!(stored["id"], click_id.as_str());
    assert_eq!(stored["kind"], "human");
    assert_eq!(stored["referrer_host"], "l.instagram.com");
    assert_eq!(stored["device"], "desktop");
    assert_eq!(stored["browser"], "Chrome");
    assert!(stored.get("visitor_hash").is_none() && !clicks.to_string().contains("127.0.0.1"));

    // Every click gets its own id.
    let again = click(&app, s.code(), &[("user-agent", CHROME)]).await;
    assert!(!again.headers()["location"]
        .to_str()
        .unwrap()
        .contains(click_id.as_str()));
}

#[tokio::test]
async fn head_requests_redirect_without_recording() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let r = app
        .client
        .head(format!("{}/r/{}", app.address, s.code()))
        .header("user-agent", CHROME)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 302);
    assert!(!r.headers()["location"]
        .to_str()
        .unwrap()
        .contains("itk_click"));
    assert_eq!(counts(&stats(&app, &s).await), (0, 0, 0, 0));
}

#[tokio::test]
async fn unknown_codes_get_a_small_html_404() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    for code in ["zzzzzzzzzz", "abc", "has%20space", "Zz9Zz9Zz"] {
        let r = click(&app, code, &[("user-agent", CHROME)]).await;
        assert_eq!(r.status(), 404, "{code}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.text().await.unwrap().contains("Link not found"));
    }
    // Asking twice for a missing code is answered from the negative cache, and a real code
    // is unaffected.
    assert_eq!(click(&app, "zzzzzzzzzz", &[]).await.status(), 404);
    assert_eq!(
        click(&app, s.code(), &[("user-agent", CHROME)])
            .await
            .status(),
        302
    );
}

#[tokio::test]
async fn bots_previews_and_prefetches_redirect_but_do_not_count() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let agents = [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0 A",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ];
    for ua in agents {
        let r = click(&app, s.code(), &[("user-agent", ua)]).await;
        assert_eq!(r.status(), 302, "{ua}");
    }
    let r = click(
        &app,
        s.code(),
        &[("user-agent", CHROME), ("sec-purpose", "prefetch")],
    )
    .await;
    assert_eq!(r.status(), 302);
    let r = click(
        &app,
        s.code(),
        &[("user-agent", CHROME), ("purpose", "prefetch")],
    )
    .await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        counts(&stats(&app, &s).await),
        (0, 0, agents.len() as i64 + 2, 0)
    );
    let clicks = app
        .get(&format!("/api/v1/links/{}/clicks", s.link_id()), &s.admin)
        .await
        .json();
    let kinds: Vec<&str> = clicks["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "prefetch").count(), 2);
    assert_eq!(kinds.iter().filter(|k| **k == "bot").count(), agents.len());
}

#[tokio::test]
async fn one_shopper_clicking_five_times_is_one_unique_click() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    for _ in 0..5 {
        click(&app, s.code(), &[("user-agent", IPHONE)]).await;
    }
    assert_eq!(counts(&stats(&app, &s).await), (5, 1, 0, 5));
    click(&app, s.code(), &[("user-agent", CHROME)]).await;
    assert_eq!(counts(&stats(&app, &s).await), (6, 2, 0, 6));
    // Forwarded-for from an untrusted peer is ignored: still the same visitor.
    click(
        &app,
        s.code(),
        &[("user-agent", CHROME), ("x-forwarded-for", "203.0.113.9")],
    )
    .await;
    assert_eq!(counts(&stats(&app, &s).await), (7, 2, 0, 7));
    let days = stats(&app, &s).await["days"].clone();
    assert_eq!(days.as_array().unwrap().len(), 1);
    assert_eq!(days[0]["date"], chrono::Utc::now().date_naive().to_string());
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.trusted_proxies = "127.0.0.1/32".into();
    settings.country_header = Some("CF-IPCountry".into());
    let app = spawn_with(db, settings).await;
    let s = setup(&app).await;
    for ip in ["203.0.113.9", "203.0.113.10", "203.0.113.9"] {
        click(
            &app,
            s.code(),
            &[
                ("user-agent", CHROME),
                ("x-forwarded-for", ip),
                ("cf-ipcountry", "de"),
            ],
        )
        .await;
    }
    assert_eq!(counts(&stats(&app, &s).await), (3, 2, 0, 3));
    let clicks = app
        .get(&format!("/api/v1/links/{}/clicks", s.link_id()), &s.admin)
        .await
        .json();
    assert_eq!(clicks["items"][0]["country"], "DE");
}

#[tokio::test]
async fn paused_links_and_paused_campaigns_still_redirect_without_attribution() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    click(&app, s.code(), &[("user-agent", CHROME)]).await;
    let r = app
        .patch(
            &format!("/api/v1/links/{}", s.link_id()),
            &s.admin,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = click(&app, s.code(), &[("user-agent", CHROME)]).await;
    assert_eq!(r.status(), 302);
    assert_eq!(counts(&stats(&app, &s).await), (2, 1, 0, 1));
    app.patch(
        &format!("/api/v1/links/{}", s.link_id()),
        &s.admin,
        json!({"status": "active"}),
    )
    .await;
    app.patch(
        &format!("/api/v1/campaigns/{}", s.campaign_id),
        &s.admin,
        json!({"status": "paused"}),
    )
    .await;
    assert_eq!(
        click(&app, s.code(), &[("user-agent", CHROME)])
            .await
            .status(),
        302
    );
    assert_eq!(counts(&stats(&app, &s).await), (3, 1, 0, 1));
    let clicks = app
        .get(&format!("/api/v1/links/{}/clicks", s.link_id()), &s.admin)
        .await
        .json();
    let attributable: Vec<bool> = clicks["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["attributable"].as_bool().unwrap())
        .collect();
    assert_eq!(attributable, [false, false, true]);
}

#[tokio::test]
async fn link_changes_reach_the_redirect_at_once() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let first = click(&app, s.code(), &[("user-agent", CHROME)]).await;
    assert!(first.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("https://shop.example/landing"));
    app.patch(
        &format!("/api/v1/campaigns/{}", s.campaign_id),
        &s.admin,
        json!({"destination_url": "https://other.example/new"}),
    )
    .await;
    let second = click(&app, s.code(), &[("user-agent", CHROME)]).await;
    assert!(second.headers()["location"]
        .to_str()
        .unwrap()
        .starts_with("https://other.example/new?utm_source=anna"));
    app.patch(
        &format!("/api/v1/influencers/{}", s.influencer_id),
        &s.admin,
        json!({"handle": "anna_b"}),
    )
    .await;
    let third = click(&app, s.code(), &[("user-agent", CHROME)]).await;
    assert!(third.headers()["location"]
        .to_str()
        .unwrap()
        .contains("utm_source=anna_b"));
}

#[tokio::test]
async fn concurrent_clicks_are_all_stored_exactly_once() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let code = s.code().to_string();
    let mut tasks = Vec::new();
    for i in 0..300 {
        let client = app.client.clone();
        let url = format!("{}/r/{code}", app.address);
        tasks.push(tokio::spawn(async move {
            let ua = format!("{CHROME} visitor/{}", i % 50);
            let r = client
                .get(url)
                .header("user-agent", ua)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 302);
            let location = r.headers()["location"].to_str().unwrap().to_string();
            location
                .split("itk_click=")
                .nth(1)
                .unwrap()
                .split('#')
                .next()
                .unwrap()
                .to_string()
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for t in tasks {
        ids.insert(t.await.unwrap());
    }
    assert_eq!(ids.len(), 300);
    assert_eq!(counts(&stats(&app, &s).await), (300, 50, 0, 300));
    let mut stored = std::collections::HashSet::new();
    let mut path = format!("/api/v1/links/{}/clicks?limit=500", s.link_id());
    loop {
        let page = app.get(&path, &s.admin).await.json();
        for c in page["items"].as_array().unwrap() {
            stored.insert(c["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!(
                    "/api/v1/links/{}/clicks?limit=100&cursor={cursor}",
                    s.link_id()
                )
            }
            None => break,
        }
    }
    assert_eq!(stored, ids);
}

/// A writer holding the main database's write lock (the rollup fold holds it for ~100 ms at
/// 10,000 links; a long batch of orders; an operator's shell) does not hold up the clicks:
/// on SQLite they live in their own file, with their own lock. Each click below is committed
/// and counted while the other transaction still holds the lock (before, the click writer
/// waited behind it and the clicks were answered unrecorded).
#[tokio::test]
async fn clicks_are_committed_while_another_writer_holds_the_lock() {
    use diesel::connection::SimpleConnection;
    let app = spawn_app().await;
    let s = setup(&app).await;
    // The first click of a day stores the day's visitor salt (in the main file).
    click(&app, s.code(), &[("user-agent", IPHONE)]).await;
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let (locked, is_locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut conn = influtrack::db::open_connection(&url).unwrap();
        // A write takes the lock and keeps it until the transaction ends (on PostgreSQL row
        // locks, the click fence's among them: the click inserts do not lock it).
        conn.batch_execute("BEGIN; UPDATE settings SET value = value;")
            .unwrap();
        locked.send(()).unwrap();
        released.recv().unwrap();
        conn.batch_execute("ROLLBACK").unwrap();
    });
    is_locked.recv().unwrap();
    for _ in 0..3 {
        let r = click(&app, s.code(), &[("user-agent", IPHONE)]).await;
        assert_eq!(r.status(), 302);
    }
    let held = counts(&stats(&app, &s).await);
    let metrics = app.metrics().await;
    release.send(()).unwrap();
    holder.join().unwrap();
    assert_eq!(held, (4, 1, 0, 4));
    assert!(
        !metrics
            .text
            .lines()
            .any(|l| l.starts_with("clicks_unrecorded_total{")),
        "a click went unrecorded:\n{}",
        metrics.text
    );
}

#[tokio::test]
async fn redirect_metrics_are_exported() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    click(&app, s.code(), &[("user-agent", CHROME)]).await;
    click(&app, "nothinghere", &[]).await;
    let r = app.metrics().await;
    for name in [
        "redirects_total",
        "click_batch_size",
        "click_commit_seconds",
        "clicks_unrecorded_total",
        "click_queue_depth",
    ] {
        assert!(r.text.contains(name), "{name} missing:\n{}", r.text);
    }
    assert!(r.text.contains("outcome=\"recorded\""));
    assert!(r.text.contains("outcome=\"unknown\""));
}

#[tokio::test]
async fn link_stats_are_scoped_to_the_brand() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (_, other) = app.create_brand("Other").await;
    app.get(&format!("/api/v1/links/{}/stats", s.link_id()), &other)
        .await
        .problem(404);
    app.get(&format!("/api/v1/links/{}/clicks", s.link_id()), &other)
        .await
        .problem(404);
    app.get(
        &format!(
            "/api/v1/links/{}/stats?from=2026-02-01&to=2026-01-01",
            s.link_id()
        ),
        &s.admin,
    )
    .await
    .invalid_field("to");
    app.get(
        &format!("/api/v1/links/{}/stats?from=yesterday", s.link_id()),
        &s.admin,
    )
    .await
    .invalid_field("from");
}

#[tokio::test]
async fn folding_into_rollups_keeps_every_count_exact() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    for _ in 0..5 {
        click(&app, s.code(), &[("user-agent", IPHONE)]).await;
    }
    click(&app, s.code(), &[("user-agent", "Twitterbot/1.0")]).await;
    let before = counts(&stats(&app, &s).await);
    assert_eq!(before, (5, 1, 1, 5));

    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    // Fold everything made so far (every click above was answered, so none is in flight and
    // none below now can be added: what the click fence guarantees the rollup thread).
    let future = chrono::Utc::now().timestamp_micros();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    // In chunks of two clicks, then the rest: the counts never change.
    let first = influtrack::store::rollups::fold(&mut conn, future, 2).unwrap();
    assert_eq!(first, 2);
    assert_eq!(counts(&stats(&app, &s).await), before);
    while influtrack::store::rollups::fold(&mut conn, future, 2).unwrap() > 0 {}
    assert_eq!(counts(&stats(&app, &s).await), before);
    // Folding again finds nothing.
    assert_eq!(
        influtrack::store::rollups::fold(&mut conn, future, 100).unwrap(),
        0
    );

    // A visitor already folded is not unique again; a new one is.
    click(&app, s.code(), &[("user-agent", IPHONE)]).await;
    assert_eq!(counts(&stats(&app, &s).await), (6, 1, 1, 6));
    click(&app, s.code(), &[("user-agent", CHROME)]).await;
    assert_eq!(counts(&stats(&app, &s).await), (7, 2, 1, 7));
    let future = chrono::Utc::now().timestamp_micros();
    influtrack::store::rollups::fold(&mut conn, future, 100).unwrap();
    assert_eq!(counts(&stats(&app, &s).await), (7, 2, 1, 7));
}

/// Folds racing each other (the server's rollup thread, another instance): a fold that finds
/// the watermark moved starts again from it, so each returns 0 only once nothing is left.
#[tokio::test]
async fn a_fold_that_loses_a_race_goes_on_until_nothing_is_left() {
    use diesel::prelude::*;
    use influtrack::db::schema::link_daily;
    let app = spawn_app().await;
    let s = setup(&app).await;
    let clicks: i64 = 24;
    for _ in 0..clicks {
        click(&app, s.code(), &[("user-agent", IPHONE)]).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let future = chrono::Utc::now().timestamp_micros();
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let folders: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            let link_id = s.link_id().to_string();
            std::thread::spawn(move || {
                let mut conn = influtrack::db::open_connection(&url).unwrap();
                while influtrack::store::rollups::fold(&mut conn, future, 3).unwrap() > 0 {}
                // Done means done: every click is in the rollups the moment this one stops.
                let per_day: Vec<i64> = link_daily::table
                    .filter(link_daily::link_id.eq(&link_id))
                    .select(link_daily::clicks)
                    .load(&mut conn)
                    .unwrap();
                per_day.iter().sum::<i64>()
            })
        })
        .collect();
    for f in folders {
        assert_eq!(f.join().unwrap(), clicks);
    }
    assert_eq!(counts(&stats(&app, &s).await).0, clicks);
}

/// A batch of clicks is written in statements of 64, 8 and 1 rows (SQLite) or one array
/// statement (PostgreSQL): every row of an odd-sized batch lands once, with its own values.
#[tokio::test]
async fn a_batch_of_any_size_stores_every_click_once() {
    use influtrack::domain::ids::{
        BrandId, CampaignId, ClickId, EnrollmentId, InfluencerId, LinkId,
    };
    use influtrack::domain::traffic::ClickKind;
    use influtrack::store::clicks::{append, NewClick};
    let app = spawn_app().await;
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    let ids: Vec<ClickId> = (0..64 + 2 * 8 + 3).map(|_| ClickId::new()).collect();
    let (link, brand, campaign, enrollment, influencer) = (
        LinkId::stored("l".into()),
        BrandId::stored("b".into()),
        CampaignId::stored("c".into()),
        EnrollmentId::stored("e".into()),
        InfluencerId::stored("i".into()),
    );
    let hashes: Vec<String> = (0..ids.len()).map(|i| format!("{i:032x}")).collect();
    let rows: Vec<NewClick> = ids
        .iter()
        .zip(&hashes)
        .enumerate()
        .map(|(i, (id, hash))| NewClick {
            id,
            link_id: &link,
            brand_id: &brand,
            campaign_id: &campaign,
            enrollment_id: &enrollment,
            influencer_id: &influencer,
            ts: i as i64,
            visitor_hash: hash,
            kind: ClickKind::Human,
            attributable: i % 2 == 0,
            referrer_host: (i % 3 == 0).then_some("example.com"),
            device: "mobile",
            browser: "Safari",
            os: "iOS",
            country: None,
        })
        .collect();
    append(&mut conn, &rows).unwrap();
    use diesel::prelude::*;
    use influtrack::db::schema::clicks;
    let stored: Vec<(String, i64, String, bool, Option<String>)> = clicks::table
        .order(clicks::ts.asc())
        .select((
            clicks::id,
            clicks::ts,
            clicks::visitor_hash,
            clicks::attributable,
            clicks::referrer_host,
        ))
        .load(&mut conn)
        .unwrap();
    assert_eq!(stored.len(), ids.len());
    for (i, (id, ts, hash, attributable, referrer)) in stored.into_iter().enumerate() {
        assert_eq!(
            (id, ts, hash, attributable, referrer),
            (
                ids[i].to_string(),
                i as i64,
                hashes[i].clone(),
                i % 2 == 0,
                (i % 3 == 0).then(|| "example.com".to_string())
            )
        );
    }
}

/// The click fence: a batch with any id below it is refused whole (the writer then makes new
/// ids above it); at or above it, written. A raise never lowers it. This is what lets the
/// rollups fold every click below the fence at once: none can be added there later.
#[tokio::test]
async fn a_click_batch_below_the_fence_is_refused_whole() {
    use diesel::prelude::*;
    use influtrack::db::schema::clicks;
    use influtrack::domain::ids::{
        BrandId, CampaignId, ClickId, EnrollmentId, InfluencerId, LinkId,
    };
    use influtrack::domain::traffic::ClickKind;
    use influtrack::store::clicks::{append_live, raise_fence, NewClick};
    let app = spawn_app().await;
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    let fence = raise_fence(&mut conn, now).unwrap();
    assert!(fence >= ClickId::floor(now));
    assert_eq!(raise_fence(&mut conn, now - 60_000_000).unwrap(), fence);

    let (link, brand, campaign, enrollment, influencer) = (
        LinkId::stored("l".into()),
        BrandId::stored("b".into()),
        CampaignId::stored("c".into()),
        EnrollmentId::stored("e".into()),
        InfluencerId::stored("i".into()),
    );
    let row = |id| NewClick {
        id,
        link_id: &link,
        brand_id: &brand,
        campaign_id: &campaign,
        enrollment_id: &enrollment,
        influencer_id: &influencer,
        ts: now,
        visitor_hash: "0123456789abcdef0123456789abcdef",
        kind: ClickKind::Human,
        attributable: true,
        referrer_host: None,
        device: "mobile",
        browser: "Safari",
        os: "iOS",
        country: None,
    };
    // Ahead of the fences the test servers' rollup threads raise meanwhile (SQLite's is one
    // per process).
    let above = ClickId::at(now + 60_000_000);
    let below = ClickId::at(now - 5_000);
    let stored = |conn: &mut influtrack::db::AnyConnection| -> i64 {
        clicks::table.count().get_result(conn).unwrap()
    };
    assert!(!append_live(&mut conn, &[row(&above), row(&below)]).unwrap());
    assert_eq!(stored(&mut conn), 0, "a refused batch writes nothing");
    assert!(append_live(&mut conn, &[row(&above)]).unwrap());
    assert_eq!(stored(&mut conn), 1);
    // What the writer asks before writing a batch again after a lost answer.
    use influtrack::store::clicks::stored as already_stored;
    assert!(already_stored(&mut conn, std::slice::from_ref(&above)).unwrap());
    assert!(!already_stored(&mut conn, std::slice::from_ref(&below)).unwrap());
}
