//! Leads that close later (customer identity), the value of events, every cost of a campaign,
//! paid and organic results: each figure worked out by hand beforehand.

use crate::helpers::*;
use crate::orders::{click_id, shop, Shop};
use crate::redirect::CHROME;
use serde_json::{json, Value};

const DAY: i64 = 86_400_000_000;

/// A whole second, so that every instant the test writes is exact.
fn now() -> chrono::DateTime<chrono::Utc> {
    let t = chrono::Utc::now().timestamp();
    chrono::DateTime::from_timestamp(t, 0).unwrap()
}

fn at(base: chrono::DateTime<chrono::Utc>, days_ago: i64) -> String {
    (base - chrono::Duration::days(days_ago)).to_rfc3339()
}

/// Sets when a click happened, as if the shopper had clicked `days_ago` days before `base`.
fn click_was(app: &TestApp, click: &str, base: chrono::DateTime<chrono::Utc>, days_ago: i64) {
    use diesel::connection::SimpleConnection;
    let url = influtrack::db::DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = influtrack::db::open_connection(&url).unwrap();
    let ts = base.timestamp_micros() - days_ago * DAY;
    conn.batch_execute(&format!("UPDATE clicks SET ts = {ts} WHERE id = '{click}'"))
        .unwrap();
}

async fn event(app: &TestApp, s: &Shop, body: Value) -> Value {
    let r = app.post("/api/v1/events", &s.storefront, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

async fn order(app: &TestApp, s: &Shop, body: Value) -> Value {
    let r = app.post("/api/v1/orders", &s.storefront, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

fn credits(o: &Value) -> Vec<(String, String, String)> {
    o["attribution"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["handle"].as_str().unwrap().to_string(),
                c["credited_amount"].as_str().unwrap().to_string(),
                c["via"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

async fn board(app: &TestApp, s: &Shop, query: &str) -> Vec<Value> {
    let r = app
        .get(
            &format!("/api/v1/campaigns/{}/leaderboard?{query}", s.campaign_id),
            &s.admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["items"].as_array().unwrap().clone()
}

fn row<'a>(rows: &'a [Value], handle: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["handle"] == handle)
        .unwrap_or_else(|| panic!("{handle} in {rows:?}"))
}

async fn report(app: &TestApp, s: &Shop, query: &str) -> Value {
    let r = app
        .get(
            &format!("/api/v1/campaigns/{}/report?{query}", s.campaign_id),
            &s.admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

/// anna's lead (scored 80) came through her link 60 days ago; Dana's deal closes today in the
/// CRM, sent with nothing but her e-mail: 250.00 credited to anna via the customer. ben's lead
/// 100 days ago is past the 90-day identity window: Eve's 80.00 order is unattributed until
/// the window is widened to 120 days, then her next 40.00 order goes to ben.
#[tokio::test]
async fn a_deal_weeks_after_the_lead_is_credited_to_the_influencer_who_brought_the_customer() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "last_click"}), &["anna", "ben"]).await;
    let base = now();
    let anna_click = click_id(&app, s.link(0), CHROME).await;
    click_was(&app, &anna_click, base, 60);
    let ben_click = click_id(&app, s.link(1), CHROME).await;
    click_was(&app, &ben_click, base, 100);
    let lead = event(
        &app,
        &s,
        json!({"event_id": "crm-lead-1", "type": "lead", "click_id": anna_click,
               "customer_ref": "dana@example.com", "score": 80, "occurred_at": at(base, 60)}),
    )
    .await;
    assert_eq!(
        (lead["score"].as_i64(), &lead["value"]),
        (Some(80), &Value::Null)
    );
    event(
        &app,
        &s,
        json!({"event_id": "crm-lead-2", "type": "lead", "click_id": ben_click,
               "customer_ref": "eve@example.com", "score": 30, "occurred_at": at(base, 100)}),
    )
    .await;

    // The same e-mail in another case is the same customer.
    let deal = order(
        &app,
        &s,
        json!({"order_id": "deal-1", "amount": "250.00", "currency": "EUR",
               "customer_ref": "Dana@Example.com", "occurred_at": base.to_rfc3339()}),
    )
    .await;
    assert_eq!(
        credits(&deal),
        [("anna".into(), "250.00".into(), "customer".into())]
    );
    assert_eq!(deal["attribution"][0]["touch"], anna_click.as_str());
    let late = order(
        &app,
        &s,
        json!({"order_id": "deal-2", "amount": "80.00", "currency": "EUR",
               "customer_ref": "eve@example.com", "occurred_at": base.to_rfc3339()}),
    )
    .await;
    assert_eq!(late["status"], "unattributed", "{late}");

    let rows = board(&app, &s, "").await;
    let anna = row(&rows, "anna");
    assert_eq!(
        (&anna["net_revenue"], &anna["commission"], &anna["cost"]),
        (&json!("250.00"), &json!("25.00"), &json!("25.00"))
    );
    assert_eq!(
        (anna["leads"].as_i64(), anna["leads_fast"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(anna["lead_to_customer_rate"].as_f64(), Some(1.0));
    assert_eq!(anna["median_days_to_order"].as_f64(), Some(60.0));
    assert_eq!(anna["cost_per_lead"], "25.00");
    // Eve ordered after ben's lead (a customer), though the order was past the window.
    let ben = row(&rows, "ben");
    assert_eq!(
        (ben["leads"].as_i64(), ben["leads_slow"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(ben["net_revenue"], "0.00");
    assert_eq!(ben["median_days_to_order"].as_f64(), Some(100.0));

    let r = app
        .patch(
            &format!("/api/v1/campaigns/{}", s.campaign_id),
            &s.admin,
            json!({"identity_window_days": 120}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["identity_window_days"], 120);
    let again = order(
        &app,
        &s,
        json!({"order_id": "deal-3", "amount": "40.00", "currency": "EUR",
               "customer_ref": "eve@example.com", "occurred_at": base.to_rfc3339()}),
    )
    .await;
    assert_eq!(
        credits(&again),
        [("ben".into(), "40.00".into(), "customer".into())]
    );
    let r = app
        .patch(
            &format!("/api/v1/campaigns/{}", s.campaign_id),
            &s.admin,
            json!({"identity_window_days": 731}),
        )
        .await;
    r.invalid_field("identity_window_days");
}

/// Fay clicked anna's link 20 days ago (a lead) and ben's 5 days ago (a sign-up); her 300.00
/// order names only her. Under linear (the campaign's model) each gets 150.00; first click all
/// to anna, last click all to ben, position-based 150.00 each (two touches), time decay
/// weighs 2^(−20/7) against 2^(−5/7): 55.39 and 244.61.
#[tokio::test]
async fn two_influencers_who_touched_one_customer_share_her_order_under_every_model() {
    let app = spawn_app().await;
    let s = shop(
        &app,
        json!({"model": "linear", "code_priority": true}),
        &["anna", "ben"],
    )
    .await;
    let base = now();
    let a = click_id(&app, s.link(0), CHROME).await;
    click_was(&app, &a, base, 20);
    let b = click_id(&app, s.link(1), CHROME).await;
    click_was(&app, &b, base, 5);
    for (id, kind, click, days) in [("e1", "lead", &a, 20), ("e2", "signup", &b, 5)] {
        event(
            &app,
            &s,
            json!({"event_id": id, "type": kind, "click_id": click,
                   "customer_ref": "fay-crm-7", "occurred_at": at(base, days)}),
        )
        .await;
    }
    let o = order(
        &app,
        &s,
        json!({"order_id": "o1", "amount": "300.00", "currency": "EUR",
               "customer_ref": "fay-crm-7", "occurred_at": base.to_rfc3339()}),
    )
    .await;
    assert_eq!(
        credits(&o),
        [
            ("anna".into(), "150.00".into(), "customer".into()),
            ("ben".into(), "150.00".into(), "customer".into())
        ]
    );
    for (model, anna, ben) in [
        ("", "150.00", "150.00"),
        ("model=linear", "150.00", "150.00"),
        ("model=first_click", "300.00", "0.00"),
        ("model=last_click", "0.00", "300.00"),
        ("model=position_based", "150.00", "150.00"),
        ("model=time_decay", "55.39", "244.61"),
    ] {
        let rows = board(&app, &s, model).await;
        assert_eq!(row(&rows, "anna")["net_revenue"], anna, "{model}");
        assert_eq!(row(&rows, "ben")["net_revenue"], ben, "{model}");
        let total = report(&app, &s, model).await;
        assert_eq!(total["totals"]["net_revenue"], "300.00", "{model}");
    }
    // Under last click anna assisted: she is the original source.
    let r = app
        .get(
            &format!(
                "/api/v1/campaigns/{}/leaderboard?model=last_click",
                s.campaign_id
            ),
            &s.admin,
        )
        .await;
    assert_eq!(
        row(r.json()["items"].as_array().unwrap(), "anna")["conversions"],
        0.0
    );
    // A code still wins over the customer's history when the order carries one.
    let coded = order(
        &app,
        &s,
        json!({"order_id": "o2", "amount": "10.00", "currency": "EUR",
               "customer_ref": "fay-crm-7", "discount_codes": [s.code(1)]}),
    )
    .await;
    assert_eq!(
        credits(&coded),
        [("ben".into(), "10.00".into(), "code".into())]
    );
}

/// A lead-generation campaign: no sales, anna's fee 100.00, a lead worth 20.00 and a sign-up
/// 5.00. Four leads (one valued 50.00 by the CRM; scores 39, 40, 70 and none) and two
/// sign-ups: event value 50 + 3 × 20 + 2 × 5 = 120.00; ROI −1, ROI with event value
/// (0 + 120 − 100) / 100 = 0.2; cost per lead 25.00.
#[tokio::test]
async fn a_lead_generation_campaign_has_an_roi_from_the_value_of_its_events() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna"]).await;
    let r = app
        .patch(
            &format!("/api/v1/campaigns/{}", s.campaign_id),
            &s.admin,
            json!({"event_values": {"lead": "20.00", "signup": 5},
                   "lead_bands": {"medium": 40, "fast": 70},
                   "goal": {"metric": "event_value", "target": "240"}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["event_values"],
        json!({"lead": "20.00", "signup": "5.00"})
    );
    let r = app
        .patch(
            &format!(
                "/api/v1/campaigns/{}/influencers/{}",
                s.campaign_id,
                s.influencer(0)
            ),
            &s.admin,
            json!({"fee": "100.00", "commission_rate": "0", "goal": {"metric": "leads", "target": 8}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let click = click_id(&app, s.link(0), CHROME).await;
    for (i, (kind, score, value)) in [
        ("lead", json!(39), json!("50.00")),
        ("lead", json!(40), Value::Null),
        ("lead", json!(70), Value::Null),
        ("lead", Value::Null, Value::Null),
        ("signup", Value::Null, Value::Null),
        ("signup", Value::Null, Value::Null),
        ("landing_view", Value::Null, Value::Null),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = json!({"event_id": format!("ev-{i}"), "type": kind, "click_id": click});
        if !score.is_null() {
            body["score"] = score;
        }
        if !value.is_null() {
            body["value"] = value;
        }
        event(&app, &s, body).await;
    }
    let m = row(&board(&app, &s, "").await, "anna").clone();
    assert_eq!(m["event_value"], "120.00");
    assert_eq!(
        [
            &m["leads"],
            &m["leads_slow"],
            &m["leads_medium"],
            &m["leads_fast"]
        ],
        [&json!(4), &json!(1), &json!(1), &json!(1)]
    );
    assert_eq!(m["cost_per_lead"], "25.00");
    assert_eq!(m["roi"].as_f64(), Some(-1.0));
    assert_eq!(m["roi_with_event_value"].as_f64(), Some(0.2));
    assert_eq!(m["lead_to_customer_rate"].as_f64(), Some(0.0));
    assert_eq!(m["median_days_to_order"], Value::Null);
    let rep = report(&app, &s, "").await;
    assert_eq!(rep["goal"]["actual"], "120.00");
    assert_eq!(rep["goal"]["progress"].as_f64(), Some(0.5));
    assert_eq!(
        rep["influencers"][0]["goal"]["progress"].as_f64(),
        Some(0.5)
    );
    // Sorted by the lead figures.
    let rows = board(&app, &s, "sort=roi_with_event_value").await;
    assert_eq!(rows[0]["handle"], "anna");
    // The funnel: clicks 1 → landing 1 → leads 4 → sign-ups 2 → no orders; the last step
    // is where leads are lost.
    let r = app
        .get(
            &format!("/api/v1/campaigns/{}/funnel", s.campaign_id),
            &s.admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["total"]["bottleneck"], "signup");

    // Bad input names its field and writes nothing.
    for (body, field) in [
        (
            json!({"event_id": "x1", "type": "lead", "click_id": click, "score": 101}),
            "score",
        ),
        (
            json!({"event_id": "x2", "type": "lead", "click_id": click, "value": "1.001"}),
            "value",
        ),
        (
            json!({"event_id": "x3", "type": "lead", "click_id": click, "value": "-1"}),
            "value",
        ),
        (
            json!({"event_id": "x4", "type": "lead", "click_id": click, "value": "1000000001"}),
            "value",
        ),
    ] {
        app.post("/api/v1/events", &s.storefront, body)
            .await
            .invalid_field(field);
    }
    let r = app
        .patch(
            &format!("/api/v1/campaigns/{}", s.campaign_id),
            &s.admin,
            json!({"event_values": {"purchase": "1.00"}}),
        )
        .await;
    r.invalid_field("event_values.purchase");
    let r = app
        .patch(
            &format!("/api/v1/campaigns/{}", s.campaign_id),
            &s.admin,
            json!({"lead_bands": {"medium": 80, "fast": 50}}),
        )
        .await;
    r.invalid_field("lead_bands.fast");
    let m = row(&board(&app, &s, "").await, "anna").clone();
    assert_eq!(m["event_value"], "120.00");
}

/// anna (fee 100.00) sold 500.00, ben (fee 50.00) 100.00, cleo nothing; commission 10%.
/// Costs: product sent to anna 30.00, content for ben 45.50 USD at 0.9 = 40.95 EUR, a tool
/// 60.00 for the campaign. Spread by net revenue the tool is 50.00 / 10.00 / 0.00:
/// anna 100 + 50 + 30 + 50 = 230.00 (ROI 270/230 = 1.173913), ben 50 + 10 + 40.95 + 10 =
/// 110.95 (ROI −10.95/110.95 = −0.098693): on full cost ben is pruned by min_roi 0, which
/// fee and commission alone (60.00, ROI 0.666667) would never do. Campaign cost 340.95.
#[tokio::test]
async fn a_campaign_is_ranked_and_pruned_on_its_full_cost() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna", "ben", "cleo"]).await;
    for (i, fee) in [(0, "100.00"), (1, "50.00")] {
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
    order(
        &app,
        &s,
        json!({"order_id": "a1", "amount": "500.00", "currency": "EUR", "discount_codes": [s.code(0)]}),
    )
    .await;
    order(
        &app,
        &s,
        json!({"order_id": "b1", "amount": "100.00", "currency": "EUR", "discount_codes": [s.code(1)]}),
    )
    .await;
    let costs = format!("/api/v1/campaigns/{}/costs", s.campaign_id);
    let r = app
        .post(
            &costs,
            &s.admin,
            json!({"kind": "content", "amount": "45.50", "currency": "USD", "influencer_id": s.influencer(1)}),
        )
        .await;
    // No USD rate yet: refused by name, nothing written.
    r.invalid_field("currency");
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/fx-rates",
            Some(&s.admin),
            Some(json!({"base": "USD", "quote": "EUR", "rate": "0.9"})),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    let mut ids = Vec::new();
    for body in [
        json!({"kind": "product", "amount": "30.00", "influencer_id": s.influencer(0), "note": "2 jackets"}),
        json!({"kind": "content", "amount": "45.50", "currency": "USD", "influencer_id": s.influencer(1)}),
        json!({"kind": "tool", "amount": "60.00"}),
    ] {
        let r = app.post(&costs, &s.admin, body).await;
        assert_eq!(r.status, 201, "{}", r.text);
        ids.push(r.json()["id"].as_str().unwrap().to_string());
    }
    let r = app.get(&costs, &s.admin).await;
    let listed = r.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        (
            &listed["items"][1]["amount"],
            &listed["items"][1]["original_amount"]
        ),
        (&json!("40.95"), &json!("45.50"))
    );
    let r = app
        .patch(
            &format!("/api/v1/campaigns/{}", s.campaign_id),
            &s.admin,
            json!({"cost_allocation": "by_net_revenue"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let rows = board(&app, &s, "sort=roi").await;
    let (anna, ben, cleo) = (row(&rows, "anna"), row(&rows, "ben"), row(&rows, "cleo"));
    assert_eq!(
        (&anna["costs"], &anna["cost"], anna["roi"].as_f64()),
        (&json!("80.00"), &json!("230.00"), Some(1.173913))
    );
    assert_eq!(
        (&ben["costs"], &ben["cost"], ben["roi"].as_f64()),
        (&json!("50.95"), &json!("110.95"), Some(-0.098693))
    );
    assert_eq!(
        (&cleo["cost"], &cleo["roi"]),
        (&json!("0.00"), &Value::Null)
    );
    assert_eq!(rows[0]["handle"], "anna");
    assert_eq!(rows[1]["handle"], "ben");
    let total = report(&app, &s, "").await;
    assert_eq!(total["totals"]["cost"], "340.95");
    assert_eq!(total["totals"]["costs"], "130.95");

    // Left unspread, the tool is in the totals only.
    let r = app
        .patch(
            &format!("/api/v1/campaigns/{}", s.campaign_id),
            &s.admin,
            json!({"cost_allocation": "none"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rows = board(&app, &s, "").await;
    assert_eq!(row(&rows, "anna")["cost"], "180.00");
    assert_eq!(row(&rows, "ben")["cost"], "100.95");
    assert_eq!(report(&app, &s, "").await["totals"]["cost"], "340.95");
    // Even: 20.00 each.
    app.patch(
        &format!("/api/v1/campaigns/{}", s.campaign_id),
        &s.admin,
        json!({"cost_allocation": "even"}),
    )
    .await;
    let rows = board(&app, &s, "").await;
    assert_eq!(row(&rows, "cleo")["cost"], "20.00");
    app.patch(
        &format!("/api/v1/campaigns/{}", s.campaign_id),
        &s.admin,
        json!({"cost_allocation": "by_net_revenue"}),
    )
    .await;

    let r = app
        .post(
            &format!("/api/v1/campaigns/{}/prune", s.campaign_id),
            &s.admin,
            json!({"rules": {"min_roi": 0}, "dry_run": false}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let result = r.json();
    let pruned: Vec<&str> = result["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["handle"].as_str().unwrap())
        .collect();
    assert_eq!(pruned, ["ben"], "{result}");

    // Payouts stay fee + commission.
    let r = app
        .get(
            &format!("/api/v1/campaigns/{}/payouts", s.campaign_id),
            &s.admin,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let lines = r.json()["items"].as_array().unwrap().clone();
    let anna_line = lines.iter().find(|l| l["handle"] == "anna").unwrap();
    assert_eq!(anna_line["fee"], "100.00");

    // A rate changed since does not move a recorded cost that an edit leaves alone.
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/fx-rates",
            Some(&s.admin),
            Some(json!({"base": "USD", "quote": "EUR", "rate": "0.8"})),
        )
        .await;
    assert!(r.status < 300, "{}", r.text);
    let r = app
        .patch(
            &format!("{costs}/{}", ids[1]),
            &s.admin,
            json!({"note": "reel"}),
        )
        .await;
    assert_eq!(
        (r.status, &r.json()["amount"]),
        (200, &json!("40.95")),
        "{}",
        r.text
    );

    // Change and delete: the figures follow.
    let r = app
        .patch(
            &format!("{costs}/{}", ids[0]),
            &s.admin,
            json!({"amount": "10.00", "note": null}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        (&r.json()["amount"], &r.json()["note"]),
        (&json!("10.00"), &Value::Null)
    );
    let r = app.delete(&format!("{costs}/{}", ids[2]), &s.admin).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let rows = board(&app, &s, "").await;
    assert_eq!(row(&rows, "anna")["cost"], "160.00");
    assert_eq!(report(&app, &s, "").await["totals"]["cost"], "260.95");

    // Bad input, someone else's ids.
    app.post(&costs, &s.admin, json!({"kind": "gift", "amount": "1.00"}))
        .await
        .invalid_field("kind");
    app.post(&costs, &s.admin, json!({"kind": "tool", "amount": "0"}))
        .await
        .invalid_field("amount");
    app.post(&costs, &s.admin, json!({"kind": "tool", "amount": "1.001"}))
        .await
        .invalid_field("amount");
    let other = shop(&app, json!({}), &["zoe"]).await;
    let r = app
        .post(
            &costs,
            &s.admin,
            json!({"kind": "tool", "amount": "1.00", "influencer_id": other.influencer(0)}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app.get(&costs, &other.admin).await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app
        .delete(&format!("{costs}/{}", ids[1]), &other.admin)
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
}

/// anna's paid link (used in an ad) brought an 80.00 order, her organic link a 20.00 one. Her
/// post of 10,000 impressions is amplified with 25.00 of ad spend (which marks it paid); her
/// other post has 5,000 impressions. Paid: 1 click, 1 conversion, 80.00, cost 25.00, CPM
/// 2.50, CPA 25.00. Organic: fee 40.00 + commission 10.00: cost 50.00, CPM 10.00, CPA 50.00.
#[tokio::test]
async fn paid_and_organic_results_are_read_apart() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "last_click"}), &["anna"]).await;
    let enrollment = format!(
        "/api/v1/campaigns/{}/influencers/{}",
        s.campaign_id,
        s.influencer(0)
    );
    let r = app
        .patch(&enrollment, &s.admin, json!({"fee": "40.00"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .post(
            &format!("{enrollment}/links"),
            &s.admin,
            json!({"label": "story ad", "paid": true}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["paid"], true);
    let paid_link = r.json()["code"].as_str().unwrap().to_string();
    let id = r.json()["id"].as_str().unwrap().to_string();
    let paid_click = click_id(&app, &paid_link, CHROME).await;
    let organic_click = click_id(&app, s.link(0), CHROME).await;
    order(
        &app,
        &s,
        json!({"order_id": "p1", "amount": "80.00", "currency": "EUR", "click_ids": [paid_click]}),
    )
    .await;
    order(
        &app,
        &s,
        json!({"order_id": "o1", "amount": "20.00", "currency": "EUR", "click_ids": [organic_click]}),
    )
    .await;
    for (url, impressions) in [
        ("https://instagram.example/p/ad", 10_000),
        ("https://instagram.example/p/own", 5_000),
    ] {
        let r = app
            .post(
                &format!("{enrollment}/posts"),
                &s.admin,
                json!({"post_url": url, "platform": "instagram", "impressions": impressions,
                       "reach": impressions / 2, "likes": 100}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
    let r = app
        .post(
            &format!("/api/v1/campaigns/{}/costs", s.campaign_id),
            &s.admin,
            json!({"kind": "ad_spend", "amount": "25.00", "influencer_id": s.influencer(0),
                   "post_url": "https://instagram.example/p/ad"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    for model in ["", "model=first_click", "model=linear"] {
        let split = report(&app, &s, model).await["paid_vs_organic"].clone();
        let (paid, organic) = (&split["paid"], &split["organic"]);
        assert_eq!(
            (
                paid["posts"].as_i64(),
                paid["impressions"].as_i64(),
                paid["clicks"].as_i64()
            ),
            (Some(1), Some(10_000), Some(1)),
            "{model} {split}"
        );
        assert_eq!(paid["conversions"].as_f64(), Some(1.0));
        assert_eq!(
            (
                &paid["net_revenue"],
                &paid["cost"],
                &paid["cpm"],
                &paid["cpa"]
            ),
            (
                &json!("80.00"),
                &json!("25.00"),
                &json!("2.50"),
                &json!("25.00")
            ),
            "{model}"
        );
        assert_eq!(
            (
                organic["posts"].as_i64(),
                organic["impressions"].as_i64(),
                organic["clicks"].as_i64()
            ),
            (Some(1), Some(5_000), Some(1))
        );
        assert_eq!(
            (
                &organic["net_revenue"],
                &organic["cost"],
                &organic["cpm"],
                &organic["cpa"]
            ),
            (
                &json!("20.00"),
                &json!("50.00"),
                &json!("10.00"),
                &json!("50.00")
            ),
            "{model}"
        );
    }
    // Paid is set when the link is made, for its whole life: its clicks and its orders are
    // read alike.
    let r = app
        .patch(
            &format!("/api/v1/links/{id}"),
            &s.admin,
            json!({"paid": false}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
}
