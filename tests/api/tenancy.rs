//! Tenancy and scopes on every route, generated from the route table the server registers.
//!
//! For each route the table below says who may call it and gives a valid request. The test
//! then checks, for every route that is served:
//! - a key of another brand, aimed at this brand's ids (in the path, the query or the body),
//!   gets exactly what a missing id gets (same status, same problem type), and its answer
//!   carries none of this brand's ids;
//! - each scope docs/API.md allows gets past authorisation (a missing id is then a 404), and each
//!   other scope is a 403; no key is a 401;
//! - webhook paths signed with another brand's secret answer like an unknown brand;
//! - nothing answers a 5xx.
//!
//! A route served without an entry here fails the test, and so does an entry for a route that
//! is no longer served.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::redirect::CHROME;
use crate::resources::{campaign, enroll, influencer, spring};

/// Who may call a route.
#[derive(Clone, Copy)]
enum Access {
    /// Anyone, no key.
    Public,
    /// A platform's signed delivery, no key.
    Webhook,
    /// A bearer key of one of these scopes (space-separated: operator admin read storefront
    /// influencer).
    Key(&'static str),
    /// A dashboard session (cookie) of one of these scopes.
    Session(&'static str),
}

struct Case {
    access: Access,
    /// Query string template (without `?`).
    query: &'static str,
    /// JSON body template; `{n}` is a fresh number per request.
    body: Option<&'static str>,
}

const SCOPES: [&str; 5] = ["operator", "admin", "read", "storefront", "influencer"];

fn case(access: Access, query: &'static str, body: Option<&'static str>) -> Case {
    Case {
        access,
        query,
        body,
    }
}

/// The expected access of every route, with a valid request for it.
fn table() -> BTreeMap<(&'static str, &'static str), Case> {
    use Access::*;
    let get = |p| (("GET", p), case(Key("admin read"), "", None));
    let mut t = BTreeMap::new();
    let mut add = |m: &'static str, p: &'static str, c: Case| {
        assert!(t.insert((m, p), c).is_none(), "{p} twice in the table");
    };
    add("GET", "/r/{code}", case(Public, "", None));
    add("HEAD", "/r/{code}", case(Public, "", None));
    for p in [
        "/healthz",
        "/readyz",
        "/t.js",
        "/api/v1/visitor",
        "/api/v1/openapi.yaml",
        "/api/v1/openapi.json",
        "/api/docs",
    ] {
        add("GET", p, case(Public, "", None));
    }
    for p in [
        "/",
        "/favicon.ico",
        "/dashboard/app.css",
        "/dashboard/app.js",
        "/dashboard/login",
    ] {
        add("GET", p, case(Public, "", None));
    }
    add("POST", "/dashboard/login", case(Public, "", None));
    add("POST", "/dashboard/logout", case(Public, "", None));
    // Brand keys see the brand's pages; an influencer's key is sent to its own page, where
    // campaign pages show only its own rows. Forms are form-encoded.
    add("GET", "/dashboard", case(Session("admin read"), "", None));
    add(
        "GET",
        "/dashboard/me",
        case(Session("influencer"), "", None),
    );
    add(
        "GET",
        "/dashboard/campaigns/{campaign_id}",
        case(Session("admin read influencer"), "", None),
    );
    add(
        "GET",
        "/dashboard/campaigns/{campaign_id}/influencers/{influencer_id}",
        case(Session("admin read influencer"), "", None),
    );
    add(
        "POST",
        "/dashboard/campaigns/{campaign_id}/prune",
        case(Session("admin"), "", Some("min_roi=0&action=preview")),
    );
    add(
        "POST",
        "/dashboard/campaigns/{campaign_id}/influencers/{influencer_id}/reinstate",
        case(Session("admin"), "", None),
    );
    add(
        "GET",
        "/dashboard/store",
        case(Session("admin read"), "", None),
    );
    // The workspace: set-up pages and forms are the admin's; payouts the brand's readers';
    // the leaderboard CSV follows the campaign page (an influencer gets its own row).
    for p in [
        "/dashboard/influencers",
        "/dashboard/keys",
        "/dashboard/campaigns/new",
        "/dashboard/campaigns/{campaign_id}/edit",
        "/dashboard/campaigns/{campaign_id}/enroll",
        "/dashboard/campaigns/{campaign_id}/posts",
        "/dashboard/campaigns/{campaign_id}/costs",
        "/dashboard/campaigns/{campaign_id}/exclusions",
        "/dashboard/campaigns/{campaign_id}/successor",
    ] {
        add("GET", p, case(Session("admin"), "", None));
    }
    for p in [
        "/dashboard/campaigns/{campaign_id}/payouts",
        "/dashboard/campaigns/{campaign_id}/payouts.csv",
    ] {
        add("GET", p, case(Session("admin read"), "", None));
    }
    add(
        "GET",
        "/dashboard/campaigns/{campaign_id}/leaderboard.csv",
        case(Session("admin read influencer"), "", None),
    );
    for (p, body) in [
        ("/dashboard/influencers", "handle=dash{n}"),
        (
            "/dashboard/influencers/import",
            "csv=handle%0Aimported{n}&action=preview",
        ),
        ("/dashboard/keys", "scope=read"),
        ("/dashboard/keys/{key_id}/revoke", ""),
        // Too short: refused (422) before anything of the brand's shop changes.
        ("/dashboard/store/{platform}", "webhook_secret=x"),
        (
            "/dashboard/campaigns",
            "name=Dash{n}&destination_url=https%3A%2F%2Fshop.example&currency=EUR",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/edit",
            "name=Renamed{n}&destination_url=https%3A%2F%2Fshop.example",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/enroll",
            "influencer_id={influencer_id}",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/posts",
            "handle=x&post_url=https%3A%2F%2Fp.example%2F{n}&platform=instagram",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/costs",
            "kind=tool&amount=1.00&note=n{n}",
        ),
        ("/dashboard/campaigns/{campaign_id}/costs/{cost_id}/delete", ""),
        (
            "/dashboard/campaigns/{campaign_id}/exclusions",
            "order_id=T-{n}&reason=test",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/exclusions/{exclusion_id}/delete",
            "reason=undo",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/posts/import",
            "csv=handle%2Cpost_url%2Cplatform%0Ax%2Chttps%3A%2F%2Fp.example%2F{n}%2Cx&action=preview",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/successor",
            "name=Next{n}&keep_top=1&action=preview",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/payouts/{influencer_id}/mark-paid",
            "amount=0.01",
        ),
        (
            "/dashboard/campaigns/{campaign_id}/influencers/{influencer_id}/links",
            "label=L{n}",
        ),
    ] {
        let body = (!body.is_empty()).then_some(body);
        add("POST", p, case(Session("admin"), "", body));
    }
    add(
        "POST",
        "/dashboard/store/{platform}/check",
        case(Session("admin"), "", None),
    );
    add(
        "POST",
        "/dashboard/store/{platform}/sync/{job_id}/retry",
        case(Session("admin"), "", None),
    );

    add(
        "POST",
        "/api/v1/brands",
        case(Key("operator"), "", Some(r#"{"name":"Brand {n}"}"#)),
    );
    add("GET", "/api/v1/brands", case(Key("operator"), "", None));
    add(
        "GET",
        "/api/v1/brands/{brand_id}",
        case(Key("operator admin read storefront influencer"), "", None),
    );
    add(
        "POST",
        "/api/v1/brands/{brand_id}/keys",
        case(Key("operator admin"), "", Some(r#"{"scope":"read"}"#)),
    );
    add(
        "GET",
        "/api/v1/brands/{brand_id}/keys",
        case(Key("operator admin"), "", None),
    );
    add(
        "DELETE",
        "/api/v1/keys/{key_id}",
        case(Key("operator admin"), "", None),
    );

    add(
        "POST",
        "/api/v1/influencers",
        case(
            Key("admin"),
            "",
            Some(r#"{"handle":"h{n}","display_name":"H {n}"}"#),
        ),
    );
    let (p, c) = get("/api/v1/influencers");
    add(p.0, p.1, c);
    let (p, c) = get("/api/v1/influencers/{influencer_id}");
    add(p.0, p.1, c);
    add(
        "PATCH",
        "/api/v1/influencers/{influencer_id}",
        case(Key("admin"), "", Some(r#"{"tags":["t{n}"]}"#)),
    );
    add(
        "DELETE",
        "/api/v1/influencers/{influencer_id}",
        case(Key("admin"), "", None),
    );
    add(
        "POST",
        "/api/v1/campaigns",
        case(
            Key("admin"),
            "",
            Some(r#"{"name":"C {n}","destination_url":"https://shop.example/","currency":"EUR"}"#),
        ),
    );
    let (p, c) = get("/api/v1/campaigns");
    add(p.0, p.1, c);
    let (p, c) = get("/api/v1/campaigns/{campaign_id}");
    add(p.0, p.1, c);
    add(
        "PATCH",
        "/api/v1/campaigns/{campaign_id}",
        case(Key("admin"), "", Some(r#"{"budget":"1000.00"}"#)),
    );
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/influencers",
        case(
            Key("admin"),
            "",
            Some(r#"{"influencer_id":"{other_influencer_id}"}"#),
        ),
    );
    let (p, c) = get("/api/v1/campaigns/{campaign_id}/influencers");
    add(p.0, p.1, c);
    let (p, c) = get("/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}");
    add(p.0, p.1, c);
    add(
        "PATCH",
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}",
        case(Key("admin"), "", Some(r#"{"fee":"10.00"}"#)),
    );
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/links",
        case(Key("admin"), "", Some(r#"{"label":"post {n}"}"#)),
    );
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/codes",
        case(
            Key("admin"),
            "",
            Some(r#"{"discount":{"type":"fixed","value":"1.00"}}"#),
        ),
    );
    for p in [
        "/api/v1/links/{link_id}",
        "/api/v1/links/{link_id}/stats",
        "/api/v1/links/{link_id}/clicks",
        "/api/v1/codes/{code_id}",
    ] {
        let (p, c) = get(p);
        add(p.0, p.1, c);
    }
    add(
        "PATCH",
        "/api/v1/links/{link_id}",
        case(Key("admin"), "", Some(r#"{"status":"active"}"#)),
    );
    add(
        "PATCH",
        "/api/v1/codes/{code_id}",
        case(Key("admin"), "", Some(r#"{"status":"active"}"#)),
    );
    add(
        "DELETE",
        "/api/v1/codes/{code_id}",
        case(Key("admin"), "", None),
    );
    add(
        "GET",
        "/api/v1/codes/lookup",
        case(Key("admin storefront"), "code={code}", None),
    );

    add(
        "POST",
        "/api/v1/orders",
        case(
            Key("admin storefront"),
            "",
            Some(
                r#"{"order_id":"T-{n}","amount":"50.00","currency":"EUR","discount_codes":["{code}"],"click_ids":["{click_id}"]}"#,
            ),
        ),
    );
    add(
        "GET",
        "/api/v1/orders/{order_id}",
        case(Key("admin read storefront"), "", None),
    );
    add(
        "POST",
        "/api/v1/orders/{order_id}/refunds",
        case(
            Key("admin storefront"),
            "",
            Some(r#"{"refund_id":"R-{n}","amount":"0.01"}"#),
        ),
    );
    add(
        "POST",
        "/api/v1/events",
        case(
            Key("admin storefront"),
            "",
            Some(r#"{"event_id":"E-{n}","type":"lead","click_id":"{click_id}"}"#),
        ),
    );
    add(
        "PUT",
        "/api/v1/fx-rates",
        case(
            Key("admin"),
            "",
            Some(r#"{"base":"USD","quote":"EUR","rate":"0.9"}"#),
        ),
    );
    add("GET", "/api/v1/fx-rates", case(Key("admin read"), "", None));
    for (p, body) in [
        (
            "/api/v1/integrations/shopify",
            r#"{"webhook_secret":"s3cret-{n}","shop_url":"https://acme.myshopify.com"}"#,
        ),
        (
            "/api/v1/integrations/woocommerce",
            r#"{"webhook_secret":"s3cret-{n}","site_url":"https://shop.example"}"#,
        ),
    ] {
        add("PUT", p, case(Key("admin"), "", Some(body)));
        add("GET", p, case(Key("admin read"), "", None));
        add("DELETE", p, case(Key("admin"), "", None));
    }
    add(
        "POST",
        "/api/v1/integrations/{platform}/check",
        case(Key("admin"), "", None),
    );
    add(
        "GET",
        "/api/v1/integrations/{platform}/sync",
        case(Key("admin read"), "status=pending", None),
    );
    add(
        "POST",
        "/api/v1/integrations/{platform}/sync/{job_id}/retry",
        case(Key("admin"), "", None),
    );
    for p in [
        "/api/v1/integrations/shopify/{brand_id}/orders",
        "/api/v1/integrations/shopify/{brand_id}/refunds",
        "/api/v1/integrations/woocommerce/{brand_id}/orders",
    ] {
        add("POST", p, case(Webhook, "", Some("{}")));
    }

    add(
        "POST",
        "/api/v1/webhooks",
        case(
            Key("admin"),
            "",
            Some(r#"{"url":"https://hooks.example.com/{n}","events":["order.attributed"]}"#),
        ),
    );
    add("GET", "/api/v1/webhooks", case(Key("admin read"), "", None));
    add(
        "GET",
        "/api/v1/webhooks/{webhook_id}",
        case(Key("admin read"), "", None),
    );
    add(
        "PATCH",
        "/api/v1/webhooks/{webhook_id}",
        case(Key("admin"), "", Some(r#"{"description":"d{n}"}"#)),
    );
    add(
        "DELETE",
        "/api/v1/webhooks/{webhook_id}",
        case(Key("admin"), "", None),
    );
    add(
        "GET",
        "/api/v1/webhooks/{webhook_id}/deliveries",
        case(Key("admin read"), "status=pending", None),
    );
    add(
        "POST",
        "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        case(Key("admin"), "", None),
    );
    add(
        "POST",
        "/api/v1/webhooks/{webhook_id}/ping",
        case(Key("admin"), "", None),
    );
    for p in [
        "/api/v1/campaigns/{campaign_id}/leaderboard",
        "/api/v1/campaigns/{campaign_id}/report",
        "/api/v1/campaigns/{campaign_id}/timeseries",
        "/api/v1/campaigns/{campaign_id}/funnel",
    ] {
        add("GET", p, case(Key("admin read influencer"), "", None));
    }
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/posts",
        case(
            Key("admin"),
            "",
            Some(
                r#"{"post_url":"https://instagram.com/p/{n}","platform":"instagram","paid":false,"reach":10,"impressions":20,"likes":1,"comments":0,"shares":0,"saves":0}"#,
            ),
        ),
    );
    add(
        "GET",
        "/api/v1/campaigns/{campaign_id}/flags",
        case(Key("admin read"), "", None),
    );
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/prune",
        case(
            Key("admin"),
            "",
            Some(r#"{"rules":{"min_net_revenue":"1.00"},"dry_run":true}"#),
        ),
    );
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/costs",
        case(
            Key("admin"),
            "",
            Some(r#"{"kind":"product","amount":"5.00"}"#),
        ),
    );
    add(
        "GET",
        "/api/v1/campaigns/{campaign_id}/costs",
        case(Key("admin read"), "", None),
    );
    add(
        "PATCH",
        "/api/v1/campaigns/{campaign_id}/costs/{cost_id}",
        case(Key("admin"), "", Some(r#"{"note":"n{n}"}"#)),
    );
    add(
        "DELETE",
        "/api/v1/campaigns/{campaign_id}/costs/{cost_id}",
        case(Key("admin"), "", None),
    );
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/exclusions",
        case(
            Key("admin"),
            "",
            Some(r#"{"rule":{"order_id":"T-{n}"},"reason":"test order"}"#),
        ),
    );
    add(
        "GET",
        "/api/v1/campaigns/{campaign_id}/exclusions",
        case(Key("admin read"), "status=active", None),
    );
    add(
        "DELETE",
        "/api/v1/campaigns/{campaign_id}/exclusions/{exclusion_id}",
        case(Key("admin"), "reason=undo", None),
    );
    add(
        "GET",
        "/api/v1/campaigns/{campaign_id}/prune-log",
        case(Key("admin read"), "", None),
    );
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/reinstate",
        case(Key("admin"), "", Some("{}")),
    );
    add(
        "GET",
        "/api/v1/campaigns/{campaign_id}/payouts",
        case(Key("admin read influencer"), "", None),
    );
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/payouts/{influencer_id}/mark-paid",
        case(
            Key("admin"),
            "",
            Some(r#"{"amount":"0.01","reference":"P-{n}"}"#),
        ),
    );
    add("GET", "/api/v1/me", case(Key("influencer"), "", None));
    add(
        "POST",
        "/api/v1/campaigns/{campaign_id}/successor",
        case(
            Key("admin"),
            "",
            Some(r#"{"name":"Next {n}","keep_top":1}"#),
        ),
    );
    t
}

/// One brand's world: its keys by scope and the ids to aim at.
struct World {
    keys: BTreeMap<&'static str, String>,
    ids: BTreeMap<&'static str, String>,
    webhook_secret: String,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn fill(template: &str, ids: &BTreeMap<&'static str, String>) -> String {
    let mut out = template.replace("{n}", &COUNTER.fetch_add(1, Ordering::Relaxed).to_string());
    for (name, value) in ids {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    let unfilled = out.match_indices('{').any(|(i, _)| {
        let rest = &out[i + 1..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .unwrap_or(rest.len());
        name_len > 0 && rest[name_len..].starts_with('}')
    });
    assert!(!unfilled, "unfilled placeholder in {out}");
    out
}

fn missing_ids() -> BTreeMap<&'static str, String> {
    let uuid = || uuid::Uuid::now_v7().to_string();
    BTreeMap::from([
        ("brand_id", uuid()),
        ("campaign_id", uuid()),
        ("influencer_id", uuid()),
        ("other_influencer_id", uuid()),
        ("link_id", uuid()),
        ("code_id", uuid()),
        ("key_id", uuid()),
        ("click_id", uuid()),
        ("order_id", "NO-SUCH-ORDER".into()),
        ("code", "NOSUCHCODE9".into()),
        ("link_code", "zzzzzzzzz".into()),
        ("platform", "shopify".into()),
        ("job_id", uuid()),
        ("cost_id", uuid()),
        ("webhook_id", uuid()),
        ("delivery_id", uuid()),
        ("exclusion_id", uuid()),
    ])
}

async fn world(app: &TestApp, name: &str) -> World {
    let (brand, admin) = app.create_brand(name).await;
    let c = campaign(app, &admin, spring()).await;
    let cid = c["id"].as_str().unwrap().to_string();
    let anna = influencer(app, &admin, &format!("{name}-anna")).await;
    let ben = influencer(app, &admin, &format!("{name}-ben")).await;
    let code = format!("{}CODE", name.to_uppercase());
    let e = enroll(
        app,
        &admin,
        &cid,
        json!({"influencer_id": anna, "code": code, "fee": "5.00"}),
    )
    .await;
    let link_id = e["link"]["id"].as_str().unwrap().to_string();
    let link_code = e["link"]["code"].as_str().unwrap().to_string();
    let code_id = e["discount_code"]["id"].as_str().unwrap().to_string();
    let mut keys = BTreeMap::from([("operator", OPERATOR.to_string()), ("admin", admin.clone())]);
    let mut key_id = String::new();
    for scope in ["read", "storefront"] {
        let (id, key) = app
            .create_key(&brand, &admin, json!({"scope": scope}))
            .await;
        key_id = id;
        keys.insert(scope, key);
    }
    let (_, influencer_key) = app
        .create_key(
            &brand,
            &admin,
            json!({"scope": "influencer", "influencer_id": anna}),
        )
        .await;
    keys.insert("influencer", influencer_key);
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let location = client
        .get(format!("{}/r/{link_code}", app.address))
        .header("user-agent", CHROME)
        .send()
        .await
        .unwrap()
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let click_id = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "itk_click")
        .unwrap()
        .1
        .to_string();
    // An endpoint that never answers (no such name here): the order below queues a delivery.
    let r = app
        .post(
            "/api/v1/webhooks",
            &admin,
            json!({"url": format!("https://hooks.example.com/{name}"), "events": ["order.attributed"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let webhook_id = r.json()["id"].as_str().unwrap().to_string();
    let order_id = format!("{name}-ORDER-1");
    let r = app
        .post(
            "/api/v1/orders",
            &admin,
            json!({"order_id": order_id, "amount": "80.00", "currency": "EUR",
                   "click_ids": [click_id]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let webhook_secret = format!("{name}-webhook-secret");
    for platform in ["shopify", "woocommerce"] {
        let r = app
            .request(
                Method::PUT,
                &format!("/api/v1/integrations/{platform}"),
                Some(&admin),
                Some(json!({"webhook_secret": webhook_secret})),
            )
            .await;
        assert!(r.status < 300, "{}", r.text);
    }
    // A shop that refuses connections at once: the code's sync job exists and keeps failing.
    let r = app
        .request(
            Method::PUT,
            "/api/v1/integrations/shopify",
            Some(&admin),
            Some(json!({"shop_url": "http://127.0.0.1:9", "access_token": "shpat_tenancy_token"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let jobs = app.get("/api/v1/integrations/shopify/sync", &admin).await;
    let job_id = jobs.json()["items"][0]["id"]
        .as_str()
        .expect("the code's sync job")
        .to_string();
    let r = app
        .post(
            &format!("/api/v1/campaigns/{cid}/costs"),
            &admin,
            json!({"kind": "tool", "amount": "12.00"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let cost_id = r.json()["id"].as_str().unwrap().to_string();
    let r = app
        .post(
            &format!("/api/v1/campaigns/{cid}/exclusions"),
            &admin,
            json!({"rule": {"order_id": "TEST-1"}, "reason": "a test order"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let exclusion_id = r.json()["id"].as_str().unwrap().to_string();
    let r = app
        .get(&format!("/api/v1/webhooks/{webhook_id}/deliveries"), &admin)
        .await;
    let delivery_id = r.json()["items"][0]["id"]
        .as_str()
        .expect("the order's delivery")
        .to_string();
    let ids = BTreeMap::from([
        ("brand_id", brand),
        ("campaign_id", cid),
        ("influencer_id", anna),
        ("other_influencer_id", ben),
        ("link_id", link_id),
        ("code_id", code_id),
        ("key_id", key_id),
        ("click_id", click_id),
        ("order_id", order_id),
        ("code", code),
        ("link_code", link_code),
        ("platform", "shopify".into()),
        ("job_id", job_id),
        ("cost_id", cost_id),
        ("webhook_id", webhook_id),
        ("delivery_id", delivery_id),
        ("exclusion_id", exclusion_id),
    ]);
    World {
        keys,
        ids,
        webhook_secret,
    }
}

/// What an answer is, for comparing: status and problem type.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    status: u16,
    problem: Option<String>,
}

struct Answer {
    outcome: Outcome,
    text: String,
    /// Where a 303 sends the browser.
    location: Option<String>,
}

/// A dashboard session of a key (cookie and form token), signed in once; `None` for keys the
/// dashboard does not sign in.
async fn session_of(app: &TestApp, key: &str) -> Option<(String, String)> {
    use std::sync::Mutex;
    static SESSIONS: Mutex<BTreeMap<String, Option<(String, String)>>> =
        Mutex::new(BTreeMap::new());
    if let Some(known) = SESSIONS.lock().unwrap().get(key) {
        return known.clone();
    }
    let r = crate::dashboard::sign_in(app, key).await;
    let session = if r.status() == 303 {
        let cookie = crate::dashboard::session(&r);
        let token = crate::dashboard::form_token(app, &cookie).await;
        Some((cookie, token))
    } else {
        None
    };
    SESSIONS
        .lock()
        .unwrap()
        .insert(key.to_string(), session.clone());
    session
}

async fn call(
    app: &TestApp,
    method: &str,
    path_template: &str,
    case: &Case,
    ids: &BTreeMap<&'static str, String>,
    key: Option<&str>,
) -> Answer {
    let path_template = path_template.replace("{code}", "{link_code}");
    let mut url = format!("{}{}", app.address, fill(&path_template, ids));
    if !case.query.is_empty() {
        url = format!("{url}?{}", fill(case.query, ids));
    }
    let mut req = app
        .client
        .request(Method::from_bytes(method.as_bytes()).unwrap(), url);
    let mut form_token = None;
    if path_template.starts_with("/dashboard") {
        // What a browser sends with our own forms (CSRF has its own tests in security.rs).
        req = req.header("origin", app.address.clone());
    }
    match (case.access, key) {
        (Access::Session(_), Some(key)) => {
            if let Some((cookie, token)) = session_of(app, key).await {
                req = req.header("cookie", cookie);
                form_token = Some(token);
            }
        }
        (_, Some(key)) => req = req.bearer_auth(key),
        _ => {}
    }
    let form = matches!(case.access, Access::Session(_));
    let body = match (case.body, &form_token) {
        (Some(body), Some(token)) if form => {
            Some(format!("{}&form_token={token}", fill(body, ids)))
        }
        (None, Some(token)) if method == "POST" => Some(format!("form_token={token}")),
        (body, _) => body.map(|b| fill(b, ids)),
    };
    if let Some(body) = body {
        req = req
            .header(
                "content-type",
                if form {
                    "application/x-www-form-urlencoded"
                } else {
                    "application/json"
                },
            )
            .body(body);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let is_problem = res
        .headers()
        .get("content-type")
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let text = res.text().await.unwrap_or_default();
    let problem = is_problem
        .then(|| serde_json::from_str::<Value>(&text).ok())
        .flatten()
        .and_then(|p| p["type"].as_str().map(str::to_string));
    assert!(
        status < 500,
        "{method} {path_template} answered {status}: {text}"
    );
    Answer {
        outcome: Outcome { status, problem },
        text,
        location,
    }
}

fn scopes(access: Access) -> Option<BTreeSet<&'static str>> {
    match access {
        Access::Key(s) | Access::Session(s) => Some(s.split(' ').collect()),
        _ => None,
    }
}

#[tokio::test]
async fn every_route_keeps_brands_apart_and_scopes_to_what_api_md_allows() {
    let app = spawn_app().await;
    let a = world(&app, "alpha").await;
    let b = world(&app, "beta").await;
    let served: Vec<(&str, &str)> = influtrack::routes::routes()
        .endpoints()
        .into_iter()
        .map(|(m, p)| (m.as_str().to_string().leak() as &str, p))
        .collect();
    let table = table();

    let served_set: BTreeSet<(&str, &str)> = served.iter().cloned().collect();
    let uncovered: Vec<_> = served_set
        .iter()
        .filter(|e| !table.contains_key(*e))
        .collect();
    assert!(
        uncovered.is_empty(),
        "routes without tenancy coverage (add them to the table in tests/api/tenancy.rs): {uncovered:?}"
    );
    let stale: Vec<_> = table.keys().filter(|e| !served_set.contains(*e)).collect();
    assert!(
        stale.is_empty(),
        "table entries for routes not served: {stale:?}"
    );

    // A's ids that must never appear in an answer to B.
    let secrets: Vec<&String> = [
        "campaign_id",
        "influencer_id",
        "link_id",
        "code_id",
        "order_id",
        "cost_id",
        "exclusion_id",
    ]
    .iter()
    .map(|k| &a.ids[k])
    .collect();
    let missing = missing_ids();
    let mut matrix = Vec::new();
    let mut failures = Vec::new();
    let print = std::env::var("TENANCY_PRINT").is_ok();

    for (method, path) in &served {
        let case = &table[&(*method, *path)];
        let route = format!("{method} {path}");
        match case.access {
            Access::Public => {
                let r = call(&app, method, path, case, &a.ids, None).await;
                if matches!(r.outcome.status, 401 | 403) {
                    failures.push(format!("{route}: public route answered {:?}", r.outcome));
                }
            }
            Access::Webhook => {
                // Signed with B's secret: on A's path and on an unknown brand's path alike.
                let sign = |body: &str| crate::webhooks::sign(&b.webhook_secret, body.as_bytes());
                let mut outcomes = Vec::new();
                for ids in [&a.ids, &missing] {
                    let url = format!("{}{}", app.address, fill(path, ids));
                    let body = r#"{"id":1,"line_items":[]}"#;
                    let res = app
                        .client
                        .post(url)
                        .header("content-type", "application/json")
                        .header("x-shopify-hmac-sha256", sign(body))
                        .header("x-wc-webhook-signature", sign(body))
                        .header("x-wc-webhook-topic", "order.created")
                        .body(body)
                        .send()
                        .await
                        .unwrap();
                    outcomes.push(res.status().as_u16());
                }
                if outcomes[0] != outcomes[1] || outcomes[0] < 400 {
                    failures.push(format!(
                        "{route}: B's signature on A's path {} vs unknown brand {}",
                        outcomes[0], outcomes[1]
                    ));
                }
                matrix.push(format!("{route:80} webhook {outcomes:?}"));
            }
            Access::Key(_) | Access::Session(_) => {
                let allowed = scopes(case.access).unwrap();
                let is_session = matches!(case.access, Access::Session(_));
                let mut row = Vec::new();
                // No key.
                let r = call(&app, method, path, case, &a.ids, None).await;
                let expect_anonymous = if is_session { 303 } else { 401 };
                if r.outcome.status != expect_anonymous && !(is_session && r.outcome.status == 403)
                {
                    failures.push(format!(
                        "{route}: without a key {:?}, expected {expect_anonymous}",
                        r.outcome
                    ));
                }
                for scope in SCOPES {
                    if is_session && scope == "operator" {
                        continue;
                    }
                    // B's key aimed at A's ids against B's key aimed at missing ids (the
                    // operator token is instance-wide: it belongs to no brand).
                    if scope != "operator" {
                        let foreign =
                            call(&app, method, path, case, &a.ids, Some(&b.keys[scope])).await;
                        let absent =
                            call(&app, method, path, case, &missing, Some(&b.keys[scope])).await;
                        if foreign.outcome != absent.outcome {
                            failures.push(format!(
                                "{route}: B's {scope} key on A's ids {:?} but on missing ids {:?}",
                                foreign.outcome, absent.outcome
                            ));
                        }
                        for secret in &secrets {
                            if foreign.text.contains(secret.as_str()) {
                                failures
                                    .push(format!("{route}: B's {scope} key sees A's id {secret}"));
                            }
                        }
                    }
                    // A's own key of this scope: allowed scopes are aimed at missing ids (so
                    // that nothing of A is deleted or revoked), others at A's real ids.
                    let own = if allowed.contains(scope) {
                        &missing
                    } else {
                        &a.ids
                    };
                    let own = call(&app, method, path, case, own, Some(&a.keys[scope])).await;
                    row.push(format!("{scope}={}", own.outcome.status));
                    let denied = |a: &Answer| {
                        let s = a.outcome.status;
                        if is_session {
                            // A scope the dashboard does not serve is sent to sign in or to
                            // its own page, or refused; a form that worked redirects elsewhere.
                            s == 403
                                || (s == 303
                                    && matches!(
                                        a.location.as_deref(),
                                        Some("/dashboard/login" | "/dashboard/me" | "/dashboard")
                                    ))
                        } else {
                            s == 403
                        }
                    };
                    if allowed.contains(scope) {
                        if denied(&own) || own.outcome.status == 401 {
                            failures.push(format!(
                                "{route}: {scope} is allowed but got {:?}",
                                own.outcome
                            ));
                        }
                        if path.contains("_id}")
                            && !path.contains("{brand_id}")
                            && own.outcome.status != 404
                            && scope != "operator"
                        {
                            failures.push(format!(
                                "{route}: {scope} on a missing id got {:?}, expected 404",
                                own.outcome
                            ));
                        }
                    } else if !denied(&own) {
                        failures.push(format!(
                            "{route}: {scope} is not allowed but got {:?}",
                            own.outcome
                        ));
                    }
                }
                matrix.push(format!("{route:80} {}", row.join(" ")));
            }
        }
    }
    if print {
        for line in &matrix {
            println!("{line}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} tenancy/scope failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
