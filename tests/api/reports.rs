//! Reports on a campaign whose figures were worked out by hand beforehand.

use crate::helpers::*;
use crate::orders::click_id;
use crate::redirect::{CHROME, IPHONE};
use serde_json::{json, Value};

/// Spring Sale (EUR, linear, code priority, goal 1,000.00 net revenue, running from 10 days ago
/// to 10 days ahead):
/// - anna: fee 100.00, commission 10%; clicks 3 × Chrome + 1 × iPhone (4 clicks, 2 unique)
/// - ben: fee 50.00, commission 20%; clicks 2 × Chrome (2 clicks, 1 unique)
/// - cleo: no fee, no commission; one bot click (0 clicks)
///
/// Orders: o1 100.00 with ANNA's code; o2 60.00 with anna's then ben's click; o3 40.00 with
/// BEN's code, 10.00 of it refunded.
struct Fixture {
    brand_id: String,
    admin: String,
    storefront: String,
    campaign_id: String,
    ids: Vec<String>,
    anna_click: String,
}

async fn fixture(app: &TestApp) -> Fixture {
    let (brand_id, admin) = app.create_brand("Acme").await;
    let (_, storefront) = app
        .create_key(&brand_id, &admin, json!({"scope": "storefront"}))
        .await;
    let now = chrono::Utc::now();
    let r = app
        .post(
            "/api/v1/campaigns",
            &admin,
            json!({
                "name": "Spring Sale",
                "destination_url": "https://shop.example/spring",
                "currency": "EUR",
                "attribution": {"model": "linear", "code_priority": true},
                "goal": {"metric": "net_revenue", "target": "1000"},
                "starts_at": (now - chrono::Duration::days(10)).to_rfc3339(),
                "ends_at": (now + chrono::Duration::days(10)).to_rfc3339(),
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let campaign_id = r.json()["id"].as_str().unwrap().to_string();
    let mut ids = Vec::new();
    let mut links = Vec::new();
    for (handle, fee, rate) in [
        ("anna", "100", "0.10"),
        ("ben", "50", "0.20"),
        ("cleo", "0", "0"),
    ] {
        let r = app
            .post("/api/v1/influencers", &admin, json!({"handle": handle}))
            .await;
        let id = r.json()["id"].as_str().unwrap().to_string();
        let r = app
            .post(
                &format!("/api/v1/campaigns/{campaign_id}/influencers"),
                &admin,
                json!({"influencer_id": id, "fee": fee, "commission_rate": rate,
                       "code": handle.to_uppercase(),
                       "goal": {"metric": "conversions", "target": 2}}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        links.push(r.json()["link"]["code"].as_str().unwrap().to_string());
        ids.push(id);
    }
    let anna_click = click_id(app, &links[0], CHROME).await;
    click_id(app, &links[0], CHROME).await;
    click_id(app, &links[0], CHROME).await;
    click_id(app, &links[0], IPHONE).await;
    let ben_click = click_id(app, &links[1], CHROME).await;
    click_id(app, &links[1], CHROME).await;
    click_id(app, &links[2], "Mozilla/5.0 (compatible; Googlebot/2.1)").await;
    for body in [
        json!({"order_id": "o1", "amount": "100.00", "currency": "EUR", "discount_codes": ["anna"]}),
        json!({"order_id": "o2", "amount": "60.00", "currency": "EUR", "click_ids": [anna_click, ben_click]}),
        json!({"order_id": "o3", "amount": "40.00", "currency": "EUR", "discount_codes": ["BEN"]}),
    ] {
        let r = app.post("/api/v1/orders", &storefront, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = app
        .post(
            "/api/v1/orders/o3/refunds",
            &storefront,
            json!({"refund_id": "r3", "amount": "10.00"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    Fixture {
        brand_id,
        admin,
        storefront,
        campaign_id,
        ids,
        anna_click,
    }
}

fn by_handle<'a>(board: &'a Value, handle: &str) -> &'a Value {
    board["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["handle"] == handle)
        .unwrap_or_else(|| panic!("{handle} in {board}"))
}

#[tokio::test]
async fn the_leaderboard_matches_the_hand_worked_figures_under_each_model() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let path = format!("/api/v1/campaigns/{}/leaderboard", f.campaign_id);
    let r = app.get(&path, &f.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["model"], "linear");
    let handles: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["anna", "ben", "cleo"], "sorted by net revenue");
    let anna = by_handle(&b, "anna");
    assert_eq!(anna["rank"], 1);
    assert_eq!(
        (anna["clicks"].as_i64(), anna["unique_clicks"].as_i64()),
        (Some(4), Some(2))
    );
    assert_eq!(anna["conversions"], 1.5);
    assert_eq!(
        (anna["orders"].as_i64(), anna["redemptions"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(anna["gross_revenue"], "130.00");
    assert_eq!(anna["refunds"], "0.00");
    assert_eq!(anna["net_revenue"], "130.00");
    assert_eq!(anna["commission"], "13.00");
    assert_eq!(anna["cost"], "113.00");
    assert_eq!(anna["roi"], 0.150442);
    assert_eq!(anna["roas"], 1.150442);
    assert_eq!(anna["cpc"], "28.25");
    assert_eq!(anna["cpa"], "75.3333");
    assert_eq!(anna["epc"], "32.50");
    assert_eq!(anna["aov"], "86.6667");
    assert_eq!(anna["conversion_rate"], 0.75);
    let ben = by_handle(&b, "ben");
    assert_eq!(
        (ben["clicks"].as_i64(), ben["unique_clicks"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(ben["gross_revenue"], "70.00");
    assert_eq!(ben["refunds"], "10.00");
    assert_eq!(ben["net_revenue"], "60.00");
    assert_eq!(ben["cost"], "62.00");
    assert_eq!(ben["roi"], -0.032258);
    assert_eq!(ben["conversions"], 1.5);
    let cleo = by_handle(&b, "cleo");
    assert_eq!(
        (cleo["clicks"].as_i64(), cleo["bot_clicks"].as_i64()),
        (Some(0), Some(1))
    );
    assert_eq!(cleo["cost"], "0.00");
    for k in [
        "roi",
        "roas",
        "cpc",
        "cpa",
        "epc",
        "aov",
        "conversion_rate",
        "ctr",
    ] {
        assert_eq!(cleo[k], Value::Null, "{k} of nothing is null");
    }

    // The same orders under last click: o2 goes to ben (the later click).
    let b = app
        .get(&format!("{path}?model=last_click"), &f.admin)
        .await
        .json();
    assert_eq!(b["model"], "last_click");
    assert_eq!(by_handle(&b, "anna")["net_revenue"], "100.00");
    assert_eq!(by_handle(&b, "ben")["net_revenue"], "90.00");
    assert_eq!(by_handle(&b, "ben")["cost"], "68.00");
    assert_eq!(by_handle(&b, "ben")["conversions"], 2.0);
    // And under first click: o2 goes to anna.
    let b = app
        .get(&format!("{path}?model=first_click"), &f.admin)
        .await
        .json();
    assert_eq!(by_handle(&b, "anna")["net_revenue"], "160.00");
    assert_eq!(by_handle(&b, "ben")["net_revenue"], "30.00");

    // Ascending ROI: nulls last; min_clicks filters.
    let b = app
        .get(&format!("{path}?sort=roi&order=asc"), &f.admin)
        .await
        .json();
    let order: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["handle"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["ben", "anna", "cleo"]);
    let b = app
        .get(&format!("{path}?min_clicks=3"), &f.admin)
        .await
        .json();
    assert_eq!(b["items"].as_array().unwrap().len(), 1);
    // A window after today has no orders and no clicks.
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let b = app
        .get(&format!("{path}?from={tomorrow}"), &f.admin)
        .await
        .json();
    assert_eq!(by_handle(&b, "anna")["net_revenue"], "0.00");
    assert_eq!(by_handle(&b, "anna")["clicks"], 0);
    assert_eq!(
        by_handle(&b, "anna")["cost"],
        "100.00",
        "the fee is a cost whatever the window"
    );

    // Bad parameters name themselves.
    for (q, field) in [
        ("sort=magic", "sort"),
        ("order=up", "order"),
        ("model=random", "model"),
        ("min_clicks=-1", "min_clicks"),
        ("from=yesterday", "from"),
        ("from=2026-05-02&to=2026-05-01", "to"),
        ("surprise=1", "surprise"),
    ] {
        app.get(&format!("{path}?{q}"), &f.admin)
            .await
            .invalid_field(field);
    }
}

#[tokio::test]
async fn the_leaderboard_as_csv_has_the_same_rows() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let path = format!(
        "/api/v1/campaigns/{}/leaderboard?sort=clicks",
        f.campaign_id
    );
    let json = app.get(&path, &f.admin).await.json();
    let r = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(&f.admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let text = r.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        &header[..5],
        ["rank", "enrollment_id", "influencer_id", "handle", "status"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 3);
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (row, item) in rows.iter().zip(json["items"].as_array().unwrap()) {
        assert_eq!(&row[col("handle")], item["handle"].as_str().unwrap());
        assert_eq!(
            &row[col("net_revenue")],
            item["net_revenue"].as_str().unwrap()
        );
        assert_eq!(
            row[col("clicks")].parse::<i64>().unwrap(),
            item["clicks"].as_i64().unwrap()
        );
        match item["roi"].as_f64() {
            Some(roi) => assert_eq!(row[col("roi")].parse::<f64>().unwrap(), roi),
            None => assert_eq!(&row[col("roi")], ""),
        }
    }
    // Nothing needed quoting: no thousands separators, no commas inside a value.
    assert!(!text.contains('"'), "{text}");
}

#[tokio::test]
async fn the_report_has_totals_goal_pace_and_the_paid_organic_split() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let base = format!("/api/v1/campaigns/{}", f.campaign_id);
    // Posts: anna's paid post, updated with its latest figures; ben's organic one.
    let post = |url: &str, paid: bool, impressions: i64| {
        json!({"post_url": url, "platform": "instagram", "paid": paid, "reach": impressions / 2,
               "impressions": impressions, "likes": 50, "comments": 10, "shares": 5, "saves": 5})
    };
    let anna_posts = format!("{base}/influencers/{}/posts", f.ids[0]);
    let r = app
        .post(
            &anna_posts,
            &f.admin,
            post("https://instagram.com/p/a1", true, 500),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = app
        .post(
            &anna_posts,
            &f.admin,
            post("https://instagram.com/p/a1", true, 1000),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["impressions"], 1000);
    let r = app
        .post(
            &format!("{base}/influencers/{}/posts", f.ids[1]),
            &f.admin,
            post("https://instagram.com/p/b1", false, 2000),
        )
        .await;
    assert_eq!(r.status, 201);
    app.post(
        &anna_posts,
        &f.admin,
        json!({"post_url": "nope", "platform": "ig"}),
    )
    .await
    .invalid_field("post_url");
    app.post(
        &anna_posts,
        &f.admin,
        json!({"post_url": "https://x.example/p", "platform": "ig", "likes": -1}),
    )
    .await
    .invalid_field("likes");

    let r = app.get(&format!("{base}/report"), &f.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rep = r.json();
    let t = &rep["totals"];
    assert_eq!(
        (t["clicks"].as_i64(), t["unique_clicks"].as_i64()),
        (Some(6), Some(3))
    );
    assert_eq!(t["conversions"], 3.0);
    assert_eq!(t["gross_revenue"], "200.00");
    assert_eq!(t["refunds"], "10.00");
    assert_eq!(t["net_revenue"], "190.00");
    assert_eq!(t["cost"], "175.00");
    assert_eq!(t["roi"], 0.085714);
    assert_eq!(t["impressions"], 3000);
    assert_eq!(t["ctr"], 0.002);
    assert_eq!(t["engagement_rate"], round6(140.0 / 3000.0));
    assert_eq!(rep["goal"]["target"], "1000.00");
    assert_eq!(rep["goal"]["actual"], "190.00");
    assert_eq!(rep["goal"]["progress"], 0.19);
    let elapsed = rep["pace"]["elapsed"].as_f64().unwrap();
    assert!((0.49..0.51).contains(&elapsed), "{elapsed}");
    assert_eq!(rep["pace"]["on_track"], false);
    let anna = rep["influencers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["handle"] == "anna")
        .unwrap();
    assert_eq!(anna["goal"]["metric"], "conversions");
    assert_eq!(anna["goal"]["progress"], 0.75);
    assert_eq!(rep["paid_vs_organic"]["paid"]["impressions"], 1000);
    assert_eq!(rep["paid_vs_organic"]["organic"]["impressions"], 2000);
    assert_eq!(rep["paid_vs_organic"]["paid"]["engagement_rate"], 0.07);
    // Anna's CTR and CPM from her post: 4 / 1,000; 113.00 per 1,000 impressions.
    let b = app
        .get(&format!("{base}/leaderboard"), &f.admin)
        .await
        .json();
    assert_eq!(by_handle(&b, "anna")["ctr"], 0.004);
    assert_eq!(by_handle(&b, "anna")["cpm"], "113.00");
    assert_eq!(by_handle(&b, "anna")["engagement_rate_by_reach"], 0.14);
    // Under last click the totals are the same money split differently.
    let rep = app
        .get(&format!("{base}/report?model=last_click"), &f.admin)
        .await
        .json();
    assert_eq!(rep["totals"]["net_revenue"], "190.00");
    assert_eq!(rep["totals"]["cost"], "178.00");
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[tokio::test]
async fn timeseries_and_funnel_add_up_to_the_totals() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let base = format!("/api/v1/campaigns/{}", f.campaign_id);
    for (id, kind) in [
        ("e1", "landing_view"),
        ("e2", "landing_view"),
        ("e3", "add_to_cart"),
    ] {
        let r = app
            .post(
                "/api/v1/events",
                &f.storefront,
                json!({"event_id": id, "type": kind, "click_id": f.anna_click}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = app
        .get(
            &format!(
                "{base}/timeseries?interval=day&metrics=clicks,net_revenue,conversions,orders"
            ),
            &f.admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ts = r.json();
    let buckets = ts["buckets"].as_array().unwrap();
    assert!(
        buckets.len() >= 10,
        "from the campaign's start: {}",
        buckets.len()
    );
    let clicks: i64 = buckets.iter().map(|b| b["clicks"].as_i64().unwrap()).sum();
    let net: f64 = buckets
        .iter()
        .map(|b| b["net_revenue"].as_str().unwrap().parse::<f64>().unwrap())
        .sum();
    let conversions: f64 = buckets
        .iter()
        .map(|b| b["conversions"].as_f64().unwrap())
        .sum();
    assert_eq!(clicks, 6);
    assert_eq!(net, 190.0);
    assert_eq!(conversions, 3.0);
    // Hours and a time zone: bucket starts carry the zone's offset.
    let r = app
        .get(
            &format!("{base}/timeseries?interval=hour&tz=Europe/Berlin&metrics=clicks"),
            &f.admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ts = r.json();
    let first = ts["buckets"][0]["start"].as_str().unwrap();
    assert!(
        first.ends_with("+01:00") || first.ends_with("+02:00"),
        "{first}"
    );
    let clicks: i64 = ts["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["clicks"].as_i64().unwrap())
        .sum();
    assert_eq!(clicks, 6);
    for (q, field) in [
        ("interval=minute", "interval"),
        ("tz=Mars/Olympus", "tz"),
        ("metrics=clicks,vibes", "metrics"),
        ("interval=hour&from=2000-01-01", "interval"),
    ] {
        app.get(&format!("{base}/timeseries?{q}"), &f.admin)
            .await
            .invalid_field(field);
    }

    let r = app.get(&format!("{base}/funnel"), &f.admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let funnel = r.json();
    let stages: Vec<(String, f64)> = funnel["total"]["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().unwrap().to_string(),
                s["count"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(stages[0], ("clicks".to_string(), 6.0));
    assert_eq!(stages[1], ("landing_view".to_string(), 2.0));
    assert_eq!(stages[5], ("add_to_cart".to_string(), 1.0));
    assert_eq!(
        stages[7],
        ("orders".to_string(), 4.0),
        "anna 2 + ben 2 (o2 credits both)"
    );
    assert_eq!(
        funnel["total"]["stages"][1]["step_conversion"],
        round6(2.0 / 6.0)
    );
    assert_eq!(funnel["total"]["stages"][2]["step_conversion"], 0.0);
    assert_eq!(funnel["total"]["stages"][3]["step_conversion"], Value::Null);
}

#[tokio::test]
async fn reports_are_the_brands_and_each_influencer_sees_only_itself() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let base = format!("/api/v1/campaigns/{}", f.campaign_id);
    let routes = ["leaderboard", "report", "timeseries", "funnel"];
    let (other_brand, other_admin) = app.create_brand("Other").await;
    let _ = other_brand;
    for r in routes {
        app.get(&format!("{base}/{r}"), &other_admin)
            .await
            .problem(404);
        assert_eq!(
            app.get(&format!("{base}/{r}"), &f.storefront).await.status,
            403,
            "{r}"
        );
        app.get(
            &format!("/api/v1/campaigns/{}/{r}", uuid::Uuid::now_v7()),
            &f.admin,
        )
        .await
        .problem(404);
    }
    let (_, read) = app
        .create_key(&f.brand_id, &f.admin, json!({"scope": "read"}))
        .await;
    assert_eq!(
        app.get(&format!("{base}/leaderboard"), &read).await.status,
        200
    );
    let (_, anna) = app
        .create_key(
            &f.brand_id,
            &f.admin,
            json!({"scope": "influencer", "influencer_id": f.ids[0]}),
        )
        .await;
    let b = app.get(&format!("{base}/leaderboard"), &anna).await.json();
    let handles: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["handle"].as_str().unwrap())
        .collect();
    assert_eq!(handles, ["anna"]);
    let rep = app.get(&format!("{base}/report"), &anna).await.json();
    assert_eq!(
        rep["totals"]["net_revenue"], "130.00",
        "her own figures only"
    );
    assert_eq!(rep["influencers"].as_array().unwrap().len(), 1);
    // Posting metrics is the brand's job.
    let post = json!({"post_url": "https://instagram.com/p/x", "platform": "instagram"});
    let posts = format!("{base}/influencers/{}/posts", f.ids[0]);
    assert_eq!(app.post(&posts, &anna, post.clone()).await.status, 403);
    assert_eq!(app.post(&posts, &read, post.clone()).await.status, 403);
    app.post(&posts, &other_admin, post).await.problem(404);
    // An influencer of another campaign sees nothing of this one.
    let r = app
        .post("/api/v1/influencers", &f.admin, json!({"handle": "zed"}))
        .await;
    let zed = r.json()["id"].as_str().unwrap().to_string();
    let (_, zed_key) = app
        .create_key(
            &f.brand_id,
            &f.admin,
            json!({"scope": "influencer", "influencer_id": zed}),
        )
        .await;
    app.get(&format!("{base}/leaderboard"), &zed_key)
        .await
        .problem(404);
}

#[tokio::test]
async fn figures_do_not_change_when_clicks_are_folded_into_rollups() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let base = format!("/api/v1/campaigns/{}", f.campaign_id);
    let board = format!("{base}/leaderboard");
    let series = format!("{base}/timeseries?interval=hour&metrics=clicks");
    let before = (
        app.get(&board, &f.admin).await.json()["items"].clone(),
        app.get(&series, &f.admin).await.json()["buckets"].clone(),
    );
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    // Part of the clicks, then the rest.
    assert_eq!(
        influtrack::store::rollups::fold(&mut conn, now, 3).unwrap(),
        3
    );
    assert_eq!(app.get(&board, &f.admin).await.json()["items"], before.0);
    while influtrack::store::rollups::fold(&mut conn, now, 3).unwrap() > 0 {}
    assert_eq!(app.get(&board, &f.admin).await.json()["items"], before.0);
    assert_eq!(app.get(&series, &f.admin).await.json()["buckets"], before.1);
}

#[tokio::test]
async fn refunds_split_over_credits_add_up_exactly() {
    let app = spawn_app().await;
    let s = crate::orders::shop(&app, json!({"model": "linear"}), &["anna", "ben", "cleo"]).await;
    let mut clicks = Vec::new();
    for i in 0..3 {
        clicks.push(click_id(&app, s.link(i), CHROME).await);
    }
    let r = app
        .post(
            "/api/v1/orders",
            &s.storefront,
            json!({"order_id": "L-1", "amount": "100.00", "currency": "EUR", "click_ids": clicks}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let board = format!("/api/v1/campaigns/{}/leaderboard", s.campaign_id);
    let refunds = |b: &Value| -> i64 {
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (r["refunds"].as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64
            })
            .sum()
    };
    // One cent refunded: one credit carries it, none is lost to rounding.
    let r = app
        .post(
            "/api/v1/orders/L-1/refunds",
            &s.storefront,
            json!({"refund_id": "c", "amount": "0.01"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    for model in [
        "",
        "?model=linear",
        "?model=last_click",
        "?model=time_decay",
    ] {
        assert_eq!(
            refunds(&app.get(&format!("{board}{model}"), &s.admin).await.json()),
            1,
            "{model}"
        );
    }
    // Half of it: 50.00 in all, not 50.01.
    let r = app
        .post(
            "/api/v1/orders/L-1/refunds",
            &s.storefront,
            json!({"refund_id": "h", "amount": "49.99"}),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(refunds(&app.get(&board, &s.admin).await.json()), 5_000);
    // All of it: every credit nets exactly zero.
    let r = app
        .post(
            "/api/v1/orders/L-1/refunds",
            &s.storefront,
            json!({"refund_id": "a", "amount": "50.00"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let b = app
        .get(&format!("{board}?model=position_based"), &s.admin)
        .await
        .json();
    assert!(
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["net_revenue"] == "0.00"),
        "{b}"
    );
    let b = app.get(&board, &s.admin).await.json();
    assert!(
        b["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["net_revenue"] == "0.00"),
        "{b}"
    );
}

#[tokio::test]
async fn an_order_touching_two_campaigns_is_counted_once_by_default() {
    let app = spawn_app().await;
    let s = crate::orders::shop(&app, json!({"model": "linear"}), &["anna"]).await;
    // A second campaign of the same brand, last click, with ben.
    let r = app
        .post(
            "/api/v1/campaigns",
            &s.admin,
            json!({"name": "Autumn", "destination_url": "https://shop.example/autumn",
                   "currency": "EUR", "attribution": {"model": "last_click", "code_priority": false}}),
        )
        .await;
    let autumn = r.json()["id"].as_str().unwrap().to_string();
    let ben = app
        .post("/api/v1/influencers", &s.admin, json!({"handle": "ben"}))
        .await
        .json();
    let e = app
        .post(
            &format!("/api/v1/campaigns/{autumn}/influencers"),
            &s.admin,
            json!({"influencer_id": ben["id"]}),
        )
        .await
        .json();
    let a = click_id(&app, s.link(0), CHROME).await;
    let b = click_id(&app, e["link"]["code"].as_str().unwrap(), CHROME).await;
    let r = app
        .post(
            "/api/v1/orders",
            &s.storefront,
            json!({"order_id": "X-1", "amount": "90.00", "currency": "EUR", "click_ids": [a, b]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let decided: f64 = r.json()["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["credited_amount"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        })
        .sum();
    assert_eq!(decided, 90.0);
    let net = |campaign: &str, q: &str| {
        let app = &app;
        let admin = s.admin.clone();
        let path = format!("/api/v1/campaigns/{campaign}/report{q}");
        async move {
            app.get(&path, &admin).await.json()["totals"]["net_revenue"]
                .as_str()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        }
    };
    // As decided: the two campaigns' reports add up to the order, never more.
    assert_eq!(net(&s.campaign_id, "").await + net(&autumn, "").await, 90.0);
    // Under one model for both, too.
    for q in ["?model=linear", "?model=last_click", "?model=first_click"] {
        assert_eq!(
            net(&s.campaign_id, q).await + net(&autumn, q).await,
            90.0,
            "{q}"
        );
    }
}

#[tokio::test]
async fn hourly_buckets_follow_the_zone_through_a_dst_change() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    // Europe/Berlin leaves summer time at 01:00Z on 2026-10-25: 02:00 local happens twice.
    let r = app
        .get(
            &format!(
                "/api/v1/campaigns/{}/timeseries?interval=hour&tz=Europe/Berlin&metrics=clicks&from=2026-10-24T22:00:00Z&to=2026-10-25T03:00:00Z",
                f.campaign_id
            ),
            &f.admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let starts: Vec<String> = r.json()["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-10-25T00:00:00+02:00",
            "2026-10-25T01:00:00+02:00",
            "2026-10-25T02:00:00+02:00",
            "2026-10-25T02:00:00+01:00",
            "2026-10-25T03:00:00+01:00",
        ]
    );
    // Days in a zone: a date is local midnight; the last date is included.
    let r = app
        .get(
            &format!(
                "/api/v1/campaigns/{}/timeseries?interval=day&tz=America/New_York&from=2026-10-24&to=2026-10-25",
                f.campaign_id
            ),
            &f.admin,
        )
        .await;
    let starts: Vec<String> = r.json()["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["start"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        starts,
        ["2026-10-24T00:00:00-04:00", "2026-10-25T00:00:00-04:00"]
    );
    // JSON unless CSV is preferred.
    let r = app
        .client
        .get(format!(
            "{}/api/v1/campaigns/{}/leaderboard",
            app.address, f.campaign_id
        ))
        .bearer_auth(&f.admin)
        .header("accept", "application/json, text/csv;q=0.1")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}

/// Without a date window the reports read the all-time totals per enrollment; with a window
/// they add up the daily rollups. Both must give the same figures for a window that holds
/// every day, under every model, after clicks were folded and orders refunded.
#[tokio::test]
async fn all_time_totals_equal_the_sum_of_every_day() {
    let app = spawn_app().await;
    let f = fixture(&app).await;
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    let now = chrono::Utc::now().timestamp_micros();
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    while influtrack::store::rollups::fold(&mut conn, now, 2).unwrap() > 0 {}
    for model in [
        "",
        "&model=last_click",
        "&model=first_click",
        "&model=time_decay",
    ] {
        let path = format!(
            "/api/v1/campaigns/{}/leaderboard?sort=clicks{model}",
            f.campaign_id
        );
        let all = app.get(&path, &f.admin).await.json();
        let windowed = app
            .get(&format!("{path}&from=2000-01-01&to=2100-01-01"), &f.admin)
            .await
            .json();
        assert!(!all["items"].as_array().unwrap().is_empty());
        assert_eq!(all["items"], windowed["items"], "model {model}");
    }
}
