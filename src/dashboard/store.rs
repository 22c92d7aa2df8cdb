//! The store page: each platform's connection (the webhook URLs to paste, the shop and its
//! masked credentials), a "Check connection" button, and the codes the shop refused or has not
//! taken yet, each with a Retry button for admins.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::forms::{self, errors_of, Field, Kind, Posted};
use super::{
    admin_post, either, page_of, path_id, redirect, render, session, shop_name, token_field, App,
    Page, TokenForm,
};
use crate::core::admin::integrations::IntegrationInput;
use crate::core::admin::{integrations, AdminError, Page as ListPage};
use crate::core::shop_sync::{self, CheckView, JobView};
use crate::domain::field::FieldError;
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

/// A connection form as posted, with its errors.
pub type Posting = (Platform, Posted, Vec<FieldError>);

fn shop_section(
    s: &Shop,
    admin: Option<&str>,
    checked: Option<&CheckView>,
    posting: Option<&Posting>,
) -> Markup {
    let empty = (s.platform, Posted::default(), vec![]);
    let (_, posted, errors) = posting.filter(|p| p.0 == s.platform).unwrap_or(&empty);
    let p = s.platform.as_str();
    html! {
        section.card #(p) {
            h2 { (shop_name(s.platform)) }
            @match &s.connection {
                None => { p { "Not connected. Save the webhook secret and the shop's credentials below (or " code { "PUT /api/v1/integrations/" (p) } ")." } }
                Some(c) => {
                    h3 { "Webhook URLs to paste in " (shop_name(s.platform)) }
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
            @if let Some(token) = admin {
                details.connect open[s.connection.is_none() || !errors.is_empty()] {
                    summary { @if s.connection.is_some() { "Change the connection" } @else { "Connect " (shop_name(s.platform)) } }
                    (integration_form(s.platform, token, posted, errors, s.connection.is_some()))
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

pub async fn store_page(
    app: App,
    req: HttpRequest,
    checked: Option<CheckView>,
    posting: Option<Posting>,
) -> Page {
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
        @for s in &shops { (shop_section(s, admin, checked.as_ref(), posting.as_ref())) }
    };
    let status = if posting.is_some() {
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        actix_web::http::StatusCode::OK
    };
    Ok(render(status, "Store", Some(&signed), body))
}

/// `GET /dashboard/store`
pub async fn page(app: App, req: HttpRequest) -> HttpResponse {
    either(store_page(app, req, None, None).await)
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
    let key = admin_post(&app, &req, &form.form_token).await?.key;
    let platform = platform(&raw)?;
    let checked = page_of(app.check_shop(key.brand_id.clone(), platform).await)?;
    store_page(app, req, Some(checked), None).await
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
    let key = admin_post(&app, &req, &form.form_token).await?.key;
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

pub fn integration_fields(platform: Platform) -> Vec<Field> {
    let mut f = vec![Field::new("webhook_secret", "Webhook secret", Kind::Secret)
        .hint("Shopify: the app's API secret key; WooCommerce: the webhook's secret. Empty keeps the stored one.")];
    match platform {
        Platform::Shopify => {
            f.push(
                Field::new("shop_url", "Shop URL", Kind::Url)
                    .hint("https://your-shop.myshopify.com"),
            );
            f.push(
                Field::new("access_token", "Access token", Kind::Secret).hint(
                    "Admin API access token with write_discounts. Empty keeps the stored one.",
                ),
            );
        }
        Platform::WooCommerce => {
            f.push(Field::new("site_url", "Site URL", Kind::Url).hint("https://shop.example"));
            f.push(
                Field::new("consumer_key", "Consumer key", Kind::Secret)
                    .hint("A REST API key with read/write. Empty keeps the stored one."),
            );
            f.push(Field::new(
                "consumer_secret",
                "Consumer secret",
                Kind::Secret,
            ));
        }
    }
    f
}

/// The connection form of a platform on the store page.
pub fn integration_form(
    platform: Platform,
    token: &str,
    posted: &Posted,
    errors: &[FieldError],
    connected: bool,
) -> Markup {
    let action = format!("/dashboard/store/{}", platform.as_str());
    let title = if connected {
        "Change the connection"
    } else {
        "Connect"
    };
    super::setup::form_card_in(
        &format!("{}-", platform.as_str()),
        title,
        &action,
        &integration_fields(platform),
        (posted, errors),
        token,
        "Save connection",
    )
}

/// `POST /dashboard/store/{platform}`: sets the parts given (the API's PUT).
pub async fn connect(
    app: App,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let posted = Posted::parse(&body);
    either(
        async {
            let signed = admin_post(&app, &req, posted.token()).await?;
            let platform = path_id(&path, Platform::parse)?;
            let input: IntegrationInput = match forms::read(&integration_fields(platform), &posted)
            {
                Ok(i) => i,
                Err(errors) => {
                    return store_page(app, req, None, Some((platform, posted, errors))).await
                }
            };
            let public_url = app.public_url().to_string();
            let sealer = app.sealer();
            let brand_id = signed.key.brand_id.clone();
            match app
                .write(move |conn| {
                    integrations::put(conn, &sealer, &public_url, &brand_id, platform, input)
                })
                .await
            {
                Ok(_) => Ok(redirect(&format!("/dashboard/store#{}", platform.as_str()))),
                Err(e) => {
                    store_page(
                        app,
                        req,
                        None,
                        Some((platform, posted, errors_of(e.into()))),
                    )
                    .await
                }
            }
        }
        .await,
    )
}
