//! Pruning with reasons, applied and audited, reinstated.

use crate::helpers::*;
use crate::orders::{click_id, shop, Shop};
use serde_json::{json, Value};

fn browser(i: usize) -> String {
    format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.{i}.0 Safari/537.36")
}

/// star (20 clicks, 500.00 of orders), weak (20 clicks, nothing), newbie (2 clicks), steady
/// (20 clicks, 150.00); every fee 100.00, commission 10%.
pub async fn campaign(app: &TestApp) -> Shop {
    let s = shop(
        app,
        json!({"model": "last_click"}),
        &["star", "weak", "newbie", "steady"],
    )
    .await;
    for (i, clicks) in [(0, 20), (1, 20), (2, 2), (3, 20)] {
        let influencer = s.influencer(i).to_string();
        let r = app
            .patch(
                &format!(
                    "/api/v1/campaigns/{}/influencers/{influencer}",
                    s.campaign_id
                ),
                &s.admin,
                json!({"fee": "100"}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        for c in 0..clicks {
            click_id(app, s.link(i), &browser(c)).await;
        }
    }
    for (id, code, amount) in [
        ("s1", 0, "300.00"),
        ("s2", 0, "200.00"),
        ("t1", 3, "150.00"),
    ] {
        let r = app
            .post(
                "/api/v1/orders",
                &s.storefront,
                json!({"order_id": id, "amount": amount, "currency": "EUR", "discount_codes": [s.code(code)]}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    s
}

fn handles(list: &Value) -> Vec<String> {
    let mut h: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["handle"].as_str().unwrap().to_string())
        .collect();
    h.sort();
    h
}

async fn lookup(app: &TestApp, s: &Shop, i: usize) -> Value {
    app.get(
        &format!("/api/v1/codes/lookup?code={}", s.code(i)),
        &s.storefront,
    )
    .await
    .json()
}

#[tokio::test]
async fn a_dry_run_lists_verdicts_with_reasons_and_changes_nothing() {
    let app = spawn_app().await;
    let s = campaign(&app).await;
    let path = format!("/api/v1/campaigns/{}/prune", s.campaign_id);
    let rules = json!({"min_roi": 0, "min_clicks_for_judgement": 10});
    let r = app
        .post(&path, &s.admin, json!({"rules": rules, "dry_run": true}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = r.json();
    assert_eq!(p["dry_run"], true);
    assert_eq!(handles(&p["pruned"]), ["weak"]);
    assert_eq!(handles(&p["kept"]), ["star", "steady"]);
    assert_eq!(handles(&p["insufficient_data"]), ["newbie"]);
    let weak = &p["pruned"][0];
    assert_eq!(weak["reasons"][0]["rule"], "min_roi");
    assert_eq!(weak["reasons"][0]["actual"], "-1");
    assert_eq!(weak["figures"]["cost"], "100.00");
    assert!(p["insufficient_data"][0]["why"]
        .as_str()
        .unwrap()
        .contains("2 clicks"));
    assert_eq!(p["log_id"], Value::Null);
    // Nothing changed.
    assert_eq!(lookup(&app, &s, 1).await["valid"], true);
    let log = app
        .get(
            &format!("/api/v1/campaigns/{}/prune-log", s.campaign_id),
            &s.admin,
        )
        .await
        .json();
    assert_eq!(log["items"], json!([]));
    // Without dry_run it is still a dry run: applying is never the default.
    let r = app
        .post(&path, &s.admin, json!({"rules": rules}))
        .await
        .json();
    assert_eq!(r["dry_run"], true);
    assert_eq!(lookup(&app, &s, 1).await["valid"], true);
}

#[tokio::test]
async fn applying_prunes_codes_and_attribution_but_links_still_redirect_and_it_is_audited() {
    let app = spawn_app().await;
    let s = campaign(&app).await;
    let path = format!("/api/v1/campaigns/{}/prune", s.campaign_id);
    let rules = json!({"min_roi": 0, "min_clicks_for_judgement": 10});
    let r = app
        .post(&path, &s.admin, json!({"rules": rules, "dry_run": false}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let p = r.json();
    assert_eq!(handles(&p["pruned"]), ["weak"]);
    let log_id = p["log_id"].as_str().unwrap().to_string();
    // The code says pruned; the link still redirects; what comes through it earns nothing.
    let l = lookup(&app, &s, 1).await;
    assert_eq!(
        (l["valid"].as_bool(), l["reason"].as_str()),
        (Some(false), Some("pruned"))
    );
    let click = click_id(&app, s.link(1), &browser(99)).await;
    let o = app
        .post(
            "/api/v1/orders",
            &s.storefront,
            json!({"order_id": "late", "amount": "80.00", "currency": "EUR",
                   "discount_codes": [s.code(1)], "click_ids": [click]}),
        )
        .await
        .json();
    assert_eq!(o["status"], "unattributed", "{o}");
    let e = app
        .get(
            &format!(
                "/api/v1/campaigns/{}/influencers/{}",
                s.campaign_id,
                s.influencer(1)
            ),
            &s.admin,
        )
        .await
        .json();
    assert_eq!(e["status"], "pruned");
    assert!(e["pruned_at"].is_string());
    // The same rules again change nothing.
    let again = app
        .post(&path, &s.admin, json!({"rules": rules, "dry_run": false}))
        .await
        .json();
    assert_eq!(again["pruned"], json!([]));
    assert_eq!(again["already_pruned"].as_array().unwrap().len(), 1);
    assert_eq!(again["log_id"], Value::Null);
    // The audit log: who, when, rules, figures.
    let log = app
        .get(
            &format!("/api/v1/campaigns/{}/prune-log", s.campaign_id),
            &s.admin,
        )
        .await
        .json();
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], log_id.as_str());
    assert_eq!(items[0]["action"], "prune");
    assert!(items[0]["key_id"].is_string());
    assert_eq!(items[0]["rules"]["min_clicks_for_judgement"], 10);
    assert_eq!(items[0]["entries"][0]["handle"], "weak");
    assert_eq!(items[0]["entries"][0]["reasons"][0]["rule"], "min_roi");

    // Reinstated: the code works again, and that is audited too.
    let reinstate = format!(
        "/api/v1/campaigns/{}/influencers/{}/reinstate",
        s.campaign_id,
        s.influencer(1)
    );
    let r = app.post(&reinstate, &s.admin, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "active");
    assert_eq!(lookup(&app, &s, 1).await["valid"], true);
    app.post(&reinstate, &s.admin, json!({})).await.problem(409);
    let log = app
        .get(
            &format!("/api/v1/campaigns/{}/prune-log", s.campaign_id),
            &s.admin,
        )
        .await
        .json();
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["reinstate", "prune"]);
}

#[tokio::test]
async fn prune_rules_are_validated_and_only_the_brands_admin_may_prune() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let path = format!("/api/v1/campaigns/{}/prune", s.campaign_id);
    for (rules, field) in [
        (json!({}), "rules"),
        (
            json!({"min_conversion_rate": 2}),
            "rules.min_conversion_rate",
        ),
        (json!({"bottom_percent": 150}), "rules.bottom_percent"),
        (json!({"min_roi": "abc"}), "rules.min_roi"),
        (json!({"min_net_revenue": "ten"}), "rules.min_net_revenue"),
        (
            json!({"min_roi": 0, "min_clicks_for_judgement": -1}),
            "rules.min_clicks_for_judgement",
        ),
        (
            json!({"bottom_percent": 10, "rank_by": "vibes"}),
            "rules.rank_by",
        ),
        (json!({"min_roi": 0, "max_fun": 1}), "rules.max_fun"),
    ] {
        app.post(&path, &s.admin, json!({"rules": rules}))
            .await
            .invalid_field(field);
    }
    let (_, read) = app
        .create_key(&s.brand_id, &s.admin, json!({"scope": "read"}))
        .await;
    let body = json!({"rules": {"min_roi": 0}, "dry_run": true});
    assert_eq!(app.post(&path, &read, body.clone()).await.status, 403);
    assert_eq!(
        app.post(&path, &s.storefront, body.clone()).await.status,
        403
    );
    let (_, other) = app.create_brand("Other").await;
    app.post(&path, &other, body.clone()).await.problem(404);
    app.get(
        &format!("/api/v1/campaigns/{}/prune-log", s.campaign_id),
        &other,
    )
    .await
    .problem(404);
    app.post(
        &format!(
            "/api/v1/campaigns/{}/influencers/{}/reinstate",
            s.campaign_id,
            s.influencer(0)
        ),
        &other,
        json!({}),
    )
    .await
    .problem(404);
}

#[tokio::test]
async fn a_share_rule_applied_twice_prunes_once() {
    let app = spawn_app().await;
    let s = campaign(&app).await;
    let path = format!("/api/v1/campaigns/{}/prune", s.campaign_id);
    // The judged are star, weak and steady (newbie has too few clicks): the bottom 50% is
    // one of three by net revenue: weak.
    let body =
        json!({"rules": {"bottom_percent": 50, "min_clicks_for_judgement": 10}, "dry_run": false});
    let first = app.post(&path, &s.admin, body.clone()).await.json();
    assert_eq!(handles(&first["pruned"]), ["weak"]);
    for _ in 0..2 {
        let again = app.post(&path, &s.admin, body.clone()).await.json();
        assert_eq!(again["pruned"], json!([]), "{again}");
        assert_eq!(again["log_id"], Value::Null);
    }
    // Lower is better for costs: the bottom by cost per acquisition is the most expensive.
    let r = app
        .post(
            &path,
            &s.admin,
            json!({"rules": {"bottom_percent": 50, "rank_by": "cpa", "min_clicks_for_judgement": 10}}),
        )
        .await
        .json();
    assert_eq!(handles(&r["pruned"]), ["steady"], "{r}");
}
