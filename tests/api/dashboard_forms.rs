//! The dashboard as a workspace, over HTTP: every set-up form writes what the API would, keeps
//! what was typed beside its error, imports refuse partial writes, verdicts follow the prune
//! rules, the successor is previewed before it is made, payouts are marked paid, exports are
//! CSV. (The browser run is tests/dashboard.rs.)

use crate::dashboard::{form_token, signed_in};
use crate::helpers::*;
use serde_json::{json, Value};

/// A signed-in browser: its session cookie and form token.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    token: String,
}

impl<'a> Browser<'a> {
    async fn of(app: &'a TestApp, key: &str) -> Browser<'a> {
        let cookie = signed_in(app, key).await;
        let token = form_token(app, &cookie).await;
        Browser { app, cookie, token }
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .app
            .client
            .get(format!("{}{path}", self.app.address))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// Posts a form as the page would (its origin, its token); the status and the page or
    /// the redirect's target.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut form: Vec<(&str, &str)> = vec![("form_token", &self.token)];
        form.extend_from_slice(fields);
        let r = self
            .app
            .client
            .post(format!("{}{path}", self.app.address))
            .header("cookie", &self.cookie)
            .header("origin", &self.app.address)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        if status == 303 {
            let to = r.headers()["location"].to_str().unwrap().to_string();
            return (status, to);
        }
        (status, r.text().await.unwrap())
    }

    /// Uploads a file field `file` with a form, as `multipart/form-data`.
    async fn upload(&self, path: &str, file: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let boundary = "----itkboundary7MA4YWxk";
        let mut body = String::new();
        let mut all: Vec<(&str, &str)> = vec![("form_token", &self.token)];
        all.extend_from_slice(fields);
        for (k, v) in all {
            body.push_str(&format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
            ));
        }
        body.push_str(&format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"people.csv\"\r\nContent-Type: text/csv\r\n\r\n{file}\r\n--{boundary}--\r\n"));
        let r = self
            .app
            .client
            .post(format!("{}{path}", self.app.address))
            .header("cookie", &self.cookie)
            .header("origin", &self.app.address)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

/// The id at the end of a redirect to `/dashboard/campaigns/{id}`.
fn campaign_of(location: &str) -> String {
    location
        .trim_start_matches("/dashboard/campaigns/")
        .split(['/', '?', '#'])
        .next()
        .unwrap()
        .to_string()
}

async fn influencers(app: &TestApp, admin: &str) -> Vec<String> {
    let r = app.get("/api/v1/influencers?limit=500", admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let mut h: Vec<String> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["handle"].as_str().unwrap().to_string())
        .collect();
    h.sort();
    h
}

#[tokio::test]
async fn a_campaign_is_created_and_edited_by_form_with_errors_beside_their_fields() {
    let app = spawn_app().await;
    let (brand_id, admin) = app.create_brand("Forms").await;
    let b = Browser::of(&app, &admin).await;
    let (status, page) = b.get("/dashboard/campaigns/new").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<strong class=\"brandname\">Forms</strong>"),
        "the brand's name in the header"
    );
    for label in [
        ">Name<",
        ">Destination URL<",
        ">Currency<",
        ">Goal metric<",
        ">Attribution model<",
        ">Holding days<",
        ">Create campaign<",
    ] {
        assert!(page.contains(label), "{label} on the form");
    }
    // Two mistakes: both named beside their fields, what was typed kept, nothing written.
    let typed = [
        ("name", "Summer Drop"),
        ("destination_url", "https://shop.example/summer"),
        ("currency", "EURO"),
        ("attribution.window_days", "ten"),
    ];
    let (status, page) = b.post("/dashboard/campaigns", &typed).await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("id=\"f-attribution-window-days-error\""),
        "{page}"
    );
    assert!(page.contains("must be a whole number"));
    assert!(page.contains("value=\"Summer Drop\""), "typed values kept");
    let typed = [
        ("name", "Summer Drop"),
        ("destination_url", "https://shop.example/summer"),
        ("currency", "EURO"),
        ("attribution.window_days", "14"),
    ];
    let (status, page) = b.post("/dashboard/campaigns", &typed).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("id=\"f-currency-error\""), "{page}");
    // A NUL byte is refused by name, as the API refuses it (PostgreSQL text cannot hold one).
    let (status, page) = b
        .post(
            "/dashboard/campaigns",
            &[
                ("name", "Bad\u{0}Name"),
                ("destination_url", "https://shop.example/summer"),
                ("currency", "EUR"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("id=\"f-name-error\""), "{page}");
    let listed = app.get("/api/v1/campaigns", &admin).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 0);

    let (status, to) = b
        .post(
            "/dashboard/campaigns",
            &[
                ("name", "Summer Drop"),
                ("destination_url", "https://shop.example/summer"),
                ("currency", "eur"),
                ("starts_at", "2026-06-01T00:00"),
                ("goal.metric", "net_revenue"),
                ("goal.target", "15000"),
                ("attribution.model", "linear"),
                ("attribution.window_days", "14"),
                ("attribution.code_priority", "false"),
                ("holding_days", "10"),
                ("links_apply_code", "true"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{to}");
    let id = campaign_of(&to);
    let c = app
        .get(&format!("/api/v1/campaigns/{id}"), &admin)
        .await
        .json();
    assert_eq!(c["name"], "Summer Drop");
    assert_eq!(c["currency"], "EUR");
    assert_eq!(c["starts_at"], "2026-06-01T00:00:00.000Z");
    assert_eq!(
        c["goal"],
        json!({"metric": "net_revenue", "target": "15000.00"})
    );
    assert_eq!(
        c["attribution"],
        json!({"model": "linear", "window_days": 14, "code_priority": false})
    );
    assert_eq!(c["holding_days"], 10);
    assert_eq!(c["links_apply_code"], true);

    // Edit: the form shows what is stored; emptying the goal clears it.
    let (status, page) = b.get(&format!("/dashboard/campaigns/{id}/edit")).await;
    assert_eq!(status, 200);
    assert!(page.contains("value=\"15000.00\"") && page.contains("value=\"2026-06-01T00:00:00\""));
    let (status, to) = b
        .post(
            &format!("/dashboard/campaigns/{id}/edit"),
            &[
                ("name", "Summer Drop II"),
                ("destination_url", "https://shop.example/summer"),
                ("status", "active"),
                ("starts_at", "2026-06-01T00:00"),
                ("goal.metric", ""),
                ("goal.target", ""),
                ("attribution.model", "linear"),
                ("attribution.window_days", "14"),
                ("attribution.code_priority", "false"),
                ("holding_days", "10"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{to}");
    let c = app
        .get(&format!("/api/v1/campaigns/{id}"), &admin)
        .await
        .json();
    assert_eq!(c["name"], "Summer Drop II");
    assert_eq!(c["goal"], Value::Null);
    assert_eq!(c["links_apply_code"], false, "an unticked box is false");
    // A status the campaign cannot take is refused beside the field, the rest kept.
    let (status, page) = b
        .post(
            &format!("/dashboard/campaigns/{id}/edit"),
            &[
                ("name", "Renamed"),
                ("destination_url", "https://shop.example/summer"),
                ("status", "draft"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("value=\"Renamed\""));
    assert_eq!(
        app.get(&format!("/api/v1/campaigns/{id}"), &admin)
            .await
            .json()["name"],
        "Summer Drop II"
    );

    // A read key sees an HTML 403 page, and cannot post.
    let (_, read) = app
        .create_key(&brand_id, &admin, json!({"scope": "read"}))
        .await;
    let reader = Browser::of(&app, &read).await;
    let (status, page) = reader.get("/dashboard/campaigns/new").await;
    assert_eq!(status, 403);
    assert!(page.contains("<!DOCTYPE html>") && page.contains("admin key"));
    let (status, _) = reader
        .post(
            "/dashboard/campaigns",
            &[
                ("name", "X"),
                ("destination_url", "https://x.example"),
                ("currency", "EUR"),
            ],
        )
        .await;
    assert_eq!(status, 403);
    // Another brand's campaign is a 404 page.
    let (_, other) = app.create_brand("Other").await;
    let stranger = Browser::of(&app, &other).await;
    assert_eq!(
        stranger
            .get(&format!("/dashboard/campaigns/{id}/edit"))
            .await
            .0,
        404
    );
}

#[tokio::test]
async fn influencers_come_one_by_one_or_from_a_csv_previewed_before_anything_is_written() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Import").await;
    let b = Browser::of(&app, &admin).await;
    let (status, to) = b
        .post(
            "/dashboard/influencers",
            &[
                ("handle", "anna"),
                ("display_name", "Anna K"),
                ("platform", "instagram"),
                ("followers", "12,500"),
                ("tags", "beauty, vegan"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{to}");
    assert!(to.contains("Added @anna"));
    let r = app.get("/api/v1/influencers", &admin).await.json();
    assert_eq!(r["items"][0]["platforms"][0]["followers"], 12500);
    assert_eq!(r["items"][0]["tags"], json!(["beauty", "vegan"]));
    // A bad handle: named beside the field.
    let (status, page) = b
        .post("/dashboard/influencers", &[("handle", "no spaces")])
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"f-handle-error\""), "{page}");

    // Three rows: one fine, one with a bad e-mail, one whose handle is taken. The preview
    // names each failing line; nothing is written, and there is no apply button.
    let csv = "handle,display_name,email,platform,followers\nben,Ben,ben@example.com,tiktok,900\ncara,Cara,not-an-email,,\nANNA,Anna again,,,\n";
    let (status, page) = b
        .upload(
            "/dashboard/influencers/import",
            csv,
            &[("action", "preview")],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("3 rows, 2 with errors"), "{page}");
    assert!(page.contains("email"), "the bad e-mail named");
    assert!(page.contains("already exists"), "the taken handle named");
    assert!(!page.contains("value=\"apply\""), "no apply with errors");
    assert_eq!(influencers(&app, &admin).await, ["anna"]);
    // Applying anyway writes nothing.
    let (status, _) = b
        .post(
            "/dashboard/influencers/import",
            &[("csv", csv), ("action", "apply")],
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(influencers(&app, &admin).await, ["anna"]);
    // Corrected in the preview's text: a clean preview, then every row at once.
    let fixed = "handle,display_name,email\nben,Ben,ben@example.com\ncara,Cara,cara@example.com\n";
    let (status, page) = b
        .post(
            "/dashboard/influencers/import",
            &[("csv", fixed), ("action", "preview")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("value=\"apply\""));
    assert_eq!(
        influencers(&app, &admin).await,
        ["anna"],
        "a preview writes nothing"
    );
    let (status, page) = b
        .post(
            "/dashboard/influencers/import",
            &[("csv", fixed), ("action", "apply")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Imported 2 influencers"));
    assert_eq!(influencers(&app, &admin).await, ["anna", "ben", "cara"]);
    // Not a CSV at all.
    let (status, page) = b
        .post(
            "/dashboard/influencers/import",
            &[("csv", ""), ("action", "preview")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("role=\"alert\""));
}

#[tokio::test]
async fn enrolments_links_posts_keys_and_the_store_are_set_up_by_form() {
    let app = spawn_app().await;
    let (brand_id, admin) = app.create_brand("Setup").await;
    let c = crate::resources::campaign(&app, &admin, crate::resources::spring()).await;
    let id = c["id"].as_str().unwrap().to_string();
    let anna = crate::resources::influencer(&app, &admin, "anna").await;
    let anna_id = anna.clone();
    let b = Browser::of(&app, &admin).await;
    let (status, page) = b.get(&format!("/dashboard/campaigns/{id}/enroll")).await;
    assert_eq!(status, 200);
    for label in [
        ">Influencer<",
        ">Fee<",
        ">Commission rate<",
        ">Discount code<",
        ">Enroll<",
    ] {
        assert!(page.contains(label), "{label}");
    }
    // A percentage over 100: refused beside the discount's value.
    let (status, page) = b
        .post(
            &format!("/dashboard/campaigns/{id}/enroll"),
            &[
                ("influencer_id", &anna_id),
                ("fee", "250"),
                ("commission_rate", "0.12"),
                ("code", "ANNA20"),
                ("discount.type", "percent"),
                ("discount.value", "120"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("id=\"f-discount-value-error\""), "{page}");
    let (status, to) = b
        .post(
            &format!("/dashboard/campaigns/{id}/enroll"),
            &[
                ("influencer_id", &anna_id),
                ("fee", "250"),
                ("commission_rate", "0.12"),
                ("code", "ANNA20"),
                ("discount.type", "percent"),
                ("discount.value", "20"),
            ],
        )
        .await;
    assert_eq!(status, 303, "{to}");
    assert_eq!(
        to,
        format!("/dashboard/campaigns/{id}/influencers/{anna_id}")
    );
    let e = app
        .get(
            &format!("/api/v1/campaigns/{id}/influencers/{anna_id}"),
            &admin,
        )
        .await
        .json();
    assert_eq!(e["fee"], "250.00");
    assert_eq!(e["discount_codes"][0]["code"], "ANNA20");
    assert_eq!(e["links"].as_array().unwrap().len(), 1);
    // Another link for a post.
    let (status, to) = b
        .post(
            &format!("/dashboard/campaigns/{id}/influencers/{anna_id}/links"),
            &[("label", "Reel 2"), ("utm.content", "reel-2")],
        )
        .await;
    assert_eq!(status, 303, "{to}");
    let (_, page) = b.get(&to).await;
    assert!(page.contains("Reel 2") && page.contains(">Add link<"));
    let e = app
        .get(
            &format!("/api/v1/campaigns/{id}/influencers/{anna_id}"),
            &admin,
        )
        .await
        .json();
    assert_eq!(e["links"].as_array().unwrap().len(), 2);

    // Post metrics: one by form, then a CSV (one row of someone not enrolled refused).
    let (status, page) = b
        .post(
            &format!("/dashboard/campaigns/{id}/posts"),
            &[
                ("handle", "anna"),
                ("post_url", "https://instagram.example/p/1"),
                ("platform", "instagram"),
                ("impressions", "10,000"),
                ("likes", "800"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Saved https://instagram.example/p/1"));
    let csv = "handle,post_url,platform,paid,impressions,likes\nanna,https://instagram.example/p/1,instagram,no,20000,1500\nanna,https://instagram.example/p/2,instagram,yes,5000,100\nzed,https://x.example/p/3,x,no,1,1\n";
    let (status, page) = b
        .upload(
            &format!("/dashboard/campaigns/{id}/posts/import"),
            csv,
            &[("action", "preview")],
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("@zed is not enrolled"), "{page}");
    let good: String = csv.lines().take(3).collect::<Vec<_>>().join("\n");
    let (status, page) = b
        .post(
            &format!("/dashboard/campaigns/{id}/posts/import"),
            &[("csv", &good), ("action", "apply")],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Saved 2 posts"));
    let report = app
        .get(&format!("/api/v1/campaigns/{id}/report"), &admin)
        .await
        .json();
    assert_eq!(report["totals"]["impressions"], 25000, "the latest figures");
    assert_eq!(report["paid_vs_organic"]["paid"]["posts"], 1);

    // Keys: shown once, working, revocable.
    let (status, page) = b
        .post(
            "/dashboard/keys",
            &[
                ("scope", "influencer"),
                ("name", "Anna's"),
                ("influencer_id", &anna_id),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let at = page.find("id=\"new-key\">").expect("the new key") + "id=\"new-key\">".len();
    let key = page[at..].split('<').next().unwrap().to_string();
    assert_eq!(app.get("/api/v1/me", &key).await.status, 200);
    let (_, page) = b.get("/dashboard/keys").await;
    assert!(!page.contains(&key), "shown only once");
    let keys = app
        .get(&format!("/api/v1/brands/{brand_id}/keys"), &admin)
        .await
        .json();
    let key_id = keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "Anna's")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = b
        .post(&format!("/dashboard/keys/{key_id}/revoke"), &[])
        .await;
    assert_eq!(status, 303);
    assert_eq!(app.get("/api/v1/me", &key).await.status, 401);
    let (status, page) = b.post("/dashboard/keys", &[("scope", "influencer")]).await;
    assert_eq!(status, 422);
    assert!(page.contains("id=\"f-influencer-id-error\""), "{page}");

    // The store: connected by form; its webhook URLs to paste appear.
    let (status, page) = b
        .post("/dashboard/store/shopify", &[("webhook_secret", "short")])
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("id=\"shopify-webhook-secret-error\""),
        "{page}"
    );
    let (status, to) = b
        .post(
            "/dashboard/store/woocommerce",
            &[("webhook_secret", "a-long-enough-secret")],
        )
        .await;
    assert_eq!(status, 303, "{to}");
    let (_, page) = b.get("/dashboard/store").await;
    assert!(
        page.contains(&format!(
            "/api/v1/integrations/woocommerce/{brand_id}/orders"
        )),
        "{page}"
    );
}

#[tokio::test]
async fn verdicts_follow_the_rules_and_the_loop_closes_with_a_successor_and_payouts() {
    let app = spawn_app().await;
    let s = crate::pruning::campaign(&app).await;
    let id = &s.campaign_id;
    let b = Browser::of(&app, &s.admin).await;
    // The defaults judge from 100 clicks: everyone is watched.
    let (status, page) = b.get(&format!("/dashboard/campaigns/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("data-verdict=\"watch\"").count(), 4, "{page}");
    assert!(page.contains("20 clicks, 0 sales"), "weak's badge");
    // From 10 clicks: weak loses money (drop), newbie is not judged (watch), the rest keep.
    let (_, page) = b
        .get(&format!(
            "/dashboard/campaigns/{id}?min_roi=0&min_clicks_for_judgement=10"
        ))
        .await;
    let verdict = |handle: &str| {
        let row = page
            .split("<tr")
            .find(|r| r.contains(&format!(">@{handle}<")))
            .unwrap_or_else(|| panic!("a row for {handle}"));
        row.split("data-verdict=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(verdict("weak"), "drop");
    assert_eq!(verdict("newbie"), "watch");
    assert_eq!(verdict("star"), "keep");
    assert_eq!(verdict("steady"), "keep");
    assert!(
        page.contains("ROI -1 is below 0 (net revenue 0.00, cost 100.00)"),
        "the reason in text"
    );
    // Verdicts are the brand's: an influencer's view of the campaign has none.
    let (_, weak_key) = app
        .create_key(
            &s.brand_id,
            &s.admin,
            json!({"scope": "influencer", "influencer_id": s.influencer(1)}),
        )
        .await;
    let weak = Browser::of(&app, &weak_key).await;
    let (status, page) = weak
        .get(&format!(
            "/dashboard/campaigns/{id}?min_roi=0&min_clicks_for_judgement=10"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains(">@weak<") && !page.contains("data-verdict") && !page.contains("Verdict")
    );
    // The prune panel is prefilled with those rules; a bad rule keeps what was typed.
    let (status, page) = b
        .post(
            &format!("/dashboard/campaigns/{id}/prune"),
            &[
                ("min_roi", "lots"),
                ("min_clicks_for_judgement", "10"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("id=\"p-min_roi-error\""), "{page}");
    assert!(page.contains("value=\"lots\""));
    // A click minimum that is no number is refused, never read as none (which judges all).
    let (status, page) = b
        .post(
            &format!("/dashboard/campaigns/{id}/prune"),
            &[
                ("min_roi", "0"),
                ("min_clicks_for_judgement", "ten"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(
        page.contains("id=\"p-min_clicks_for_judgement-error\""),
        "{page}"
    );
    let (status, page) = b
        .post(
            &format!("/dashboard/campaigns/{id}/prune"),
            &[
                ("min_roi", "0"),
                ("min_clicks_for_judgement", "1,000"),
                ("action", "preview"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Preview: 0 to prune"),
        "1,000 clicks needed: nobody judged"
    );
    let (status, _) = b
        .post(
            &format!("/dashboard/campaigns/{id}/prune"),
            &[
                ("min_roi", "0"),
                ("min_clicks_for_judgement", "10"),
                ("action", "apply"),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let weak = app
        .get(
            &format!("/api/v1/campaigns/{id}/influencers/{}", s.influencer(1)),
            &s.admin,
        )
        .await
        .json();
    assert_eq!(weak["status"], "pruned");

    // The leaderboard as CSV, in the page's order.
    let r = app
        .client
        .get(format!(
            "{}/dashboard/campaigns/{id}/leaderboard.csv?sort=net_revenue",
            app.address
        ))
        .header("cookie", &b.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    // The API's columns and guard (the same export as `Accept: text/csv`).
    let api = app
        .client
        .get(format!(
            "{}/api/v1/campaigns/{id}/leaderboard?sort=net_revenue",
            app.address
        ))
        .bearer_auth(&s.admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(csv, api);
    assert!(lines[0].starts_with("rank,enrollment_id,influencer_id,handle,status,"));
    assert_eq!(lines.len(), 5);
    assert!(
        lines[1].contains(",star,active,") && lines[1].contains(",500.00,"),
        "{csv}"
    );

    // The successor: previewed (nothing made), then made with the best two and a newcomer.
    let newcomer = crate::resources::influencer(&app, &s.admin, "nova").await;
    let nova = newcomer.as_str();
    let form = [
        ("name", "Autumn"),
        ("keep_top", "2"),
        ("sort", "net_revenue"),
        ("carry_codes", "true"),
        ("add_influencer_ids", nova),
        ("action", "preview"),
    ];
    let (status, page) = b
        .post(&format!("/dashboard/campaigns/{id}/successor"), &form)
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Kept (2)") && page.contains("@star") && page.contains("@steady"));
    assert!(page.contains("Added (1)") && page.contains("@nova"));
    assert!(page.contains("Discount codes move to the new campaign."));
    let campaigns = app.get("/api/v1/campaigns", &s.admin).await.json();
    assert_eq!(
        campaigns["items"].as_array().unwrap().len(),
        1,
        "a preview makes nothing"
    );
    let mut apply = form.to_vec();
    apply.retain(|(k, _)| *k != "action");
    apply.push(("action", "apply"));
    let (status, to) = b
        .post(&format!("/dashboard/campaigns/{id}/successor"), &apply)
        .await;
    assert_eq!(status, 303, "{to}");
    let next = campaign_of(&to);
    let board = app
        .get(&format!("/api/v1/campaigns/{next}/influencers"), &s.admin)
        .await
        .json();
    let mut handles: Vec<&str> = board["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["handle"].as_str().unwrap())
        .collect();
    handles.sort();
    assert_eq!(handles, ["nova", "star", "steady"]);

    // Payouts: star's fee (100.00) is approved at once; marked paid by form; CSV.
    let (status, page) = b.get(&format!("/dashboard/campaigns/{id}/payouts")).await;
    assert_eq!(status, 200);
    assert!(page.contains(">Mark paid<"));
    let (status, page) = b
        .post(
            &format!(
                "/dashboard/campaigns/{id}/payouts/{}/mark-paid",
                s.influencer(0)
            ),
            &[("amount", "100000"), ("reference", "TX-1")],
        )
        .await;
    assert_eq!(status, 422, "more than the balance: {page}");
    assert!(page.contains("value=\"TX-1\""));
    let (status, _) = b
        .post(
            &format!(
                "/dashboard/campaigns/{id}/payouts/{}/mark-paid",
                s.influencer(0)
            ),
            &[("amount", "100.00"), ("reference", "TX-1")],
        )
        .await;
    assert_eq!(status, 303);
    // Another brand's (or a missing) influencer: the 404 page, as the API answers.
    let (status, _) = b
        .post(
            &format!("/dashboard/campaigns/{id}/payouts/{nova}/mark-paid"),
            &[("amount", "1.00")],
        )
        .await;
    assert_eq!(status, 404);
    let r = app
        .client
        .get(format!(
            "{}/dashboard/campaigns/{id}/payouts.csv",
            app.address
        ))
        .header("cookie", &b.cookie)
        .send()
        .await
        .unwrap();
    let csv = r.text().await.unwrap();
    let star = csv.lines().find(|l| l.contains(",star,")).unwrap();
    assert!(
        star.ends_with(",100.00,100.00,0.00"),
        "approved, paid, balance: {csv}"
    );
}
