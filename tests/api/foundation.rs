//! Brands, keys, the auth/scope/tenancy matrix, operations endpoints, restarts.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn health_and_readiness() {
    let app = spawn_app().await;
    let r = app
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!((r.status, r.json()["status"].as_str()), (200, Some("ok")));
    let r = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["migrations"], "applied");
}

#[tokio::test]
async fn operator_creates_a_brand_with_a_working_admin_key() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/v1/brands",
            OPERATOR,
            json!({"name": "  Acme Cosmetics "}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let brand = r.json();
    assert_eq!(brand["name"], "Acme Cosmetics");
    let id = brand["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    let key = brand["admin_key"].as_str().unwrap();
    assert!(key.starts_with("itk_") && key.len() >= 40, "{key}");

    let r = app.get(&format!("/api/v1/brands/{id}"), key).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["id"], id);

    let r = app.get("/api/v1/brands", OPERATOR).await;
    assert_eq!(r.status, 200);
    let list = r.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert!(list["next_cursor"].is_null());
    assert!(list["items"][0].get("admin_key").is_none());
}

#[tokio::test]
async fn brand_list_paginates_with_an_opaque_cursor() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_brand(&format!("brand {i}")).await;
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/brands?limit=2".to_string();
    loop {
        let r = app.get(&path, OPERATOR).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.json();
        for b in page["items"].as_array().unwrap() {
            seen.push(b["name"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/brands?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..5).map(|i| format!("brand {i}")).collect::<Vec<_>>()
    );
    app.get("/api/v1/brands?limit=0", OPERATOR)
        .await
        .invalid_field("limit");
    app.get("/api/v1/brands?limit=501", OPERATOR)
        .await
        .invalid_field("limit");
    app.get("/api/v1/brands?limit=abc", OPERATOR)
        .await
        .invalid_field("limit");
    app.get("/api/v1/brands?cursor=!!", OPERATOR)
        .await
        .invalid_field("cursor");
}

#[tokio::test]
async fn unauthenticated_and_wrong_scope_requests_are_refused() {
    let app = spawn_app().await;
    let (brand, admin) = app.create_brand("Acme").await;
    let (_, read) = app
        .create_key(&brand, &admin, json!({"scope": "read"}))
        .await;
    let (_, storefront) = app
        .create_key(&brand, &admin, json!({"scope": "storefront"}))
        .await;

    // No key, a garbage key, a well-shaped unknown key, a wrong scheme: 401.
    let r = app
        .request(reqwest::Method::GET, "/api/v1/brands", None, None)
        .await;
    r.problem(401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    app.get("/api/v1/brands", "nonsense").await.problem(401);
    app.get(
        "/api/v1/brands",
        "itk_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    )
    .await
    .problem(401);
    let r = app
        .client
        .get(format!("{}/api/v1/brands", app.address))
        .header("authorization", format!("Basic {admin}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A key whose secret part was altered is refused even though its lookup part exists.
    let mut forged = admin.clone();
    forged.pop();
    forged.push(if admin.ends_with('a') { 'b' } else { 'a' });
    app.get(&format!("/api/v1/brands/{brand}"), &forged)
        .await
        .problem(401);

    // Only the operator creates brands; the operator acts on no brand's data.
    app.post("/api/v1/brands", &admin, json!({"name": "x"}))
        .await
        .problem(403);
    app.get("/api/v1/brands", &read).await.problem(403);

    // Only admins manage keys.
    let keys = format!("/api/v1/brands/{brand}/keys");
    app.post(&keys, &read, json!({"scope": "read"}))
        .await
        .problem(403);
    app.post(&keys, &storefront, json!({"scope": "admin"}))
        .await
        .problem(403);
    app.get(&keys, &read).await.problem(403);
    assert_eq!(app.get(&keys, &admin).await.status, 200);
    assert_eq!(app.get(&keys, OPERATOR).await.status, 200);
}

#[tokio::test]
async fn another_brands_ids_answer_like_missing_ones() {
    let app = spawn_app().await;
    let (a, admin_a) = app.create_brand("A").await;
    let (b, admin_b) = app.create_brand("B").await;
    let (key_b, _) = app.create_key(&b, &admin_b, json!({"scope": "read"})).await;
    let missing = uuid::Uuid::now_v7().to_string();

    for id in [&b, &missing] {
        app.get(&format!("/api/v1/brands/{id}"), &admin_a)
            .await
            .problem(404);
        app.get(&format!("/api/v1/brands/{id}/keys"), &admin_a)
            .await
            .problem(404);
        app.post(
            &format!("/api/v1/brands/{id}/keys"),
            &admin_a,
            json!({"scope": "read"}),
        )
        .await
        .problem(404);
    }
    let missing_key = uuid::Uuid::now_v7().to_string();
    for id in [&key_b, &missing_key] {
        app.delete(&format!("/api/v1/keys/{id}"), &admin_a)
            .await
            .problem(404);
    }
    // A malformed id is simply not found.
    app.get("/api/v1/brands/not-a-uuid", &admin_a)
        .await
        .problem(404);
    // The operator sees a missing brand as missing, too.
    app.get(&format!("/api/v1/brands/{missing}/keys"), OPERATOR)
        .await
        .problem(404);
    // B's key still works: A's attempts changed nothing.
    assert_eq!(
        app.get(&format!("/api/v1/brands/{a}"), &admin_a)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn keys_are_shown_once_listed_without_secrets_and_revoked_at_once() {
    let app = spawn_app().await;
    let (brand, admin) = app.create_brand("Acme").await;
    let r = app
        .post(
            &format!("/api/v1/brands/{brand}/keys"),
            &admin,
            json!({"scope": "read", "name": "reporting"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let created = r.json();
    let read_key = created["key"].as_str().unwrap().to_string();
    let read_id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["scope"], "read");
    assert_eq!(created["name"], "reporting");

    assert_eq!(
        app.get(&format!("/api/v1/brands/{brand}"), &read_key)
            .await
            .status,
        200
    );

    let listed = app
        .get(&format!("/api/v1/brands/{brand}/keys"), &admin)
        .await;
    assert_eq!(listed.status, 200);
    assert!(
        !listed.text.contains(&read_key[10..]),
        "a secret leaked: {}",
        listed.text
    );
    let items = listed.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 2);
    assert!(items
        .iter()
        .all(|k| k.get("key").is_none() && k.get("secret_hash").is_none()));

    let r = app.delete(&format!("/api/v1/keys/{read_id}"), &admin).await;
    assert_eq!(r.status, 204, "{}", r.text);
    app.get(&format!("/api/v1/brands/{brand}"), &read_key)
        .await
        .problem(401);
    let listed = app
        .get(&format!("/api/v1/brands/{brand}/keys"), &admin)
        .await
        .json();
    let revoked = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == read_id.as_str())
        .unwrap()
        .clone();
    assert!(revoked["revoked_at"].is_string());

    // The operator can revoke any brand's key, including the first admin key.
    let admin_id = listed["items"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.delete(&format!("/api/v1/keys/{admin_id}"), OPERATOR)
            .await
            .status,
        204
    );
    app.get(&format!("/api/v1/brands/{brand}"), &admin)
        .await
        .problem(401);
}

#[tokio::test]
async fn key_creation_validates_scope_and_binding() {
    let app = spawn_app().await;
    let (brand, admin) = app.create_brand("Acme").await;
    let path = format!("/api/v1/brands/{brand}/keys");
    app.post(&path, &admin, json!({"scope": "superuser"}))
        .await
        .invalid_field("scope");
    app.post(&path, &admin, json!({}))
        .await
        .invalid_field("scope");
    app.post(&path, &admin, json!({"scope": "influencer"}))
        .await
        .invalid_field("influencer_id");
    app.post(
        &path,
        &admin,
        json!({"scope": "read", "influencer_id": uuid::Uuid::now_v7()}),
    )
    .await
    .invalid_field("influencer_id");
    app.post(
        &path,
        &admin,
        json!({"scope": "read", "name": "x".repeat(201)}),
    )
    .await
    .invalid_field("name");
    // Nothing was written by the refused calls.
    let listed = app.get(&path, &admin).await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn data_and_keys_survive_a_restart() {
    let app = spawn_app().await;
    let (brand, admin) = app.create_brand("Persistent").await;
    app.stop().await;
    let settings = settings_for(&app.db);
    let TestApp { db, .. } = app;
    let again = spawn_with(db, settings).await;
    let r = again.get(&format!("/api/v1/brands/{brand}"), &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["name"], "Persistent");
}

#[tokio::test]
async fn a_generated_operator_token_is_stored_as_a_hash_and_kept_across_restarts() {
    let db = TestDb::new();
    let mut settings = settings_for(&db);
    settings.admin_token = None;
    let first = influtrack::Application::build(settings.clone())
        .await
        .unwrap();
    let token = first
        .generated_operator_token()
        .expect("a token is generated at first start")
        .to_string();
    {
        use diesel::prelude::*;
        let mut conn = first.pool().get().unwrap();
        let stored: Vec<String> = influtrack::db::schema::settings::table
            .select(influtrack::db::schema::settings::value)
            .load(&mut conn)
            .unwrap();
        assert!(
            !stored.iter().any(|v| v.contains(&token)),
            "the token itself was stored"
        );
    }
    drop(first);
    let second = spawn_with(db, settings).await;
    let r = second
        .post("/api/v1/brands", &token, json!({"name": "x"}))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

#[tokio::test]
async fn metrics_count_requests_by_route() {
    let app = spawn_app().await;
    app.create_brand("Acme").await;
    let r = app.metrics().await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("http_requests_total"), "{}", r.text);
    assert!(r.text.contains("route=\"/api/v1/brands\""), "{}", r.text);
    assert!(r.text.contains("http_request_duration_seconds_bucket"));
    assert!(r.text.contains("db_pool_connections"));
}

#[tokio::test]
async fn a_bad_database_url_is_an_error_never_a_stray_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let cwd_before: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    for url in [
        "postgres://",
        "postgres://127.0.0.1:1/nothing_listens_here",
        "mysql://localhost/x",
    ] {
        let mut s = influtrack::config::Settings::for_database(url);
        s.admin_token = Some(OPERATOR.into());
        assert!(
            influtrack::Application::build(s).await.is_err(),
            "{url} was accepted"
        );
    }
    let cwd_after: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(cwd_before.len(), cwd_after.len(), "a file appeared");
    drop(dir);
}
