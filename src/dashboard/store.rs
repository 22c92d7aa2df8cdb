//! The store page: each platform's connection (the webhook URLs to paste, the shop and its
//! masked credentials), a "Check connection" button, and the codes the shop refused or has not
//! taken yet, each with a Retry button for admins.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::{
    admin_post, either, page_of, path_id, redirect, render, session, token_field, App, Page,
    TokenForm,
};
use crate::core::admin::{integrations, AdminError, Page as ListPage};
use crate::core::shop_sync::{self, CheckView, JobView};
use crate::domain::ids::JobId;
use crate::domain::integrations::Platform;
use crate::domain::outbox::JobStatus;
use crate::domain::scope::Scope;

/// One platform as the page shows it.
struct Shop {
    platform: Platform,
    connection: Option<integrations::IntegrationView>,
    /// Failed jobs first, then pending ones.
    jobs: Vec<JobView>,
}

async fn shops(
    app: &App,
    brand_id: crate::domain::ids::BrandId,
) -> Result<Vec<Shop>, HttpResponse> {
    let public_url = app.public_url().to_string();
    let sealer = app.sealer();
    page_of(
        app.read(move |conn| {
            let mut out = Vec::new();
            for &platform in Platform::ALL {
                let connection =
                    match integrations::get(conn, &sealer, &public_url, &brand_id, platform) {
                        Ok(v) => Some(v),
                        Err(AdminError::NotFound(_)) => None,
                        Err(e) => return Err(e),
                    };
                let page = ListPage {
                    limit: 50,
                    after: None,
                };
                let mut jobs =
                    shop_sync::list(conn, &brand_id, platform, Some(JobStatus::Failed), &page)?;
                jobs.extend(shop_sync::list(
                    conn,
                    &brand_id,
                    platform,
                    Some(JobStatus::Pending),
                    &page,
                )?);
                out.push(Shop {
                    platform,
                    connection,
                    jobs,
                });
            }
            Ok::<_, AdminError>(out)
        })
        .await,
    )
}

fn name(p: Platform) -> &'static str {
    match p {
        Platform::Shopify => "Shopify",
        Platform::WooCommerce => "WooCommerce",
    }
}

fn check_result(c: &CheckView) -> Markup {
    html! {
        div.notice role="status" {
            @if c.ok {
                strong.good { "The connection works." }
                @if let Some(n) = &c.shop_name { " Shop: " (n) "." }
                @if let Some(cur) = &c.currency { " Currency: " (cur) "." }
            } @else if let Some(e) = &c.error {
                strong.bad { "The shop refused the call: " } (e)
            } @else {
                strong.bad { "Missing permission: " } (c.missing_scopes.join(", "))
            }
            @if !c.scopes.is_empty() { br; span.muted { "Scopes: " (c.scopes.join(", ")) } }
        }
    }
}

fn shop_section(s: &Shop, admin: Option<&str>, checked: Option<&CheckView>) -> Markup {
    let p = s.platform.as_str();
    html! {
        section.card #(p) {
            h2 { (name(s.platform)) }
            @match &s.connection {
                None => { p { "Not connected. Set the webhook secret and the shop's credentials with " code { "PUT /api/v1/integrations/" (p) } " (see the README)." } }
                Some(c) => {
                    h3 { "Webhook URLs to paste in " (name(s.platform)) }
                    ul.links { @for u in &c.webhook_urls { li { code { (u) } } } }
                    dl {
                        dt { "Webhook secret" } dd { (c.webhook_secret.clone().unwrap_or_else(|| "not set".into())) }
                        @if let Some(u) = c.shop_url.as_ref().or(c.site_url.as_ref()) {
                            dt { "Shop URL" } dd { (u.clone().unwrap_or_else(|| "not set".into())) }
                        }
                        @if let Some(t) = &c.access_token { dt { "Access token" } dd { (t.clone().unwrap_or_else(|| "not set".into())) } }
                        @if let Some(k) = &c.consumer_key { dt { "Consumer key" } dd { (k.clone().unwrap_or_else(|| "not set".into())) } }
                    }
                    @if let Some(c) = checked.filter(|c| c.platform == s.platform) { (check_result(c)) }
                    @if let Some(token) = admin {
                        form method="post" action={ "/dashboard/store/" (p) "/check" } {
                            (token_field(token))
                            button type="submit" { "Check connection" }
                        }
                    }
                }
            }
            @if s.connection.is_some() || !s.jobs.is_empty() { h3 { "Codes not in step with the shop" } }
            @if s.jobs.is_empty() {
                @if s.connection.is_some() { p.muted { "None: every code is in the shop as influtrack holds it." } }
            } @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Code" } th scope="col" { "Change" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "The shop's answer" } @if admin.is_some() { th.actions scope="col" { span.sr { "Actions" } } } } }
                    tbody { @for j in &s.jobs { tr {
                        th scope="row" { (j.code) }
                        td { (match j.action { shop_sync::Action::Push => "create or update", shop_sync::Action::Delete => "delete" }) }
                        td { @if j.status == JobStatus::Failed { span.badge.bad { "failed" } } @else { span.badge { "pending" } } }
                        td { (j.attempts) }
                        td.message { (j.error.clone().unwrap_or_default()) }
                        @if let Some(token) = admin { td.actions {
                            form method="post" action={ "/dashboard/store/" (p) "/sync/" (j.id) "/retry" } {
                                (token_field(token))
                                button type="submit" { "Retry" }
                            }
                        } }
                    } } }
                } }
            }
        }
    }
}

async fn store_page(app: App, req: HttpRequest, checked: Option<CheckView>) -> Page {
    let signed = session(&app, &req).await?;
    if signed.key.scope == Scope::Influencer {
        return Ok(redirect("/dashboard/me"));
    }
    let shops = shops(&app, signed.key.brand_id.clone()).await?;
    let admin = (signed.key.scope == Scope::Admin).then_some(signed.form_token.as_str());
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " }
        h1 { "Store" }
        p.hint { "Orders arrive through the webhooks; every discount code is created, changed and disabled in each connected shop." }
        @for s in &shops { (shop_section(s, admin, checked.as_ref())) }
    };
    Ok(render(
        actix_web::http::StatusCode::OK,
        "Store",
        Some(&signed),
        body,
    ))
}

/// `GET /dashboard/store`
pub async fn page(app: App, req: HttpRequest) -> HttpResponse {
    either(store_page(app, req, None).await)
}

fn platform(raw: &str) -> Result<Platform, HttpResponse> {
    path_id(raw, Platform::parse)
}

/// `POST /dashboard/store/{platform}/check`: calls the shop once and shows what it said.
pub async fn check(
    app: App,
    req: HttpRequest,
    path: web::Path<String>,
    form: Option<web::Form<TokenForm>>,
) -> HttpResponse {
    let form = form.map_or(TokenForm::default(), web::Form::into_inner);
    either(check_post(app, req, path.into_inner(), form).await)
}

async fn check_post(app: App, req: HttpRequest, raw: String, form: TokenForm) -> Page {
    let key = admin_post(&app, &req, &form.form_token).await?;
    let platform = platform(&raw)?;
    let checked = page_of(app.check_shop(key.brand_id.clone(), platform).await)?;
    store_page(app, req, Some(checked)).await
}

/// `POST /dashboard/store/{platform}/sync/{job_id}/retry`
pub async fn retry(
    app: App,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    form: Option<web::Form<TokenForm>>,
) -> HttpResponse {
    let form = form.map_or(TokenForm::default(), web::Form::into_inner);
    either(retry_post(app, req, path.into_inner(), form).await)
}

async fn retry_post(
    app: App,
    req: HttpRequest,
    (raw, job): (String, String),
    form: TokenForm,
) -> Page {
    let key = admin_post(&app, &req, &form.form_token).await?;
    let platform = platform(&raw)?;
    let job_id = path_id(&job, JobId::parse)?;
    let brand_id = key.brand_id.clone();
    page_of(
        app.read(move |conn| shop_sync::retry(conn, &brand_id, platform, &job_id))
            .await,
    )?;
    app.nudge_outbox();
    Ok(redirect(&format!("/dashboard/store#{raw}")))
}
