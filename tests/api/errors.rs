//! Every error class is problem+json with the right status, and none is a 5xx.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    let r = app
        .post_raw(
            "/api/v1/brands",
            OPERATOR,
            "application/json",
            b"{\"name\": ".to_vec(),
        )
        .await;
    let p = r.problem(400);
    assert!(p["detail"].as_str().unwrap().contains("malformed JSON"));
    app.post_raw(
        "/api/v1/brands",
        OPERATOR,
        "application/json",
        vec![0xff, 0xfe],
    )
    .await
    .problem(400);
    app.post_raw("/api/v1/brands", OPERATOR, "application/json", Vec::new())
        .await
        .problem(400);
}

#[tokio::test]
async fn validation_errors_are_422_and_name_the_field() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"name": ""}),
        json!({"name": 42}),
        json!({"name": null}),
    ] {
        let r = app.post("/api/v1/brands", OPERATOR, body).await;
        r.invalid_field("name");
    }
    app.post("/api/v1/brands", OPERATOR, json!({"name": "x", "extra": 1}))
        .await
        .problem(422);
    app.post("/api/v1/brands", OPERATOR, json!(["name"]))
        .await
        .problem(422);
    // Nothing was created by any refused request.
    let list = app.get("/api/v1/brands", OPERATOR).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app().await;
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(70 * 1024));
    let r = app
        .post_raw(
            "/api/v1/brands",
            OPERATOR,
            "application/json",
            big.into_bytes(),
        )
        .await;
    r.problem(413);
}

#[tokio::test]
async fn non_json_bodies_are_415() {
    let app = spawn_app().await;
    app.post_raw(
        "/api/v1/brands",
        OPERATOR,
        "application/x-www-form-urlencoded",
        b"name=x".to_vec(),
    )
    .await
    .problem(415);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    app.get("/api/v1/nothing-here", OPERATOR).await.problem(404);
    app.request(reqwest::Method::GET, "/nothing-here", None, None)
        .await
        .problem(404);
    // `/` is a browser's way in: to the dashboard.
    let r = app.request(reqwest::Method::GET, "/", None, None).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/dashboard")));
    let r = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/brands",
            Some(OPERATOR),
            Some(json!({})),
        )
        .await;
    r.problem(405);
    let allow = r.header("allow").unwrap();
    assert!(allow.contains("POST") && allow.contains("GET"), "{allow}");
    app.request(reqwest::Method::DELETE, "/healthz", None, None)
        .await
        .problem(405);
}
