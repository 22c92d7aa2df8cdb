//! Fake Shopify Admin GraphQL and fake WooCommerce REST v3 servers (real HTTP on 127.0.0.1) for the
//! discount-code sync tests: strict about auth and request shape, stateful, switchable to failures.
#![allow(dead_code)]

use actix_web::dev::ServerHandle;
use actix_web::http::{Method, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use parking_lot::Mutex;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// 503 with `Retry-After: {secs}` (if Some) and a short body; nothing is applied.
    Unavailable(Option<u64>),
    /// 429 with `Retry-After: {secs}` and the platform's body; nothing is applied.
    RateLimited(u64),
    /// The request is applied as in Normal, then the answer waits this long.
    Slow(Duration),
}

#[derive(Default)]
struct Common {
    mode: Mode,
    requests: usize,
    calls: HashMap<String, usize>,
}

impl Common {
    fn call(&mut self, op: &str) {
        *self.calls.entry(op.to_string()).or_default() += 1;
    }
}

/// What each fake does with a request.
trait Platform: Send + 'static {
    fn common(&mut self) -> &mut Common;
    /// The 429 body.
    fn rate_limited() -> Value;
    /// Status and body when the request is refused before the mode applies (auth, shape).
    fn refuse(&self, req: &HttpRequest, body: &[u8]) -> Option<(u16, Value)>;
    /// The answer in Normal and Slow modes.
    fn answer(&mut self, req: &HttpRequest, body: &[u8]) -> HttpResponse;
}

/// The answer, and how long to hold it back.
fn handle<P: Platform>(p: &mut P, req: &HttpRequest, body: &[u8]) -> (HttpResponse, Duration) {
    p.common().requests += 1;
    if let Some((status, body)) = p.refuse(req, body) {
        return (json_resp(status, body), Duration::ZERO);
    }
    let retry = |secs: &u64| ("Retry-After", secs.to_string());
    match p.common().mode.clone() {
        Mode::Normal => (p.answer(req, body), Duration::ZERO),
        Mode::Slow(delay) => (p.answer(req, body), delay),
        Mode::Unavailable(secs) => {
            let mut resp = HttpResponse::ServiceUnavailable();
            if let Some(secs) = &secs {
                resp.insert_header(retry(secs));
            }
            let resp = resp.content_type("text/plain").body("Service Unavailable");
            (resp, Duration::ZERO)
        }
        Mode::RateLimited(secs) => {
            let mut resp = HttpResponse::TooManyRequests();
            let resp = resp.insert_header(retry(&secs)).json(P::rate_limited());
            (resp, Duration::ZERO)
        }
    }
}

/// A running fake; stopped (without waiting) when dropped.
struct Running {
    handle: ServerHandle,
    port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        // stop() sends the command at once; the future only waits for the end.
        let stop = self.handle.stop(false);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(stop);
        }
    }
}

fn serve<P: Platform>(platform: P) -> (Arc<Mutex<P>>, Running) {
    let state = Arc::new(Mutex::new(platform));
    let shared = state.clone();
    let handler = move |req: HttpRequest, body: web::Bytes| {
        let (resp, delay) = handle(&mut *shared.lock(), &req, &body);
        async move {
            tokio::time::sleep(delay).await;
            resp
        }
    };
    let server = HttpServer::new(move || App::new().default_service(web::to(handler.clone())))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(("127.0.0.1", 0))
        .expect("the fake binds a port");
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    tokio::spawn(server);
    (state, Running { handle, port })
}

macro_rules! common_api {
    ($fake:ty) => {
        impl $fake {
            /// The failure mode for the next requests.
            pub fn set_mode(&self, mode: Mode) {
                self.state.lock().common.mode = mode;
            }
            /// Every HTTP request received, whatever became of it.
            pub fn requests(&self) -> usize {
                self.state.lock().common.requests
            }
            /// Requests that reached the operation `op` (in Normal or Slow mode).
            pub fn calls(&self, op: &str) -> usize {
                let state = self.state.lock();
                state.common.calls.get(op).copied().unwrap_or(0)
            }
            /// `http://127.0.0.1:{port}`.
            pub fn url(&self) -> String {
                format!("http://127.0.0.1:{}", self.server.port)
            }
        }
    };
}

fn json_resp(status: u16, body: Value) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(status).expect("a status")).json(body)
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> &'a str {
    let value = req.headers().get(name).map(|v| v.to_str());
    value.and_then(Result::ok).unwrap_or("")
}

fn ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn same_code(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Shopify

#[derive(Clone, Debug, Default)]
pub struct ShopDiscount {
    /// "gid://shopify/DiscountCodeNode/{n}", n from 1001 upward.
    pub id: String,
    pub code: String,
    pub title: String,
    pub percentage: Option<f64>,
    /// Decimal string as sent, e.g. "5.00".
    pub amount: Option<String>,
    pub applies_on_each_item: bool,
    pub usage_limit: Option<i64>,
    pub starts_at: String,
    pub ends_at: Option<String>,
    pub applies_once_per_customer: bool,
}

impl ShopDiscount {
    pub fn status(&self) -> &'static str {
        let now = Utc::now();
        if ts(&self.starts_at).is_some_and(|t| t > now) {
            "SCHEDULED"
        } else if self
            .ends_at
            .as_deref()
            .and_then(ts)
            .is_some_and(|t| t <= now)
        {
            "EXPIRED"
        } else {
            "ACTIVE"
        }
    }

    fn node(&self, currency: &str) -> Value {
        let value = match &self.amount {
            Some(amount) => json!({"__typename": "DiscountAmount",
                "amount": {"amount": amount, "currencyCode": currency},
                "appliesOnEachItem": self.applies_on_each_item}),
            None => json!({"__typename": "DiscountPercentage", "percentage": self.percentage}),
        };
        json!({"id": self.id, "codeDiscount": {"__typename": "DiscountCodeBasic",
            "title": self.title, "codes": {"nodes": [{"code": self.code}]},
            "status": self.status(), "startsAt": self.starts_at, "endsAt": self.ends_at,
            "usageLimit": self.usage_limit, "appliesOncePerCustomer": self.applies_once_per_customer,
            "customerGets": {"value": value}}})
    }
}

const SHOP_OPS: [&str; 7] = [
    "discountCodeBasicCreate",
    "discountCodeBasicUpdate",
    "discountCodeActivate",
    "discountCodeDeactivate",
    "discountCodeDelete",
    "codeDiscountNodeByCode",
    "currentAppInstallation",
];

struct ShopState {
    token: String,
    scopes: Vec<String>,
    currency: String,
    user_error: Option<String>,
    discounts: Vec<ShopDiscount>,
    next_id: u64,
    common: Common,
}

pub struct FakeShopify {
    state: Arc<Mutex<ShopState>>,
    server: Running,
}

common_api!(FakeShopify);

impl FakeShopify {
    pub async fn start(access_token: &str) -> FakeShopify {
        let (state, server) = serve(ShopState {
            token: access_token.to_string(),
            scopes: vec!["read_discounts".into(), "write_discounts".into()],
            currency: "USD".into(),
            user_error: None,
            discounts: Vec::new(),
            next_id: 1001,
            common: Common::default(),
        });
        FakeShopify { state, server }
    }

    pub fn set_scopes(&self, scopes: &[&str]) {
        self.state.lock().scopes = scopes.iter().map(|s| s.to_string()).collect();
    }

    pub fn set_currency(&self, currency: &str) {
        self.state.lock().currency = currency.to_string();
    }

    /// When Some, every mutation answers this userError and applies nothing.
    pub fn set_user_error(&self, message: Option<String>) {
        self.state.lock().user_error = message;
    }

    pub fn discounts(&self) -> Vec<ShopDiscount> {
        self.state.lock().discounts.clone()
    }

    pub fn find(&self, code: &str) -> Option<ShopDiscount> {
        let state = self.state.lock();
        let found = state.discounts.iter().find(|d| same_code(&d.code, code));
        found.cloned()
    }

    /// Puts a discount there as if the merchant made it; returns its id.
    pub fn seed(&self, mut discount: ShopDiscount) -> String {
        let mut state = self.state.lock();
        if discount.id.is_empty() {
            discount.id = state.new_id();
        }
        // The same id again: the merchant changed it.
        state.discounts.retain(|d| d.id != discount.id);
        state.discounts.push(discount.clone());
        discount.id
    }
}

fn gql_error(message: &str, code: &str) -> Value {
    json!({"errors": [{"message": message, "extensions": {"code": code}}]})
}

/// A userError on `basicCodeDiscount.{path}`.
fn ue(path: &[&str], message: &str) -> Value {
    let field = [&["basicCodeDiscount"][..], path].concat();
    json!({"field": field, "code": "INVALID", "message": message})
}

fn api_version(v: &str) -> bool {
    let b = v.as_bytes();
    let year = b.len() == 7 && b[..4].iter().all(u8::is_ascii_digit) && b[4] == b'-';
    year && ["01", "04", "07", "10"].contains(&&v[5..])
}

/// `{"query", "variables"?, "operationName"?}` and nothing else.
fn graphql_body(body: &[u8]) -> Option<(String, Map<String, Value>)> {
    let Value::Object(obj) = serde_json::from_slice(body).ok()? else {
        return None;
    };
    let known = ["query", "variables", "operationName"];
    if obj.keys().any(|k| !known.contains(&k.as_str())) {
        return None;
    }
    let name = obj.get("operationName");
    if !matches!(name, None | Some(Value::Null | Value::String(_))) {
        return None;
    }
    let vars = match obj.get("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        _ => return None,
    };
    Some((obj.get("query")?.as_str()?.to_string(), vars))
}

/// The keys DiscountCodeBasicInput may have, at every level.
fn input_schema() -> Value {
    json!({"title": null, "code": null, "startsAt": null, "endsAt": null, "usageLimit": null,
        "appliesOncePerCustomer": null, "context": {"all": null},
        "customerGets": {"items": {"all": null}, "value": {"percentage": null,
            "discountAmount": {"amount": null, "appliesOnEachItem": null}}}})
}

fn unknown_fields(obj: &Map<String, Value>, schema: &Value, path: &[&str], errs: &mut Vec<Value>) {
    for (key, v) in obj {
        let here = [path, &[key.as_str()][..]].concat();
        match (schema.get(key), v) {
            (None, _) => errs.push(ue(&here, &format!("{key} is not a known field"))),
            (Some(schema), Value::Object(v)) => unknown_fields(v, schema, &here, errs),
            _ => {}
        }
    }
}

/// Sets one key of DiscountCodeBasicInput; None if the value is invalid.
fn set_field(d: &mut ShopDiscount, key: &str, v: &Value) -> Option<()> {
    let time = |v: &Value| v.as_str().and_then(ts).map(rfc3339);
    match key {
        "title" => d.title = v.as_str().filter(|s| !s.trim().is_empty())?.into(),
        "code" => {
            d.code = v
                .as_str()
                .filter(|s| (1..=255).contains(&s.chars().count()))?
                .into()
        }
        "startsAt" => d.starts_at = time(v)?,
        "endsAt" if v.is_null() => d.ends_at = None,
        "endsAt" => d.ends_at = Some(time(v)?),
        "usageLimit" if v.is_null() => d.usage_limit = None,
        "usageLimit" => d.usage_limit = Some(v.as_i64().filter(|n| *n > 0)?),
        "appliesOncePerCustomer" => d.applies_once_per_customer = v.as_bool()?,
        "context" => (*v == json!({"all": "ALL"})).then_some(())?,
        "customerGets" => {
            (v["items"] == json!({"all": true})).then_some(())?;
            let value = &v["value"];
            match (&value["percentage"], &value["discountAmount"]) {
                (Value::Number(p), Value::Null) => {
                    let p = p.as_f64().filter(|p| *p > 0.0 && *p <= 1.0)?;
                    (d.percentage, d.amount, d.applies_on_each_item) = (Some(p), None, false);
                }
                (Value::Null, Value::Object(a)) => {
                    let amount = match &a.get("amount")? {
                        Value::String(s) => s.clone(),
                        other => other.as_f64()?.to_string(),
                    };
                    amount
                        .parse::<Decimal>()
                        .ok()
                        .filter(|x| *x > Decimal::ZERO)?;
                    let each = a.get("appliesOnEachItem").map(Value::as_bool);
                    let each = each.unwrap_or(Some(false))?;
                    (d.percentage, d.amount, d.applies_on_each_item) = (None, Some(amount), each);
                }
                _ => return None,
            }
        }
        _ => {} // reported by unknown_fields
    }
    Some(())
}

impl Platform for ShopState {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn rate_limited() -> Value {
        json!({"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."})
    }

    fn refuse(&self, req: &HttpRequest, body: &[u8]) -> Option<(u16, Value)> {
        let path = req.path().strip_prefix("/admin/api/");
        let version = path.and_then(|p| p.strip_suffix("/graphql.json"));
        let token = header(req, "X-Shopify-Access-Token");
        let bad_token =
            "[API] Invalid API key or access token (unrecognized login or wrong password)";
        let not_found = req.method() != Method::POST || !version.is_some_and(api_version);
        let (status, errors) = if not_found {
            (404, json!("Not Found"))
        } else if token.is_empty() || token != self.token {
            (401, json!(bad_token))
        } else if !header(req, "Content-Type").starts_with("application/json") {
            (415, json!("Unsupported Media Type: send application/json"))
        } else if graphql_body(body).is_none() {
            let missing = json!({"query": "Required parameter missing or invalid"});
            (400, missing)
        } else {
            return None;
        };
        Some((status, json!({ "errors": errors })))
    }

    fn answer(&mut self, _req: &HttpRequest, body: &[u8]) -> HttpResponse {
        let (query, vars) = graphql_body(body).unwrap_or_default();
        json_resp(200, self.operation(&query, &vars))
    }
}

impl ShopState {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("gid://shopify/DiscountCodeNode/{}", self.next_id - 1)
    }

    fn operation(&mut self, query: &str, vars: &Map<String, Value>) -> Value {
        let Some(op) = SHOP_OPS.into_iter().find(|op| query.contains(op)) else {
            return gql_error("unsupported by the fake", "UNSUPPORTED");
        };
        self.common.call(op);
        if let Some(error) = self.precheck(op, query, vars) {
            return error;
        }
        let cur = self.currency.clone();
        let text = |k: &str| vars.get(k).and_then(Value::as_str).unwrap_or_default();
        let index = self.discounts.iter().position(|d| d.id == text("id"));
        let input = vars.get("basicCodeDiscount").unwrap_or(&Value::Null);
        let mutation = op.starts_with("discountCode");
        let user_error = self.user_error.clone().filter(|_| mutation);
        let (node, errors) = match (op, index) {
            ("currentAppInstallation", _) => {
                let scopes: Vec<Value> =
                    self.scopes.iter().map(|h| json!({ "handle": h })).collect();
                return json!({"data": {"shop": {"name": "Fake Shop", "currencyCode": cur},
                    "currentAppInstallation": {"accessScopes": scopes}}});
            }
            ("codeDiscountNodeByCode", _) => {
                let code = text("code");
                let found = self.discounts.iter().find(|d| same_code(&d.code, code));
                let found = found.map(|d| d.node(&cur));
                return json!({"data": {"shop": {"currencyCode": cur}, "codeDiscountNodeByCode": found}});
            }
            _ if user_error.is_some() => {
                let error = json!({"field": ["basicCodeDiscount"], "code": "INVALID", "message": user_error});
                (Value::Null, vec![error])
            }
            ("discountCodeBasicCreate", _) => self.save(None, input),
            (_, None) => {
                let error = json!({"field": ["id"], "code": "INVALID", "message": "Discount does not exist"});
                (Value::Null, vec![error])
            }
            ("discountCodeBasicUpdate", index) => self.save(index, input),
            ("discountCodeDelete", Some(i)) => (json!(self.discounts.remove(i).id), vec![]),
            (_, Some(i)) => {
                let d = &mut self.discounts[i];
                if op == "discountCodeActivate" {
                    d.ends_at = None;
                    if d.status() == "SCHEDULED" {
                        d.starts_at = rfc3339(Utc::now());
                    }
                } else {
                    d.ends_at = Some(rfc3339(Utc::now()));
                }
                (d.node(&cur), vec![])
            }
        };
        let key = match op {
            "discountCodeDelete" => "deletedCodeDiscountId",
            _ => "codeDiscountNode",
        };
        json!({"data": {op: {key: node, "userErrors": errors}}})
    }

    /// Query/mutation root, variables and scopes: a GraphQL error, or None to go on.
    fn precheck(&self, op: &str, query: &str, vars: &Map<String, Value>) -> Option<Value> {
        let mutation = op.starts_with("discountCode");
        if mutation != query.trim_start().starts_with("mutation") {
            let root = if mutation { "QueryRoot" } else { "Mutation" };
            let msg = format!("Field '{op}' doesn't exist on type '{root}'");
            return Some(gql_error(&msg, "undefinedField"));
        }
        let input = ("basicCodeDiscount", "DiscountCodeBasicInput!");
        let needed: &[(&str, &str)] = match op {
            "discountCodeBasicCreate" => &[input],
            "discountCodeBasicUpdate" => &[("id", "ID!"), input],
            "codeDiscountNodeByCode" => &[("code", "String!")],
            "currentAppInstallation" => &[],
            _ => &[("id", "ID!")],
        };
        for (name, ty) in needed {
            let ok = match vars.get(*name) {
                Some(Value::Object(_)) => *name == "basicCodeDiscount",
                Some(Value::String(_)) => *name != "basicCodeDiscount",
                _ => false,
            };
            if !ok {
                let msg = format!("Variable ${name} of type {ty} was provided invalid value");
                return Some(gql_error(&msg, "INVALID_VARIABLE"));
            }
        }
        let scope = match mutation {
            true => "write_discounts",
            false => "read_discounts",
        };
        let has = |s: &str| self.scopes.iter().any(|x| x == s);
        if op == "currentAppInstallation" || has(scope) || (!mutation && has("write_discounts")) {
            return None;
        }
        let msg = format!("Access denied for {op} field. Required access: `{scope}` access scope.");
        let mut denied = gql_error(&msg, "ACCESS_DENIED");
        denied["data"] = Value::Null;
        Some(denied)
    }

    /// Creates (index None) or updates a discount from `input`: (node, userErrors).
    fn save(&mut self, index: Option<usize>, input: &Value) -> (Value, Vec<Value>) {
        let create = index.is_none();
        let mut d = index.map(|i| self.discounts[i].clone()).unwrap_or_default();
        let mut errs = Vec::new();
        let empty = Map::new();
        let input = input.as_object().unwrap_or(&empty);
        unknown_fields(input, &input_schema(), &[], &mut errs);
        for key in ["title", "code", "startsAt", "context", "customerGets"] {
            if create && !input.contains_key(key) {
                errs.push(ue(&[key], &format!("{key} is required")));
            }
        }
        for (key, v) in input {
            if set_field(&mut d, key, v).is_none() {
                errs.push(ue(&[key.as_str()], &format!("{key} is invalid: {v}")));
            }
        }
        let bounds = (ts(&d.starts_at), d.ends_at.as_deref().and_then(ts));
        if errs.is_empty() && matches!(bounds, (Some(s), Some(e)) if e < s) {
            errs.push(ue(&["endsAt"], "Ends at needs to be after starts_at"));
        }
        let mut others = self.discounts.iter().enumerate();
        if errs.is_empty() && others.any(|(j, o)| Some(j) != index && same_code(&o.code, &d.code)) {
            errs.push(
                json!({"field": ["basicCodeDiscount", "code"], "code": "TAKEN",
                "message": "Code must be unique. Please try a different code."}),
            );
        }
        if !errs.is_empty() {
            return (Value::Null, errs);
        }
        if create {
            d.id = self.new_id();
        }
        let node = d.node(&self.currency);
        match index {
            Some(i) => self.discounts[i] = d,
            None => self.discounts.push(d),
        }
        (node, vec![])
    }
}

// ---------------------------------------------------------------------------------------------
// WooCommerce

#[derive(Clone, Debug, Default)]
pub struct WooCoupon {
    /// From 501 upward.
    pub id: i64,
    /// Stored lower-cased, as WooCommerce does (wc_format_coupon_code).
    pub code: String,
    /// With 2 decimals, e.g. "10.00".
    pub amount: String,
    pub discount_type: String,
    pub description: String,
    /// UTC, "YYYY-MM-DDTHH:MM:SS" without offset.
    pub date_expires: Option<String>,
    pub usage_limit: Option<i64>,
    pub status: String,
    pub individual_use: bool,
}

impl WooCoupon {
    /// WooCommerce's defaults where the fields are empty.
    fn with_defaults(mut self) -> Self {
        for (field, default) in [
            (&mut self.amount, "0.00"),
            (&mut self.discount_type, "fixed_cart"),
            (&mut self.status, "publish"),
        ] {
            if field.is_empty() {
                *field = default.to_string();
            }
        }
        self.code = self.code.trim().to_lowercase();
        self
    }
}

struct WooState {
    credentials: String,
    permissions: String,
    currency: String,
    coupons: Vec<WooCoupon>,
    /// id → (date_created, date_modified).
    dates: HashMap<i64, (String, String)>,
    next_id: i64,
    common: Common,
}

pub struct FakeWoo {
    state: Arc<Mutex<WooState>>,
    server: Running,
}

common_api!(FakeWoo);

impl FakeWoo {
    pub async fn start(consumer_key: &str, consumer_secret: &str) -> FakeWoo {
        let (state, server) = serve(WooState {
            credentials: format!("{consumer_key}:{consumer_secret}"),
            currency: "USD".into(),
            permissions: "read_write".into(),
            coupons: Vec::new(),
            dates: HashMap::new(),
            next_id: 501,
            common: Common::default(),
        });
        FakeWoo { state, server }
    }

    /// "read", "write" or "read_write".
    /// The store's currency (`/data/currencies/current`), "USD" by default.
    pub fn set_currency(&self, currency: &str) {
        self.state.lock().currency = currency.to_string();
    }

    pub fn set_permissions(&self, permissions: &str) {
        let known = matches!(permissions, "read" | "write" | "read_write");
        assert!(known, "{permissions}?");
        self.state.lock().permissions = permissions.to_string();
    }

    pub fn coupons(&self) -> Vec<WooCoupon> {
        self.state.lock().coupons.clone()
    }

    pub fn find(&self, code: &str) -> Option<WooCoupon> {
        let state = self.state.lock();
        let found = state.coupons.iter().find(|c| same_code(&c.code, code));
        found.cloned()
    }

    /// Puts a coupon there as if the merchant made it (empty fields get WooCommerce's defaults:
    /// "0.00", "fixed_cart", "publish"; the code is lower-cased); returns its id.
    pub fn seed(&self, coupon: WooCoupon) -> i64 {
        self.state.lock().insert(coupon.with_defaults())
    }
}

/// A status and a JSON body.
type Reply = (u16, Value);

const WOO_AUTH: &str = "woocommerce_rest_authentication_error";

fn wc(status: u16, code: &str, message: &str) -> Reply {
    let body = json!({"code": code, "message": message, "data": {"status": status}});
    (status, body)
}

fn invalid(params: &[(&str, String)]) -> Reply {
    let names: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
    let map: Map<String, Value> = params
        .iter()
        .map(|(k, m)| (k.to_string(), json!(m)))
        .collect();
    let message = format!("Invalid parameter(s): {}", names.join(", "));
    let data = json!({"status": 400, "params": map});
    let body = json!({"code": "rest_invalid_param", "message": message, "data": data});
    (400, body)
}

fn woo_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `YYYY-MM-DDTHH:MM:SS` with an optional `Z` or `±HH:MM`, to UTC without offset.
fn woo_date(s: &str) -> Option<String> {
    let re = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})?$";
    if !regex::Regex::new(re).expect("a regex").is_match(s) {
        return None;
    }
    let zone = if s.len() == 19 { "Z" } else { "" };
    ts(&format!("{s}{zone}")).map(woo_time)
}

fn set_coupon_field(c: &mut WooCoupon, key: &str, v: &Value) -> Result<(), String> {
    let not_text = || format!("{key} is not of type string.");
    let text = || v.as_str().ok_or_else(not_text);
    let one_of = |allowed: &[&str]| -> Result<String, String> {
        let s = text()?;
        if allowed.contains(&s) {
            return Ok(s.to_string());
        }
        Err(format!("{key} is not one of {}.", allowed.join(", ")))
    };
    let bad = || format!("{key} is invalid: {v}");
    match key {
        "code" => c.code = text()?.trim().to_lowercase(),
        "amount" => {
            let amount: Option<Decimal> = text()?.parse().ok();
            let amount = amount.filter(|d| !d.is_sign_negative()).ok_or_else(bad)?;
            c.amount = format!("{:.2}", amount.round_dp(2));
        }
        "discount_type" => c.discount_type = one_of(&["percent", "fixed_cart", "fixed_product"])?,
        "description" => c.description = text()?.to_string(),
        "status" => c.status = one_of(&["publish", "draft", "pending", "private"])?,
        // WooCommerce skips a null value (it changes nothing); "" clears the date, 0 the limit.
        _ if v.is_null() => {}
        "date_expires" if v.as_str() == Some("") => c.date_expires = None,
        "date_expires" => c.date_expires = Some(woo_date(text()?).ok_or_else(bad)?),
        // WooCommerce answers null for a limit of 0.
        "usage_limit" => c.usage_limit = Some(v.as_i64().ok_or_else(bad)?).filter(|n| *n > 0),
        "individual_use" => c.individual_use = v.as_bool().ok_or_else(bad)?,
        _ => return Err("unknown in the fake".into()),
    }
    if v.as_i64().is_some_and(|n| n < 0) || (key == "code" && c.code.is_empty()) {
        return Err(bad());
    }
    Ok(())
}

fn apply_coupon(c: &mut WooCoupon, body: &Map<String, Value>) -> Result<(), Reply> {
    let mut bad = Vec::new();
    for (key, v) in body {
        if let Err(msg) = set_coupon_field(c, key, v) {
            bad.push((key.as_str(), msg));
        }
    }
    match bad.is_empty() {
        true => Ok(()),
        false => Err(invalid(&bad)),
    }
}

fn json_object(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>, Reply> {
    if !header(req, "Content-Type").starts_with("application/json") {
        let msg = "Send the body as application/json.";
        return Err(wc(415, "rest_invalid_content_type", msg));
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(wc(400, "rest_invalid_json", "Invalid JSON body passed.")),
    }
}

/// `{}` or empty create/update/delete lists: enough for a write-permission check.
fn batch(body: &Map<String, Value>) -> Result<Reply, Reply> {
    let lists = ["create", "update", "delete"];
    let empty = |(k, v): (&String, &Value)| lists.contains(&k.as_str()) && v == &json!([]);
    let refused = invalid(&[("batch", "only an empty batch is supported".into())]);
    match body.iter().all(empty) {
        true => Ok((200, json!({}))),
        false => Err(refused),
    }
}

impl Platform for WooState {
    fn common(&mut self) -> &mut Common {
        &mut self.common
    }

    fn rate_limited() -> Value {
        json!({"code": "too_many_requests", "message": "Too many requests.", "data": {"status": 429}})
    }

    fn refuse(&self, req: &HttpRequest, _body: &[u8]) -> Option<(u16, Value)> {
        let auth = req.headers().get("Authorization");
        let auth = auth.map(|a| a.to_str().unwrap_or(""));
        let basic = auth.and_then(|a| a.strip_prefix("Basic "));
        let given = basic.and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        let lacking = match (self.permissions.as_str(), req.method() == Method::GET) {
            ("read", false) => "write",
            ("write", true) => "read",
            _ => "",
        };
        let msg = format!("The API key provided does not have {lacking} permissions.");
        Some(if !req.path().starts_with("/wp-json/wc/v3/") {
            let msg = "No route was found matching the URL and request method.";
            wc(404, "rest_no_route", msg)
        } else if auth.is_none() {
            let msg = "Sorry, you cannot list resources.";
            wc(401, "woocommerce_rest_cannot_view", msg)
        } else if given.as_deref() != Some(self.credentials.as_bytes()) {
            wc(401, WOO_AUTH, "Consumer key is invalid.")
        } else if !lacking.is_empty() {
            wc(401, WOO_AUTH, &msg)
        } else {
            return None;
        })
    }

    fn answer(&mut self, req: &HttpRequest, body: &[u8]) -> HttpResponse {
        let route = req.path().trim_start_matches("/wp-json/wc/v3/");
        let segments: Vec<&str> = route.trim_end_matches('/').split('/').collect();
        let id = segments.get(1).and_then(|s| s.parse().ok()).unwrap_or(-1);
        let op = match (req.method().as_str(), segments.as_slice()) {
            ("GET", ["coupons"]) => "list",
            ("GET", ["coupons", _]) if id > 0 => "get",
            ("GET", ["data", "currencies", "current"]) => "currency",
            ("POST", ["coupons"]) => "create",
            ("POST", ["coupons", "batch"]) => "batch",
            ("POST" | "PUT" | "PATCH", ["coupons", _]) if id > 0 => "update",
            ("DELETE", ["coupons", _]) if id > 0 => "delete",
            _ => "",
        };
        if op.is_empty() {
            let msg = "No route was found matching the URL and request method.";
            let (status, body) = wc(404, "rest_no_route", msg);
            return json_resp(status, body);
        }
        self.common.call(op);
        let query: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
        let result = match op {
            "list" => return self.list(&query).unwrap_or_else(|(s, b)| json_resp(s, b)),
            "get" => match self.coupons.iter().find(|c| c.id == id) {
                Some(c) => Ok((200, self.json(c))),
                None => Err(wc(
                    404,
                    "woocommerce_rest_shop_coupon_invalid_id",
                    "Invalid ID.",
                )),
            },
            "currency" => Ok((
                200,
                json!({"code": self.currency, "name": self.currency, "symbol": "$"}),
            )),
            "delete" => self.delete(id, &query),
            _ => json_object(req, body).and_then(|b| match op {
                "create" => self.create(&b),
                "update" => self.update(id, &b),
                _ => batch(&b),
            }),
        };
        let (status, body) = result.unwrap_or_else(|e| e);
        json_resp(status, body)
    }
}

impl WooState {
    fn insert(&mut self, mut coupon: WooCoupon) -> i64 {
        if coupon.id == 0 {
            coupon.id = self.next_id;
        }
        self.next_id = self.next_id.max(coupon.id + 1);
        let now = woo_time(Utc::now());
        self.dates.insert(coupon.id, (now.clone(), now));
        let id = coupon.id;
        self.coupons.push(coupon);
        id
    }

    fn json(&self, c: &WooCoupon) -> Value {
        let (created, modified) = self.dates.get(&c.id).cloned().unwrap_or_default();
        let mut out = json!({"id": c.id, "code": c.code, "amount": c.amount, "status": c.status,
            "date_created": created, "date_created_gmt": created,
            "date_modified": modified, "date_modified_gmt": modified,
            "discount_type": c.discount_type, "description": c.description,
            "date_expires": c.date_expires, "date_expires_gmt": c.date_expires, "usage_count": 0,
            "individual_use": c.individual_use, "product_ids": [], "excluded_product_ids": []});
        let rest = json!({"usage_limit": c.usage_limit, "usage_limit_per_user": null,
            "limit_usage_to_x_items": null, "free_shipping": false, "product_categories": [],
            "excluded_product_categories": [], "exclude_sale_items": false,
            "minimum_amount": "0.00", "maximum_amount": "0.00", "email_restrictions": [],
            "used_by": [], "meta_data": []});
        if let (Some(out), Value::Object(rest)) = (out.as_object_mut(), rest) {
            out.extend(rest);
        }
        out
    }

    fn index(&self, id: i64) -> Result<usize, Reply> {
        let index = self.coupons.iter().position(|c| c.id == id);
        let invalid_id = "woocommerce_rest_shop_coupon_invalid_id";
        index.ok_or_else(|| wc(404, invalid_id, "Invalid ID."))
    }

    fn check_free(&self, code: &str, id: i64) -> Result<(), Reply> {
        // As WooCommerce: only a published coupon holds its code (a draft does not).
        if !self
            .coupons
            .iter()
            .any(|c| c.id != id && c.code == code && c.status == "publish")
        {
            return Ok(());
        }
        let code_taken = "woocommerce_rest_coupon_code_already_exists";
        Err(wc(400, code_taken, "The coupon code already exists"))
    }

    fn list(&self, query: &[(String, String)]) -> Result<HttpResponse, Reply> {
        let param = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let number = |k: &'static str, default: usize, max: usize, msg: &str| {
            let valid = |v: &str| v.parse().ok().filter(|n| (1..=max).contains(n));
            let n = param(k).map_or(Some(default), valid);
            n.ok_or_else(|| invalid(&[(k, msg.to_string())]))
        };
        let range = "per_page must be between 1 (inclusive) and 100 (inclusive)";
        let per_page = number("per_page", 10, 100, range)?;
        let min = "page must be greater than or equal to 1";
        let page = number("page", 1, usize::MAX, min)?;
        let code = param("code").map(|c| c.trim().to_lowercase());
        let search = param("search").map(|c| c.trim().to_lowercase());
        let status = param("status").filter(|s| *s != "any");
        let mut found: Vec<&WooCoupon> = self.coupons.iter().collect();
        // As `wc_get_coupon_id_by_code`: published coupons only.
        found.retain(|c| {
            code.as_ref()
                .is_none_or(|code| c.code == *code && c.status == "publish")
        });
        // WordPress's `search` looks in the title, which is the code.
        found.retain(|c| search.as_ref().is_none_or(|s| c.code.contains(s.as_str())));
        found.retain(|c| status.is_none_or(|s| c.status == s));
        found.sort_by_key(|c| std::cmp::Reverse(c.id)); // newest first, as date desc
        let skip = (page - 1).saturating_mul(per_page);
        let shown = found.iter().skip(skip).take(per_page);
        let body: Vec<Value> = shown.map(|c| self.json(c)).collect();
        let pages = found.len().div_ceil(per_page).to_string();
        let mut resp = HttpResponse::Ok();
        resp.insert_header(("X-WP-Total", found.len().to_string()));
        Ok(resp.insert_header(("X-WP-TotalPages", pages)).json(body))
    }

    fn create(&mut self, body: &Map<String, Value>) -> Result<Reply, Reply> {
        if !body.contains_key("code") {
            let msg = "Missing parameter(s): code";
            let (_, mut missing) = wc(400, "rest_missing_callback_param", msg);
            missing["data"]["params"] = json!(["code"]);
            return Err((400, missing));
        }
        let mut coupon = WooCoupon::default().with_defaults();
        apply_coupon(&mut coupon, body)?;
        self.check_free(&coupon.code, 0)?;
        self.insert(coupon);
        Ok((201, self.json(&self.coupons[self.coupons.len() - 1])))
    }

    fn update(&mut self, id: i64, body: &Map<String, Value>) -> Result<Reply, Reply> {
        let i = self.index(id)?;
        let mut coupon = self.coupons[i].clone();
        apply_coupon(&mut coupon, body)?;
        self.check_free(&coupon.code, id)?;
        if let Some(dates) = self.dates.get_mut(&id) {
            dates.1 = woo_time(Utc::now());
        }
        self.coupons[i] = coupon;
        Ok((200, self.json(&self.coupons[i])))
    }

    fn delete(&mut self, id: i64, query: &[(String, String)]) -> Result<Reply, Reply> {
        let i = self.index(id)?;
        let force = |(k, v): &(String, String)| k == "force" && (v == "true" || v == "1");
        if !query.iter().any(force) {
            let msg = "The coupon does not support trashing. Set 'force' to true to delete.";
            return Err(wc(501, "woocommerce_rest_trash_not_supported", msg));
        }
        let coupon = self.coupons.remove(i);
        let out = self.json(&coupon);
        self.dates.remove(&id);
        Ok((200, out))
    }
}

// ---------------------------------------------------------------------------------------------
// Self-tests

const TOKEN: &str = "shpat_fake";
const KEY: &str = "ck_fake";
const SECRET: &str = "cs_fake";
const CREATE: &str = "mutation C($basicCodeDiscount: DiscountCodeBasicInput!) { discountCodeBasicCreate(basicCodeDiscount: $basicCodeDiscount) { codeDiscountNode { id } userErrors { field code message } } }";
const LOOKUP: &str =
    "query L($code: String!) { shop { currencyCode } codeDiscountNodeByCode(code: $code) { id } }";
const DEACTIVATE: &str = "mutation D($id: ID!) { discountCodeDeactivate(id: $id) { codeDiscountNode { id } userErrors { field code message } } }";
const ID: &str = "gid://shopify/DiscountCodeNode/1001";

struct Got {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

impl Got {
    fn retry(&self) -> (u16, Option<&str>) {
        (self.status, self.retry_after.as_deref())
    }
}

async fn send(req: reqwest::RequestBuilder) -> Got {
    let res = req.send().await.expect("the fake answers");
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap());
    let retry_after = retry_after.map(str::to_string);
    let text = res.text().await.expect("a body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Got {
        status,
        retry_after,
        body,
    }
}

fn client() -> reqwest::Client {
    let builder = reqwest::Client::builder().no_proxy();
    builder.build().expect("a client")
}

async fn gql(shop: &FakeShopify, query: &str, variables: Value) -> Got {
    let url = format!("{}/admin/api/2025-01/graphql.json", shop.url());
    let req = client().post(url).header("X-Shopify-Access-Token", TOKEN);
    send(req.json(&json!({"query": query, "variables": variables}))).await
}

/// Sends each `[query, variables, JSON pointer, expected]` and checks the answer there.
async fn shop_steps(shop: &FakeShopify, steps: Value) {
    for step in steps.as_array().expect("steps") {
        let got = gql(shop, step[0].as_str().unwrap(), step[1].clone()).await;
        let at = got.body.pointer(step[2].as_str().unwrap());
        assert_eq!(at, Some(&step[3]), "{step}\n{}", got.body);
    }
}

fn input(code: &str) -> Value {
    json!({"basicCodeDiscount": {"title": format!("Influencer {code}"), "code": code,
        "startsAt": "2024-01-01T00:00:00Z", "endsAt": null, "usageLimit": null,
        "appliesOncePerCustomer": true, "context": {"all": "ALL"},
        "customerGets": {"value": {"percentage": 0.15}, "items": {"all": true}}}})
}

async fn woo(w: &FakeWoo, method: &str, path: &str, body: &Value) -> Got {
    let url = format!("{}/wp-json/wc/v3/{path}", w.url());
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
    let mut req = client().request(method, url).basic_auth(KEY, Some(SECRET));
    if !body.is_null() {
        req = req.json(body);
    }
    send(req).await
}

/// Sends each `[method, path, body or null, status, JSON pointer, expected]` and checks.
async fn woo_steps(w: &FakeWoo, steps: Value) {
    for s in steps.as_array().expect("steps") {
        let got = woo(w, s[0].as_str().unwrap(), s[1].as_str().unwrap(), &s[2]).await;
        let at = got.body.pointer(s[4].as_str().unwrap());
        let expected = (s[3].as_u64().unwrap() as u16, Some(&s[5]));
        assert_eq!((got.status, at), expected, "{s}\n{}", got.body);
    }
}

#[tokio::test]
async fn shopify_checks_token_and_request_shape() {
    let shop = FakeShopify::start(TOKEN).await;
    let lookup = json!({"query": LOOKUP, "variables": {"code": "X"}});
    let bad_token = "[API] Invalid API key or access token (unrecognized login or wrong password)";
    let bad = json!({"errors": {"query": "Required parameter missing or invalid"}});
    // [version, token, content type, body, status, expected body or null]
    let cases = json!([
        ["2025-01", "nope", "application/json", lookup, 401, {"errors": bad_token}],
        ["2025-02", TOKEN, "application/json", lookup, 404, {"errors": "Not Found"}],
        ["2025-01", TOKEN, "text/plain", lookup, 415, null],
        ["2025-01", TOKEN, "application/json", {"query": LOOKUP, "x": 1}, 400, bad],
        ["2025-01", TOKEN, "application/json", {"variables": {}}, 400, bad],
    ]);
    for case in cases.as_array().unwrap() {
        let text = |i: usize| case[i].as_str().unwrap().to_string();
        let url = format!("{}/admin/api/{}/graphql.json", shop.url(), text(0));
        let req = client().post(url).header("X-Shopify-Access-Token", text(1));
        let got = send(
            req.header("Content-Type", text(2))
                .body(case[3].to_string()),
        )
        .await;
        assert_eq!(got.status, case[4], "{case}");
        let expected = case[5].is_null() || got.body == case[5];
        assert!(expected, "{case}\n{}", got.body);
    }
    let steps = json!([
        [LOOKUP, {}, "/errors/0/extensions/code", "INVALID_VARIABLE"],
        ["{ products(first: 1) { nodes { id } } }", {}, "/errors/0/extensions/code", "UNSUPPORTED"],
        [LOOKUP.replace("query", "mutation"), {"code": "X"}, "/errors/0/extensions/code",
            "undefinedField"],
    ]);
    shop_steps(&shop, steps).await;
    assert_eq!(shop.requests(), 8);
    assert_eq!(shop.calls("codeDiscountNodeByCode"), 2);
}

#[tokio::test]
async fn shopify_keeps_discounts_and_refuses_duplicates_and_unknown_fields() {
    let shop = FakeShopify::start(TOKEN).await;
    let mut odd = input("OTHER");
    odd["basicCodeDiscount"]["combinesWith"] = json!({"orderDiscounts": true});
    odd["basicCodeDiscount"]["customerGets"]["value"]["foo"] = json!(1);
    let mut five = input("FIVE");
    let amount = json!({"discountAmount": {"amount": "5.00", "appliesOnEachItem": false}});
    five["basicCodeDiscount"]["customerGets"]["value"] = amount;
    let mut late = input("LATE");
    late["basicCodeDiscount"]["endsAt"] = json!("2023-01-01T00:00:00Z");
    let steps = json!([
        [CREATE, input("ANNA15"), "/data/discountCodeBasicCreate/codeDiscountNode/id", ID],
        [LOOKUP, {"code": "anna15"}, "/data/codeDiscountNodeByCode/codeDiscount/status", "ACTIVE"],
        [LOOKUP, {"code": "anna15"},
            "/data/codeDiscountNodeByCode/codeDiscount/customerGets/value/percentage", 0.15],
        [LOOKUP, {"code": "nope"}, "/data/codeDiscountNodeByCode", null],
        [CREATE, input("Anna15"), "/data/discountCodeBasicCreate/userErrors/0/code", "TAKEN"],
        [CREATE, odd, "/data/discountCodeBasicCreate/userErrors/0/field",
            ["basicCodeDiscount", "combinesWith"]],
        [CREATE, odd, "/data/discountCodeBasicCreate/userErrors/1/field",
            ["basicCodeDiscount", "customerGets", "value", "foo"]],
        [CREATE, late, "/data/discountCodeBasicCreate/userErrors/0/field",
            ["basicCodeDiscount", "endsAt"]],
        [CREATE, five, "/data/discountCodeBasicCreate/userErrors", []],
        [DEACTIVATE, {"id": ID},
            "/data/discountCodeDeactivate/codeDiscountNode/codeDiscount/status", "EXPIRED"],
        [DEACTIVATE, {"id": "gid://shopify/DiscountCodeNode/9"},
            "/data/discountCodeDeactivate/userErrors/0/message", "Discount does not exist"],
    ]);
    shop_steps(&shop, steps).await;
    assert_eq!(shop.find("five").unwrap().amount.as_deref(), Some("5.00"));
    assert_eq!(shop.find("ANNA15").unwrap().status(), "EXPIRED");
    assert_eq!(shop.discounts().len(), 2);
    assert_eq!(shop.calls("discountCodeBasicCreate"), 6);
}

#[tokio::test]
async fn shopify_scopes_user_errors_and_failure_modes() {
    let shop = FakeShopify::start(TOKEN).await;
    shop.set_scopes(&["read_discounts"]);
    let steps = json!([
        [CREATE, input("A"), "/errors/0/extensions/code", "ACCESS_DENIED"],
        [CREATE, input("A"), "/data", null],
        [LOOKUP, {"code": "A"}, "/data/codeDiscountNodeByCode", null],
    ]);
    shop_steps(&shop, steps).await;
    shop.set_scopes(&["read_discounts", "write_discounts"]);
    shop.set_user_error(Some("boom".into()));
    let error = "/data/discountCodeBasicCreate/userErrors/0/message";
    shop_steps(&shop, json!([[CREATE, input("A"), error, "boom"]])).await;
    shop.set_user_error(None);
    shop.set_mode(Mode::Unavailable(Some(7)));
    assert_eq!(
        gql(&shop, CREATE, input("A")).await.retry(),
        (503, Some("7"))
    );
    shop.set_mode(Mode::RateLimited(2));
    let limited = gql(&shop, CREATE, input("A")).await;
    assert_eq!(limited.retry(), (429, Some("2")));
    let message = limited.body["errors"].as_str().unwrap();
    assert!(
        message.starts_with("Exceeded 2 calls per second"),
        "{message}"
    );
    assert!(shop.discounts().is_empty());
    assert_eq!(shop.requests(), 6);
    assert_eq!(shop.calls("discountCodeBasicCreate"), 3);
    shop.set_mode(Mode::Slow(Duration::from_millis(150)));
    let started = std::time::Instant::now();
    assert_eq!(gql(&shop, CREATE, input("A")).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(shop.find("a").is_some());
}

#[tokio::test]
async fn woo_checks_credentials_and_permissions() {
    let shop = FakeWoo::start(KEY, SECRET).await;
    let url = format!("{}/wp-json/wc/v3/coupons", shop.url());
    let none = send(client().get(&url)).await;
    assert_eq!(none.status, 401);
    assert_eq!(none.body["code"], "woocommerce_rest_cannot_view");
    let wrong = send(client().get(&url).basic_auth(KEY, Some("cs_wrong"))).await;
    let body = json!({"code": WOO_AUTH, "message": "Consumer key is invalid.",
        "data": {"status": 401}});
    assert_eq!((wrong.status, wrong.body), (401, body));
    shop.set_permissions("read");
    let steps = json!([
        ["POST", "coupons/batch", {"create": []}, 401, "/message",
            "The API key provided does not have write permissions."],
        ["GET", "coupons", null, 200, "", []],
    ]);
    woo_steps(&shop, steps).await;
    shop.set_permissions("write");
    let steps = json!([
        ["GET", "coupons", null, 401, "/message",
            "The API key provided does not have read permissions."],
        ["POST", "coupons/batch", {"create": [], "update": [], "delete": []}, 200, "", {}],
        ["POST", "coupons/batch", {"create": [{"code": "x"}]}, 400, "/code", "rest_invalid_param"],
    ]);
    woo_steps(&shop, steps).await;
    assert_eq!(shop.requests(), 7);
    assert_eq!((shop.calls("batch"), shop.calls("list")), (2, 1));
}

#[tokio::test]
async fn woo_keeps_coupons_and_refuses_duplicates_and_unknown_fields() {
    let shop = FakeWoo::start(KEY, SECRET).await;
    let coupon = json!({"code": "ANNA15", "amount": "15", "discount_type": "percent",
        "date_expires": "2030-01-01T02:00:00+02:00", "usage_limit": 100, "individual_use": true});
    let per_page = "per_page must be between 1 (inclusive) and 100 (inclusive)";
    let steps = json!([
        ["POST", "coupons", coupon, 201, "/id", 501],
        ["GET", "orders", null, 404, "/code", "rest_no_route"],
        ["GET", "coupons?code=Anna15", null, 200, "/0/code", "anna15"],
        ["GET", "coupons?code=Anna15", null, 200, "/0/amount", "15.00"],
        ["GET", "coupons?code=Anna15", null, 200, "/0/date_expires", "2030-01-01T00:00:00"],
        ["GET", "coupons?code=Anna15", null, 200, "/0/date_expires_gmt", "2030-01-01T00:00:00"],
        ["POST", "coupons", coupon, 400, "/code", "woocommerce_rest_coupon_code_already_exists"],
        ["POST", "coupons", {"code": "x", "free_shipping": true}, 400, "/data/params",
            {"free_shipping": "unknown in the fake"}],
        ["POST", "coupons", {"code": "x", "amount": 15}, 400, "/message",
            "Invalid parameter(s): amount"],
        ["POST", "coupons", {"amount": "1"}, 400, "/code", "rest_missing_callback_param"],
        ["GET", "coupons?per_page=0", null, 400, "/data/params/per_page", per_page],
        ["PUT", "coupons/501", {"date_expires": null, "status": "draft"}, 200, "/date_expires",
            "2030-01-01T00:00:00"],
        ["GET", "coupons?code=anna15", null, 200, "", []],
        ["GET", "coupons?search=ANNA&status=any", null, 200, "/0/status", "draft"],
        ["GET", "coupons/501", null, 200, "/status", "draft"],
        ["PUT", "coupons/501", {"date_expires": "", "usage_limit": 0}, 200, "/date_expires", null],
        ["DELETE", "coupons/501", null, 501, "/code", "woocommerce_rest_trash_not_supported"],
        ["DELETE", "coupons/501?force=true", null, 200, "/code", "anna15"],
        ["PUT", "coupons/501", {"code": "y"}, 404, "/code", "woocommerce_rest_shop_coupon_invalid_id"],
    ]);
    woo_steps(&shop, steps).await;
    assert!(shop.coupons().is_empty());
    assert_eq!(shop.calls("create"), 5);
}

#[tokio::test]
async fn woo_failure_modes_change_nothing() {
    let shop = FakeWoo::start(KEY, SECRET).await;
    let coupon = json!({"code": "Anna15", "amount": "10"});
    shop.set_mode(Mode::Unavailable(Some(30)));
    let down = woo(&shop, "POST", "coupons", &coupon).await;
    assert_eq!(down.retry(), (503, Some("30")));
    shop.set_mode(Mode::RateLimited(5));
    let limited = woo(&shop, "POST", "coupons", &coupon).await;
    assert_eq!(limited.retry(), (429, Some("5")));
    assert_eq!(limited.body["code"], "too_many_requests");
    assert!(shop.coupons().is_empty());
    assert_eq!((shop.requests(), shop.calls("create")), (2, 0));
    shop.set_mode(Mode::Normal);
    assert_eq!(woo(&shop, "POST", "coupons", &coupon).await.status, 201);
    assert_eq!(shop.find("ANNA15").unwrap().amount, "10.00");
}
