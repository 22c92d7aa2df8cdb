//! Regressions of what Schemathesis (`.ci/schemathesis.sh`) found against the live server.

use crate::helpers::*;
use serde_json::{json, Value};

/// A brand with a campaign and an enrolled influencer: `(brand_id, admin, campaign_id,
/// enrollment answer)`.
async fn enrolled(app: &TestApp) -> (String, String, String, Value) {
    let (brand_id, admin) = app.create_brand("Fuzz").await;
    let inf = app
        .post("/api/v1/influencers", &admin, json!({"handle": "anna"}))
        .await;
    assert_eq!(inf.status, 201, "{}", inf.text);
    let influencer_id = inf.json()["id"].as_str().unwrap().to_string();
    let c = app
        .post(
            "/api/v1/campaigns",
            &admin,
            json!({"name": "Spring", "destination_url": "https://shop.example/", "currency": "EUR"}),
        )
        .await;
    assert_eq!(c.status, 201, "{}", c.text);
    let campaign_id = c.json()["id"].as_str().unwrap().to_string();
    let e = app
        .post(
            &format!("/api/v1/campaigns/{campaign_id}/influencers"),
            &admin,
            json!({"influencer_id": influencer_id}),
        )
        .await;
    assert_eq!(e.status, 201, "{}", e.text);
    (brand_id, admin, campaign_id, e.json())
}

#[tokio::test]
async fn a_code_patch_with_nothing_to_change_is_200_not_500() {
    let app = spawn_app().await;
    let (_, admin, _, enrollment) = enrolled(&app).await;
    let code = &enrollment["discount_code"];
    let r = app
        .patch(
            &format!("/api/v1/codes/{}", code["id"].as_str().unwrap()),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["code"], code["code"]);
    assert_eq!(body["status"], "active");
    assert_eq!(body["discount"], code["discount"]);
}

#[tokio::test]
async fn null_is_refused_where_a_field_is_not_nullable() {
    let app = spawn_app().await;
    let (brand_id, admin, campaign_id, enrollment) = enrolled(&app).await;
    let link = format!(
        "/api/v1/links/{}",
        enrollment["link"]["id"].as_str().unwrap()
    );
    let code = format!(
        "/api/v1/codes/{}",
        enrollment["discount_code"]["id"].as_str().unwrap()
    );
    // Once read as "absent", so the request succeeded without doing what it said.
    app.patch(&link, &admin, json!({"status": null}))
        .await
        .invalid_field("status");
    app.patch(&code, &admin, json!({"discount": null}))
        .await
        .invalid_field("discount");
    app.post(
        &format!("/api/v1/brands/{brand_id}/keys"),
        &admin,
        json!({"scope": "read", "influencer_id": null}),
    )
    .await
    .invalid_field("influencer_id");
    app.post(
        "/api/v1/campaigns",
        &admin,
        json!({"name": "Summer", "destination_url": "https://shop.example/", "currency": "EUR", "slug": null}),
    )
    .await
    .invalid_field("slug");
    app.post(
        "/api/v1/orders",
        &admin,
        json!({"order_id": "o-1", "amount": "10.00", "currency": "EUR", "occurred_at": null}),
    )
    .await
    .invalid_field("occurred_at");
    app.post(
        &format!("/api/v1/campaigns/{campaign_id}/successor"),
        &admin,
        json!({"name": "Next", "keep_top": 1, "ends_at": null}),
    )
    .await
    .invalid_field("ends_at");
    app.post(
        &format!("/api/v1/campaigns/{campaign_id}/prune"),
        &admin,
        json!({"rules": {"min_roi": 0, "rank_by": null}}),
    )
    .await
    .problem(422);
    // Where null is documented it still clears, and absent fields still stay unchanged.
    let r = app.patch(&link, &admin, json!({"label": null})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["status"], "active");
    let r = app
        .patch(&code, &admin, json!({"max_redemptions": null}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test]
async fn a_cursor_hiding_control_characters_is_422() {
    let app = spawn_app().await;
    let (_, admin, _, _) = enrolled(&app).await;
    // "AA" is base64url for a NUL byte, which PostgreSQL text cannot hold: it was a 500 there.
    for cursor in ["AA", "Cg"] {
        app.get(&format!("/api/v1/influencers?cursor={cursor}"), &admin)
            .await
            .invalid_field("cursor");
        app.get(&format!("/api/v1/campaigns?cursor={cursor}"), &admin)
            .await
            .invalid_field("cursor");
        app.get(&format!("/api/v1/brands?cursor={cursor}"), OPERATOR)
            .await
            .invalid_field("cursor");
    }
}

#[tokio::test]
async fn a_nul_byte_in_a_query_or_a_body_is_422_naming_the_field() {
    let app = spawn_app().await;
    let (_, admin, campaign_id, _) = enrolled(&app).await;
    // Schemathesis sent `q` with a NUL byte: PostgreSQL refused the search and it was a 500.
    for (path, field) in [
        ("/api/v1/influencers?q=an%00na".to_string(), "q"),
        (
            "/api/v1/influencers?platform=instagram&tag=a%00".to_string(),
            "tag",
        ),
        (
            format!("/api/v1/campaigns/{campaign_id}/leaderboard?sort=%00"),
            "sort",
        ),
    ] {
        app.get(&path, &admin).await.invalid_field(field);
    }
    // The same in a JSON body, wherever the NUL hides.
    for (body, field) in [
        (
            json!({"handle": "bea", "tags": ["ok", "x\u{0}"]}),
            "tags[1]",
        ),
        (
            json!({"handle": "bea", "email": "b\u{0}@example.com"}),
            "email",
        ),
        (json!({"handle": "be\u{0}a"}), "handle"),
    ] {
        app.post("/api/v1/influencers", &admin, body)
            .await
            .invalid_field(field);
    }
    // Other control characters are no match, not an error (the spec allows them).
    let r = app
        .get("/api/v1/influencers?platform=%0Ainsta%09&q=%C2%85", &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 0);
    // A code lookup trims a C1 whitespace before it judges the code.
    let r = app
        .get("/api/v1/codes/lookup?code=%C2%85nope%C2%85", &admin)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["valid"], false);
    // The same search without the NUL still answers.
    let r = app.get("/api/v1/influencers?q=anna", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn text_limits_count_characters_not_bytes() {
    let app = spawn_app().await;
    let (_, admin, campaign_id, enrollment) = enrolled(&app).await;
    let influencer_id = enrollment["influencer_id"].as_str().unwrap();
    // Each at its documented maximum in characters, but over it in UTF-8 bytes.
    let order_id = "é".repeat(128);
    let r = app
        .post(
            "/api/v1/orders",
            &admin,
            json!({
                "order_id": order_id,
                "amount": "10.00",
                "currency": "EUR",
                "customer_ref": "ü".repeat(200),
                "discount_codes": ["Ä".repeat(64)],
            }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(r.json()["order_id"], order_id);
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/integrations/shopify",
            Some(&admin),
            Some(json!({"webhook_secret": "ß".repeat(512)})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/posts"),
            &admin,
            json!({"post_url": "https://social.example/p/1", "platform": "ö".repeat(32)}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    // One character more is still refused.
    app.post(
        "/api/v1/orders",
        &admin,
        json!({"order_id": "é".repeat(129), "amount": "10.00", "currency": "EUR"}),
    )
    .await
    .invalid_field("order_id");
}

#[tokio::test]
async fn text_limits_count_what_was_sent_surrounding_spaces_included() {
    let app = spawn_app().await;
    let (_, admin, _, enrollment) = enrolled(&app).await;
    let link = format!(
        "/api/v1/links/{}",
        enrollment["link"]["id"].as_str().unwrap()
    );
    // openapi.yaml's maxLength counts the string as sent; the server measured it trimmed.
    let padded = format!("x{}", "\u{85}".repeat(100));
    app.patch(&link, &admin, json!({"label": padded}))
        .await
        .invalid_field("label");
    app.post(
        "/api/v1/influencers",
        &admin,
        json!({"handle": "ben", "tags": [format!("{}  ", "t".repeat(39))]}),
    )
    .await
    .invalid_field("tags[0]");
    app.get(
        &format!("/api/v1/codes/lookup?code=ABC{}", "%20".repeat(62)),
        &admin,
    )
    .await
    .invalid_field("code");
    // At the limit, spaces included, it is still accepted (and stored trimmed).
    let r = app
        .patch(
            &link,
            &admin,
            json!({"label": format!(" {} ", "y".repeat(98))}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["label"], "y".repeat(98));
}
