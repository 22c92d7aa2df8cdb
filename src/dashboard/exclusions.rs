//! The exclusions page of a campaign: rules that take test clicks, scrapers or disputed orders
//! out of every figure, made and deleted (with a reason) under the API's own rules, with the
//! deleted ones kept as the audit.

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use maud::html;
use serde::Deserialize;

use super::forms::{self, Field, Kind, Posted};
use super::setup::{enrolled, form_card, load_campaign, ALL};
use super::{
    admin_post, admin_session, either, page_of, path_id, redirect, refused, render, status_of,
    token_field, App, Page, Signed,
};
use crate::core::exclusions::{self, DeleteQuery, ExclusionInput, RuleInput};
use crate::domain::field::FieldError;
use crate::domain::ids::{CampaignId, ExclusionId};

/// The form's fields, flat: the API's `rule.*` and `reason`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleForm {
    visitor: Option<String>,
    link_id: Option<String>,
    referrer_host: Option<String>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    order_id: Option<String>,
    reason: String,
}

fn rule_fields(links: Vec<(String, String)>) -> Vec<Field> {
    vec![
        Field::new("visitor", "Visitor id", Kind::Text)
            .hint("Of today: open /api/v1/visitor in the browser that made the test clicks"),
        Field::new("link_id", "Link", Kind::Choice)
            .options(links)
            .hint("Empty: every link of the campaign"),
        Field::new("referrer_host", "Referrer host", Kind::Text)
            .hint("Clicks coming from this site and its subdomains"),
        Field::new("from", "From", Kind::DateTime).hint("UTC, inclusive"),
        Field::new("to", "To", Kind::DateTime).hint("UTC, exclusive"),
        Field::new("order_id", "Order id", Kind::Text)
            .hint("One order, as the shop reported it; leave the click fields empty"),
        Field::new("reason", "Reason", Kind::Text).required(),
    ]
}

/// The API names a rule's fields `rule.*`; the form names them plainly.
fn on_form(errors: Vec<FieldError>) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|mut e| {
            e.field = match e.field.as_str() {
                "rule" => String::new(),
                f => f.strip_prefix("rule.").unwrap_or(f).to_string(),
            };
            e
        })
        .collect()
}

async fn exclusions_page(
    app: &App,
    signed: &Signed,
    id: &CampaignId,
    posted: &Posted,
    errors: &[FieldError],
) -> Page {
    let c = load_campaign(app, signed, id).await?;
    let people = enrolled(app, signed, id).await?;
    let mut links = vec![(String::new(), "— every link —".to_string())];
    for e in &people {
        for l in &e.links {
            links.push((l.id.to_string(), format!("@{} · {}", e.handle, l.code)));
        }
    }
    let link_name = |l: &crate::domain::ids::LinkId| {
        links
            .iter()
            .find(|(id, _)| id == l.as_str())
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| l.to_string())
    };
    let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
    let rows = page_of(
        app.read(move |conn| exclusions::list(conn, &brand_id, &cid, None, &ALL))
            .await,
    )?;
    let token = &signed.form_token;
    let action = format!("/dashboard/campaigns/{id}/exclusions");
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (c.id) } { (c.name) } " /" }
        h1 { "Exclusions" }
        p.hint { "Clicks and orders a rule matches stay stored but leave every figure of the campaign: reports, the leaderboard, pruning and payouts, whenever they happened. An order reached through an excluded click is excluded with it. Deleting a rule brings everything back. "
            a href={ "/dashboard/campaigns/" (c.id) "?exclusions=off" } { "See the campaign without its rules" } "." }
        (form_card("Add a rule", &action, &rule_fields(links.clone()), posted, errors, token, "Add rule"))
        h2 { "Rules" }
        @if rows.is_empty() {
            p.empty { "No rules yet." }
        } @else {
            div.scroll { table {
                thead { tr {
                    th scope="col" { "Made" } th scope="col" { "Rule" } th scope="col" { "Reason" }
                    th.num scope="col" { "Clicks" } th.num scope="col" { "Orders" }
                    th scope="col" { "State" }
                } }
                tbody { @for r in &rows { tr data-exclusion=(r.id) {
                    td { (r.created_at.chars().take(16).collect::<String>().replace('T', " ")) }
                    td {
                        @if let Some(v) = &r.rule.visitor { "visitor " code { (v) } " " }
                        @if let Some(l) = &r.rule.link_id { "link " (link_name(l)) " " }
                        @if let Some(h) = &r.rule.referrer_host { "from " (h) " " }
                        @if let Some(f) = &r.rule.from { "after " (f) " " }
                        @if let Some(t) = &r.rule.to { "before " (t) " " }
                        @if let Some(o) = &r.rule.order_id { "order " code { (o) } }
                    }
                    td { (r.reason) }
                    td.num { (r.matched.map(|m| m.clicks.to_string()).unwrap_or_default()) }
                    td.num { (r.matched.map(|m| m.orders.to_string()).unwrap_or_default()) }
                    td {
                        @match &r.deleted {
                            Some(d) => { "deleted " (d.at.chars().take(10).collect::<String>()) ": " (d.reason) }
                            None => {
                                form.inline method="post" action={ "/dashboard/campaigns/" (c.id) "/exclusions/" (r.id) "/delete" } {
                                    (token_field(token))
                                    label.sr for={ "why-" (r.id) } { "Why delete it" }
                                    input id={ "why-" (r.id) } name="reason" required placeholder="why";
                                    button.danger type="submit" { "Delete" }
                                }
                            }
                        }
                    }
                } } }
            } }
        }
    };
    Ok(render(status_of(errors), "Exclusions", Some(signed), body))
}

/// `GET /dashboard/campaigns/{campaign_id}/exclusions`
pub async fn page(app: App, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    either(
        async {
            let signed = admin_session(&app, &req).await?;
            let id = path_id(&path, CampaignId::parse)?;
            exclusions_page(&app, &signed, &id, &Posted::default(), &[]).await
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/exclusions`
pub async fn add(
    app: App,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let posted = Posted::parse(&body);
    either(
        async {
            let signed = admin_post(&app, &req, posted.token()).await?;
            let id = path_id(&path, CampaignId::parse)?;
            let form: RuleForm = match forms::read(&rule_fields(vec![]), &posted) {
                Ok(f) => f,
                Err(errors) => return exclusions_page(&app, &signed, &id, &posted, &errors).await,
            };
            let input = ExclusionInput {
                rule: RuleInput {
                    visitor: form.visitor,
                    link_id: form.link_id,
                    referrer_host: form.referrer_host,
                    from: form.from,
                    to: form.to,
                    order_id: form.order_id,
                },
                reason: form.reason,
            };
            let (brand_id, by, cid) = (
                signed.key.brand_id.clone(),
                signed.key.key_id.to_string(),
                id.clone(),
            );
            match app
                .read(move |conn| exclusions::create(conn, &brand_id, &by, &cid, input))
                .await
            {
                Ok(_) => Ok(redirect(&format!("/dashboard/campaigns/{id}/exclusions"))),
                Err(e) => {
                    let errors = on_form(refused(e.into())?);
                    exclusions_page(&app, &signed, &id, &posted, &errors).await
                }
            }
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/exclusions/{exclusion_id}/delete`
pub async fn delete(
    app: App,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let posted = Posted::parse(&body);
    either(
        async {
            let signed = admin_post(&app, &req, posted.token()).await?;
            let id = path_id(&path.0, CampaignId::parse)?;
            let rule = path_id(&path.1, ExclusionId::parse)?;
            let reason = posted
                .0
                .iter()
                .find(|(k, _)| k == "reason")
                .map(|(_, v)| v.clone());
            let (brand_id, by, cid) = (
                signed.key.brand_id.clone(),
                signed.key.key_id.to_string(),
                id.clone(),
            );
            let done = app
                .read(move |conn| {
                    exclusions::delete(conn, &brand_id, &by, &cid, &rule, DeleteQuery { reason })
                })
                .await;
            match done {
                Ok(()) => Ok(redirect(&format!("/dashboard/campaigns/{id}/exclusions"))),
                Err(e) => {
                    let errors = refused(e.into())?;
                    exclusions_page(&app, &signed, &id, &Posted::default(), &errors).await
                }
            }
        }
        .await,
    )
}
