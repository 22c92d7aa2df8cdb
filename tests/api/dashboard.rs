//! The dashboard over HTTP: sessions, cookie flags, CSRF, scopes, security headers (the
//! browser run is tests/dashboard.rs).

use crate::helpers::*;
use crate::orders::shop;
use serde_json::json;

/// The sign-in page as a browser gets it: its cookie and its form's token.
pub async fn sign_in_page(app: &TestApp) -> (String, String) {
    let page = app
        .client
        .get(format!("{}/dashboard/login", app.address))
        .send()
        .await
        .unwrap();
    let cookie = page.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let token = crate::security::form_token_of(&page.text().await.unwrap());
    (cookie, token)
}

/// Signs in as a browser does: the sign-in page, then the form.
pub async fn sign_in(app: &TestApp, key: &str) -> reqwest::Response {
    let (cookie, token) = sign_in_page(app).await;
    app.client
        .post(format!("{}/dashboard/login", app.address))
        .header("origin", &app.address)
        .header("cookie", cookie)
        .form(&[("key", key), ("form_token", &token)])
        .send()
        .await
        .unwrap()
}

/// The session cookie of a key signed in.
pub async fn signed_in(app: &TestApp, key: &str) -> String {
    let r = sign_in(app, key).await;
    assert_eq!(r.status(), 303);
    session(&r)
}

/// The form token of a session (printed in every page's sign-out form).
pub async fn form_token(app: &TestApp, cookie: &str) -> String {
    let html = get(app, "/dashboard/me", Some(cookie))
        .await
        .text()
        .await
        .unwrap();
    let html = if html.contains("form_token") {
        html
    } else {
        get(app, "/dashboard", Some(cookie))
            .await
            .text()
            .await
            .unwrap()
    };
    crate::security::form_token_of(&html)
}

pub fn session(r: &reqwest::Response) -> String {
    let set = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("itk_session="))
        .expect("a session cookie");
    let lower = set.to_lowercase();
    assert!(
        lower.contains("httponly")
            && lower.contains("samesite=strict")
            && lower.contains("path=/dashboard"),
        "{set}"
    );
    set.split(';').next().unwrap().to_string()
}

pub async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(format!("{}{path}", app.address));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn sessions_scopes_and_forms_are_guarded() {
    let app = spawn_app().await;
    let s = shop(&app, json!({}), &["anna", "ben"]).await;
    // No session: to the sign-in page.
    let r = get(&app, "/dashboard", None).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/dashboard/login");
    let r = get(
        &app,
        &format!("/dashboard/campaigns/{}", s.campaign_id),
        None,
    )
    .await;
    assert_eq!(r.status(), 303);
    // Wrong key, operator token: refused.
    assert_eq!(sign_in(&app, "itk_nope_nope").await.status(), 401);
    assert_eq!(sign_in(&app, OPERATOR).await.status(), 403);
    // A storefront key records orders; it cannot sign in to read reports.
    let (_, storefront) = app
        .create_key(
            &s.brand_id,
            &s.admin,
            serde_json::json!({"scope": "storefront"}),
        )
        .await;
    assert_eq!(sign_in(&app, &storefront).await.status(), 403);
    // The admin: a session cookie, pages with security headers.
    let r = sign_in(&app, &s.admin).await;
    assert_eq!(r.status(), 303);
    let admin = session(&r);
    let admin_token = form_token(&app, &admin).await;
    let r = get(&app, "/dashboard", Some(&admin)).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(r.headers()["x-frame-options"], "DENY");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["referrer-policy"], "same-origin");
    assert_eq!(r.headers()["cross-origin-opener-policy"], "same-origin");
    assert_eq!(r.headers()["cache-control"], "no-store");
    assert!(r.text().await.unwrap().contains("Spring Sale"));
    let page = get(
        &app,
        &format!("/dashboard/campaigns/{}", s.campaign_id),
        Some(&admin),
    )
    .await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("@anna") && html.contains("Preview"),
        "the admin gets the prune panel"
    );
    // A form from another site is refused, even with the cookie.
    let r = app
        .client
        .post(format!(
            "{}/dashboard/campaigns/{}/prune",
            app.address, s.campaign_id
        ))
        .header("cookie", &admin)
        .header("origin", "https://evil.example")
        .form(&[("min_roi", "0"), ("action", "apply")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A preview from our own page changes nothing.
    let r = app
        .client
        .post(format!(
            "{}/dashboard/campaigns/{}/prune",
            app.address, s.campaign_id
        ))
        .header("cookie", &admin)
        .header("origin", &app.address)
        .form(&[
            ("min_net_revenue", "1"),
            ("action", "preview"),
            ("form_token", &admin_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Preview: 2 to prune"));
    let lookup = app
        .get(
            &format!("/api/v1/codes/lookup?code={}", s.code(0)),
            &s.storefront,
        )
        .await
        .json();
    assert_eq!(lookup["valid"], true);
    // Confirmed: both are pruned, the page marks them; one is reinstated from the page.
    let r = app
        .client
        .post(format!(
            "{}/dashboard/campaigns/{}/prune",
            app.address, s.campaign_id
        ))
        .header("cookie", &admin)
        .header("origin", &app.address)
        .form(&[
            ("min_net_revenue", "1"),
            ("action", "apply"),
            ("form_token", &admin_token),
        ])
        .send()
        .await
        .unwrap();
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Pruned 2") && html.contains("Reinstate"),
        "{html}"
    );
    let lookup = app
        .get(
            &format!("/api/v1/codes/lookup?code={}", s.code(0)),
            &s.storefront,
        )
        .await
        .json();
    assert_eq!(lookup["reason"], "pruned");
    let r = app
        .client
        .post(format!(
            "{}/dashboard/campaigns/{}/influencers/{}/reinstate",
            app.address,
            s.campaign_id,
            s.influencer(0)
        ))
        .header("cookie", &admin)
        .header("origin", &app.address)
        .form(&[("form_token", &admin_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let lookup = app
        .get(
            &format!("/api/v1/codes/lookup?code={}", s.code(0)),
            &s.storefront,
        )
        .await
        .json();
    assert_eq!(lookup["valid"], true);
    // A read key reads but gets no prune panel and cannot post one.
    let (_, read) = app
        .create_key(&s.brand_id, &s.admin, json!({"scope": "read"}))
        .await;
    let read = session(&sign_in(&app, &read).await);
    let read_token = form_token(&app, &read).await;
    let html = get(
        &app,
        &format!("/dashboard/campaigns/{}", s.campaign_id),
        Some(&read),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(html.contains("@anna") && !html.contains("Preview"));
    let r = app
        .client
        .post(format!(
            "{}/dashboard/campaigns/{}/prune",
            app.address, s.campaign_id
        ))
        .header("cookie", &read)
        .header("origin", &app.address)
        .form(&[
            ("min_roi", "0"),
            ("action", "apply"),
            ("form_token", &read_token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // An influencer sees its own page and nobody else's.
    let (_, anna) = app
        .create_key(
            &s.brand_id,
            &s.admin,
            json!({"scope": "influencer", "influencer_id": s.influencer(0)}),
        )
        .await;
    let anna = session(&sign_in(&app, &anna).await);
    let r = get(&app, "/dashboard", Some(&anna)).await;
    assert_eq!(r.headers()["location"], "/dashboard/me");
    let html = get(&app, "/dashboard/me", Some(&anna))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(s.code(0)) && !html.contains(s.code(1)));
    let r = get(
        &app,
        &format!(
            "/dashboard/campaigns/{}/influencers/{}",
            s.campaign_id,
            s.influencer(1)
        ),
        Some(&anna),
    )
    .await;
    assert_eq!(r.status(), 404);
    // Another brand's campaign is a 404 page.
    let (_, other) = app.create_brand("Other").await;
    let other = session(&sign_in(&app, &other).await);
    let r = get(
        &app,
        &format!("/dashboard/campaigns/{}", s.campaign_id),
        Some(&other),
    )
    .await;
    assert_eq!(r.status(), 404);
    // Signing out removes the cookie.
    let r = app
        .client
        .post(format!("{}/dashboard/logout", app.address))
        .header("cookie", &admin)
        .header("origin", &app.address)
        .form(&[("form_token", &admin_token)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("itk_session=;"));
}

#[tokio::test]
async fn the_root_leads_to_the_dashboard_and_unknown_pages_are_pages() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/dashboard");
    let r = app
        .client
        .get(format!("{}/favicon.ico", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert!(r.text().await.unwrap().starts_with("<svg"));
    let r = app
        .client
        .get(format!("{}/dashboard/no/such/page", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("There is no such page."));
    // The API keeps answering problem+json.
    let r = app.get("/api/v1/no-such-route", "k").await;
    r.problem(404);
}

#[tokio::test]
async fn an_empty_brand_gets_a_checklist_that_ticks_itself_off() {
    let app = spawn_app().await;
    let (_, admin) = app.create_brand("Fresh Start").await;
    let cookie = signed_in(&app, &admin).await;
    let home = || async {
        app.client
            .get(format!("{}/dashboard", app.address))
            .header("cookie", cookie.clone())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let html = home().await;
    assert!(html.contains("Fresh Start"), "the brand's name");
    assert!(html.contains("Getting started") && !html.contains("(done)"));
    crate::resources::campaign(&app, &admin, crate::resources::spring()).await;
    crate::resources::influencer(&app, &admin, "first").await;
    let html = home().await;
    assert_eq!(
        html.matches("(done)").count(),
        2,
        "campaign and influencer ticked"
    );
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/integrations/shopify",
            Some(&admin),
            Some(json!({"webhook_secret": "a-long-enough-secret"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(home().await.matches("(done)").count(), 3);
}
