//! Server-rendered pages for brands and influencers: readable without JavaScript. Signing in
//! with a key starts a server-side session; the HttpOnly, SameSite=Strict cookie holds only
//! the session's random secret (useless on the API). Every form is a plain POST that must
//! come from our own origin and carry the session's form token (the sign-in form: the token
//! of a cookie set with the sign-in page).
// A page is an `HttpResponse` either way (an error is a page too).
#![allow(clippy::result_large_err)]

mod charts;
mod qr;
pub mod store;

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::core::admin::enrollments::EnrollmentView;
use crate::core::auth::{self, authenticate, BrandKey, Principal};
use crate::core::campaign_loop::payouts::{self, PayoutLine};
use crate::core::campaign_loop::prune::{self, PruneResult, Request, RulesInput};
use crate::core::reporting::overview::{self, CampaignOverview};
use crate::core::reporting::Reader;
use crate::core::Core;
use crate::domain::campaign::{EnrollmentStatus, Model};
use crate::domain::field::Checks;
use crate::domain::goals::{GoalProgress, Pace};
use crate::domain::ids::{CampaignId, InfluencerId};
use crate::domain::metrics::{Metrics, SORTABLE};
use crate::domain::scope::Scope;
use crate::web::problem::ApiError;
use crate::web::SESSION_COOKIE;

type App = web::Data<Core>;

const COOKIE: &str = SESSION_COOKIE;
/// The sign-in page's own cookie: its secret's form token must come back with the form.
const SIGN_IN_COOKIE: &str = "itk_sign_in";
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

/// A signed-in visitor: the key, and the form token its pages print in every form.
struct Signed {
    key: BrandKey,
    form_token: String,
}

fn token_field(token: &str) -> Markup {
    html! { input type="hidden" name="form_token" value=(token); }
}

fn layout(title: &str, who: Option<&Signed>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · influtrack" }
                link rel="stylesheet" href="/dashboard/app.css";
                link rel="icon" href="/favicon.ico" type="image/svg+xml";
                script src="/dashboard/app.js" defer {}
            }
            body {
                header.top {
                    a.brand href="/dashboard" { "influtrack" }
                    @if who.is_some_and(|s| s.key.scope != Scope::Influencer) {
                        a.nav href="/dashboard/store" { "Store" }
                    }
                    @if let Some(signed) = who {
                        span.who { (who_label(&signed.key)) }
                        form method="post" action="/dashboard/logout" {
                            (token_field(&signed.form_token))
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
    who: Option<&Signed>,
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

/// The sign-in page, with the session cookie (if any) removed.
fn to_sign_in() -> HttpResponse {
    let mut r = redirect("/dashboard/login");
    let _ = r.add_removal_cookie(&Cookie::build(COOKIE, "").path("/dashboard").finish());
    r
}

/// The signed-in visitor of a live session, or a redirect to the sign-in page. A cookie that
/// names no live session counts as a failed authentication of the client.
async fn session(app: &Core, req: &HttpRequest) -> Result<Signed, HttpResponse> {
    let Some(secret) = req
        .cookie(COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Err(redirect("/dashboard/login"));
    };
    let form_token = crate::domain::keys::form_token(&secret);
    let now = crate::core::now_micros();
    match app
        .read(move |conn| auth::session_key(conn, &secret, now))
        .await
    {
        Ok(key) => Ok(Signed { key, form_token }),
        Err(auth::AuthError::Unauthorized) => {
            crate::web::ratelimit::failed_authentication(req, "session");
            Err(to_sign_in())
        }
        Err(e) => Err(error_page(e.into())),
    }
}

/// Forms are only accepted from our own pages: a POST must say it comes from this origin
/// (`Origin`, or without one `Referer`); `Origin: null`, an unparseable one or neither is
/// refused. The form token is checked on top (see [`form_token_matches`]).
fn same_origin(req: &HttpRequest) -> Result<(), HttpResponse> {
    let host = req.connection_info().host().to_string();
    let source = match req.headers().get(header::ORIGIN) {
        Some(origin) => origin.to_str().ok(),
        None => req
            .headers()
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok()),
    };
    let from_here = source
        .and_then(|v| url::Url::parse(v).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_string(),
            })
        })
        .is_some_and(|origin| origin.eq_ignore_ascii_case(&host));
    if from_here {
        Ok(())
    } else {
        Err(error_page(ApiError::Forbidden(
            "cross-site form refused".into(),
        )))
    }
}

/// Whether a posted form token is the expected one (compared in constant time).
fn form_token_matches(expected: &str, posted: &str) -> Result<(), HttpResponse> {
    if crate::domain::keys::hashes_match(expected, posted) {
        Ok(())
    } else {
        Err(error_page(ApiError::Forbidden(
            "this form has expired or did not come from this dashboard; reload the page and try again"
                .into(),
        )))
    }
}

/// Core's answer, or its error as a page.
fn page_of<T, E: Into<ApiError>>(result: Result<T, E>) -> Result<T, HttpResponse> {
    result.map_err(|e| error_page(e.into()))
}

fn who_label(key: &BrandKey) -> String {
    match key.scope {
        Scope::Influencer => "influencer".into(),
        s => format!("{} key", s.as_str()),
    }
}

/// `GET /`: the dashboard is where a person starts.
pub async fn root() -> HttpResponse {
    redirect("/dashboard")
}

/// The icon: an upward line in a square, in SVG (browsers take it at `/favicon.ico`).
const FAVICON: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#047857"/><path d="M6 23l7-7 5 4 8-10" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>"##;

/// `GET /favicon.ico`
pub async fn favicon() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400"))
        .body(FAVICON)
}

/// A dashboard path that does not exist, as a page (not the API's problem+json).
pub fn not_found_page() -> HttpResponse {
    render(
        actix_web::http::StatusCode::NOT_FOUND,
        "Not found",
        None,
        html! { h1 { "Not found" } p.notice { "There is no such page." } p { a href="/dashboard" { "Back to the dashboard" } } },
    )
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

fn login_form(message: Option<&str>, form_token: &str) -> Markup {
    html! {
        h1 { "Sign in" }
        @if let Some(m) = message { p.notice role="alert" { (m) } }
        form.card method="post" action="/dashboard/login" {
            (token_field(form_token))
            label for="key" { "API key (admin, read or influencer)" }
            input #key name="key" type="password" autocomplete="off" required;
            button type="submit" { "Sign in" }
        }
        p.hint { "Signing in starts a session on this server; the key itself is not kept in your browser. Sign out ends the session." }
    }
}

/// The sign-in page with a fresh sign-in cookie and its form token (a message, a status).
fn sign_in_page(
    app: &Core,
    status: actix_web::http::StatusCode,
    message: Option<&str>,
) -> HttpResponse {
    let secret = crate::domain::keys::mint_session_secret();
    let token = crate::domain::keys::form_token(&secret);
    let mut r = render(status, "Sign in", None, login_form(message, &token));
    let _ = r.add_cookie(&private_cookie(
        app,
        SIGN_IN_COOKIE,
        secret,
        CookieDuration::hours(1),
    ));
    r
}

/// A cookie only the dashboard's own pages get: HttpOnly, SameSite=Strict, path /dashboard,
/// Secure when the public URL is https.
fn private_cookie(
    app: &Core,
    name: &'static str,
    value: String,
    max_age: CookieDuration,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/dashboard")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(app.public_url().starts_with("https://"))
        .max_age(max_age)
        .finish()
}

/// `GET /dashboard/login`
pub async fn login_page(app: App) -> HttpResponse {
    sign_in_page(&app, actix_web::http::StatusCode::OK, None)
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub key: String,
    #[serde(default)]
    pub form_token: String,
}

/// `POST /dashboard/login`: from our own sign-in page only (origin and the sign-in cookie's
/// form token), else 403; a key that passes starts a server-side session.
pub async fn login(app: App, req: HttpRequest, form: web::Form<LoginForm>) -> HttpResponse {
    use actix_web::http::StatusCode;
    if let Err(r) = same_origin(&req) {
        return r;
    }
    let form = form.into_inner();
    let expected = req
        .cookie(SIGN_IN_COOKIE)
        .map(|c| crate::domain::keys::form_token(c.value()))
        .unwrap_or_default();
    if expected.is_empty() {
        return sign_in_page(
            &app,
            StatusCode::FORBIDDEN,
            Some("This sign-in form has expired; please try again."),
        );
    }
    if let Err(r) = form_token_matches(&expected, &form.form_token) {
        return r;
    }
    let key = form.key.trim().to_string();
    match authenticate(&app, key).await {
        Ok(Principal::Brand(k)) if k.scope == Scope::Storefront => sign_in_page(
            &app,
            StatusCode::FORBIDDEN,
            Some("A storefront key records orders; sign in with an admin, read or influencer key."),
        ),
        Ok(Principal::Brand(k)) => {
            let now = crate::core::now_micros();
            let started = app
                .read(move |conn| auth::start_session(conn, &k, now))
                .await;
            let secret = match started {
                Ok(secret) => secret,
                Err(e) => return error_page(e.into()),
            };
            let max_age = CookieDuration::seconds(auth::SESSION_ABSOLUTE_MICROS / 1_000_000);
            let cookie = private_cookie(&app, COOKIE, secret, max_age);
            let mut r = redirect("/dashboard");
            let _ = r.add_cookie(&cookie);
            let _ = r.add_removal_cookie(
                &Cookie::build(SIGN_IN_COOKIE, "")
                    .path("/dashboard")
                    .finish(),
            );
            r
        }
        Ok(Principal::Operator) => sign_in_page(
            &app,
            StatusCode::FORBIDDEN,
            Some("The operator token manages brands; sign in with a brand key."),
        ),
        Err(auth::AuthError::Unauthorized) => {
            crate::web::ratelimit::failed_authentication(&req, "sign_in");
            sign_in_page(
                &app,
                StatusCode::UNAUTHORIZED,
                Some("That key is unknown or revoked."),
            )
        }
        Err(e) => error_page(e.into()),
    }
}

/// A form with nothing but its token.
#[derive(Deserialize, Default)]
pub struct TokenForm {
    #[serde(default)]
    pub form_token: String,
}

/// `POST /dashboard/logout`: ends the session on the server, then forgets the cookie.
pub async fn logout(
    app: App,
    req: HttpRequest,
    form: Option<web::Form<TokenForm>>,
) -> HttpResponse {
    if let Err(r) = same_origin(&req) {
        return r;
    }
    let form = form.map_or(TokenForm::default(), web::Form::into_inner);
    if let Some(secret) = req.cookie(COOKIE).map(|c| c.value().to_string()) {
        if let Err(r) =
            form_token_matches(&crate::domain::keys::form_token(&secret), &form.form_token)
        {
            return r;
        }
        if let Err(e) = app.read(move |conn| auth::end_session(conn, &secret)).await {
            return error_page(e.into());
        }
    }
    to_sign_in()
}

/// `GET /dashboard`: the brand's campaigns (an influencer goes to its own page).
pub async fn home(app: App, req: HttpRequest) -> HttpResponse {
    either(home_page(app, req).await)
}

fn either(p: Page) -> HttpResponse {
    match p {
        Ok(r) | Err(r) => r,
    }
}

async fn home_page(app: App, req: HttpRequest) -> Page {
    let signed = session(&app, &req).await?;
    let key = &signed.key;
    if key.scope == Scope::Influencer {
        return Ok(redirect("/dashboard/me"));
    }
    let reader = Reader::brand(key.brand_id.clone());
    let brand_id = key.brand_id.clone();
    let (reports, steps, brand) = page_of(
        app.read(move |conn| {
            let reports = overview::brand(conn, &reader)?;
            let steps = crate::core::admin::brands::getting_started(conn, &brand_id)?;
            let brand = crate::core::admin::brands::get(conn, &brand_id)?;
            Ok::<_, ApiError>((reports, steps, brand.name))
        })
        .await,
    )?;
    let body = html! {
        p.crumbs { (brand) }
        h1 { "Campaigns" }
        @if steps.iter().any(|(_, done)| !done) {
            section.card.checklist aria-labelledby="getting-started" {
                h2 #getting-started { "Getting started" }
                ol {
                    @for (step, done) in &steps {
                        li.done[*done] {
                            @if *done { span.good { "✓ " } (step) " " span.sr { "(done)" } } @else { (step) }
                        }
                    }
                }
                p.hint { "Through the API for now (see the README); each step ticks itself off." }
            }
        }
        @if reports.is_empty() { p { "No campaigns yet." } }
        ul.cards {
            @for r in &reports {
                li.card {
                    h2 { a href={ "/dashboard/campaigns/" (r.campaign_id) } { (r.name) } }
                    p.meta { span.badge { (r.status) } " · " (r.influencers_enrolled) " influencers · " (r.currency) }
                    dl.kpis {
                        div { dt { "Net revenue" } dd { (grouped(&r.totals.net_revenue)) " " small { (r.currency) } } }
                        div { dt { "ROI" } dd { (percent(r.totals.roi)) } }
                        div { dt { "Conversions" } dd { (grouped(&num(r.totals.conversions))) } }
                    }
                    @if let Some(g) = &r.goal { (goal_bar(g, r.pace.as_ref(), ended(r))) }
                }
            }
        }
    };
    Ok(render(
        actix_web::http::StatusCode::OK,
        "Campaigns",
        Some(&signed),
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

/// `2026-05-01 to 2026-05-30` of a daily series.
fn day_range(series: &[(i64, i64, i64)]) -> String {
    let day = |d: i64| {
        chrono::DateTime::from_timestamp(d * 86_400, 0)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    match (series.first(), series.last()) {
        (Some(a), Some(b)) => format!("{} to {}", day(a.0), day(b.0)),
        _ => String::new(),
    }
}

/// Whether a campaign is over: ended by hand, or past its end date.
fn ended(r: &crate::core::reporting::report::Report) -> bool {
    r.status == crate::domain::campaign::CampaignStatus::Ended
        || r.pace.as_ref().is_some_and(|p| p.elapsed >= 1.0)
}

/// The goal's progress as a bar. Drawn in SVG, whose geometry is attributes: the page's CSP
/// (`style-src 'self'`) blocks inline `style` attributes, which drew every bar full. An ended
/// campaign shows where it ended, without a pace.
fn goal_bar(g: &GoalProgress, pace: Option<&Pace>, ended: bool) -> Markup {
    let progress = g.progress.unwrap_or(0.0).clamp(0.0, 1.0) * 100.0;
    let pace = pace.filter(|_| !ended);
    let marker = pace.map(|p| p.elapsed.clamp(0.0, 1.0) * 100.0);
    html! {
        div.goal {
            p { "Goal: " strong { (grouped(&g.actual)) } " of " (grouped(&g.target)) " " (g.metric.as_str().replace('_', " ")) " (" (pct(g.progress)) ")"
                @if ended {
                    " · ended "
                    @if g.progress.is_some_and(|p| p >= 1.0) { span.good { "with the goal reached" } } @else { span.bad { "short of the goal" } }
                } @else if let Some(p) = pace {
                    " · pace: expected " (grouped(&p.expected)) " by now, "
                    @if p.on_track == Some(true) { span.good { "on track" } } @else { span.bad { "behind" } }
                }
            }
            svg.bar role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=(format!("{progress:.0}")) aria-label="Goal progress"
                viewBox="0 0 100 10" preserveAspectRatio="none" width="100%" height="14" {
                rect.track x="0" y="0" width="100" height="10" {}
                rect.fill x="0" y="0" width=(format!("{progress:.2}")) height="10" data-progress=(format!("{progress:.2}")) {}
                @if let Some(m) = marker {
                    rect.pace x=(format!("{:.2}", (m - 0.4).max(0.0))) y="0" width="0.8" height="10" { title { "Where a linear pace would be now" } }
                }
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

/// A decimal text with thousands separators: `"18449.31"` → `"18,449.31"`.
fn grouped(text: &str) -> String {
    let (sign, rest) = match text.strip_prefix('-') {
        Some(r) => ("-", r),
        None => ("", text),
    };
    let (int, frac) = match rest.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (rest, None),
    };
    if !int.chars().all(|c| c.is_ascii_digit()) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{out}.{f}"),
        None => format!("{sign}{out}"),
    }
}

/// Money per unit (CPA, EPC) to the cent, grouped.
fn cents(x: &Option<String>) -> String {
    match x.as_deref().and_then(|v| v.parse::<f64>().ok()) {
        Some(v) => grouped(&format!("{v:.2}")),
        None => "—".into(),
    }
}

/// A ratio as a percentage: ROI 4.86 → `"486%"`.
fn percent(x: Option<f64>) -> String {
    x.map(|v| format!("{}%", grouped(&format!("{:.0}", v * 100.0))))
        .unwrap_or_else(|| "—".into())
}

fn cell(m: &Metrics, key: &str) -> String {
    match key {
        "clicks" => grouped(&m.clicks.to_string()),
        "conversions" => grouped(&num(m.conversions)),
        "net_revenue" => grouped(&m.net_revenue),
        "cost" => grouped(&m.cost),
        "roi" => percent(m.roi),
        "roas" => ratio(m.roas),
        "cpa" => cents(&m.cpa),
        "epc" => cents(&m.epc),
        "conversion_rate" => pct(m.conversion_rate),
        "engagement_rate" => pct(m.engagement_rate),
        _ => String::new(),
    }
}

/// `GET /dashboard/campaigns/{campaign_id}`
pub async fn campaign(
    app: App,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CampaignQuery>,
) -> HttpResponse {
    either(campaign_page(app, req, path.into_inner(), query.into_inner(), None).await)
}

/// How the leaderboard is shown: the model, the metric it is sorted by, the direction.
struct View {
    model: Option<Model>,
    sort: String,
    descending: bool,
}

impl View {
    fn of(q: &CampaignQuery) -> Self {
        Self {
            model: q.model.as_deref().and_then(Model::parse),
            sort: q
                .sort
                .clone()
                .filter(|s| SORTABLE.contains(&s.as_str()))
                .unwrap_or_else(|| "net_revenue".into()),
            descending: q.order.as_deref() != Some("asc"),
        }
    }
}

async fn campaign_page(
    app: App,
    req: HttpRequest,
    campaign_id: String,
    q: CampaignQuery,
    prune: Option<(PruneResult, RulesForm)>,
) -> Page {
    let signed = session(&app, &req).await?;
    let key = &signed.key;
    let reader = page_of(Reader::of(&Principal::Brand(key.clone())))?;
    let campaign_id = path_id(&campaign_id, CampaignId::parse)?;
    let view = View::of(&q);
    let (model, sort, descending) = (view.model, view.sort.clone(), view.descending);
    let d = page_of(
        app.read(move |conn| {
            overview::campaign(conn, &reader, &campaign_id, model, &sort, descending)
        })
        .await,
    )?;
    let admin = (key.scope == Scope::Admin).then_some(signed.form_token.as_str());
    let body = campaign_body(&d, &view, admin, prune.as_ref());
    Ok(render(
        actix_web::http::StatusCode::OK,
        &d.report.name,
        Some(&signed),
        body,
    ))
}

/// `admin`: the form token when the visitor may act (an admin key).
fn campaign_body(
    d: &CampaignOverview,
    view: &View,
    admin: Option<&str>,
    prune: Option<&(PruneResult, RulesForm)>,
) -> Markup {
    let r = &d.report;
    let t = &r.totals;
    html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " }
        h1 { (r.name) " " span.badge { (r.status) } }
        form.inline method="get" action={ "/dashboard/campaigns/" (r.campaign_id) } {
            label for="model" { "Attribution" }
            select #model name="model" {
                option value="" selected[view.model.is_none()] { "as decided (" (r.model) ")" }
                @for m in Model::ALL {
                    option value=(m.as_str()) selected[view.model == Some(*m)] { (m.as_str().replace('_', " ")) }
                }
            }
            input type="hidden" name="sort" value=(view.sort);
            button type="submit" { "Show" }
        }
        @if let Some(g) = &r.goal { (goal_bar(g, r.pace.as_ref(), ended(r))) }
        dl.kpis.tiles {
            div { dt { "Net revenue" } dd { (grouped(&t.net_revenue)) " " small { (t.currency) } } }
            div { dt { "Cost" } dd { (grouped(&t.cost)) " " small { (t.currency) } } }
            div { dt { "ROI" } dd { (percent(t.roi)) } }
            div { dt { "ROAS" } dd { (ratio(t.roas)) } }
            div { dt { "Conversions" } dd { (grouped(&num(t.conversions))) } }
            div { dt { "CPA" } dd { (cents(&t.cpa)) " " small { (t.currency) } } }
            div { dt { "Clicks" } dd { (grouped(&t.clicks.to_string())) } }
            div { dt { "CTR" } dd { (pct(t.ctr)) } }
            div { dt { "Engagement" } dd { (pct(t.engagement_rate)) } }
        }
        @if let (Some((result, rules)), Some(token)) = (prune, admin) { (prune_preview(r.campaign_id.as_str(), result, rules, token)) }
        (leaderboard(d, view, admin))
        div.grid {
            section {
                h2 { "Clicks and net revenue, " (day_range(&d.series)) }
                (charts::daily(&d.series, &r.currency))
                @if d.series_partial { p.hint { "The last day is today: its figures are so far, not the whole day." } }
            }
            section { h2 { "Funnel" } (charts::funnel(&d.funnel)) }
        }
        (credit_by_model(d))
        @if let Some(token) = admin { (prune_panel(r.campaign_id.as_str(), prune.map(|p| &p.1), token)) }
    }
}

fn leaderboard(d: &CampaignOverview, view: &View, admin: Option<&str>) -> Markup {
    let campaign_id = &d.report.campaign_id;
    let model_q = view
        .model
        .map(|m| format!("&model={}", m.as_str()))
        .unwrap_or_default();
    let (sort, descending) = (view.sort.as_str(), view.descending);
    html! {
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
                                a href={ "/dashboard/campaigns/" (campaign_id) "?sort=" (k) "&order=" (if sort == k && descending { "asc" } else { "desc" }) (model_q) } { (label) }
                            }
                        }
                        @if admin.is_some() { th.actions scope="col" { span.sr { "Actions" } } }
                    } }
                    tbody {
                        @for r in &d.board {
                            @let pruned = r.status == EnrollmentStatus::Pruned;
                            tr.pruned[pruned] {
                                td { (r.rank) }
                                th scope="row" {
                                    a href={ "/dashboard/campaigns/" (campaign_id) "/influencers/" (r.influencer_id) } { "@" (r.handle) }
                                    @if pruned { " " span.badge.bad { "pruned" } }
                                }
                                @for (k, _) in COLUMNS { td { (cell(&r.metrics, k)) } }
                                @if let Some(token) = admin {
                                    td.actions { @if pruned {
                                        form method="post" action={ "/dashboard/campaigns/" (campaign_id) "/influencers/" (r.influencer_id) "/reinstate" } {
                                            (token_field(token))
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
    }
}

fn credit_by_model(d: &CampaignOverview) -> Markup {
    html! {
        section {
            h2 { "Credit by model" }
            p.hint { "The same orders credited to the first click, the last click, or shared equally." }
            div.scroll { table {
                thead { tr { th scope="col" { "Influencer" } th scope="col" { "First click" } th scope="col" { "Last click" } th scope="col" { "Linear" } } }
                tbody { @for r in &d.board { tr {
                    th scope="row" { "@" (r.handle) }
                    @for m in overview::COMPARED {
                        td { (d.by_model.get(&m).and_then(|x| x.get(&r.enrollment_id)).cloned().unwrap_or_default()) }
                    }
                } } }
            } }
        }
    }
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
    #[serde(default)]
    pub form_token: String,
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

fn prune_panel(campaign_id: &str, rules: Option<&RulesForm>, token: &str) -> Markup {
    html! {
        section.card #prune {
            h2 { "Prune" }
            p.hint { "Preview first: nothing changes until you confirm. Influencers with too few clicks are never pruned." }
            form method="post" action={ "/dashboard/campaigns/" (campaign_id) "/prune" } {
                (token_field(token))
                (prune_fields(rules, false))
                input type="hidden" name="action" value="preview";
                button type="submit" { "Preview" }
            }
        }
    }
}

fn prune_preview(campaign_id: &str, r: &PruneResult, rules: &RulesForm, token: &str) -> Markup {
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
                    (token_field(token))
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
    app: App,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<RulesForm>,
) -> HttpResponse {
    either(prune_post(app, req, path.into_inner(), form.into_inner()).await)
}

/// The admin key of a form post from our own pages (origin and form token).
async fn admin_post(
    app: &Core,
    req: &HttpRequest,
    form_token: &str,
) -> Result<BrandKey, HttpResponse> {
    same_origin(req)?;
    let signed = session(app, req).await?;
    form_token_matches(&signed.form_token, form_token)?;
    if signed.key.scope != Scope::Admin {
        return Err(error_page(ApiError::forbidden()));
    }
    Ok(signed.key)
}

/// A path id, or the not-found page.
fn path_id<T>(raw: &str, parse: fn(&str) -> Option<T>) -> Result<T, HttpResponse> {
    parse(raw).ok_or_else(|| error_page(ApiError::not_found()))
}

async fn prune_post(app: App, req: HttpRequest, campaign_id: String, f: RulesForm) -> Page {
    let key = admin_post(&app, &req, &f.form_token).await?;
    let id = path_id(&campaign_id, CampaignId::parse)?;
    let input = RulesInput {
        min_roi: field(&f.min_roi),
        min_net_revenue: field(&f.min_net_revenue),
        min_conversions: field(&f.min_conversions),
        min_conversion_rate: field(&f.min_conversion_rate),
        bottom_percent: field(&f.bottom_percent),
        min_clicks_for_judgement: f.min_clicks_for_judgement.trim().parse().ok(),
        rank_by: None,
    };
    let mut checks = Checks::default();
    let rules = prune::parse_rules(&mut checks, &input);
    page_of(checks.finish().map_err(ApiError::Validation))?;
    let request = Request {
        rules,
        model: None,
        dry_run: f.action != "apply",
    };
    let result = page_of(
        app.write(move |conn| prune::prune(conn, &key, &id, &request))
            .await,
    )?;
    campaign_page(
        app,
        req,
        campaign_id,
        CampaignQuery::default(),
        Some((result, f)),
    )
    .await
}

/// `POST /dashboard/campaigns/{campaign_id}/influencers/{influencer_id}/reinstate`
pub async fn reinstate(
    app: App,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: Option<web::Form<TokenForm>>,
) -> HttpResponse {
    // No form at all is a missing token (403), not a 415.
    let form = form.map_or(TokenForm::default(), web::Form::into_inner);
    either(reinstate_post(app, req, path.into_inner(), form).await)
}

async fn reinstate_post(
    app: App,
    req: HttpRequest,
    (campaign_id, influencer_id): (String, String),
    form: TokenForm,
) -> Page {
    let key = admin_post(&app, &req, &form.form_token).await?;
    let id = path_id(&campaign_id, CampaignId::parse)?;
    let influencer_id = path_id(&influencer_id, InfluencerId::parse)?;
    page_of(
        app.write(move |conn| prune::reinstate(conn, &key, &id, &influencer_id))
            .await,
    )?;
    Ok(redirect(&format!("/dashboard/campaigns/{campaign_id}")))
}

fn links_and_codes(e: &EnrollmentView) -> Markup {
    html! {
        h3 { "Links" }
        ul.links {
            @for l in &e.links {
                li {
                    code { (l.short_url) }
                    " "
                    button.copy type="button" data-copy=(l.short_url) { "Copy" }
                    @if let Some(label) = &l.label { " " span.muted { (label) } }
                    (qr::block(&l.short_url, &l.code))
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

fn earnings(line: &PayoutLine) -> Markup {
    html! {
        dl.kpis.tiles {
            div { dt { "Pending commission" } dd { (grouped(&line.commission_pending)) " " small { (line.currency) } } }
            div { dt { "Approved (fee + commission)" } dd { (grouped(&line.approved)) " " small { (line.currency) } } }
            div { dt { "Paid" } dd { (grouped(&line.paid)) " " small { (line.currency) } } }
            div { dt { "To be paid" } dd { (grouped(&line.balance)) " " small { (line.currency) } } }
        }
    }
}

fn metric_tiles(m: &Metrics) -> Markup {
    html! {
        dl.kpis.tiles {
            div { dt { "Clicks" } dd { (grouped(&m.clicks.to_string())) } }
            div { dt { "Conversions" } dd { (grouped(&num(m.conversions))) } }
            div { dt { "Sales (net)" } dd { (grouped(&m.net_revenue)) " " small { (m.currency) } } }
            div { dt { "Conversion rate" } dd { (pct(m.conversion_rate)) } }
            div { dt { "ROI" } dd { (percent(m.roi)) } }
        }
    }
}

/// `GET /dashboard/campaigns/{campaign_id}/influencers/{influencer_id}` (brand view)
pub async fn influencer(
    app: App,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    either(influencer_page(app, req, path.into_inner()).await)
}

async fn influencer_page(
    app: App,
    req: HttpRequest,
    (campaign_id, influencer_id): (String, String),
) -> Page {
    let signed = session(&app, &req).await?;
    let key = &signed.key;
    let campaign_id = path_id(&campaign_id, CampaignId::parse)?;
    let influencer_id = path_id(&influencer_id, InfluencerId::parse)?;
    if key.scope == Scope::Influencer && key.influencer_id.as_ref() != Some(&influencer_id) {
        return Err(error_page(ApiError::not_found()));
    }
    let reader = Reader {
        brand_id: key.brand_id.clone(),
        influencer_id: Some(influencer_id),
    };
    let public_url = app.public_url().to_string();
    let mine = page_of(
        app.read(move |conn| payouts::my_enrollment(conn, &public_url, &reader, &campaign_id))
            .await,
    )?;
    let view = &mine.enrollment;
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (mine.campaign_id) } { (mine.campaign_name) } " /" }
        h1 { "@" (view.handle) " " span.badge.bad[view.status == EnrollmentStatus::Pruned] { (view.status) } }
        p.meta { "Fee " (view.fee) " · commission " (view.commission_rate) " of net revenue" }
        (metric_tiles(&mine.metrics))
        h2 { "Earnings" }
        (earnings(&mine.earnings))
        (links_and_codes(view))
    };
    Ok(render(
        actix_web::http::StatusCode::OK,
        &view.handle,
        Some(&signed),
        body,
    ))
}

/// `GET /dashboard/me`: the influencer's own page.
pub async fn me(app: App, req: HttpRequest) -> HttpResponse {
    either(me_page(app, req).await)
}

async fn me_page(app: App, req: HttpRequest) -> Page {
    let signed = session(&app, &req).await?;
    let key = &signed.key;
    if key.scope != Scope::Influencer {
        return Ok(redirect("/dashboard"));
    }
    let Some(influencer_id) = key.influencer_id.clone() else {
        return Err(error_page(ApiError::forbidden()));
    };
    let brand_id = key.brand_id.clone();
    let public_url = app.public_url().to_string();
    let me = page_of(
        app.read(move |conn| payouts::me(conn, &public_url, &brand_id, &influencer_id))
            .await,
    )?;
    let body = html! {
        h1 { "Hello, @" (me.handle) }
        @for e in &me.enrollments {
            section.card {
                h2 { (e.campaign_name) " " span.badge { (e.campaign_status) } }
                dl.kpis.tiles {
                    div { dt { "Clicks" } dd { (grouped(&e.metrics.clicks.to_string())) } }
                    div { dt { "Sales (net)" } dd { (grouped(&e.metrics.net_revenue)) " " small { (e.metrics.currency) } } }
                    div { dt { "Conversions" } dd { (grouped(&num(e.metrics.conversions))) } }
                    div { dt { "Pending" } dd { (grouped(&e.earnings.commission_pending)) } }
                    div { dt { "Approved" } dd { (grouped(&e.earnings.approved)) } }
                    div { dt { "Paid" } dd { (grouped(&e.earnings.paid)) } }
                }
                h3 { "Your links" }
                ul.links { @for l in &e.enrollment.links {
                    li { code { (l.short_url) } " " button.copy type="button" data-copy=(l.short_url) { "Copy" } (qr::block(&l.short_url, &l.code)) }
                } }
                h3 { "Your codes" }
                ul.links { @for c in &e.enrollment.discount_codes {
                    li { code { (c.code) } " " button.copy type="button" data-copy=(c.code) { "Copy" } " " span.badge { (c.status) } }
                } }
            }
        }
    };
    Ok(render(
        actix_web::http::StatusCode::OK,
        "Your campaigns",
        Some(&signed),
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_ratios_are_percentages() {
        assert_eq!(grouped("18449.31"), "18,449.31");
        assert_eq!(grouped("-1234567"), "-1,234,567");
        assert_eq!(grouped("999.5"), "999.5");
        assert_eq!(grouped("—"), "—");
        assert_eq!(percent(Some(4.86)), "486%");
        assert_eq!(percent(Some(-1.0)), "-100%");
        assert_eq!(percent(Some(12.5)), "1,250%");
        assert_eq!(percent(None), "—");
        assert_eq!(cents(&Some("9.2348".into())), "9.23");
        assert_eq!(cents(&Some("12345.678".into())), "12,345.68");
    }
}
