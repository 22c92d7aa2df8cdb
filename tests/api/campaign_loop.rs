//! Payouts through the holding period, payments and claw-backs; the successor campaign; the
//! influencer's own view.

use crate::helpers::*;
use crate::orders::{shop, Shop};
use serde_json::{json, Value};

fn days_ago(n: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(n)).to_rfc3339()
}

async fn order(app: &TestApp, s: &Shop, body: Value) {
    let r = app.post("/api/v1/orders", &s.storefront, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn set_fee(app: &TestApp, s: &Shop, i: usize, fee: &str) {
    let r = app
        .patch(
            &format!(
                "/api/v1/campaigns/{}/influencers/{}",
                s.campaign_id,
                s.influencer(i)
            ),
            &s.admin,
            json!({"fee": fee}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// Lets time pass for a recorded order: as if influtrack had received it `days` ago (holding
/// periods run from reception, never from the `occurred_at` a sender chose).
pub fn received_days_ago(app: &TestApp, external_id: &str, days: i64) {
    use diesel::connection::SimpleConnection;
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    conn.batch_execute(&format!(
        "UPDATE orders SET created_at = created_at - {} WHERE external_id = '{external_id}'",
        days * 86_400_000_000
    ))
    .unwrap();
}

fn line<'a>(payouts: &'a Value, handle: &str) -> &'a Value {
    payouts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["handle"] == handle)
        .unwrap_or_else(|| panic!("{handle} in {payouts}"))
}

/// anna: fee 100.00, commission 10%; a 200.00 order 40 days ago (past the 30-day holding
/// period) and a 100.00 order today, both with her code; a 300.00 order of her own 40 days
/// ago (a self-referral: no commission).
#[tokio::test]
async fn payouts_hold_approve_pay_and_claw_back() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna", "ben"]).await;
    set_fee(&app, &s, 0, "100").await;
    order(
        &app,
        &s,
        json!({"order_id": "old", "amount": "200.00", "currency": "EUR",
                           "discount_codes": [s.code(0)], "occurred_at": days_ago(40)}),
    )
    .await;
    order(
        &app,
        &s,
        json!({"order_id": "new", "amount": "100.00", "currency": "EUR",
                           "discount_codes": [s.code(0)]}),
    )
    .await;
    order(
        &app,
        &s,
        json!({"order_id": "self", "amount": "300.00", "currency": "EUR",
                           "discount_codes": [s.code(0)], "occurred_at": days_ago(40),
                           "customer_ref": "anna@creators.example"}),
    )
    .await;
    received_days_ago(&app, "old", 40);
    received_days_ago(&app, "self", 40);
    let path = format!("/api/v1/campaigns/{}/payouts", s.campaign_id);
    let p = app.get(&path, &s.admin).await;
    assert_eq!(p.status, 200, "{}", p.text);
    let p = p.json();
    assert_eq!(p["holding_days"], 30);
    let anna = line(&p, "anna");
    assert_eq!(anna["commissionable_net_approved"], "200.00");
    assert_eq!(anna["commissionable_net_pending"], "100.00");
    assert_eq!(anna["commission_approved"], "20.00");
    assert_eq!(anna["commission_pending"], "10.00");
    assert_eq!(anna["approved"], "120.00");
    assert_eq!(anna["paid"], "0.00");
    assert_eq!(anna["balance"], "120.00");
    assert_eq!(line(&p, "ben")["balance"], "0.00");

    // Paying: at most the balance, once per reference.
    let pay = format!(
        "/api/v1/campaigns/{}/payouts/{}/mark-paid",
        s.campaign_id,
        s.influencer(0)
    );
    app.post(&pay, &s.admin, json!({"amount": "120.01"}))
        .await
        .invalid_field("amount");
    app.post(&pay, &s.admin, json!({"amount": "0"}))
        .await
        .invalid_field("amount");
    app.post(&pay, &s.admin, json!({"amount": "-5"}))
        .await
        .invalid_field("amount");
    let r = app
        .post(
            &pay,
            &s.admin,
            json!({"amount": "120.00", "reference": "INV-1"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["line"]["balance"], "0.00");
    assert_eq!(r.json()["line"]["paid"], "120.00");
    app.post(
        &pay,
        &s.admin,
        json!({"amount": "1.00", "reference": "INV-1"}),
    )
    .await
    .problem(409);

    // A refund after the payment: the commission it paid is taken back from the next payout.
    let r = app
        .post(
            "/api/v1/orders/old/refunds",
            &s.storefront,
            json!({"refund_id": "r", "amount": "50.00"}),
        )
        .await;
    assert_eq!(r.status, 201);
    let anna = line(&app.get(&path, &s.admin).await.json(), "anna").clone();
    assert_eq!(anna["commission_approved"], "15.00");
    assert_eq!(anna["approved"], "115.00");
    assert_eq!(anna["balance"], "-5.00");

    // As CSV, the same figures.
    let r = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(&s.admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("enrollment_id,influencer_id,handle"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(",anna,") && l.ends_with(",115.00,120.00,-5.00")),
        "{text}"
    );

    // Only the brand's admin pays; nobody else sees another brand's payouts.
    let (_, read) = app
        .create_key(&s.brand_id, &s.admin, json!({"scope": "read"}))
        .await;
    assert_eq!(
        app.post(&pay, &read, json!({"amount": "1.00"}))
            .await
            .status,
        403
    );
    let (_, other) = app.create_brand("Other").await;
    app.get(&path, &other).await.problem(404);
    app.post(&pay, &other, json!({"amount": "1.00"}))
        .await
        .problem(404);
}

#[tokio::test]
async fn the_influencers_own_view_shows_only_its_own() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna", "ben"]).await;
    set_fee(&app, &s, 0, "50").await;
    order(
        &app,
        &s,
        json!({"order_id": "o1", "amount": "80.00", "currency": "EUR",
                           "discount_codes": [s.code(0)], "occurred_at": days_ago(45)}),
    )
    .await;
    order(
        &app,
        &s,
        json!({"order_id": "o2", "amount": "40.00", "currency": "EUR",
                           "discount_codes": [s.code(1)]}),
    )
    .await;
    received_days_ago(&app, "o1", 45);
    let (_, anna) = app
        .create_key(
            &s.brand_id,
            &s.admin,
            json!({"scope": "influencer", "influencer_id": s.influencer(0)}),
        )
        .await;
    let r = app.get("/api/v1/me", &anna).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let me = r.json();
    assert_eq!(me["handle"], "anna");
    let enrollments = me["enrollments"].as_array().unwrap();
    assert_eq!(enrollments.len(), 1);
    let e = &enrollments[0];
    assert_eq!(e["campaign_id"], s.campaign_id.as_str());
    assert_eq!(
        e["links"][0]["short_url"],
        format!("{}/r/{}", app.address, s.link(0))
    );
    assert_eq!(e["discount_codes"][0]["code"], s.code(0));
    assert_eq!(e["metrics"]["net_revenue"], "80.00");
    assert_eq!(e["earnings"]["commission_approved"], "8.00");
    assert_eq!(e["earnings"]["approved"], "58.00");
    assert!(!r.text.contains(s.code(1)), "nothing of ben's");
    // Her key reads her own rows of the brand's reports, and changes nothing.
    let payouts = app
        .get(
            &format!("/api/v1/campaigns/{}/payouts", s.campaign_id),
            &anna,
        )
        .await
        .json();
    assert_eq!(payouts["items"].as_array().unwrap().len(), 1);
    let prune = json!({"rules": {"min_roi": 0}, "dry_run": true});
    assert_eq!(
        app.post(
            &format!("/api/v1/campaigns/{}/prune", s.campaign_id),
            &anna,
            prune
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.post(
            &format!(
                "/api/v1/campaigns/{}/payouts/{}/mark-paid",
                s.campaign_id,
                s.influencer(0)
            ),
            &anna,
            json!({"amount": "1.00"})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        app.get(&format!("/api/v1/influencers/{}", s.influencer(1)), &anna)
            .await
            .status,
        403
    );
    // /me is the influencer's: other keys are refused.
    assert_eq!(app.get("/api/v1/me", &s.admin).await.status, 403);
    assert_eq!(app.get("/api/v1/me", &s.storefront).await.status, 403);
}

#[tokio::test]
async fn a_successor_keeps_the_best_never_the_pruned_and_can_carry_codes() {
    let app = spawn_app().await;
    let s = shop(
        &app,
        json!({"model": "last_click"}),
        &["star", "mid", "weak", "rich"],
    )
    .await;
    set_fee(&app, &s, 0, "10").await;
    set_fee(&app, &s, 1, "10").await;
    set_fee(&app, &s, 3, "10000").await;
    for (id, i, amount) in [("a", 0, "300.00"), ("b", 1, "100.00"), ("c", 3, "500.00")] {
        order(
            &app,
            &s,
            json!({"order_id": id, "amount": amount, "currency": "EUR",
                               "discount_codes": [s.code(i)]}),
        )
        .await;
    }
    // rich earns the most but costs far more: pruned.
    let r = app
        .post(
            &format!("/api/v1/campaigns/{}/prune", s.campaign_id),
            &s.admin,
            json!({"rules": {"min_roi": 0}, "dry_run": false}),
        )
        .await
        .json();
    assert_eq!(r["pruned"][0]["handle"], "rich", "{r}");
    let newcomer = app
        .post("/api/v1/influencers", &s.admin, json!({"handle": "nova"}))
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/campaigns/{}/successor", s.campaign_id);
    let r = app
        .post(
            &path,
            &s.admin,
            json!({"name": "Spring Sale II", "keep_top": 2, "add_influencer_ids": [newcomer]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let next = r.json();
    assert_eq!(next["kept"], json!([s.influencer(0), s.influencer(1)]));
    assert_eq!(next["added"], json!([newcomer]));
    assert_eq!(next["campaign"]["name"], "Spring Sale II");
    assert_eq!(next["campaign"]["currency"], "EUR");
    assert_eq!(next["campaign"]["attribution"]["model"], "last_click");
    let enrollments = next["enrollments"].as_array().unwrap();
    assert_eq!(enrollments.len(), 3);
    let star = enrollments.iter().find(|e| e["handle"] == "star").unwrap();
    assert_eq!(star["fee"], "10.00", "terms carried over");
    // Fresh links and codes: the old code still belongs to the old campaign.
    assert_ne!(star["links"][0]["code"], s.link(0));
    assert_ne!(star["discount_codes"][0]["code"], s.code(0));
    let l = app
        .get(
            &format!("/api/v1/codes/lookup?code={}", s.code(0)),
            &s.storefront,
        )
        .await
        .json();
    assert_eq!(l["campaign_id"], s.campaign_id.as_str());

    // With carry_codes, the old codes move to the new campaign.
    let r = app
        .post(
            &path,
            &s.admin,
            json!({"name": "Spring Sale III", "keep_top": 1, "carry_codes": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let third = r.json();
    let star = &third["enrollments"][0];
    assert_eq!(star["handle"], "star");
    assert_eq!(star["discount_codes"][0]["code"], s.code(0));
    let l = app
        .get(
            &format!("/api/v1/codes/lookup?code={}", s.code(0)),
            &s.storefront,
        )
        .await
        .json();
    assert_eq!(l["campaign_id"], third["campaign"]["id"]);
    assert_eq!(l["valid"], true);
    // Validation and tenancy.
    app.post(&path, &s.admin, json!({"name": "", "keep_top": 1}))
        .await
        .invalid_field("name");
    app.post(&path, &s.admin, json!({"name": "X", "keep_top": -1}))
        .await
        .invalid_field("keep_top");
    app.post(
        &path,
        &s.admin,
        json!({"name": "X", "keep_top": 1, "sort": "vibes"}),
    )
    .await
    .invalid_field("sort");
    app.post(
        &path,
        &s.admin,
        json!({"name": "X", "keep_top": 1, "add_influencer_ids": ["nope"]}),
    )
    .await
    .invalid_field("add_influencer_ids[0]");
    app.post(
        &path,
        &s.admin,
        json!({"name": "X", "keep_top": 1, "add_influencer_ids": [uuid::Uuid::now_v7()]}),
    )
    .await
    .invalid_field("add_influencer_ids[0]");
    let (_, other) = app.create_brand("Other").await;
    app.post(&path, &other, json!({"name": "X", "keep_top": 1}))
        .await
        .problem(404);
}

#[tokio::test]
async fn concurrent_payments_never_pay_more_than_the_balance() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    set_fee(&app, &s, 0, "100").await;
    let pay = format!(
        "/api/v1/campaigns/{}/payouts/{}/mark-paid",
        s.campaign_id,
        s.influencer(0)
    );
    let sends = (0..6).map(|i| {
        app.post(
            &pay,
            &s.admin,
            json!({"amount": "100.00", "reference": format!("T-{i}")}),
        )
    });
    let answers = futures::future::join_all(sends).await;
    let paid = answers.iter().filter(|r| r.status == 201).count();
    assert_eq!(paid, 1, "{answers:?}");
    assert!(answers.iter().all(|r| r.status == 201 || r.status == 422));
    // The same reference at once: one payment.
    let sends = (0..4).map(|_| {
        app.post(
            &pay,
            &s.admin,
            json!({"amount": "0.01", "reference": "DUP"}),
        )
    });
    let answers = futures::future::join_all(sends).await;
    assert!(
        answers.iter().all(|r| r.status == 422 || r.status == 409),
        "{answers:?}"
    );
    let p = app
        .get(
            &format!("/api/v1/campaigns/{}/payouts", s.campaign_id),
            &s.admin,
        )
        .await
        .json();
    assert_eq!(p["items"][0]["paid"], "100.00");
    assert_eq!(p["items"][0]["balance"], "0.00");
}
