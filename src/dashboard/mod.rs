//! Server-rendered pages for brands and influencers: readable without JavaScript. Signing in
//! with a key starts a server-side session; the HttpOnly, SameSite=Strict cookie holds only
//! the session's random secret (useless on the API). Every form is a plain POST that must
//! come from our own origin and carry the session's form token (the sign-in form: the token
//! of a cookie set with the sign-in page).
// A page is an `HttpResponse` either way (an error is a page too).
#![allow(clippy::result_large_err)]

mod act;
mod charts;
pub mod costs;
pub mod exclusions;
mod forms;
mod qr;
pub mod setup;
pub mod store;

pub use act::{leaderboard_csv, mark_paid, payouts, payouts_csv, successor, successor_form};

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
use crate::domain::field::{Checks, FieldError};
use crate::domain::goals::{GoalProgress, Pace};
use crate::domain::ids::{CampaignId, InfluencerId};
use crate::domain::metrics::{Metrics, SORTABLE};
use crate::domain::scope::Scope;
use crate::domain::window::Window;
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
    /// The brand's name, for the header.
    brand: String,
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
                        nav aria-label="Sections" {
                            a.nav href="/dashboard" { "Campaigns" }
                            @if who.is_some_and(|s| s.key.scope == Scope::Admin) {
                                a.nav href="/dashboard/influencers" { "Influencers" }
                                a.nav href="/dashboard/keys" { "Keys" }
                            }
                            a.nav href="/dashboard/store" { "Store" }
                        }
                    }
                    @if let Some(signed) = who {
                        span.who { strong.brandname { (signed.brand) } " · " (who_label(&signed.key)) }
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
        .read(move |conn| {
            let key = auth::session_key(conn, &secret, now)?;
            let brand = crate::core::admin::brands::get(conn, &key.brand_id)
                .map(|b| b.name)
                .unwrap_or_default();
            Ok::<_, auth::AuthError>((key, brand))
        })
        .await
    {
        Ok((key, brand)) => Ok(Signed {
            key,
            form_token,
            brand,
        }),
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

/// A form page's status: 422 when it comes back with errors.
fn status_of(errors: &[FieldError]) -> actix_web::http::StatusCode {
    if errors.is_empty() {
        actix_web::http::StatusCode::OK
    } else {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
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
        @if key.scope == Scope::Admin { p { a.button href="/dashboard/campaigns/new" { "New campaign" } } }
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
                p.hint { "Each step ticks itself off: " a href="/dashboard/store" { "the store" } ", " a href="/dashboard/campaigns/new" { "a campaign" } ", " a href="/dashboard/influencers" { "influencers" } ", then enroll them from the campaign's page to get their links." }
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
    pub from: Option<String>,
    pub to: Option<String>,
    /// The verdict column's rules (the defaults when none is given).
    pub min_roi: Option<String>,
    pub min_net_revenue: Option<String>,
    pub min_conversions: Option<String>,
    pub min_conversion_rate: Option<String>,
    pub bottom_percent: Option<String>,
    pub min_clicks_for_judgement: Option<String>,
    /// `off`: the figures as if the campaign had no exclusion rule.
    pub exclusions: Option<String>,
}

/// The rules the verdict column judges by when none are given: pay for itself, convert at
/// least 0.5% of unique clicks (Wilson-guarded), judged from 100 clicks on.
const DEFAULT_RULES: [(&str, &str); 3] = [
    ("min_roi", "0"),
    ("min_conversion_rate", "0.005"),
    ("min_clicks_for_judgement", "100"),
];

impl CampaignQuery {
    /// `exclusions=off`, which only the brand's keys may ask for.
    fn without_rules(&self, scope: Scope) -> bool {
        self.exclusions.as_deref() == Some("off") && scope != Scope::Influencer
    }

    /// The verdict rules as a prune form: the query's, or the defaults.
    fn rules(&self) -> RulesForm {
        let given = [
            &self.min_roi,
            &self.min_net_revenue,
            &self.min_conversions,
            &self.min_conversion_rate,
            &self.bottom_percent,
            &self.min_clicks_for_judgement,
        ]
        .iter()
        .any(|v| v.as_deref().is_some_and(|v| !v.trim().is_empty()));
        let get = |v: &Option<String>, name: &str| match (given, v) {
            (true, v) => v.clone().unwrap_or_default(),
            (false, _) => DEFAULT_RULES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, d)| d.to_string())
                .unwrap_or_default(),
        };
        RulesForm {
            min_roi: get(&self.min_roi, "min_roi"),
            min_net_revenue: get(&self.min_net_revenue, "min_net_revenue"),
            min_conversions: get(&self.min_conversions, "min_conversions"),
            min_conversion_rate: get(&self.min_conversion_rate, "min_conversion_rate"),
            bottom_percent: get(&self.bottom_percent, "bottom_percent"),
            min_clicks_for_judgement: get(
                &self.min_clicks_for_judgement,
                "min_clicks_for_judgement",
            ),
            action: String::new(),
            form_token: String::new(),
        }
    }
}

/// The page's date range, or the error page naming the bad date.
fn window_of(q: &CampaignQuery) -> Result<Window, HttpResponse> {
    let mut checks = Checks::default();
    let nonempty = |v: &Option<String>| v.clone().filter(|v| !v.trim().is_empty());
    let (from, to) = (nonempty(&q.from), nonempty(&q.to));
    let window = Window::parse(&mut checks, from.as_deref(), to.as_deref());
    page_of(checks.finish().map_err(ApiError::Validation))?;
    Ok(window)
}

/// A rate as a percentage: `"0.1"` → `"10%"`, `"0.125"` → `"12.5%"`.
fn rate_percent(rate: &str) -> String {
    match rate.parse::<f64>() {
        Ok(r) => {
            let p = format!("{:.2}", r * 100.0);
            let p = p.trim_end_matches('0').trim_end_matches('.');
            format!("{p}%")
        }
        Err(_) => rate.to_string(),
    }
}

const COLUMNS: [(&str, &str); 13] = [
    ("clicks", "Clicks"),
    ("conversions", "Conv."),
    ("net_revenue", "Net revenue"),
    ("cost", "Cost"),
    ("roi", "ROI"),
    ("leads", "Leads"),
    ("event_value", "Event value"),
    ("roi_with_event_value", "ROI with events"),
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

/// The stage of the campaign's funnel with the weakest step, among the stages it uses.
fn funnel_bottleneck(stages: &[(String, f64)]) -> Option<usize> {
    let counts: Vec<f64> = stages.iter().map(|s| s.1).collect();
    crate::domain::funnel::weakest_step(&counts, &crate::domain::funnel::used(&counts))
}

/// One figure of a side of the paid / organic split, as shown.
type SideCell = fn(&crate::domain::metrics::Side) -> String;

/// Paid amplification against the influencers' own reach, side by side.
fn paid_organic(split: &crate::domain::metrics::PaidOrganic, currency: &str) -> Markup {
    let rows: [(&str, SideCell); 10] = [
        ("Posts", |s| grouped(&s.posts.to_string())),
        ("Impressions", |s| grouped(&s.impressions.to_string())),
        ("Reach", |s| grouped(&s.reach.to_string())),
        ("Engagement rate", |s| pct(s.engagement_rate)),
        ("Clicks", |s| grouped(&s.clicks.to_string())),
        ("Conversions", |s| grouped(&num(s.conversions))),
        ("Net revenue", |s| grouped(&s.net_revenue)),
        ("Cost", |s| grouped(&s.cost)),
        ("CPM", |s| cents(&s.cpm)),
        ("CPA", |s| cents(&s.cpa)),
    ];
    html! {
        section {
            h2 { "Paid and organic" }
            p.hint { "Paid: posts marked paid or with ad spend, clicks of paid links and what they brought, ad spend. Organic: the rest (fees and commissions included). Money in " (currency) "." }
            div.scroll { table {
                thead { tr { th scope="col" { span.sr { "Figure" } } th.num scope="col" { "Paid" } th.num scope="col" { "Organic" } } }
                tbody { @for (label, f) in &rows { tr {
                    th scope="row" { (label) }
                    td.num { (f(&split.paid)) }
                    td.num { (f(&split.organic)) }
                } } }
            } }
        }
    }
}

fn cell(m: &Metrics, key: &str) -> String {
    match key {
        "clicks" => grouped(&m.clicks.to_string()),
        "conversions" => grouped(&num(m.conversions)),
        "net_revenue" => grouped(&m.net_revenue),
        "cost" => grouped(&m.cost),
        "roi" => percent(m.roi),
        "leads" => grouped(&m.leads.to_string()),
        "event_value" => grouped(&m.event_value),
        "roi_with_event_value" => percent(m.roi_with_event_value),
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
    prune: Option<Pruning>,
) -> Page {
    let signed = session(&app, &req).await?;
    let key = &signed.key;
    let reader = page_of(Reader::of(&Principal::Brand(key.clone())))?;
    let campaign_id = path_id(&campaign_id, CampaignId::parse)?;
    let view = View::of(&q);
    let window = window_of(&q)?;
    let (model, sort, descending) = (view.model, view.sort.clone(), view.descending);
    // The verdicts judge by the rules just tried in a prune, else the page's.
    let rules = match &prune {
        Some(Pruning::Done(_, f)) | Some(Pruning::Refused(f, _)) => f.clone(),
        None => q.rules(),
    };
    let mut checks = Checks::default();
    let input = rules_input(&mut checks, &rules);
    let parsed = prune::parse_rules(&mut checks, &input);
    let rules_error = checks.finish().err().map(|errors| {
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field.trim_start_matches("rules."), e.message))
            .collect::<Vec<_>>()
            .join("; ")
    });
    // Verdicts are the brand's call: an influencer's view of the campaign shows none.
    let judging = (rules_error.is_none() && key.scope != Scope::Influencer).then_some(Request {
        rules: parsed,
        model,
        dry_run: true,
    });
    // Without the rules: the brand's figures only; verdicts still judge as a prune would.
    let without_rules = q.without_rules(key.scope);
    let (d, verdicts, flags) = page_of(
        app.read(move |conn| {
            let d = crate::core::exclusions::switched(without_rules, || {
                overview::campaign(
                    conn,
                    &reader,
                    &campaign_id,
                    model,
                    &sort,
                    descending,
                    window,
                )
            })?;
            let verdicts = match &judging {
                Some(r) => Some(prune::judge(conn, &reader, &campaign_id, r)?),
                None => None,
            };
            // Fraud signals are the brand's to see, like the verdicts.
            let flags = match &judging {
                Some(_) => crate::core::fraud::flags(conn, &reader, &campaign_id)?.items,
                None => vec![],
            };
            Ok::<_, ApiError>((d, verdicts, flags))
        })
        .await,
    )?;
    let admin = (key.scope == Scope::Admin).then_some(signed.form_token.as_str());
    let page = CampaignView {
        d: &d,
        view: &view,
        query: &q,
        rules: &rules,
        rules_error: rules_error.as_deref(),
        verdicts: verdicts.as_ref(),
        flags: &flags,
    };
    let body = campaign_body(&page, admin, prune.as_ref());
    let status = if matches!(prune, Some(Pruning::Refused(..))) {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok(render(status, &d.report.name, Some(&signed), body))
}

/// A prune just posted: its result, or its rules refused (kept as typed, with the errors).
enum Pruning {
    Done(PruneResult, RulesForm),
    Refused(RulesForm, Vec<FieldError>),
}

/// Everything the campaign page draws.
struct CampaignView<'a> {
    d: &'a CampaignOverview,
    view: &'a View,
    query: &'a CampaignQuery,
    rules: &'a RulesForm,
    rules_error: Option<&'a str>,
    verdicts: Option<&'a PruneResult>,
    /// Fraud signals, for the brand's view.
    flags: &'a [crate::core::fraud::FlagView],
}

/// The rules as the API takes them. A click minimum that is no whole number is refused (it
/// was read as none, and a prune then judged everyone); `1,000` is a thousand.
fn rules_input(checks: &mut Checks, f: &RulesForm) -> RulesInput {
    let clicks = f.min_clicks_for_judgement.replace([',', '_', ' '], "");
    let min_clicks_for_judgement = match clicks.parse::<i64>() {
        Ok(n) => Some(n),
        Err(_) if clicks.is_empty() => None,
        Err(_) => {
            checks.fail("rules.min_clicks_for_judgement", "must be a whole number");
            None
        }
    };
    RulesInput {
        min_roi: field(&f.min_roi),
        min_net_revenue: field(&f.min_net_revenue),
        min_conversions: field(&f.min_conversions),
        min_conversion_rate: field(&f.min_conversion_rate),
        bottom_percent: field(&f.bottom_percent),
        min_clicks_for_judgement,
        rank_by: None,
    }
}

/// A refused form's errors by field, or the 404 page when what it names does not exist (or
/// is another brand's), as the API answers.
fn refused(e: ApiError) -> Result<Vec<FieldError>, HttpResponse> {
    match e {
        ApiError::NotFound(_) => Err(error_page(e)),
        other => Ok(forms::errors_of(other)),
    }
}

/// The page's query string (model, dates, rules) without the sort, for links that keep it.
fn keep_query(v: &CampaignView<'_>) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    if let Some(m) = v.view.model {
        q.append_pair("model", m.as_str());
    }
    if v.query.exclusions.as_deref() == Some("off") {
        q.append_pair("exclusions", "off");
    }
    for (k, val) in [("from", &v.query.from), ("to", &v.query.to)] {
        if let Some(val) = val.as_deref().filter(|x| !x.is_empty()) {
            q.append_pair(k, val);
        }
    }
    let r = v.rules;
    for (k, val) in [
        ("min_roi", &r.min_roi),
        ("min_net_revenue", &r.min_net_revenue),
        ("min_conversions", &r.min_conversions),
        ("min_conversion_rate", &r.min_conversion_rate),
        ("bottom_percent", &r.bottom_percent),
        ("min_clicks_for_judgement", &r.min_clicks_for_judgement),
    ] {
        if !val.is_empty() {
            q.append_pair(k, val);
        }
    }
    q.finish()
}

/// `admin`: the form token when the visitor may act (an admin key).
fn campaign_body(v: &CampaignView<'_>, admin: Option<&str>, prune: Option<&Pruning>) -> Markup {
    let (d, view) = (v.d, v.view);
    let refused: &[FieldError] = match prune {
        Some(Pruning::Refused(_, errors)) => errors,
        _ => &[],
    };
    let r = &d.report;
    let t = &r.totals;
    let id = &r.campaign_id;
    let kept = keep_query(v);
    html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " }
        h1 { (r.name) " " span.badge { (r.status) } }
        nav.actions aria-label="Campaign" {
            @if admin.is_some() {
                a.button href={ "/dashboard/campaigns/" (id) "/edit" } { "Edit campaign" }
                a.button href={ "/dashboard/campaigns/" (id) "/enroll" } { "Enroll influencers" }
                a.button href={ "/dashboard/campaigns/" (id) "/posts" } { "Post metrics" }
                a.button href={ "/dashboard/campaigns/" (id) "/costs" } { "Costs" }
                a.button href={ "/dashboard/campaigns/" (id) "/exclusions" } { "Exclusions" }
                a.button href={ "/dashboard/campaigns/" (id) "/successor" } { "Next campaign" }
            }
            a.button href={ "/dashboard/campaigns/" (id) "/payouts" } { "Payouts" }
            a.button href={ "/dashboard/campaigns/" (id) "/leaderboard.csv?" (kept) "&sort=" (view.sort) "&order=" (if view.descending { "desc" } else { "asc" }) } download { "Leaderboard CSV" }
        }
        @if v.query.exclusions.as_deref() == Some("off") {
            p.notice role="status" { "These figures ignore the campaign's exclusion rules. "
                a href={ "/dashboard/campaigns/" (id) } { "Back to the figures with them" } "." }
        }
        form.inline.range method="get" action={ "/dashboard/campaigns/" (id) } {
            div.field {
                label for="model" { "Attribution" }
                select #model name="model" {
                    option value="" selected[view.model.is_none()] { "as decided (" (r.model) ")" }
                    @for m in Model::ALL {
                        option value=(m.as_str()) selected[view.model == Some(*m)] { (m.as_str().replace('_', " ")) }
                    }
                }
            }
            div.field { label for="from" { "From" } input #from type="date" name="from" value=(v.query.from.clone().unwrap_or_default()); }
            div.field { label for="to" { "To" } input #to type="date" name="to" value=(v.query.to.clone().unwrap_or_default()); }
            input type="hidden" name="sort" value=(view.sort);
            (prune_fields(Some(v.rules), true))
            button type="submit" { "Show" }
            @if r.from.is_some() || r.to.is_some() { a href={ "/dashboard/campaigns/" (id) } { "All time" } }
        }
        @if r.from.is_some() || r.to.is_some() {
            p.hint { "Figures of " (r.from.clone().unwrap_or_else(|| "the start".into())) " to " (r.to.clone().unwrap_or_else(|| "today".into())) " (UTC days)." }
        }
        @if let Some(g) = &r.goal { (goal_bar(g, r.pace.as_ref(), ended(r))) }
        dl.kpis.tiles {
            div { dt { "Net revenue" } dd { (grouped(&t.net_revenue)) " " small { (t.currency) } } }
            div { dt { "Cost" } dd { (grouped(&t.cost)) " " small { (t.currency) } } }
            div { dt { "ROI" } dd.bad[t.roi.is_some_and(|x| x < 0.0)] { (percent(t.roi)) } }
            div { dt { "ROAS" } dd { (ratio(t.roas)) } }
            div { dt { "Conversions" } dd { (grouped(&num(t.conversions))) } }
            div { dt { "CPA" } dd { (cents(&t.cpa)) " " small { (t.currency) } } }
            div { dt { "Clicks" } dd { (grouped(&t.clicks.to_string())) } }
            div { dt { "CTR" } dd { (pct(t.ctr)) } }
            div { dt { "Engagement" } dd { (pct(t.engagement_rate)) } }
            @if t.leads > 0 || t.event_value.parse::<f64>().is_ok_and(|v| v != 0.0) {
                div { dt { "Leads" } dd { (grouped(&t.leads.to_string())) } }
                div { dt { "Cost per lead" } dd { (cents(&t.cost_per_lead)) " " small { (t.currency) } } }
                div { dt { "Event value" } dd { (grouped(&t.event_value)) " " small { (t.currency) } } }
                div { dt { "ROI with events" } dd.bad[t.roi_with_event_value.is_some_and(|x| x < 0.0)] { (percent(t.roi_with_event_value)) } }
            }
        }
        @if let (Some(Pruning::Done(result, rules)), Some(token)) = (prune, admin) { (prune_preview(r.campaign_id.as_str(), result, rules, token)) }
        (leaderboard(v, admin))
        div.grid {
            section {
                h2 { "Clicks and net revenue, " (day_range(&d.series)) }
                (charts::daily(&d.series, &r.currency))
                @if d.series_partial { p.hint { "The last day is today: its figures are so far, not the whole day." } }
            }
            section {
                h2 { "Funnel" }
                (charts::funnel(&d.funnel))
                @if let Some(i) = funnel_bottleneck(&d.funnel) {
                    p.hint { "Most are lost before " strong { (d.funnel[i].0.to_lowercase()) } "." }
                }
            }
        }
        (paid_organic(&r.paid_vs_organic, &r.currency))
        (credit_by_model(d))
        @if let Some(token) = admin { (prune_panel(r.campaign_id.as_str(), Some(v.rules), refused, token)) }
    }
}

/// An enrollment's verdict under the page's rules: keep, watch (not judged yet) or drop,
/// with why.
fn verdict_of(
    verdicts: Option<&PruneResult>,
    enrollment: &crate::domain::ids::EnrollmentId,
) -> Option<(&'static str, String)> {
    let v = verdicts?;
    if let Some(j) = v.pruned.iter().find(|j| &j.enrollment_id == enrollment) {
        let why = j
            .reasons
            .iter()
            .map(|r| r.detail.clone())
            .collect::<Vec<_>>()
            .join("; ");
        return Some(("drop", why));
    }
    if let Some(j) = v
        .insufficient_data
        .iter()
        .find(|j| &j.enrollment_id == enrollment)
    {
        return Some((
            "watch",
            j.why.clone().unwrap_or_else(|| "not judged yet".into()),
        ));
    }
    if v.kept.iter().any(|j| &j.enrollment_id == enrollment) {
        return Some(("keep", "passes every rule".into()));
    }
    None
}

fn leaderboard(v: &CampaignView<'_>, admin: Option<&str>) -> Markup {
    let (d, view) = (v.d, v.view);
    let campaign_id = &d.report.campaign_id;
    let kept = keep_query(v);
    let (sort, descending) = (view.sort.as_str(), view.descending);
    html! {
        section {
            h2 #leaderboard { "Leaderboard" }
            @if v.verdicts.is_some() || v.rules_error.is_some() { details.rules open[v.rules_error.is_some()] {
                summary { "Verdict rules" }
                p.hint { "Keep, watch or drop is what a prune with these rules would do: influencers under the click minimum, or whose conversion rate may still reach the minimum (Wilson 95% interval), are watched, never dropped." }
                @if let Some(e) = v.rules_error { p.notice.error role="alert" { (e) } }
                form method="get" action={ "/dashboard/campaigns/" (campaign_id) "#leaderboard" } {
                    @if let Some(m) = view.model { input type="hidden" name="model" value=(m.as_str()); }
                    @if let Some(f) = v.query.from.as_deref() { input type="hidden" name="from" value=(f); }
                    @if let Some(t) = v.query.to.as_deref() { input type="hidden" name="to" value=(t); }
                    input type="hidden" name="sort" value=(sort);
                    div.fields { (rule_inputs(Some(v.rules), "v-", &[])) }
                    button type="submit" { "Apply rules" }
                }
            } }
            div.scroll {
                table.board {
                    caption { "Sorted by " (sort.replace('_', " ")) (if descending { ", highest first" } else { ", lowest first" }) ". Amounts in " (d.report.currency) "." }
                    thead { tr {
                        th scope="col" { "#" }
                        th scope="col" { "Influencer" }
                        @if v.verdicts.is_some() { th scope="col" { "Verdict" } }
                        @for (k, label) in COLUMNS {
                            th scope="col" aria-sort=(if sort == k { if descending { "descending" } else { "ascending" } } else { "none" }) {
                                a href={ "/dashboard/campaigns/" (campaign_id) "?sort=" (k) "&order=" (if sort == k && descending { "asc" } else { "desc" }) "&" (kept) } { (label) }
                            }
                        }
                        @if admin.is_some() { th.actions scope="col" { span.sr { "Actions" } } }
                    } }
                    tbody {
                        @for r in &d.board {
                            @let pruned = r.status == EnrollmentStatus::Pruned;
                            @let verdict = if pruned { None } else { verdict_of(v.verdicts, &r.enrollment_id) };
                            @let no_sales = r.metrics.clicks > 0 && r.metrics.conversions == 0.0;
                            tr.pruned[pruned] data-verdict=[verdict.as_ref().map(|x| x.0)] {
                                td { (r.rank) }
                                th scope="row" {
                                    a href={ "/dashboard/campaigns/" (campaign_id) "/influencers/" (r.influencer_id) } { "@" (r.handle) }
                                    @if pruned { " " span.badge.bad { "pruned" } }
                                    @if no_sales { " " span.badge.warn { (grouped(&r.metrics.clicks.to_string())) " clicks, 0 sales" } }
                                    (flag_badges(v.flags.iter().filter(|f| f.enrollment_id == r.enrollment_id)))
                                }
                                @if v.verdicts.is_some() { td.verdict-cell {
                                    @if let Some((word, why)) = &verdict {
                                        span class={ "verdict " (word) } title=(why) { (word) }
                                        small.why { (why) }
                                    } @else if pruned { span.muted { "pruned" } }
                                } }
                                @for (k, _) in COLUMNS {
                                    td.neg[k == "roi" && r.metrics.roi.is_some_and(|x| x < 0.0)] { (cell(&r.metrics, k)) }
                                }
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

/// An influencer's fraud flags: a badge each, the reason in words beside it.
fn flag_badges<'a>(flags: impl Iterator<Item = &'a crate::core::fraud::FlagView>) -> Markup {
    html! {
        @for f in flags {
            " " span.badge.bad.flag title=(f.reason) data-flag=(f.kind.as_str()) { "⚑ " (f.kind.as_str().replace('_', " ")) }
            small.why { (f.reason) }
        }
    }
}

fn credit_by_model(d: &CampaignOverview) -> Markup {
    html! {
        section {
            h2 { "Credit by model" }
            p.hint { "The same orders' net revenue, in " (d.report.currency) ", credited to the first click, the last click, or shared equally." }
            div.scroll { table {
                thead { tr { th scope="col" { "Influencer" } th scope="col" { "First click" } th scope="col" { "Last click" } th scope="col" { "Linear" } } }
                tbody { @for r in &d.board { tr {
                    th scope="row" { "@" (r.handle) }
                    @for m in overview::COMPARED {
                        td { (grouped(&d.by_model.get(&m).and_then(|x| x.get(&r.enrollment_id)).cloned().unwrap_or_default())) }
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

/// The rules' inputs; `prefix` keeps ids unique on a page with two rule forms; an error
/// (`rules.min_roi`, say) shows beside its field.
fn rule_inputs(r: Option<&RulesForm>, prefix: &str, errors: &[FieldError]) -> Markup {
    prune_inputs(r, false, prefix, errors)
}

fn prune_fields(r: Option<&RulesForm>, hidden: bool) -> Markup {
    prune_inputs(r, hidden, "v-", &[])
}

fn prune_inputs(
    r: Option<&RulesForm>,
    hidden: bool,
    prefix: &str,
    errors: &[FieldError],
) -> Markup {
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
                @let id = format!("{prefix}{name}");
                @let error = errors.iter().find(|e| e.field.trim_start_matches("rules.") == name || (name == "min_roi" && e.field == "rules"));
                div.field.invalid[error.is_some()] {
                    label for=(id) { (label) }
                    input id=(id) name=(name) inputmode="decimal" placeholder=(hint) value=(value)
                        aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| format!("{id}-error"))];
                    @if let Some(e) = error { p.error id={ (id) "-error" } role="alert" { (e.message) } }
                }
            }
        }
    }
}

fn prune_panel(
    campaign_id: &str,
    rules: Option<&RulesForm>,
    errors: &[FieldError],
    token: &str,
) -> Markup {
    html! {
        section.card #prune {
            h2 { "Prune" }
            p.hint { "Preview first: nothing changes until you confirm. Prefilled with the verdict rules; influencers with too few clicks are never pruned." }
            form method="post" action={ "/dashboard/campaigns/" (campaign_id) "/prune#prune" } {
                (token_field(token))
                (rule_inputs(rules, "p-", errors))
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

/// The admin of a form post from our own pages (origin and form token).
async fn admin_post(
    app: &Core,
    req: &HttpRequest,
    form_token: &str,
) -> Result<Signed, HttpResponse> {
    same_origin(req)?;
    let signed = session(app, req).await?;
    form_token_matches(&signed.form_token, form_token)?;
    if signed.key.scope != Scope::Admin {
        return Err(error_page(ApiError::forbidden()));
    }
    Ok(signed)
}

/// A page only an admin key may open (others get the 403 page).
async fn admin_session(app: &Core, req: &HttpRequest) -> Result<Signed, HttpResponse> {
    let signed = session(app, req).await?;
    if signed.key.scope != Scope::Admin {
        return Err(error_page(ApiError::Forbidden(
            "this page changes the brand's set-up: sign in with an admin key".into(),
        )));
    }
    Ok(signed)
}

/// A path id, or the not-found page.
fn path_id<T>(raw: &str, parse: fn(&str) -> Option<T>) -> Result<T, HttpResponse> {
    parse(raw).ok_or_else(|| error_page(ApiError::not_found()))
}

async fn prune_post(app: App, req: HttpRequest, campaign_id: String, f: RulesForm) -> Page {
    let key = admin_post(&app, &req, &f.form_token).await?.key;
    let id = path_id(&campaign_id, CampaignId::parse)?;
    let mut checks = Checks::default();
    let input = rules_input(&mut checks, &f);
    let rules = prune::parse_rules(&mut checks, &input);
    if let Err(errors) = checks.finish() {
        let q = CampaignQuery::default();
        return campaign_page(app, req, campaign_id, q, Some(Pruning::Refused(f, errors))).await;
    }
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
        Some(Pruning::Done(result, f)),
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
    let key = admin_post(&app, &req, &form.form_token).await?.key;
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
        h3 #links { "Links" }
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
                li {
                    code { (c.code) } " " button.copy type="button" data-copy=(c.code) { "Copy" } " " span.badge { (c.status) } " · " (grouped(&c.redemptions.to_string())) " redemptions"
                    @for s in &c.shop_sync {
                        " · " (shop_name(s.platform)) ": "
                        span.badge.bad[s.status == crate::domain::shop_sync::SyncStatus::Failed] title=[s.error.as_deref()] { (s.status.as_str()) }
                    }
                    (qr::block(&c.code, &c.code))
                }
            }
        }
    }
}

fn shop_name(p: crate::domain::integrations::Platform) -> &'static str {
    match p {
        crate::domain::integrations::Platform::Shopify => "Shopify",
        crate::domain::integrations::Platform::WooCommerce => "WooCommerce",
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
    either(influencer_page(app, req, path.into_inner(), None).await)
}

/// `form`: the "add a link" form as posted, with its errors.
async fn influencer_page(
    app: App,
    req: HttpRequest,
    (campaign_id, influencer_id): (String, String),
    form: Option<(forms::Posted, Vec<FieldError>)>,
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
    let brand_view = key.scope != Scope::Influencer;
    let (mine, (series, partial), flags) = page_of(
        app.read(move |conn| {
            let mine = payouts::my_enrollment(conn, &public_url, &reader, &campaign_id)?;
            let series = overview::enrollment_daily(
                conn,
                &reader,
                &campaign_id,
                &mine.enrollment.enrollment_id,
                None,
            )?;
            // Fraud signals are the brand's to see, never the influencer's.
            let flags: Vec<_> = if brand_view {
                let brand = Reader::brand(reader.brand_id.clone());
                crate::core::fraud::flags(conn, &brand, &campaign_id)?
                    .items
                    .into_iter()
                    .filter(|f| f.enrollment_id == mine.enrollment.enrollment_id)
                    .collect()
            } else {
                vec![]
            };
            Ok::<_, ApiError>((mine, series, flags))
        })
        .await,
    )?;
    let view = &mine.enrollment;
    let admin = (key.scope == Scope::Admin).then_some(signed.form_token.as_str());
    let currency = mine.metrics.currency.clone();
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (mine.campaign_id) } { (mine.campaign_name) } " /" }
        h1 { "@" (view.handle) " " span.badge.bad[view.status == EnrollmentStatus::Pruned] { (view.status) } }
        p.meta { "Fee " (grouped(&view.fee)) " " (currency) " · commission " (rate_percent(&view.commission_rate)) " of net revenue" }
        @if !flags.is_empty() {
            section.flags aria-label="Fraud signals" {
                h2 { "Fraud signals" }
                p.hint { "Computed from the stored clicks and orders; they change no credit." }
                ul { @for f in &flags { li { span.badge.bad.flag data-flag=(f.kind.as_str()) { "⚑ " (f.kind.as_str().replace('_', " ")) } " " (f.reason) } } }
            }
        }
        (metric_tiles(&mine.metrics))
        section {
            h2 { "Clicks and net revenue, " (day_range(&series)) }
            (charts::daily(&series, &currency))
            @if partial { p.hint { "The last day is today: its figures are so far, not the whole day." } }
        }
        h2 { "Earnings" }
        (earnings(&mine.earnings))
        (links_and_codes(view))
        @if let Some(token) = admin {
            @let (posted, errors) = form.as_ref().map(|(p, e)| (p.clone(), e.as_slice())).unwrap_or_default();
            (setup::link_form(&mine.campaign_id, view, token, &posted, errors))
        }
    };
    let status = if form.is_some() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok(render(status, &view.handle, Some(&signed), body))
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
                    li { code { (c.code) } " " button.copy type="button" data-copy=(c.code) { "Copy" } " " span.badge { (c.status) } (qr::block(&c.code, &c.code)) }
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
