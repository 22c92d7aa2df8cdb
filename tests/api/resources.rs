//! Influencers, campaigns, enrollments, links and discount codes: as a brand sets them up.

use crate::helpers::*;
use serde_json::{json, Value};

pub async fn influencer(app: &TestApp, key: &str, handle: &str) -> String {
    let r = app
        .post(
            "/api/v1/influencers",
            key,
            json!({"handle": handle, "display_name": handle}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_string()
}

pub async fn campaign(app: &TestApp, key: &str, body: Value) -> Value {
    let r = app.post("/api/v1/campaigns", key, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

pub fn spring() -> Value {
    json!({
        "name": "Spring Sale",
        "destination_url": "https://shop.example/landing?ref=ig#top",
        "currency": "EUR",
    })
}

pub async fn enroll(app: &TestApp, key: &str, campaign_id: &str, body: Value) -> Value {
    let r = app
        .post(
            &format!("/api/v1/campaigns/{campaign_id}/influencers"),
            key,
            body,
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn influencers_are_created_listed_filtered_updated_and_deleted() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Acme").await;
    let r = app
        .post(
            "/api/v1/influencers",
            &admin,
            json!({
                "handle": "@Anna.Beauty",
                "display_name": "Anna",
                "email": "anna@example.com",
                "platforms": [{"platform": "Instagram", "handle": "anna.beauty", "followers": 120000}],
                "tags": ["Beauty", "micro"],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let anna = r.json();
    assert_eq!(anna["handle"], "Anna.Beauty");
    assert_eq!(anna["platforms"][0]["platform"], "instagram");
    assert_eq!(anna["platforms"][0]["followers"], 120000);
    assert_eq!(anna["tags"], json!(["beauty", "micro"]));
    let anna_id = anna["id"].as_str().unwrap().to_string();
    let ben = influencer(&app, &admin, "ben_fit").await;
    app.post(
        "/api/v1/influencers",
        &admin,
        json!({"handle": "cara", "platforms": [{"platform": "tiktok", "handle": "cara"}], "tags": ["beauty"]}),
    )
    .await;

    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["handle"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(app.get("/api/v1/influencers", &admin).await.json()),
        ["Anna.Beauty", "ben_fit", "cara"]
    );
    assert_eq!(
        names(
            app.get("/api/v1/influencers?tag=BEAUTY", &admin)
                .await
                .json()
        ),
        ["Anna.Beauty", "cara"]
    );
    assert_eq!(
        names(
            app.get("/api/v1/influencers?platform=tiktok", &admin)
                .await
                .json()
        ),
        ["cara"]
    );
    assert_eq!(
        names(app.get("/api/v1/influencers?q=BEN", &admin).await.json()),
        ["ben_fit"]
    );
    assert_eq!(
        names(app.get("/api/v1/influencers?q=_", &admin).await.json()),
        ["ben_fit"]
    );
    let page = app.get("/api/v1/influencers?limit=2", &admin).await.json();
    assert_eq!(names(page.clone()).len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/v1/influencers?limit=2&cursor={cursor}"),
            &admin,
        )
        .await
        .json();
    assert_eq!(names(rest.clone()), ["cara"]);
    assert!(rest["next_cursor"].is_null());

    let r = app
        .patch(
            &format!("/api/v1/influencers/{anna_id}"),
            &admin,
            json!({"display_name": "Anna B.", "email": null, "tags": []}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let patched = r.json();
    assert_eq!(
        (patched["display_name"].as_str(), patched["email"].is_null()),
        (Some("Anna B."), true)
    );
    assert_eq!(patched["tags"], json!([]));
    assert_eq!(patched["platforms"].as_array().unwrap().len(), 1);

    // Handles are unique per brand regardless of case; renaming onto a taken handle is a 409.
    app.post(
        "/api/v1/influencers",
        &admin,
        json!({"handle": "ANNA.beauty"}),
    )
    .await
    .problem(409);
    app.patch(
        &format!("/api/v1/influencers/{ben}"),
        &admin,
        json!({"handle": "CARA"}),
    )
    .await
    .problem(409);
    // The same handle in another brand is fine.
    let (_, other) = app.create_brand("Other").await;
    influencer(&app, &other, "anna.beauty").await;

    assert_eq!(
        app.delete(&format!("/api/v1/influencers/{anna_id}"), &admin)
            .await
            .status,
        204
    );
    app.get(&format!("/api/v1/influencers/{anna_id}"), &admin)
        .await
        .problem(404);
    assert_eq!(
        names(app.get("/api/v1/influencers", &admin).await.json()),
        ["ben_fit", "cara"]
    );
    // A deleted influencer frees its handle.
    influencer(&app, &admin, "anna.beauty").await;
}

#[tokio::test]
async fn influencer_validation_names_the_field() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Acme").await;
    let cases = [
        (json!({"handle": ""}), "handle"),
        (json!({"handle": "has space"}), "handle"),
        (json!({"display_name": "x"}), "handle"),
        (json!({"handle": "ok", "email": "not-an-email"}), "email"),
        (
            json!({"handle": "ok", "platforms": [{"platform": "", "handle": "x"}]}),
            "platforms[0].platform",
        ),
        (
            json!({"handle": "ok", "platforms": [{"platform": "ig", "handle": "x", "followers": -1}]}),
            "platforms[0].followers",
        ),
        (json!({"handle": "ok", "tags": ["fine", ""]}), "tags[1]"),
        (json!({"handle": "ok", "tags": "beauty"}), "tags"),
    ];
    for (body, field) in cases {
        app.post("/api/v1/influencers", &admin, body)
            .await
            .invalid_field(field);
    }
    assert_eq!(
        app.get("/api/v1/influencers", &admin).await.json()["items"],
        json!([])
    );
}

#[tokio::test]
async fn campaigns_have_defaults_slugs_and_sane_transitions() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Acme").await;
    let c = campaign(&app, &admin, spring()).await;
    assert_eq!(c["slug"], "spring-sale");
    assert_eq!(c["status"], "active");
    assert_eq!(
        c["attribution"],
        json!({"model": "last_click", "window_days": 30, "code_priority": true})
    );
    assert_eq!(c["holding_days"], 30);
    assert!(c["goal"].is_null() && c["budget"].is_null());

    // A derived slug is made unique; an explicit one that clashes is a conflict.
    assert_eq!(
        campaign(&app, &admin, spring()).await["slug"],
        "spring-sale-2"
    );
    let mut explicit = spring();
    explicit["slug"] = json!("spring-sale");
    app.post("/api/v1/campaigns", &admin, explicit)
        .await
        .problem(409);

    let full = campaign(
        &app,
        &admin,
        json!({
            "name": "Summer", "slug": "summer-26", "destination_url": "http://shop.example/",
            "currency": "usd", "budget": "5000.5", "status": "draft",
            "starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-30T00:00:00+02:00",
            "goal": {"metric": "net_revenue", "target": "20000"},
            "attribution": {"model": "position_based", "window_days": 7, "code_priority": false},
            "holding_days": 0,
        }),
    )
    .await;
    assert_eq!(full["currency"], "USD");
    assert_eq!(full["budget"], "5000.50");
    assert_eq!(
        full["goal"],
        json!({"metric": "net_revenue", "target": "20000.00"})
    );
    assert_eq!(full["ends_at"], "2026-06-29T22:00:00.000Z");
    assert_eq!(full["attribution"]["model"], "position_based");
    let id = full["id"].as_str().unwrap();

    let drafts = app
        .get("/api/v1/campaigns?status=draft", &admin)
        .await
        .json();
    assert_eq!(drafts["items"].as_array().unwrap().len(), 1);
    app.get("/api/v1/campaigns?status=bogus", &admin)
        .await
        .invalid_field("status");

    let path = format!("/api/v1/campaigns/{id}");
    for (from_to, ok) in [
        ("active", true),
        ("paused", true),
        ("active", true),
        ("draft", false),
        ("ended", true),
        ("active", false),
    ] {
        let r = app.patch(&path, &admin, json!({"status": from_to})).await;
        if ok {
            assert_eq!(r.status, 200, "{from_to}: {}", r.text);
            assert_eq!(r.json()["status"], from_to);
        } else {
            r.invalid_field("status");
        }
    }
    let r = app
        .patch(&path, &admin, json!({"name": "Summer 2026", "budget": null, "goal": {"metric": "clicks", "target": 1000}}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let updated = r.json();
    assert_eq!(updated["name"], "Summer 2026");
    assert!(updated["budget"].is_null());
    assert_eq!(
        updated["goal"],
        json!({"metric": "clicks", "target": "1000"})
    );
    app.patch(&path, &admin, json!({"currency": "EUR"}))
        .await
        .problem(422);
    app.patch(&path, &admin, json!({"slug": "spring-sale"}))
        .await
        .problem(409);
    app.patch(&path, &admin, json!({"ends_at": "2026-05-01T00:00:00Z"}))
        .await
        .invalid_field("ends_at");
}

#[tokio::test]
async fn campaign_validation_names_every_field() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Acme").await;
    let with = |k: &str, v: Value| {
        let mut body = spring();
        body[k] = v;
        body
    };
    let cases = [
        (
            with("destination_url", json!("javascript:alert(1)")),
            "destination_url",
        ),
        (
            with("destination_url", json!("/relative/path")),
            "destination_url",
        ),
        (
            with("destination_url", json!("ftp://files.example/")),
            "destination_url",
        ),
        (with("currency", json!("EURO")), "currency"),
        (with("currency", json!("ZZZ")), "currency"),
        (with("name", json!("  ")), "name"),
        (with("budget", json!("-5")), "budget"),
        (with("budget", json!("lots")), "budget"),
        (with("budget", json!(100.5)), "budget"),
        (
            with("attribution", json!({"model": "magic"})),
            "attribution.model",
        ),
        (
            with("attribution", json!({"window_days": 0})),
            "attribution.window_days",
        ),
        (
            with("attribution", json!({"window_days": 366})),
            "attribution.window_days",
        ),
        (with("holding_days", json!(-1)), "holding_days"),
        (
            with("goal", json!({"metric": "likes", "target": 5})),
            "goal.metric",
        ),
        (
            with("goal", json!({"metric": "clicks", "target": 0})),
            "goal.target",
        ),
        (
            with("goal", json!({"metric": "clicks", "target": "-3"})),
            "goal.target",
        ),
        (with("status", json!("running")), "status"),
        (with("starts_at", json!("yesterday")), "starts_at"),
        (with("slug", json!("Not A Slug")), "slug"),
    ];
    for (body, field) in cases {
        app.post("/api/v1/campaigns", &admin, body)
            .await
            .invalid_field(field);
    }
    let mut reversed = spring();
    reversed["starts_at"] = json!("2026-06-02T00:00:00Z");
    reversed["ends_at"] = json!("2026-06-01T00:00:00Z");
    app.post("/api/v1/campaigns", &admin, reversed)
        .await
        .invalid_field("ends_at");
    assert_eq!(
        app.get("/api/v1/campaigns", &admin).await.json()["items"],
        json!([])
    );
}

#[tokio::test]
async fn enrolling_issues_a_link_and_a_code_in_one_go() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Acme").await;
    let c = campaign(&app, &admin, spring()).await;
    let cid = c["id"].as_str().unwrap();
    let anna = influencer(&app, &admin, "anna").await;
    let e = enroll(
        &app,
        &admin,
        cid,
        json!({"influencer_id": anna, "fee": "250", "commission_rate": "0.125", "code": "anna15",
               "discount": {"type": "percent", "value": "15"}, "goal": {"metric": "conversions", "target": 40}}),
    )
    .await;
    assert_eq!(e["status"], "active");
    assert_eq!(
        (e["fee"].as_str(), e["commission_rate"].as_str()),
        (Some("250.00"), Some("0.125"))
    );
    assert_eq!(e["goal"], json!({"metric": "conversions", "target": "40"}));
    let link = &e["link"];
    let code = link["code"].as_str().unwrap();
    assert!(
        code.len() >= 7 && code.chars().all(|c| c.is_ascii_alphanumeric()),
        "{code}"
    );
    assert_eq!(link["short_url"], format!("{}/r/{code}", app.address));
    assert_eq!(
        link["tracking_url"],
        "https://shop.example/landing?ref=ig&utm_source=anna&utm_medium=influencer&utm_campaign=spring-sale#top"
    );
    assert_eq!(link["status"], "active");
    assert_eq!(e["discount_code"]["code"], "ANNA15");
    assert_eq!(
        e["discount_code"]["discount"],
        json!({"type": "percent", "value": "15"})
    );
    assert_eq!(e["links"].as_array().unwrap().len(), 1);
    assert_eq!(e["discount_codes"].as_array().unwrap().len(), 1);

    // A generated code is upper-case and free of look-alikes.
    let ben = influencer(&app, &admin, "ben").await;
    let e2 = enroll(&app, &admin, cid, json!({"influencer_id": ben})).await;
    let generated = e2["discount_code"]["code"].as_str().unwrap();
    assert!(generated.starts_with("BEN"), "{generated}");
    assert!(
        !generated[3..].chars().any(|c| "0O1IL".contains(c)),
        "{generated}"
    );
    assert_eq!(
        e2["discount_code"]["discount"],
        json!({"type": "percent", "value": "10"})
    );
    assert_eq!(
        (e2["fee"].as_str(), e2["commission_rate"].as_str()),
        (Some("0.00"), Some("0"))
    );
    assert_ne!(e2["link"]["code"], link["code"]);

    // Enrolling twice, or taking a code that exists in any case, changes nothing.
    let path = format!("/api/v1/campaigns/{cid}/influencers");
    app.post(&path, &admin, json!({"influencer_id": anna}))
        .await
        .problem(409);
    let cara = influencer(&app, &admin, "cara").await;
    app.post(
        &path,
        &admin,
        json!({"influencer_id": cara, "code": "Anna15"}),
    )
    .await
    .problem(409);
    let listed = app.get(&path, &admin).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);
    assert_eq!(listed["items"][0]["links"][0]["code"], link["code"]);

    for (body, field) in [
        (
            json!({"influencer_id": cara, "commission_rate": "1.5"}),
            "commission_rate",
        ),
        (json!({"influencer_id": cara, "fee": "abc"}), "fee"),
        (json!({"influencer_id": cara, "fee": "-1"}), "fee"),
        (json!({"influencer_id": cara, "code": "a b"}), "code"),
        (
            json!({"influencer_id": cara, "discount": {"type": "percent", "value": "150"}}),
            "discount.value",
        ),
        (
            json!({"influencer_id": cara, "discount": {"type": "bogo", "value": "1"}}),
            "discount.type",
        ),
        (json!({"influencer_id": "nope"}), "influencer_id"),
        (json!({}), "influencer_id"),
    ] {
        app.post(&path, &admin, body).await.invalid_field(field);
    }
    app.post(
        &path,
        &admin,
        json!({"influencer_id": uuid::Uuid::now_v7()}),
    )
    .await
    .problem(404);
    let one = app.get(&format!("{path}/{anna}"), &admin).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["handle"], "anna");
    let r = app
        .patch(
            &format!("{path}/{anna}"),
            &admin,
            json!({"fee": "300.10", "goal": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (r.json()["fee"].as_str(), r.json()["goal"].is_null()),
        (Some("300.10"), true)
    );
}

#[tokio::test]
async fn more_links_per_influencer_pause_and_follow_the_campaign() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Acme").await;
    let c = campaign(&app, &admin, spring()).await;
    let cid = c["id"].as_str().unwrap();
    let anna = influencer(&app, &admin, "anna").await;
    enroll(&app, &admin, cid, json!({"influencer_id": anna})).await;
    let links = format!("/api/v1/campaigns/{cid}/influencers/{anna}/links");
    let r = app
        .post(&links, &admin, json!({"label": "reel 1", "destination_url": "https://shop.example/p?utm_source=keep&x=1#buy", "utm": {"term": "serum"}}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let l = r.json();
    assert_eq!(
        l["tracking_url"],
        "https://shop.example/p?utm_source=keep&x=1&utm_medium=influencer&utm_campaign=spring-sale&utm_content=reel+1&utm_term=serum#buy"
    );
    let id = l["id"].as_str().unwrap();
    let r = app
        .patch(
            &format!("/api/v1/links/{id}"),
            &admin,
            json!({"status": "paused"}),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["status"].as_str()),
        (200, Some("paused"))
    );
    app.patch(
        &format!("/api/v1/links/{id}"),
        &admin,
        json!({"status": "gone"}),
    )
    .await
    .invalid_field("status");
    for bad in [
        json!({"destination_url": "mailto:x@example.com"}),
        json!({"label": "x".repeat(101)}),
    ] {
        app.post(&links, &admin, bad).await.problem(422);
    }
    // The default link follows the campaign's destination and slug.
    app.patch(
        &format!("/api/v1/campaigns/{cid}"),
        &admin,
        json!({"destination_url": "https://new.example/", "slug": "spring-26"}),
    )
    .await;
    let listed = app
        .get(&format!("/api/v1/campaigns/{cid}/influencers"), &admin)
        .await
        .json();
    let default_link = &listed["items"][0]["links"][0];
    assert_eq!(
        default_link["tracking_url"],
        "https://new.example/?utm_source=anna&utm_medium=influencer&utm_campaign=spring-26"
    );
    assert_eq!(
        app.get(&format!("/api/v1/links/{id}"), &admin).await.json()["status"],
        "paused"
    );
}

#[tokio::test]
async fn codes_are_looked_up_case_insensitively_with_reasons() {
    let app = spawn_app().await;
    let (brand, admin) = app.create_brand("Acme").await;
    let (_, storefront) = app
        .create_key(&brand, &admin, json!({"scope": "storefront"}))
        .await;
    let c = campaign(&app, &admin, spring()).await;
    let cid = c["id"].as_str().unwrap();
    let anna = influencer(&app, &admin, "anna").await;
    let e = enroll(&app, &admin, cid, json!({"influencer_id": anna, "code": "ANNA15", "discount": {"type": "percent", "value": 15}})).await;
    let code_id = e["discount_code"]["id"].as_str().unwrap();

    let lookup = |code: &str| format!("/api/v1/codes/lookup?code={code}");
    let r = app.get(&lookup("anna15"), &storefront).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["code"], "ANNA15");
    assert_eq!(v["influencer_handle"], "anna");
    assert_eq!(v["campaign_id"], cid);
    assert_eq!(v["discount"], json!({"type": "percent", "value": "15"}));
    assert_eq!(
        app.get(&lookup("NOPE99"), &storefront).await.json()["reason"],
        "unknown"
    );

    let code_path = format!("/api/v1/codes/{code_id}");
    app.patch(&code_path, &admin, json!({"status": "inactive"}))
        .await;
    let v = app.get(&lookup("Anna15"), &storefront).await.json();
    assert_eq!(
        (v["valid"].as_bool(), v["reason"].as_str()),
        (Some(false), Some("inactive"))
    );
    app.patch(
        &code_path,
        &admin,
        json!({"status": "active", "expires_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        app.get(&lookup("ANNA15"), &storefront).await.json()["reason"],
        "expired"
    );
    let r = app
        .patch(
            &code_path,
            &admin,
            json!({"expires_at": null, "max_redemptions": 3}),
        )
        .await;
    assert_eq!(r.json()["max_redemptions"], 3);
    let v = app.get(&lookup("ANNA15"), &storefront).await.json();
    assert_eq!(
        (v["valid"].as_bool(), v["remaining_redemptions"].as_i64()),
        (Some(true), Some(3))
    );
    app.patch(&code_path, &admin, json!({"max_redemptions": 0}))
        .await
        .invalid_field("max_redemptions");

    // Codes of an ended campaign are no longer usable.
    app.patch(
        &format!("/api/v1/campaigns/{cid}"),
        &admin,
        json!({"status": "ended"}),
    )
    .await;
    assert_eq!(
        app.get(&lookup("ANNA15"), &storefront).await.json()["reason"],
        "inactive"
    );

    // A further code: fixed amount, generated.
    let codes = format!("/api/v1/campaigns/{cid}/influencers/{anna}/codes");
    let r = app
        .post(
            &codes,
            &admin,
            json!({"discount": {"type": "fixed", "value": "5"}, "max_redemptions": 100}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.json()["discount"],
        json!({"type": "fixed", "value": "5.00"})
    );
    app.post(
        &codes,
        &admin,
        json!({"code": "anna15", "discount": {"type": "fixed", "value": "5"}}),
    )
    .await
    .problem(409);
    app.post(&codes, &admin, json!({}))
        .await
        .invalid_field("discount");
    app.get(&lookup(""), &storefront)
        .await
        .invalid_field("code");
}

#[tokio::test]
async fn scopes_limit_what_each_key_may_do() {
    let app = spawn_app().await;
    let (brand, admin) = app.create_brand("Acme").await;
    let (_, read) = app
        .create_key(&brand, &admin, json!({"scope": "read"}))
        .await;
    let (_, storefront) = app
        .create_key(&brand, &admin, json!({"scope": "storefront"}))
        .await;
    let anna = influencer(&app, &admin, "anna").await;
    let (_, influencer_key) = app
        .create_key(
            &brand,
            &admin,
            json!({"scope": "influencer", "influencer_id": anna}),
        )
        .await;
    let c = campaign(&app, &admin, spring()).await;
    let cid = c["id"].as_str().unwrap();
    enroll(
        &app,
        &admin,
        cid,
        json!({"influencer_id": anna, "code": "ANNA15"}),
    )
    .await;

    // read: every read, no write.
    for path in [
        "/api/v1/influencers".to_string(),
        format!("/api/v1/campaigns/{cid}"),
        format!("/api/v1/campaigns/{cid}/influencers"),
    ] {
        assert_eq!(app.get(&path, &read).await.status, 200, "{path}");
    }
    app.post("/api/v1/influencers", &read, json!({"handle": "x"}))
        .await
        .problem(403);
    app.post("/api/v1/campaigns", &read, spring())
        .await
        .problem(403);
    app.patch(
        &format!("/api/v1/campaigns/{cid}"),
        &read,
        json!({"status": "paused"}),
    )
    .await
    .problem(403);
    app.delete(&format!("/api/v1/influencers/{anna}"), &read)
        .await
        .problem(403);
    app.get("/api/v1/codes/lookup?code=ANNA15", &read)
        .await
        .problem(403);
    // storefront: code lookups only.
    assert_eq!(
        app.get("/api/v1/codes/lookup?code=ANNA15", &storefront)
            .await
            .json()["valid"],
        true
    );
    app.get("/api/v1/influencers", &storefront)
        .await
        .problem(403);
    app.post("/api/v1/campaigns", &storefront, spring())
        .await
        .problem(403);
    // influencer keys see nothing of the brand's resources.
    app.get("/api/v1/influencers", &influencer_key)
        .await
        .problem(403);
    app.get(&format!("/api/v1/campaigns/{cid}"), &influencer_key)
        .await
        .problem(403);
    // admin: the lookup too.
    assert_eq!(
        app.get("/api/v1/codes/lookup?code=anna15", &admin)
            .await
            .json()["valid"],
        true
    );
    // An influencer key must name an influencer of this brand.
    let (other, other_admin) = app.create_brand("Other").await;
    let foreign = influencer(&app, &other_admin, "zed").await;
    app.post(
        &format!("/api/v1/brands/{brand}/keys"),
        &admin,
        json!({"scope": "influencer", "influencer_id": foreign}),
    )
    .await
    .problem(404);
    let _ = other;
}

#[tokio::test]
async fn another_brands_resources_are_404_on_every_route() {
    let app = spawn_app().await;
    let (_, admin_a) = app.create_brand("A").await;
    let (brand_b, admin_b) = app.create_brand("B").await;
    let (_, storefront_b) = app
        .create_key(&brand_b, &admin_b, json!({"scope": "storefront"}))
        .await;
    let c = campaign(&app, &admin_a, spring()).await;
    let cid = c["id"].as_str().unwrap().to_string();
    let anna = influencer(&app, &admin_a, "anna").await;
    let e = enroll(
        &app,
        &admin_a,
        &cid,
        json!({"influencer_id": anna, "code": "ANNA15"}),
    )
    .await;
    let link = e["link"]["id"].as_str().unwrap().to_string();
    let code = e["discount_code"]["id"].as_str().unwrap().to_string();
    let b_influencer = influencer(&app, &admin_b, "bob").await;

    let enrollment = format!("/api/v1/campaigns/{cid}/influencers/{anna}");
    let gets = [
        format!("/api/v1/influencers/{anna}"),
        format!("/api/v1/campaigns/{cid}"),
        format!("/api/v1/campaigns/{cid}/influencers"),
        enrollment.clone(),
        format!("/api/v1/links/{link}"),
        format!("/api/v1/codes/{code}"),
    ];
    for path in &gets {
        app.get(path, &admin_b).await.problem(404);
    }
    app.patch(
        &format!("/api/v1/influencers/{anna}"),
        &admin_b,
        json!({"display_name": "x"}),
    )
    .await
    .problem(404);
    app.delete(&format!("/api/v1/influencers/{anna}"), &admin_b)
        .await
        .problem(404);
    app.patch(
        &format!("/api/v1/campaigns/{cid}"),
        &admin_b,
        json!({"name": "x"}),
    )
    .await
    .problem(404);
    app.post(
        &format!("/api/v1/campaigns/{cid}/influencers"),
        &admin_b,
        json!({"influencer_id": b_influencer}),
    )
    .await
    .problem(404);
    app.patch(&enrollment, &admin_b, json!({"fee": "1"}))
        .await
        .problem(404);
    app.post(&format!("{enrollment}/links"), &admin_b, json!({}))
        .await
        .problem(404);
    app.post(
        &format!("{enrollment}/codes"),
        &admin_b,
        json!({"discount": {"type": "fixed", "value": "1"}}),
    )
    .await
    .problem(404);
    app.patch(
        &format!("/api/v1/links/{link}"),
        &admin_b,
        json!({"status": "paused"}),
    )
    .await
    .problem(404);
    app.patch(
        &format!("/api/v1/codes/{code}"),
        &admin_b,
        json!({"status": "inactive"}),
    )
    .await
    .problem(404);
    // B's own campaign cannot enroll A's influencer.
    let cb = campaign(&app, &admin_b, spring()).await;
    app.post(
        &format!(
            "/api/v1/campaigns/{}/influencers",
            cb["id"].as_str().unwrap()
        ),
        &admin_b,
        json!({"influencer_id": anna}),
    )
    .await
    .problem(404);
    // A's code does not exist for B's storefront.
    assert_eq!(
        app.get("/api/v1/codes/lookup?code=ANNA15", &storefront_b)
            .await
            .json()["reason"],
        "unknown"
    );
    // Nothing of A changed.
    let link_now = app
        .get(&format!("/api/v1/links/{link}"), &admin_a)
        .await
        .json();
    assert_eq!(link_now["status"], "active");
    assert_eq!(
        app.get(&format!("/api/v1/influencers/{anna}"), &admin_a)
            .await
            .json()["display_name"],
        "anna"
    );
}
