//! Spawns the real application on port 0 against a fresh database: a temp SQLite file, or a
//! new PostgreSQL database when `INFLUTRACK_TEST_POSTGRES_URL` is set.

use diesel::{Connection, PgConnection, RunQueryDsl};
use influtrack::config::Settings;
use influtrack::Application;
use reqwest::Method;
use serde_json::Value;

/// The key that seals storefront secrets in tests (`security.rs` also tests the key file).
pub const SECRET_KEY: &str = "5ec12e7c0ffee0123456789abcdef0123456789abcdef0123456789abcdef012";
pub const OPERATOR: &str = "test-operator-token-0123456789-abcdefXYZ";

pub enum TestDb {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub fn new() -> Self {
        match std::env::var("INFLUTRACK_TEST_POSTGRES_URL") {
            Ok(admin_url) if !admin_url.is_empty() => {
                // Before libpq's first use of OpenSSL (see `db::init_tls`).
                influtrack::db::init_tls();
                let name = format!("influtrack_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin_url)
                    .expect("INFLUTRACK_TEST_POSTGRES_URL must reach PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create the test database");
                TestDb::Postgres { admin_url, name }
            }
            _ => TestDb::Sqlite(tempfile::tempdir().expect("temp dir")),
        }
    }

    pub fn url(&self) -> String {
        match self {
            TestDb::Sqlite(dir) => dir.path().join("test.db").display().to_string(),
            TestDb::Postgres { admin_url, name } => {
                let mut url = url::Url::parse(admin_url).expect("valid admin URL");
                url.set_path(&format!("/{name}"));
                url.to_string()
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let TestDb::Postgres { admin_url, name } = self {
            if let Ok(mut conn) = PgConnection::establish(admin_url) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// `None` for a server in another process.
    pub handle: Option<actix_web::dev::ServerHandle>,
    pub db: TestDb,
    /// The `/metrics` listener's port.
    pub metrics_port: Option<u16>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status; returns the problem.
    #[track_caller]
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "body: {}",
            self.text
        );
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().is_some() && p["title"].as_str().is_some());
        p
    }

    /// Asserts a 422 naming `field` among its errors.
    #[track_caller]
    pub fn invalid_field(&self, field: &str) {
        let p = self.problem(422);
        let fields: Vec<&str> = p["errors"]
            .as_array()
            .expect("errors array")
            .iter()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(fields.contains(&field), "expected {field} in {fields:?}");
    }
}

pub fn settings_for(db: &TestDb) -> Settings {
    let mut s = Settings::for_database(db.url());
    s.admin_token = Some(OPERATOR.into());
    s.secret_key = Some(SECRET_KEY.into());
    s.workers = Some(1);
    s.db_pool_size = 4;
    // Shops in tests are fakes on 127.0.0.1: a call that takes longer is a test of slowness.
    s.shop_timeout_ms = 2_000;
    s.outbox_backoff_ms = 200;
    s.log = std::env::var("TEST_LOG").unwrap_or_else(|_| "off".into());
    s
}

pub async fn spawn_app() -> TestApp {
    let db = TestDb::new();
    let settings = settings_for(&db);
    spawn_with(db, settings).await
}

pub async fn spawn_with(db: TestDb, settings: Settings) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        influtrack::telemetry::init(&settings.log, false);
    }
    let app = Application::build(settings)
        .await
        .expect("the application starts");
    let port = app.port();
    let metrics_port = app.metrics_port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        handle: Some(handle),
        db,
        metrics_port,
    }
}

/// A second instance on the database of `app` (the caller keeps `app`, which owns the
/// database).
pub async fn spawn_beside(app: &TestApp) -> TestApp {
    let settings = settings_for(&app.db);
    let mut second = spawn_with(
        TestDb::Sqlite(tempfile::tempdir().expect("temp dir")),
        settings,
    )
    .await;
    second.db = TestDb::Sqlite(tempfile::tempdir().expect("temp dir"));
    second
}

impl TestApp {
    /// The helpers' view of a server running in another process (its database is the
    /// caller's).
    pub fn of_address(address: &str) -> Self {
        TestApp {
            address: address.to_string(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            handle: None,
            db: TestDb::Sqlite(tempfile::tempdir().expect("temp dir")),
            metrics_port: None,
        }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request sent");
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            text: res.text().await.expect("body"),
        }
    }

    pub async fn get(&self, path: &str, key: &str) -> Resp {
        self.request(Method::GET, path, Some(key), None).await
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> Resp {
        self.request(Method::POST, path, Some(key), Some(body))
            .await
    }

    pub async fn patch(&self, path: &str, key: &str, body: Value) -> Resp {
        self.request(Method::PATCH, path, Some(key), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, key: &str) -> Resp {
        self.request(Method::DELETE, path, Some(key), None).await
    }

    /// A raw body with a content type, for malformed-input tests.
    pub async fn post_raw(&self, path: &str, key: &str, content_type: &str, body: Vec<u8>) -> Resp {
        let res = self
            .client
            .post(format!("{}{}", self.address, path))
            .bearer_auth(key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request sent");
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            text: res.text().await.expect("body"),
        }
    }

    /// Creates a brand as the operator; returns `(brand_id, admin_key)`.
    pub async fn create_brand(&self, name: &str) -> (String, String) {
        let r = self
            .post(
                "/api/v1/brands",
                OPERATOR,
                serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let b = r.json();
        (
            b["id"].as_str().unwrap().to_string(),
            b["admin_key"].as_str().unwrap().to_string(),
        )
    }

    /// Mints a key of `scope` for the brand with its admin key; returns `(key_id, key)`.
    pub async fn create_key(&self, brand_id: &str, admin: &str, body: Value) -> (String, String) {
        let r = self
            .post(&format!("/api/v1/brands/{brand_id}/keys"), admin, body)
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let k = r.json();
        (
            k["id"].as_str().unwrap().to_string(),
            k["key"].as_str().unwrap().to_string(),
        )
    }

    /// `GET /metrics` on the metrics listener.
    pub async fn metrics(&self) -> Resp {
        let port = self.metrics_port.expect("a metrics listener");
        let res = self
            .client
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .expect("metrics answered");
        Resp {
            status: res.status().as_u16(),
            headers: res.headers().clone(),
            text: res.text().await.expect("body"),
        }
    }

    pub async fn stop(&self) {
        if let Some(handle) = &self.handle {
            handle.stop(true).await;
        }
    }
}
