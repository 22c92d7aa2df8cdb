//! `openapi.yaml` and the served routes may not drift apart: every route is documented, every
//! documented operation is served, and each operation documents its error answers.

use std::collections::BTreeSet;

fn spec() -> serde_yaml::Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml at the project root");
    serde_yaml::from_str(&text).expect("openapi.yaml parses")
}

fn documented() -> BTreeSet<(String, String)> {
    let spec = spec();
    let paths = spec["paths"].as_mapping().expect("paths");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        for (method, _) in item.as_mapping().expect("path item") {
            let method = method.as_str().unwrap();
            if ["get", "post", "put", "patch", "delete", "head"].contains(&method) {
                out.insert((method.to_uppercase(), path.as_str().unwrap().to_string()));
            }
        }
    }
    out
}

/// The dashboard's routes as docs/DASHBOARD.md lists them (`| `GET` | `/path` | … |`).
fn dashboard_routes() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/DASHBOARD.md"))
        .expect("docs/DASHBOARD.md");
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            match cells.as_slice() {
                ["", method, path, _, ""] if method.starts_with('`') && path.starts_with("`/") => {
                    Some((
                        method.trim_matches('`').to_string(),
                        path.trim_matches('`').to_string(),
                    ))
                }
                _ => None,
            }
        })
        .collect()
}

/// Every route is in the API's spec or, for the dashboard's pages, in docs/DASHBOARD.md;
/// never in both, and nothing is listed that is not served.
#[test]
fn every_route_is_documented_and_every_documented_route_exists() {
    let served: BTreeSet<(String, String)> = influtrack::routes::routes()
        .endpoints()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let pages = dashboard_routes();
    assert!(pages.len() > 30, "the dashboard's table is read: {pages:?}");
    for (m, p) in &pages {
        assert!(
            p == "/" || p == "/favicon.ico" || p.starts_with("/dashboard"),
            "{m} {p} is no dashboard page"
        );
    }
    let in_spec = documented();
    assert!(
        in_spec.is_disjoint(&pages),
        "in both openapi.yaml and docs/DASHBOARD.md: {:?}",
        in_spec.intersection(&pages).collect::<Vec<_>>()
    );
    let documented: BTreeSet<(String, String)> = in_spec.union(&pages).cloned().collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but neither in openapi.yaml nor in docs/DASHBOARD.md: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
}

#[test]
fn every_operation_has_an_id_and_documents_its_answers() {
    let spec = spec();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let mut ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        for (method, op) in item.as_mapping().unwrap() {
            if !["get", "post", "put", "patch", "delete", "head"]
                .contains(&method.as_str().unwrap())
            {
                continue;
            }
            let where_ = format!("{} {}", method.as_str().unwrap(), path.as_str().unwrap());
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{where_}: operationId"));
            assert!(
                ids.insert(id.to_string()),
                "{where_}: duplicate operationId {id}"
            );
            let responses = op["responses"]
                .as_mapping()
                .unwrap_or_else(|| panic!("{where_}: responses"));
            assert!(!responses.is_empty(), "{where_}: no responses");
            let secured = op
                .get("security")
                .map(|s| s.as_sequence().is_some_and(|s| !s.is_empty()))
                .unwrap_or(true);
            if secured && path.as_str().unwrap().starts_with("/api/") {
                assert!(
                    responses.contains_key(serde_yaml::Value::String("401".into())),
                    "{where_}: 401 not documented"
                );
            }
        }
    }
}

/// The per-key rate limiter may answer 429 on every API and webhook route and on the dashboard
/// pages; only the redirect, the probes, the metrics and the static scripts and styles are
/// never limited.
#[test]
fn every_limited_operation_documents_429() {
    let spec = spec();
    let unlimited = [
        "/r/{code}",
        "/healthz",
        "/readyz",
        "/t.js",
        "/api/v1/openapi.yaml",
        "/api/v1/openapi.json",
        "/api/docs",
    ];
    let too_many = &spec["components"]["responses"]["TooManyRequests"];
    assert!(
        too_many["headers"]["Retry-After"].is_mapping(),
        "TooManyRequests documents Retry-After"
    );
    for (path, item) in spec["paths"].as_mapping().unwrap() {
        let path = path.as_str().unwrap();
        for (method, op) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if !["get", "post", "put", "patch", "delete", "head"].contains(&method) {
                continue;
            }
            let documented = op["responses"]["429"]["$ref"].as_str();
            if unlimited.contains(&path) {
                assert_eq!(documented, None, "{method} {path}: never rate limited");
            } else {
                assert_eq!(
                    documented,
                    Some("#/components/responses/TooManyRequests"),
                    "{method} {path}: 429 not documented"
                );
            }
        }
    }
}

/// The server serves the spec it implements, as written and as JSON, and a page of it that
/// needs nothing from elsewhere (no script, no other host).
#[tokio::test]
async fn the_spec_is_served_and_rendered_without_anything_from_elsewhere() {
    let app = crate::helpers::spawn_app().await;
    let get = |path: &'static str| {
        let app = &app;
        async move {
            let r = app
                .client
                .get(format!("{}{path}", app.address))
                .send()
                .await
                .unwrap();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            (r.status().as_u16(), ct, r.text().await.unwrap())
        }
    };
    let (status, ct, yaml) = get("/api/v1/openapi.yaml").await;
    assert_eq!((status, ct.starts_with("application/yaml")), (200, true));
    let file =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
    assert_eq!(yaml, file);
    let (status, _, json) = get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let from_yaml: serde_json::Value = serde_yaml::from_str(&file).unwrap();
    assert_eq!(json, from_yaml);
    let (status, ct, page) = get("/api/docs").await;
    assert_eq!((status, ct.starts_with("text/html")), (200, true));
    assert!(!page.contains("<script"), "no script");
    assert!(
        !page.contains("http://") && !page.contains("https://cdn"),
        "nothing from elsewhere"
    );
    for id in documented_ids() {
        assert!(
            page.contains(&format!("id=\"{id}\"")),
            "{id} is not on the page"
        );
    }
}

fn documented_ids() -> Vec<String> {
    let spec = spec();
    let mut ids = Vec::new();
    for (_, item) in spec["paths"].as_mapping().unwrap() {
        for (_, op) in item.as_mapping().unwrap() {
            if let Some(id) = op["operationId"].as_str() {
                ids.push(id.to_string());
            }
        }
    }
    ids
}
