//! Server-rendered pages for brands and influencers: readable without JavaScript, a key in an
//! HttpOnly, SameSite=Strict cookie, every form a plain POST checked against its origin.
// A page is an `HttpResponse` either way (an error is a page too).
#![allow(clippy::result_large_err)]

mod charts;

use std::collections::HashMap;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::api::campaigns::currency_of;
use crate::api::extract::Checks;
use crate::api::payouts;
use crate::api::pruning::{self, PruneResult, RulesInput};
use crate::api::reports::{self, Reader, Report, Window};
use crate::auth::{BrandKey, Principal};
use crate::db::schema::campaigns;
use crate::domain::campaign::Model;
use crate::domain::metrics::{self, Metrics, SORTABLE};
use crate::domain::scope::Scope;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::campaigns::CampaignRow;

/// The session cookie (holds the signed-in key).
pub const SESSION_COOKIE: &str = "itk_session";
const COOKIE: &str = SESSION_COOKIE;
const CSS: &str = include_str!("../../assets/dashboard.css");
const JS: &str = include_str!("../../assets/dashboard.js");

/// A page or a redirect; errors become pages too (never JSON here).
type Page = Result<HttpResponse, HttpResponse>;

fn secured(mut b: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    b.insert_header((
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
         frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ))
    .insert_header((header::X_FRAME_OPTIONS, "DENY"))
    .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
    .insert_header((header::REFERRER_POLICY, "same-origin"))
    .insert_header(("Cross-Origin-Opener-Policy", "same-origin"))
    .insert_header((
        "Permissions-Policy",
        "camera=(), microphone=(), geolocation=(), payment=()",
    ))
    .insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

fn redirect(to: &str) -> HttpResponse {
    secured(HttpResponse::SeeOther())
        .insert_header((header::LOCATION, to.to_string()))
        .finish()
}

fn layout(title: &str, who: Option<&str>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · influtrack" }
                link rel="stylesheet" href="/dashboard/app.css";
                script src="/dashboard/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/dashboard" { "influtrack" }
                    @if let Some(who) = who {
                        span.who { (who) }
                        form method="post" action="/dashboard/logout" {
                            button type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

fn render(
    status: actix_web::http::StatusCode,
    title: &str,
    who: Option<&str>,
    body: Markup,
) -> HttpResponse {
    secured(HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(layout(title, who, body).into_string())
}

fn error_page(e: ApiError) -> HttpResponse {
    use actix_web::ResponseError;
    let status = e.status_code();
    let message = match &e {
        ApiError::Internal(_) => "Something went wrong; it has been logged.".to_string(),
        ApiError::Validation(errors) => errors
            .iter()
            .map(|f| format!("{}: {}", f.field, f.message))
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    if matches!(e, ApiError::Internal(_)) {
        tracing::error!(error = %e, "dashboard error");
    }
    render(
        status,
        "Error",
        None,
        html! { h1 { "Sorry" } p.notice { (message) } p { a href="/dashboard" { "Back to the dashboard" } } },
    )
}

/// The signed-in key, or a redirect to the sign-in page.
async fn session(state: &AppState, req: &HttpRequest) -> Result<BrandKey, HttpResponse> {
    let Some(token) = req.cookie(COOKIE).map(|c| c.value().to_string()) else {
        return Err(redirect("/dashboard/login"));
    };
    match crate::auth::authenticate(state, token).await {
        // A storefront key only records orders and looks up codes: it sees no reports.
        Ok(Principal::Brand(key)) if key.scope != Scope::Storefront => Ok(key),
        _ => Err(redirect("/dashboard/login")),
    }
}

/// Forms are only accepted from our own pages: the cookie is SameSite=Strict, and a
/// request that says where it comes from must come from here.
fn same_origin(req: &HttpRequest) -> Result<(), HttpResponse> {
    let host = req.connection_info().host().to_string();
    let from = req
        .headers()
        .get(header::ORIGIN)
        .or_else(|| req.headers().get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok());
    match from {
        Some(u)
            if u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            }) != Some(host) =>
        {
            Err(error_page(ApiError::Forbidden(
                "cross-site form refused".into(),
            )))
        }
        _ => Ok(()),
    }
}

async fn db<T: Send + 'static>(
    state: &web::Data<AppState>,
    work: impl FnOnce(&mut crate::db::AnyConnection) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, HttpResponse> {
    state.db(work).await.map_err(error_page)
}

fn who(key: &BrandKey) -> String {
    match key.scope {
        Scope::Influencer => "influencer".into(),
        s => format!("{} key", s.as_str()),
    }
}

/// `GET /dashboard/app.css`
pub async fn css() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(CSS)
}

/// `GET /dashboard/app.js`
pub async fn js() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(JS)
}

fn login_form(message: Option<&str>) -> Markup {
    html! {
        h1 { "Sign in" }
        @if let Some(m) = message { p.notice role="alert" { (m) } }
        form.card method="post" action="/dashboard/login" {
            label for="key" { "API key (admin, read or influencer)" }
            input #key name="key" type="password" autocomplete="off" required;
            button type="submit" { "Sign in" }
        }
        p.hint { "The key is kept in a cookie only this site can read, and forgotten when you sign out." }
    }
}

/// `GET /dashboard/login`
pub async fn login_page() -> HttpResponse {
    render(
        actix_web::http::StatusCode::OK,
        "Sign in",
        None,
        login_form(None),
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub key: String,
}

/// `POST /dashboard/login`
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    if let Err(r) = same_origin(&req) {
        return r;
    }
    let key = form.into_inner().key.trim().to_string();
    match crate::auth::authenticate(&state, key.clone()).await {
        Ok(Principal::Brand(k)) if k.scope == Scope::Storefront => render(
            actix_web::http::StatusCode::FORBIDDEN,
            "Sign in",
            None,
            login_form(Some(
                "A storefront key records orders; sign in with an admin, read or influencer key.",
            )),
        ),
        Ok(Principal::Brand(_)) => {
            let cookie = Cookie::build(COOKIE, key)
                .path("/dashboard")
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(state.public_url.starts_with("https://"))
                .max_age(CookieDuration::hours(12))
                .finish();
            let mut r = redirect("/dashboard");
            let _ = r.add_cookie(&cookie);
            r
        }
        Ok(Principal::Operator) => render(
            actix_web::http::StatusCode::FORBIDDEN,
            "Sign in",
            None,
            login_form(Some(
                "The operator token manages brands; sign in with a brand key.",
            )),
        ),
        Err(_) => render(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "Sign in",
            None,
            login_form(Some("That key is unknown or revoked.")),
        ),
    }
}

/// `POST /dashboard/logout`
pub async fn logout(req: HttpRequest) -> HttpResponse {
    if let Err(r) = same_origin(&req) {
        return r;
    }
    let mut cookie = Cookie::build(COOKIE, "").path("/dashboard").finish();
    cookie.make_removal();
    let mut r = redirect("/dashboard/login");
    let _ = r.add_cookie(&cookie);
    r
}

/// `GET /dashboard`: the brand's campaigns (an influencer goes to its own page).
pub async fn home(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    either(home_page(state, req).await)
}

fn either(p: Page) -> HttpResponse {
    match p {
        Ok(r) | Err(r) => r,
    }
}

async fn home_page(state: web::Data<AppState>, req: HttpRequest) -> Page {
    let key = session(&state, &req).await?;
    if key.scope == Scope::Influencer {
        return Ok(redirect("/dashboard/me"));
    }
    let brand_id = key.brand_id.clone();
    let rows = db(&state, move |conn| {
        let reader = Reader {
            brand_id: brand_id.clone(),
            influencer_id: None,
        };
        let list: Vec<CampaignRow> = campaigns::table
            .filter(campaigns::brand_id.eq(&brand_id))
            .order(campaigns::created_at.desc())
            .select(CampaignRow::as_select())
            .load(conn)?;
        let mut out = Vec::new();
        for c in list {
            let report = reports::build_report(conn, &reader, &c.id, None, Window::all())?;
            out.push((c, report));
        }
        Ok(out)
    })
    .await?;
    let body = html! {
        h1 { "Campaigns" }
        @if rows.is_empty() { p { "No campaigns yet." } }
        ul.cards {
            @for (c, r) in &rows {
                li.card {
                    h2 { a href={ "/dashboard/campaigns/" (c.id) } { (c.name) } }
                    p.meta { span.badge { (c.status) } " · " (r.influencers_enrolled) " influencers · " (c.currency) }
                    dl.kpis {
                        div { dt { "Net revenue" } dd { (r.totals.net_revenue) } }
                        div { dt { "ROI" } dd { (ratio(r.totals.roi)) } }
                        div { dt { "Conversions" } dd { (num(r.totals.conversions)) } }
                    }
                    @if let Some(g) = &r.goal { (goal_bar(g, r.pace.as_ref())) }
                }
            }
        }
    };
    Ok(render(
        actix_web::http::StatusCode::OK,
        "Campaigns",
        Some(&who(&key)),
        body,
    ))
}

fn ratio(x: Option<f64>) -> String {
    x.map(|v| format!("{:.2}", v)).unwrap_or_else(|| "—".into())
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.2}%", v * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

fn opt(x: &Option<String>) -> String {
    x.clone().unwrap_or_else(|| "—".into())
}

fn goal_bar(g: &reports::GoalProgress, pace: Option<&reports::Pace>) -> Markup {
    let progress = g.progress.unwrap_or(0.0).clamp(0.0, 1.0) * 100.0;
    let marker = pace.map(|p| p.elapsed.clamp(0.0, 1.0) * 100.0);
    html! {
        div.goal {
            p { "Goal: " strong { (g.actual) } " of " (g.target) " " (g.metric.replace('_', " ")) " (" (pct(g.progress)) ")"
                @if let Some(p) = pace {
                    " · pace: expected " (p.expected) " by now, "
                    @if p.on_track == Some(true) { span.good { "on track" } } @else { span.bad { "behind" } }
                }
            }
            div.bar role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=(format!("{progress:.0}")) aria-label="Goal progress" {
                div.fill style={ "width:" (format!("{progress:.1}")) "%" } {}
                @if let Some(m) = marker { div.pace style={ "left:" (format!("{m:.1}")) "%" } title="Where a linear pace would be now" {} }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct CampaignQuery {
    pub model: Option<String>,
    pub sort: Option<String>,
    pub order: Option<String>,
}

struct CampaignData {
    campaign: CampaignRow,
    report: Report,
    board: Vec<reports::LeaderboardRow>,
    by_model: HashMap<String, HashMap<String, String>>,
    series: Vec<(i64, i64, i64)>,
    funnel: Vec<(String, f64)>,
}

fn load_campaign_data(
    conn: &mut crate::db::AnyConnection,
    reader: &Reader,
    campaign_id: &str,
    model: Option<Model>,
    sort: &str,
    descending: bool,
) -> Result<CampaignData, ApiError> {
    let window = Window::all();
    let report = reports::build_report(conn, reader, campaign_id, model, window)?;
    let (campaign, enrollments) = reports::load_campaign(conn, reader, campaign_id)?;
    let currency = currency_of(&campaign);
    let rows = reports::rows(conn, &campaign, enrollments.clone(), model, window)?;
    let funnel_orders: i64 = rows.iter().map(|r| r.sums.orders).sum();
    let clicks: i64 = rows.iter().map(|r| r.sums.clicks).sum();
    let board = reports::rank(
        rows.into_iter()
            .map(|r| {
                let m = metrics::compute(&r.sums, currency);
                (r, m)
            })
            .collect(),
        sort,
        descending,
    );
    // First, last and linear side by side: net revenue per enrollment.
    let mut by_model: HashMap<String, HashMap<String, String>> = HashMap::new();
    for m in [Model::FirstClick, Model::LastClick, Model::Linear] {
        let rows = reports::rows(conn, &campaign, enrollments.clone(), Some(m), window)?;
        by_model.insert(
            m.as_str().into(),
            rows.into_iter()
                .map(|r| {
                    (
                        r.enrollment.id.clone(),
                        metrics::compute(&r.sums, currency).net_revenue,
                    )
                })
                .collect(),
        );
    }
    // Clicks and net revenue per UTC day over the last 30 days.
    let now = crate::db::now_micros();
    let day = 86_400_000_000_i64;
    let first_day = now / day - 29;
    let mut series: Vec<(i64, i64, i64)> = (0..30).map(|i| (first_day + i, 0, 0)).collect();
    let from_hour = crate::store::clicks::utc_hour(first_day * day);
    let to_hour = crate::store::clicks::utc_hour(now);
    let visible: std::collections::HashSet<String> =
        enrollments.iter().map(|e| e.id.clone()).collect();
    for h in crate::store::reports::hourly_clicks(conn, &campaign.id, from_hour, to_hour)? {
        if visible.contains(&h.enrollment_id) {
            let d = i64::from(h.hour) / 24 - first_day;
            if let Some(slot) = series.get_mut(d as usize) {
                slot.1 += h.clicks;
            }
        }
    }
    for c in crate::store::reports::credits_between(
        conn,
        &campaign.id,
        crate::store::reports::credit_key(model),
        first_day * day,
        now + 1,
    )? {
        if visible.contains(&c.enrollment_id) {
            let d = c.occurred_at / day - first_day;
            if let Some(slot) = series.get_mut(d as usize) {
                slot.2 += c.credited_micros - c.refunded_micros;
            }
        }
    }
    let mut kinds: HashMap<String, i64> = HashMap::new();
    for e in crate::store::reports::event_counts(conn, &campaign.id, i64::MIN / 2, i64::MAX / 2)? {
        if visible.contains(&e.enrollment_id) {
            *kinds.entry(e.kind).or_default() += e.n;
        }
    }
    let funnel = vec![
        ("Clicks".to_string(), clicks as f64),
        (
            "Landing views".to_string(),
            *kinds.get("landing_view").unwrap_or(&0) as f64,
        ),
        (
            "Leads, sign-ups, trials".to_string(),
            (kinds.get("lead").unwrap_or(&0)
                + kinds.get("signup").unwrap_or(&0)
                + kinds.get("trial").unwrap_or(&0)) as f64,
        ),
        (
            "Add to cart".to_string(),
            *kinds.get("add_to_cart").unwrap_or(&0) as f64,
        ),
        (
            "Checkout".to_string(),
            *kinds.get("checkout_started").unwrap_or(&0) as f64,
        ),
        ("Orders".to_string(), funnel_orders as f64),
    ];
    Ok(CampaignData {
        campaign,
        report,
        board,
        by_model,
        series,
        funnel,
    })
}

const COLUMNS: [(&str, &str); 10] = [
    ("clicks", "Clicks"),
    ("conversions", "Conv."),
    ("net_revenue", "Net revenue"),
    ("cost", "Cost"),
    ("roi", "ROI"),
    ("roas", "ROAS"),
    ("cpa", "CPA"),
    ("epc", "EPC"),
    ("conversion_rate", "Conv. rate"),
    ("engagement_rate", "Eng. rate"),
];

fn cell(m: &Metrics, key: &str) -> String {
    match key {
        "clicks" => m.clicks.to_string(),
        "conversions" => num(m.conversions),
        "net_revenue" => m.net_revenue.clone(),
        "cost" => m.cost.clone(),
        "roi" => ratio(m.roi),
        "roas" => ratio(m.roas),
        "cpa" => opt(&m.cpa),
        "epc" => opt(&m.epc),
        "conversion_rate" => pct(m.conversion_rate),
        "engagement_rate" => pct(m.engagement_rate),
        _ => String::new(),
    }
}

/// `GET /dashboard/campaigns/{campaign_id}`
pub async fn campaign(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CampaignQuery>,
) -> HttpResponse {
    either(campaign_page(state, req, path.into_inner(), query.into_inner(), None).await)
}

async fn campaign_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    campaign_id: String,
    q: CampaignQuery,
    prune: Option<(PruneResult, RulesForm)>,
) -> Page {
    let key = session(&state, &req).await?;
    let reader = Reader {
        brand_id: key.brand_id.clone(),
        influencer_id: (key.scope == Scope::Influencer)
            .then(|| key.influencer_id.clone().unwrap_or_default()),
    };
    let campaign_id = crate::api::extract::path_id(&campaign_id).map_err(error_page)?;
    let model = q.model.as_deref().and_then(Model::parse);
    let sort = q
        .sort
        .clone()
        .filter(|s| SORTABLE.contains(&s.as_str()))
        .unwrap_or_else(|| "net_revenue".into());
    let descending = q.order.as_deref() != Some("asc");
    let s2 = sort.clone();
    let id2 = campaign_id.clone();
    let d = db(&state, move |conn| {
        load_campaign_data(conn, &reader, &id2, model, &s2, descending)
    })
    .await?;
    let admin = key.scope == Scope::Admin;
    let t = &d.report.totals;
    let model_q = model
        .map(|m| format!("&model={}", m.as_str()))
        .unwrap_or_default();
    let chart = charts::daily(&d.series, &d.report.currency);
    let funnel = charts::funnel(&d.funnel);
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " }
        h1 { (d.campaign.name) " " span.badge { (d.campaign.status) } }
        form.inline method="get" action={ "/dashboard/campaigns/" (d.campaign.id) } {
            label for="model" { "Attribution" }
            select #model name="model" {
                option value="" selected[model.is_none()] { "as decided (" (d.report.model) ")" }
                @for m in Model::ALL {
                    option value=(m.as_str()) selected[model == Some(m)] { (m.as_str().replace('_', " ")) }
                }
            }
            input type="hidden" name="sort" value=(sort);
            button type="submit" { "Show" }
        }
        @if let Some(g) = &d.report.goal { (goal_bar(g, d.report.pace.as_ref())) }
        dl.kpis.tiles {
            div { dt { "Net revenue" } dd { (t.net_revenue) " " small { (t.currency) } } }
            div { dt { "Cost" } dd { (t.cost) } }
            div { dt { "ROI" } dd { (ratio(t.roi)) } }
            div { dt { "ROAS" } dd { (ratio(t.roas)) } }
            div { dt { "Conversions" } dd { (num(t.conversions)) } }
            div { dt { "CPA" } dd { (opt(&t.cpa)) } }
            div { dt { "Clicks" } dd { (t.clicks) } }
            div { dt { "CTR" } dd { (pct(t.ctr)) } }
            div { dt { "Engagement" } dd { (pct(t.engagement_rate)) } }
        }
        @if let Some((result, rules)) = &prune { (prune_preview(&d.campaign.id, result, rules)) }
        section {
            h2 #leaderboard { "Leaderboard" }
            div.scroll {
                table.board {
                    caption { "Sorted by " (sort.replace('_', " ")) (if descending { ", highest first" } else { ", lowest first" }) ". Pruned influencers are marked." }
                    thead { tr {
                        th scope="col" { "#" }
                        th scope="col" { "Influencer" }
                        @for (k, label) in COLUMNS {
                            th scope="col" aria-sort=(if sort == k { if descending { "descending" } else { "ascending" } } else { "none" }) {
                                a href={ "/dashboard/campaigns/" (d.campaign.id) "?sort=" (k) "&order=" (if sort == k && descending { "asc" } else { "desc" }) (model_q) } { (label) }
                            }
                        }
                        @if admin { th scope="col" { span.sr { "Actions" } } }
                    } }
                    tbody {
                        @for r in &d.board {
                            tr.pruned[r.status == "pruned"] {
                                td { (r.rank) }
                                th scope="row" {
                                    a href={ "/dashboard/campaigns/" (d.campaign.id) "/influencers/" (r.influencer_id) } { "@" (r.handle) }
                                    @if r.status == "pruned" { " " span.badge.bad { "pruned" } }
                                }
                                @for (k, _) in COLUMNS { td { (cell(&r.metrics, k)) } }
                                @if admin {
                                    td { @if r.status == "pruned" {
                                        form method="post" action={ "/dashboard/campaigns/" (d.campaign.id) "/influencers/" (r.influencer_id) "/reinstate" } {
                                            button type="submit" { "Reinstate" }
                                        }
                                    } }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.grid {
            section { h2 { "Clicks and net revenue, last 30 days" } (chart) }
            section { h2 { "Funnel" } (funnel) }
        }
        section {
            h2 { "Credit by model" }
            p.hint { "The same orders credited to the first click, the last click, or shared equally." }
            div.scroll { table {
                thead { tr { th scope="col" { "Influencer" } th scope="col" { "First click" } th scope="col" { "Last click" } th scope="col" { "Linear" } } }
                tbody { @for r in &d.board { tr {
                    th scope="row" { "@" (r.handle) }
                    @for m in ["first_click", "last_click", "linear"] {
                        td { (d.by_model.get(m).and_then(|x| x.get(&r.enrollment_id)).cloned().unwrap_or_default()) }
                    }
                } } }
            } }
        }
        @if admin { (prune_panel(&d.campaign.id, prune.as_ref().map(|p| &p.1))) }
    };
    Ok(render(
        actix_web::http::StatusCode::OK,
        &d.campaign.name,
        Some(&who(&key)),
        body,
    ))
}

#[derive(Deserialize, Default, Clone)]
pub struct RulesForm {
    #[serde(default)]
    pub min_roi: String,
    #[serde(default)]
    pub min_net_revenue: String,
    #[serde(default)]
    pub min_conversions: String,
    #[serde(default)]
    pub min_conversion_rate: String,
    #[serde(default)]
    pub bottom_percent: String,
    #[serde(default)]
    pub min_clicks_for_judgement: String,
    #[serde(default)]
    pub action: String,
}

fn prune_fields(r: Option<&RulesForm>, hidden: bool) -> Markup {
    let v = r.cloned().unwrap_or_default();
    let fields = [
        ("min_roi", "Minimum ROI", "e.g. 0", v.min_roi),
        (
            "min_net_revenue",
            "Minimum net revenue",
            "e.g. 500",
            v.min_net_revenue,
        ),
        (
            "min_conversions",
            "Minimum conversions",
            "e.g. 5",
            v.min_conversions,
        ),
        (
            "min_conversion_rate",
            "Minimum conversion rate (0–1)",
            "e.g. 0.01",
            v.min_conversion_rate,
        ),
        (
            "bottom_percent",
            "Prune the bottom % by net revenue",
            "e.g. 20",
            v.bottom_percent,
        ),
        (
            "min_clicks_for_judgement",
            "Clicks needed to be judged",
            "e.g. 200",
            v.min_clicks_for_judgement,
        ),
    ];
    html! {
        @for (name, label, hint, value) in fields {
            @if hidden { input type="hidden" name=(name) value=(value); }
            @else {
                div.field {
                    label for=(name) { (label) }
                    input id=(name) name=(name) inputmode="decimal" placeholder=(hint) value=(value);
                }
            }
        }
    }
}

fn prune_panel(campaign_id: &str, rules: Option<&RulesForm>) -> Markup {
    html! {
        section.card #prune {
            h2 { "Prune" }
            p.hint { "Preview first: nothing changes until you confirm. Influencers with too few clicks are never pruned." }
            form method="post" action={ "/dashboard/campaigns/" (campaign_id) "/prune" } {
                (prune_fields(rules, false))
                input type="hidden" name="action" value="preview";
                button type="submit" { "Preview" }
            }
        }
    }
}

fn prune_preview(campaign_id: &str, r: &PruneResult, rules: &RulesForm) -> Markup {
    html! {
        section.card.preview #preview aria-live="polite" {
            @if r.dry_run {
                h2 { "Preview: " (r.pruned.len()) " to prune" }
            } @else {
                h2 { "Pruned " (r.pruned.len()) }
            }
            @if r.pruned.is_empty() { p { "Nobody fails these rules." } }
            ul.verdicts {
                @for p in &r.pruned {
                    li.bad { strong { "@" (p.handle) } ": "
                        @for (i, reason) in p.reasons.iter().enumerate() { @if i > 0 { "; " } (reason.detail) }
                    }
                }
                @for p in &r.insufficient_data {
                    li.muted { strong { "@" (p.handle) } " — not judged: " (p.why.clone().unwrap_or_default()) }
                }
            }
            p { "Kept: " (r.kept.iter().map(|k| format!("@{}", k.handle)).collect::<Vec<_>>().join(", ")) }
            @if r.dry_run && !r.pruned.is_empty() {
                form method="post" action={ "/dashboard/campaigns/" (campaign_id) "/prune" } {
                    (prune_fields(Some(rules), true))
                    input type="hidden" name="action" value="apply";
                    button.danger type="submit" { "Confirm: prune " (r.pruned.len()) }
                }
            }
        }
    }
}

fn field(raw: &str) -> Option<serde_json::Value> {
    let t = raw.trim();
    (!t.is_empty()).then(|| serde_json::Value::String(t.to_string()))
}

/// `POST /dashboard/campaigns/{campaign_id}/prune`: preview (dry run) or apply.
pub async fn prune(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<RulesForm>,
) -> HttpResponse {
    either(prune_post(state, req, path.into_inner(), form.into_inner()).await)
}

async fn prune_post(
    state: web::Data<AppState>,
    req: HttpRequest,
    campaign_id: String,
    f: RulesForm,
) -> Page {
    same_origin(&req)?;
    let key = session(&state, &req).await?;
    if key.scope != Scope::Admin {
        return Err(error_page(ApiError::forbidden()));
    }
    let campaign_id = crate::api::extract::path_id(&campaign_id).map_err(error_page)?;
    let mut checks = Checks::default();
    let input = RulesInput {
        min_roi: field(&f.min_roi),
        min_net_revenue: field(&f.min_net_revenue),
        min_conversions: field(&f.min_conversions),
        min_conversion_rate: field(&f.min_conversion_rate),
        bottom_percent: field(&f.bottom_percent),
        min_clicks_for_judgement: f.min_clicks_for_judgement.trim().parse().ok(),
        rank_by: None,
    };
    let rules = pruning::parse_rules(&mut checks, &input);
    checks.finish().map_err(error_page)?;
    let dry_run = f.action != "apply";
    let k2 = key.clone();
    let id2 = campaign_id.clone();
    let (result, changed) = db(&state, move |conn| {
        pruning::run(conn, &k2, &id2, &rules, None, dry_run)
    })
    .await?;
    pruning::invalidate_soon(&state, changed);
    campaign_page(
        state,
        req,
        campaign_id,
        CampaignQuery::default(),
        Some((result, f)),
    )
    .await
}

/// `POST /dashboard/campaigns/{campaign_id}/influencers/{influencer_id}/reinstate`
pub async fn reinstate(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    if let Err(r) = same_origin(&req) {
        return r;
    }
    let key = match session(&state, &req).await {
        Ok(k) => k,
        Err(r) => return r,
    };
    let (campaign_id, influencer_id) = path.into_inner();
    let principal = Principal::Brand(key);
    match crate::api::pruning::reinstate(
        state,
        principal,
        web::Path::from((campaign_id.clone(), influencer_id)),
    )
    .await
    {
        Ok(_) => redirect(&format!("/dashboard/campaigns/{campaign_id}")),
        Err(e) => error_page(e),
    }
}

fn links_and_codes(e: &crate::api::enrollments::EnrollmentView) -> Markup {
    html! {
        h3 { "Links" }
        ul.links {
            @for l in &e.links {
                li {
                    code { (l.short_url) }
                    " "
                    button.copy type="button" data-copy=(l.short_url) { "Copy" }
                    @if let Some(label) = &l.label { " " span.muted { (label) } }
                }
            }
        }
        h3 { "Discount codes" }
        ul.links {
            @for c in &e.discount_codes {
                li { code { (c.code) } " " button.copy type="button" data-copy=(c.code) { "Copy" } " " span.badge { (c.status) } " · " (c.redemptions) " redemptions" }
            }
        }
    }
}

fn earnings(line: &payouts::PayoutLine) -> Markup {
    html! {
        dl.kpis.tiles {
            div { dt { "Pending commission" } dd { (line.commission_pending) } }
            div { dt { "Approved (fee + commission)" } dd { (line.approved) } }
            div { dt { "Paid" } dd { (line.paid) } }
            div { dt { "To be paid" } dd { (line.balance) " " small { (line.currency) } } }
        }
    }
}

fn metric_tiles(m: &Metrics) -> Markup {
    html! {
        dl.kpis.tiles {
            div { dt { "Clicks" } dd { (m.clicks) } }
            div { dt { "Conversions" } dd { (num(m.conversions)) } }
            div { dt { "Sales (net)" } dd { (m.net_revenue) " " small { (m.currency) } } }
            div { dt { "Conversion rate" } dd { (pct(m.conversion_rate)) } }
            div { dt { "ROI" } dd { (ratio(m.roi)) } }
        }
    }
}

/// `GET /dashboard/campaigns/{campaign_id}/influencers/{influencer_id}` (brand view)
pub async fn influencer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    either(influencer_page(state, req, path.into_inner()).await)
}

async fn influencer_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    (campaign_id, influencer_id): (String, String),
) -> Page {
    let key = session(&state, &req).await?;
    if key.scope == Scope::Influencer
        && key.influencer_id.as_deref() != Some(influencer_id.as_str())
    {
        return Err(error_page(ApiError::not_found()));
    }
    let campaign_id = crate::api::extract::path_id(&campaign_id).map_err(error_page)?;
    let influencer_id = crate::api::extract::path_id(&influencer_id).map_err(error_page)?;
    let brand_id = key.brand_id.clone();
    let public_url = state.public_url.clone();
    let (campaign, view, m, line) = db(&state, move |conn| {
        let reader = Reader {
            brand_id: brand_id.clone(),
            influencer_id: Some(influencer_id.clone()),
        };
        let (campaign, only) = reports::load_campaign(conn, &reader, &campaign_id)?;
        let currency = currency_of(&campaign);
        let row = reports::rows(conn, &campaign, only.clone(), None, Window::all())?
            .pop()
            .ok_or_else(ApiError::not_found)?;
        let (line, _) = payouts::lines(conn, &campaign, &only, crate::db::now_micros())?
            .pop()
            .ok_or_else(ApiError::not_found)?;
        let view = crate::api::enrollments::enrollment_views(conn, &public_url, &campaign, only)?
            .pop()
            .ok_or_else(ApiError::not_found)?;
        Ok((campaign, view, metrics::compute(&row.sums, currency), line))
    })
    .await?;
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (campaign.id) } { (campaign.name) } " /" }
        h1 { "@" (view.handle) " " span.badge.bad[view.status == "pruned"] { (view.status) } }
        p.meta { "Fee " (view.fee) " · commission " (view.commission_rate) " of net revenue" }
        (metric_tiles(&m))
        h2 { "Earnings" }
        (earnings(&line))
        (links_and_codes(&view))
    };
    Ok(render(
        actix_web::http::StatusCode::OK,
        &view.handle,
        Some(&who(&key)),
        body,
    ))
}

/// `GET /dashboard/me`: the influencer's own page.
pub async fn me(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    either(me_page(state, req).await)
}

async fn me_page(state: web::Data<AppState>, req: HttpRequest) -> Page {
    let key = session(&state, &req).await?;
    if key.scope != Scope::Influencer {
        return Ok(redirect("/dashboard"));
    }
    let principal = Principal::Brand(key.clone());
    let resp = payouts::me(state.clone(), principal)
        .await
        .map_err(error_page)?;
    let bytes = actix_web::body::to_bytes(resp.into_body())
        .await
        .map_err(|_| error_page(ApiError::not_found()))?;
    let me: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| error_page(ApiError::internal(e)))?;
    let body = html! {
        h1 { "Hello, @" (me["handle"].as_str().unwrap_or_default()) }
        @for e in me["enrollments"].as_array().cloned().unwrap_or_default() {
            section.card {
                h2 { (e["campaign_name"].as_str().unwrap_or_default()) " " span.badge { (e["campaign_status"].as_str().unwrap_or_default()) } }
                dl.kpis.tiles {
                    div { dt { "Clicks" } dd { (e["metrics"]["clicks"]) } }
                    div { dt { "Sales (net)" } dd { (e["metrics"]["net_revenue"].as_str().unwrap_or_default()) } }
                    div { dt { "Conversions" } dd { (e["metrics"]["conversions"]) } }
                    div { dt { "Pending" } dd { (e["earnings"]["commission_pending"].as_str().unwrap_or_default()) } }
                    div { dt { "Approved" } dd { (e["earnings"]["approved"].as_str().unwrap_or_default()) } }
                    div { dt { "Paid" } dd { (e["earnings"]["paid"].as_str().unwrap_or_default()) } }
                }
                h3 { "Your links" }
                ul.links { @for l in e["links"].as_array().cloned().unwrap_or_default() {
                    li { code { (l["short_url"].as_str().unwrap_or_default()) } " " button.copy type="button" data-copy=(l["short_url"].as_str().unwrap_or_default()) { "Copy" } }
                } }
                h3 { "Your codes" }
                ul.links { @for c in e["discount_codes"].as_array().cloned().unwrap_or_default() {
                    li { code { (c["code"].as_str().unwrap_or_default()) } " " button.copy type="button" data-copy=(c["code"].as_str().unwrap_or_default()) { "Copy" } " " span.badge { (c["status"].as_str().unwrap_or_default()) } }
                } }
            }
        }
    };
    Ok(render(
        actix_web::http::StatusCode::OK,
        "Your campaigns",
        Some(&who(&key)),
        body,
    ))
}
