//! Exclusion rules, checked against a twin: two brands run the same campaign, one with all the
//! traffic (some of it to be excluded), the other with only the traffic that should count.
//! With its rules in force the first campaign's every figure (leaderboard under each model,
//! report, time series, funnel, link stats, payouts, pruning) equals the twin's to the cent;
//! with `?exclusions=off`, or once the rules are deleted, it is the full traffic again.

use serde_json::{json, Value};

use crate::campaign_loop::received_days_ago;
use crate::helpers::*;
use crate::orders::{click_id, shop, Shop};
use crate::redirect::{click, CHROME};

const TESTER: &str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0 influtrack-tester";

/// The traffic both twins get, and what only the full one gets.
struct Plan {
    full: bool,
}

impl Plan {
    async fn run(&self, app: &TestApp, s: &Shop) {
        let shopper = |i: usize| format!("{CHROME} shopper/{i}");
        // anna (0): two shoppers click; one of them orders 80.00, later refunded 30.00.
        let a1 = click_id(app, s.link(0), &shopper(1)).await;
        click_id(app, s.link(0), &shopper(1)).await;
        click_id(app, s.link(0), &shopper(2)).await;
        // A shopper who came once from Instagram and once from a coupon site: only the
        // coupon-site click is excluded, so the shopper stays one unique click.
        let r = click(
            app,
            s.link(0),
            &[
                ("user-agent", &shopper(3)),
                ("referer", "https://l.instagram.com/p/1"),
            ],
        )
        .await;
        assert_eq!(r.status(), 302);
        if self.full {
            let r = click(
                app,
                s.link(0),
                &[
                    ("user-agent", &shopper(3)),
                    ("referer", "https://www.coupons.example/x"),
                ],
            )
            .await;
            assert_eq!(r.status(), 302);
        }
        // ben (1): a shopper clicks and orders 40.00 through the click.
        let b1 = click_id(app, s.link(1), &shopper(4)).await;
        event(
            app,
            s,
            json!({"event_id": "E-2", "type": "landing_view", "click_id": b1}),
        )
        .await;
        // Bots on ben's link stay bots.
        assert_eq!(
            click(app, s.link(1), &[("user-agent", "Googlebot/2.1")])
                .await
                .status(),
            302
        );
        order(
            app,
            s,
            json!({"order_id": "A-1", "amount": "80.00", "currency": "EUR", "click_ids": [a1]}),
        )
        .await;
        refund(app, s, "A-1", "A-1-r", "30.00").await;
        // Funnel events: a valued, scored lead on anna's shopper, a landing view on ben's.
        event(
            app,
            s,
            json!({"event_id": "E-1", "type": "lead", "click_id": a1, "value": "25.00",
                   "score": 80}),
        )
        .await;
        order(
            app,
            s,
            json!({"order_id": "B-1", "amount": "40.00", "currency": "EUR", "click_ids": [b1]}),
        )
        .await;
        // Code orders for both: anna 55.55 (a month ago, paid out after the holding period),
        // ben 19.99.
        order(
            app,
            s,
            json!({"order_id": "A-2", "amount": "55.55", "currency": "EUR",
                   "discount_codes": [s.code(0)]}),
        )
        .await;
        order(
            app,
            s,
            json!({"order_id": "B-2", "amount": "19.99", "currency": "EUR",
                   "discount_codes": [s.code(1)]}),
        )
        .await;
        // Ten days ago, through ben's code: outside a window of the last days.
        order(
            app,
            s,
            json!({"order_id": "B-4", "amount": "64.00", "currency": "EUR",
                   "discount_codes": [s.code(1)], "occurred_at": days_ago(10)}),
        )
        .await;
        if !self.full {
            return;
        }
        // Our own tests: the tester clicks anna's link three times and ben's once, and orders
        // through both (one order, two touches), then refunds half of it.
        let t1 = click_id(app, s.link(0), TESTER).await;
        click_id(app, s.link(0), TESTER).await;
        let t2 = click_id(app, s.link(1), TESTER).await;
        click_id(app, s.link(0), TESTER).await;
        // The tester's own lead (valued, scored, and followed by the tester's order), and a
        // sign-up on ben's link.
        event(
            app,
            s,
            json!({"event_id": "E-T1", "type": "lead", "click_id": t1, "value": "40.00",
                   "score": 95, "customer_ref": "qa@brand.example"}),
        )
        .await;
        event(
            app,
            s,
            json!({"event_id": "E-T2", "type": "signup", "click_id": t2}),
        )
        .await;
        order(
            app,
            s,
            json!({"order_id": "T-1", "amount": "99.99", "currency": "EUR",
                   "click_ids": [t1, t2], "discount_codes": [s.code(0)],
                   "customer_ref": "qa@brand.example"}),
        )
        .await;
        refund(app, s, "T-1", "T-1-r", "33.33").await;
        // A test order through ben's code alone, named by its id.
        order(
            app,
            s,
            json!({"order_id": "T-2", "amount": "250.00", "currency": "EUR",
                   "discount_codes": [s.code(1)], "occurred_at": days_ago(9)}),
        )
        .await;
    }
}

fn days_ago(n: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::days(n)).to_rfc3339()
}

async fn order(app: &TestApp, s: &Shop, body: Value) {
    let r = app.post("/api/v1/orders", &s.storefront, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn event(app: &TestApp, s: &Shop, body: Value) {
    let r = app.post("/api/v1/events", &s.storefront, body).await;
    assert_eq!(r.status, 201, "{}", r.text);
}

async fn refund(app: &TestApp, s: &Shop, order: &str, id: &str, amount: &str) {
    let r = app
        .post(
            &format!("/api/v1/orders/{order}/refunds"),
            &s.storefront,
            json!({"refund_id": id, "amount": amount}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// Ids differ between the twins: everything else must not.
fn without_ids(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| {
                    !(k.ends_with("_id")
                        || *k == "id"
                        || *k == "generated_at"
                        || *k == "as_of"
                        || *k == "name")
                })
                .map(|(k, v)| (k.clone(), without_ids(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_ids).collect()),
        other => other.clone(),
    }
}

async fn read(app: &TestApp, key: &str, path: &str) -> Value {
    let r = app.get(path, key).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    without_ids(&r.json())
}

/// Every figure of a shop's campaign that exclusions change, with `query` appended to the
/// reports that take it.
async fn figures(app: &TestApp, s: &Shop, query: &str) -> Vec<(String, Value)> {
    let c = format!("/api/v1/campaigns/{}", s.campaign_id);
    let day = |d: i64| (chrono::Utc::now() + chrono::Duration::days(d)).format("%Y-%m-%d");
    let (from, to) = (day(-1), day(1));
    let mut out = Vec::new();
    for model in [
        "",
        "&model=last_click",
        "&model=first_click",
        "&model=linear",
    ] {
        let path = format!("{c}/leaderboard?{query}{model}");
        out.push((path.clone(), read(app, &s.admin, &path).await));
    }
    // Windows: the last two days, and the days of the back-dated orders.
    for window in [
        format!("from={from}&to={to}"),
        format!("from={}&to={}", day(-12), day(-5)),
    ] {
        for path in [
            format!("{c}/leaderboard?{window}{query}"),
            format!("{c}/report?{window}{query}&model=linear"),
        ] {
            out.push((path.clone(), read(app, &s.admin, &path).await));
        }
    }
    for path in [
        format!("{c}/report?{query}"),
        format!(
            "{c}/timeseries?interval=day&from={from}&to={to}\
             &metrics=clicks,orders,conversions,gross_revenue,refunds,net_revenue{query}"
        ),
        format!("{c}/funnel?{query}"),
    ] {
        out.push((path.clone(), read(app, &s.admin, &path).await));
    }
    for (i, e) in s.enrollments.iter().enumerate() {
        let path = format!(
            "/api/v1/links/{}/stats?{}",
            e["link"]["id"].as_str().unwrap(),
            query.trim_start_matches('&')
        );
        out.push((format!("link {i} stats"), read(app, &s.admin, &path).await));
    }
    out.push((
        "payouts".into(),
        read(app, &s.admin, &format!("{c}/payouts")).await,
    ));
    let r = app
        .post(
            &format!("{c}/prune"),
            &s.admin,
            json!({"rules": {"min_net_revenue": "60.00", "min_clicks_for_judgement": 0},
                   "dry_run": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    out.push(("prune".into(), without_ids(&r.json())));
    out
}

fn assert_same(got: &[(String, Value)], want: &[(String, Value)], what: &str) {
    assert_eq!(got.len(), want.len());
    for ((path, g), (_, w)) in got.iter().zip(want) {
        assert_eq!(g, w, "{what}: {path}");
    }
}

/// A dashboard page as the signed-in browser gets it.
async fn html(app: &TestApp, path: &str, cookie: &str) -> String {
    crate::dashboard::get(app, path, Some(cookie))
        .await
        .text()
        .await
        .unwrap()
}

async fn exclude(app: &TestApp, s: &Shop, rule: Value, reason: &str) -> Value {
    let r = app
        .post(
            &format!("/api/v1/campaigns/{}/exclusions", s.campaign_id),
            &s.admin,
            json!({"rule": rule, "reason": reason}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn excluded_traffic_leaves_every_figure_to_the_cent_and_comes_back_when_the_rule_goes() {
    let app = spawn_app().await;
    let full = shop(&app, json!({"model": "last_click"}), &["anna", "ben"]).await;
    let twin = shop(&app, json!({"model": "last_click"}), &["anna", "ben"]).await;
    Plan { full: true }.run(&app, &full).await;
    Plan { full: false }.run(&app, &twin).await;
    // A-2 was received a month ago in both: its commission is approved.
    received_days_ago(&app, "A-2", 31);

    // Another campaign of the same brand, whose link the tester also clicks: the rules of the
    // first campaign never reach it.
    let other = crate::resources::campaign(
        &app,
        &full.admin,
        json!({"name": "Other", "destination_url": "https://shop.example/o", "currency": "EUR"}),
    )
    .await;
    let other_id = other["id"].as_str().unwrap().to_string();
    let e = crate::resources::enroll(
        &app,
        &full.admin,
        &other_id,
        json!({"influencer_id": full.influencer(0), "code": "OTHER15"}),
    )
    .await;
    let other_link = e["link"]["code"].as_str().unwrap().to_string();
    click_id(&app, &other_link, TESTER).await;
    click_id(&app, &other_link, TESTER).await;
    let other_path = format!("/api/v1/campaigns/{other_id}/leaderboard");
    let other_before = read(&app, &full.admin, &other_path).await;
    assert_eq!(other_before["items"][0]["clicks"], 2);

    let everything = figures(&app, &full, "").await;
    let honest = figures(&app, &twin, "").await;
    // The test traffic shows before any rule (so the comparison below can fail).
    assert_ne!(everything[0].1, honest[0].1);

    // The tester's visitor id of today, as the tester's browser asks for it.
    let r = app
        .client
        .get(format!("{}/api/v1/visitor", app.address))
        .header("user-agent", TESTER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me: Value = r.json().await.unwrap();
    let visitor = me["visitor"].as_str().unwrap().to_string();
    assert_eq!(visitor.len(), 32);

    let own = exclude(
        &app,
        &full,
        json!({"visitor": visitor}),
        "Our own test clicks",
    )
    .await;
    assert_eq!(own["matched"]["clicks"], 4, "{own}");
    assert_eq!(own["matched"]["orders"], 1, "{own}");
    assert!(own["active"].as_bool().unwrap());
    let coupons = exclude(
        &app,
        &full,
        json!({"referrer_host": "coupons.example", "link_id": full.enrollments[0]["link"]["id"]}),
        "Coupon site traffic",
    )
    .await;
    assert_eq!(coupons["matched"]["clicks"], 1, "{coupons}");
    let named = exclude(&app, &full, json!({"order_id": "T-2"}), "Test order").await;
    assert_eq!(named["matched"]["orders"], 1, "{named}");

    let excluded = figures(&app, &full, "").await;
    assert_same(&excluded, &honest, "with the rules in force");
    assert_eq!(
        read(&app, &full.admin, &other_path).await,
        other_before,
        "another campaign keeps its clicks"
    );
    let off = figures(&app, &full, "&exclusions=off").await;
    // Pruning and payouts take no switch: they always apply the rules.
    let n = off.len() - 2;
    assert_same(&off[..n], &everything[..n], "with exclusions=off");

    // Traffic after the rules: the tester again (matched as it comes), and a shopper both
    // twins get. Read at once (the clicks not folded yet) and once they are folded.
    let tester = click_id(&app, full.link(0), TESTER).await;
    order(
        &app,
        &full,
        json!({"order_id": "T-3", "amount": "12.34", "currency": "EUR", "click_ids": [tester]}),
    )
    .await;
    for s in [&full, &twin] {
        let b = click_id(&app, s.link(1), &format!("{CHROME} shopper/5")).await;
        order(
            &app,
            s,
            json!({"order_id": "B-3", "amount": "7.77", "currency": "EUR", "click_ids": [b]}),
        )
        .await;
    }
    let honest = figures(&app, &twin, "").await;
    assert_same(
        &figures(&app, &full, "").await,
        &honest,
        "new traffic, unfolded",
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_same(
        &figures(&app, &full, "").await,
        &honest,
        "new traffic, folded",
    );
    let everything = figures(&app, &full, "&exclusions=off").await;

    // A-2 is anna's only approved order: 10% of 55.55.
    let c = format!("/api/v1/campaigns/{}", full.campaign_id);
    let payouts = app.get(&format!("{c}/payouts"), &full.admin).await.json();
    let anna = payouts["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["handle"] == "anna")
        .unwrap()
        .clone();
    assert_eq!(anna["commission_approved"], "5.56", "{anna}");

    // Deleting needs a reason, and is recorded with who and why.
    let path = format!("{c}/exclusions/{}", own["id"].as_str().unwrap());
    app.delete(&path, &full.admin).await.invalid_field("reason");
    let r = app
        .delete(
            &format!("{path}?reason=Tester%20was%20a%20real%20customer"),
            &full.admin,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.delete(&format!("{path}?reason=again"), &full.admin)
        .await
        .problem(409);
    let list = app.get(&format!("{c}/exclusions"), &full.admin).await;
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 3);
    let gone = &items[0];
    assert_eq!(gone["id"], own["id"]);
    assert!(!gone["active"].as_bool().unwrap());
    assert_eq!(gone["deleted"]["reason"], "Tester was a real customer");
    assert_eq!(gone["deleted"]["by"], own["created_by"]);
    assert!(gone["matched"].is_null());
    assert_eq!(items[1]["reason"], "Coupon site traffic");
    assert_eq!(items[2]["matched"]["orders"], 1);
    assert_eq!(items[1]["matched"]["clicks"], 1);
    let active = app
        .get(&format!("{c}/exclusions?status=active"), &full.admin)
        .await
        .json();
    assert_eq!(active["items"].as_array().unwrap().len(), 2);

    // With the two other rules deleted too, every figure is the full traffic's again.
    for item in &items[1..] {
        let r = app
            .delete(
                &format!(
                    "{c}/exclusions/{}?reason=undo",
                    item["id"].as_str().unwrap()
                ),
                &full.admin,
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let back = figures(&app, &full, "").await;
    assert_same(&back[..n], &everything[..n], "after the rules were deleted");
    assert_ne!(
        back[n].1, honest[n].1,
        "the payouts count the test orders again"
    );
}

#[tokio::test]
async fn rules_are_checked_and_kept_to_their_brand() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "last_click"}), &["anna"]).await;
    let other = shop(&app, json!({"model": "last_click"}), &["anna"]).await;
    let path = format!("/api/v1/campaigns/{}/exclusions", s.campaign_id);
    let post = |rule: Value| {
        let (app, path, admin) = (&app, &path, &s.admin);
        async move {
            app.post(path, admin, json!({"rule": rule, "reason": "x"}))
                .await
        }
    };
    post(json!({})).await.invalid_field("rule");
    post(json!({"visitor": "me"}))
        .await
        .invalid_field("rule.visitor");
    post(json!({"order_id": "1", "visitor": "0123456789abcdef0123456789abcdef"}))
        .await
        .invalid_field("rule.order_id");
    post(json!({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}))
        .await
        .invalid_field("rule.to");
    post(json!({"referrer_host": "not a host"}))
        .await
        .invalid_field("rule.referrer_host");
    post(json!({"link_id": "nope"}))
        .await
        .invalid_field("rule.link_id");
    app.post(
        &path,
        &s.admin,
        json!({"rule": {"order_id": "1"}, "reason": " "}),
    )
    .await
    .invalid_field("reason");
    // Another brand's link is unknown here.
    post(json!({"link_id": other.enrollments[0]["link"]["id"]}))
        .await
        .problem(404);
    // The other brand sees none of it.
    let made = post(json!({"order_id": "1"})).await;
    assert_eq!(made.status, 201, "{}", made.text);
    app.get(&path, &other.admin).await.problem(404);
    app.delete(
        &format!("{path}/{}?reason=x", made.json()["id"].as_str().unwrap()),
        &other.admin,
    )
    .await
    .problem(404);
    // The storefront's key may not make rules.
    app.post(
        &path,
        &s.storefront,
        json!({"rule": {"order_id": "2"}, "reason": "x"}),
    )
    .await
    .problem(403);
    // A report's switch is on or off.
    app.get(
        &format!(
            "/api/v1/campaigns/{}/report?exclusions=maybe",
            s.campaign_id
        ),
        &s.admin,
    )
    .await
    .invalid_field("exclusions");
    // An influencer sees its figures as the rules leave them, never without.
    let (_, own) = app
        .create_key(
            &s.brand_id,
            &s.admin,
            json!({"scope": "influencer", "influencer_id": s.influencer(0)}),
        )
        .await;
    let report = format!("/api/v1/campaigns/{}/report", s.campaign_id);
    assert_eq!(app.get(&report, &own).await.status, 200);
    app.get(&format!("{report}?exclusions=off"), &own)
        .await
        .invalid_field("exclusions");
}

#[tokio::test]
async fn a_paid_commission_stays_paid_and_the_balance_goes_negative() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "last_click"}), &["anna"]).await;
    order(
        &app,
        &s,
        json!({"order_id": "P-1", "amount": "200.00", "currency": "EUR",
               "discount_codes": [s.code(0)]}),
    )
    .await;
    received_days_ago(&app, "P-1", 31);
    let c = format!("/api/v1/campaigns/{}", s.campaign_id);
    let pay = format!("{c}/payouts/{}/mark-paid", s.influencer(0));
    let r = app
        .post(
            &pay,
            &s.admin,
            json!({"amount": "20.00", "reference": "INV-7"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    exclude(&app, &s, json!({"order_id": "P-1"}), "A fraudulent order").await;
    let line = app.get(&format!("{c}/payouts"), &s.admin).await.json()["items"][0].clone();
    assert_eq!(line["commission_approved"], "0.00", "{line}");
    assert_eq!(line["paid"], "20.00", "{line}");
    assert_eq!(line["balance"], "-20.00", "{line}");
    // Nothing more can be paid out against it.
    app.post(&pay, &s.admin, json!({"amount": "0.01"}))
        .await
        .invalid_field("amount");
}

#[tokio::test]
async fn a_window_on_a_link_takes_out_its_clicks_and_nothing_outside_it() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "last_click"}), &["anna", "ben"]).await;
    for i in 0..3 {
        click_id(&app, s.link(0), &format!("{CHROME} launch/{i}")).await;
    }
    click_id(&app, s.link(1), CHROME).await;
    let at = |minutes: i64| (chrono::Utc::now() + chrono::Duration::minutes(minutes)).to_rfc3339();
    let link = s.enrollments[0]["link"]["id"].clone();
    let later = exclude(
        &app,
        &s,
        json!({"link_id": link, "from": at(5), "to": at(65)}),
        "the next hour",
    )
    .await;
    assert_eq!(later["matched"]["clicks"], 0, "{later}");
    let now = exclude(
        &app,
        &s,
        json!({"link_id": link, "from": at(-60), "to": at(1)}),
        "launch check",
    )
    .await;
    assert_eq!(now["matched"]["clicks"], 3, "{now}");
    let board = app
        .get(
            &format!("/api/v1/campaigns/{}/leaderboard", s.campaign_id),
            &s.admin,
        )
        .await
        .json();
    let clicks = |h: &str| {
        board["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["handle"] == h)
            .unwrap()["clicks"]
            .clone()
    };
    assert_eq!(clicks("anna"), 0, "{board}");
    assert_eq!(clicks("ben"), 1, "{board}");
}

#[tokio::test]
async fn the_dashboard_makes_lists_and_deletes_rules_and_shows_figures_without_them() {
    let app = spawn_app().await;
    let s = shop(&app, json!({"model": "last_click"}), &["anna"]).await;
    order(
        &app,
        &s,
        json!({"order_id": "Q-1", "amount": "42.00", "currency": "EUR",
               "discount_codes": [s.code(0)]}),
    )
    .await;
    let cookie = crate::dashboard::signed_in(&app, &s.admin).await;
    let token = crate::dashboard::form_token(&app, &cookie).await;
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let (app, cookie, token) = (&app, &cookie, &token);
        async move {
            let mut form = vec![("form_token", token.clone())];
            form.extend(fields);
            let r = app
                .client
                .post(format!("{}{path}", app.address))
                .header("cookie", cookie)
                .header("origin", &app.address)
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let page = format!("/dashboard/campaigns/{}/exclusions", s.campaign_id);
    // A refused rule comes back beside its field, with what was typed.
    let (status, body) = post(
        page.clone(),
        vec![
            ("order_id", "Q-1".into()),
            ("referrer_host", "x.example".into()),
            ("reason", "dup".into()),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("cannot be combined"), "{body}");
    let (status, _) = post(
        page.clone(),
        vec![
            ("order_id", "Q-1".into()),
            ("reason", "A test order".into()),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let listed = html(&app, &page, &cookie).await;
    assert!(
        listed.contains("A test order") && listed.contains("Q-1"),
        "{listed}"
    );
    let campaign = format!("/dashboard/campaigns/{}", s.campaign_id);
    let with_rules = html(&app, &campaign, &cookie).await;
    let without = html(&app, &format!("{campaign}?exclusions=off"), &cookie).await;
    assert!(!with_rules.contains("42.00"), "the order is excluded");
    assert!(without.contains("42.00") && without.contains("ignore the campaign's exclusion rules"));
    // Deleting asks why, and keeps the rule listed as deleted.
    let list = app
        .get(
            &format!("/api/v1/campaigns/{}/exclusions", s.campaign_id),
            &s.admin,
        )
        .await
        .json();
    let id = list["items"][0]["id"].as_str().unwrap().to_string();
    let (status, body) = post(format!("{page}/{id}/delete"), vec![]).await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = post(
        format!("{page}/{id}/delete"),
        vec![("reason", "it was real".into())],
    )
    .await;
    assert_eq!(status, 303);
    let listed = html(&app, &page, &cookie).await;
    assert!(listed.contains("it was real"), "{listed}");
    let back = html(&app, &campaign, &cookie).await;
    assert!(back.contains("42.00"));
}
