//! What the load drivers in `examples/` share: a deterministic generator, percentiles, a small
//! API client, the seed every order benchmark starts from (a brand, a storefront key, a linear
//! campaign, enrolled influencers with a discount code and a link each) and the click id of a
//! redirect.

// Each example compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use serde_json::{json, Value};

pub const OPERATOR: &str = "bench-operator-token-0123456789-abcdefXYZ";

/// A browser's user agent: redirects that send it count as human clicks.
pub const CHROME: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

/// A small deterministic generator (xorshift; no dependency for benchmarks).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn below64(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The `p` quantile of sorted latencies, in milliseconds (0 when there are none).
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    ms(sorted[i])
}

/// The `itk_click` parameter of a redirect's `Location`.
pub fn click_id(location: &str) -> Option<String> {
    url::Url::parse(location)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == "itk_click")
        .map(|(_, v)| v.to_string())
}

/// An HTTP client for one influtrack server; redirects are not followed.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(base: impl Into<String>, connections: usize) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(connections)
                // Shorter than the server's keep-alive (actix-web's 5 s), so that a connection
                // the server is closing for idleness is never picked for a request: that race
                // loses the request without an answer.
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .expect("client"),
            base: base.into(),
        }
    }

    /// `POST` a JSON body; the status and the JSON answer (null when it is not JSON).
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> reqwest::Result<Response> {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(body)
            .send()
            .await?;
        Response::read(r).await
    }

    /// `GET` with a key; the status and the JSON answer (null when it is not JSON).
    pub async fn get(&self, path: &str, key: &str) -> reqwest::Result<Response> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(key)
            .send()
            .await?;
        Response::read(r).await
    }

    /// Signs in to the dashboard with a key as a browser does (the sign-in page's cookie and
    /// form token, then the form); the session cookie (`name=value`).
    pub async fn sign_in(&self, key: &str) -> reqwest::Result<Option<String>> {
        let page = self
            .http
            .get(format!("{}/dashboard/login", self.base))
            .send()
            .await?;
        let cookie = first_cookie(&page, "");
        let html = page.text().await?;
        let token = html
            .split("name=\"form_token\" value=\"")
            .nth(1)
            .and_then(|t| t.split('"').next())
            .unwrap_or_default()
            .to_string();
        let r = self
            .http
            .post(format!("{}/dashboard/login", self.base))
            .header("origin", &self.base)
            .header("cookie", cookie.unwrap_or_default())
            .form(&[("key", key), ("form_token", &token)])
            .send()
            .await?;
        Ok(first_cookie(&r, "itk_session="))
    }

    /// `GET` a dashboard page with a session cookie; the status and the page's length.
    pub async fn page(&self, path: &str, cookie: &str) -> reqwest::Result<(u16, usize)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.bytes().await?.len()))
    }

    /// `GET /r/{code}` as a browser; the status and the click id of the `Location`.
    pub async fn follow(&self, code: &str, user_agent: &str) -> reqwest::Result<Followed> {
        let r = self
            .http
            .get(format!("{}/r/{code}", self.base))
            .header("user-agent", user_agent)
            .send()
            .await?;
        let status = r.status().as_u16();
        let click = r
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .and_then(click_id);
        r.bytes().await?;
        Ok(Followed { status, click })
    }

    /// `POST` that must succeed (seeding): the JSON answer.
    pub async fn create(&self, path: &str, key: &str, body: Value) -> Value {
        let r = self.post(path, key, &body).await.expect("request");
        assert!(
            (200..300).contains(&r.status),
            "{path}: {} {}",
            r.status,
            r.body
        );
        r.body
    }
}

/// The first cookie an answer sets whose text starts with `prefix`, as `name=value`.
fn first_cookie(r: &reqwest::Response, prefix: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

pub struct Response {
    pub status: u16,
    /// `Retry-After` in seconds, when the server sent one.
    pub retry_after: Option<u64>,
    pub body: Value,
}

impl Response {
    async fn read(r: reqwest::Response) -> reqwest::Result<Self> {
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let bytes = r.bytes().await?;
        Ok(Self {
            status,
            retry_after,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }
}

pub struct Followed {
    pub status: u16,
    pub click: Option<String>,
}

/// What [`seed`] created.
pub struct Seeded {
    pub brand_id: String,
    pub admin: String,
    pub storefront: String,
    pub campaign_id: String,
    /// The discount code of each enrollment (`CREATOR{i}`).
    pub codes: Vec<String>,
    /// The link code of each enrollment.
    pub links: Vec<String>,
    /// The id of each of those links.
    pub link_ids: Vec<String>,
}

/// Seeds through the API: a brand, a storefront key, a campaign crediting linearly with code
/// priority, and `influencers` influencers enrolled with a discount code, a link and a 10%
/// commission each.
pub async fn seed(api: &Api, influencers: usize) -> Seeded {
    let brand = api
        .create("/api/v1/brands", OPERATOR, json!({"name": "Bench"}))
        .await;
    let admin = brand["admin_key"].as_str().unwrap().to_string();
    let brand_id = brand["id"].as_str().unwrap().to_string();
    let key = api
        .create(
            &format!("/api/v1/brands/{brand_id}/keys"),
            &admin,
            json!({"scope": "storefront"}),
        )
        .await;
    let storefront = key["key"].as_str().unwrap().to_string();
    let campaign = api
        .create(
            "/api/v1/campaigns",
            &admin,
            json!({"name": "Bench", "destination_url": "https://shop.example/",
                    "currency": "EUR", "attribution": {"model": "linear", "code_priority": true}}),
        )
        .await;
    let campaign_id = campaign["id"].as_str().unwrap().to_string();
    let mut codes = Vec::with_capacity(influencers);
    let mut links = Vec::with_capacity(influencers);
    let mut link_ids = Vec::with_capacity(influencers);
    for i in 0..influencers {
        let inf = api
            .create(
                "/api/v1/influencers",
                &admin,
                json!({"handle": format!("creator{i}")}),
            )
            .await;
        let e = api
            .create(
                &format!("/api/v1/campaigns/{campaign_id}/influencers"),
                &admin,
                json!({"influencer_id": inf["id"], "code": format!("CREATOR{i}"),
                        "commission_rate": "0.1"}),
            )
            .await;
        codes.push(e["discount_code"]["code"].as_str().unwrap().to_string());
        links.push(e["link"]["code"].as_str().unwrap().to_string());
        link_ids.push(e["link"]["id"].as_str().unwrap().to_string());
    }
    Seeded {
        brand_id,
        admin,
        storefront,
        campaign_id,
        codes,
        links,
        link_ids,
    }
}
