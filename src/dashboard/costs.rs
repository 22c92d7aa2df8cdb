//! The costs page of a campaign: every cost besides fees and commissions, added and removed
//! with the API's own rules.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::forms::{self, Field, Kind, Posted};
use super::setup::{enrolled, form_card, load_campaign, ALL};
use super::{
    admin_post, admin_session, either, page_of, path_id, redirect, refused, render, status_of,
    token_field, App, Page, Signed,
};
use crate::core::admin::costs::{self, CostInput};
use crate::domain::field::FieldError;
use crate::domain::ids::{CampaignId, CostId};

const KINDS: &[(&str, &str)] = &[
    ("product", "Product sent"),
    ("shipping", "Shipping"),
    ("content", "Content production"),
    ("ad_spend", "Paid amplification (ad spend)"),
    ("agency", "Agency time"),
    ("tool", "Tools"),
    ("other", "Other"),
];

fn cost_fields(choices: Vec<(String, String)>) -> Vec<Field> {
    vec![
        Field::new("kind", "Kind", Kind::Select(KINDS)).required(),
        Field::new("amount", "Amount", Kind::Decimal).required(),
        Field::new("currency", "Currency", Kind::Text)
            .hint("The campaign's when empty; another is converted with the brand's rates"),
        Field::new("influencer_id", "Influencer", Kind::Choice)
            .options(choices)
            .hint("Empty: a cost of the whole campaign"),
        Field::new("post_url", "Post URL", Kind::Url)
            .hint("Ad spend on a post marks the post paid"),
        Field::new("note", "Note", Kind::Text),
        Field::new("incurred_at", "Incurred at", Kind::DateTime).hint("UTC; now when empty"),
    ]
}

async fn costs_page(
    app: &App,
    signed: &Signed,
    id: &CampaignId,
    posted: &Posted,
    errors: &[FieldError],
) -> Page {
    let c = load_campaign(app, signed, id).await?;
    let people = enrolled(app, signed, id).await?;
    let mut choices = vec![(String::new(), "— the campaign —".to_string())];
    choices.extend(
        people
            .iter()
            .map(|e| (e.influencer_id.to_string(), format!("@{}", e.handle))),
    );
    let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
    let (rows, _) = page_of(
        app.read(move |conn| costs::list(conn, &brand_id, &cid, &ALL))
            .await,
    )?;
    let handle = |i: &Option<crate::domain::ids::InfluencerId>| match i {
        Some(i) => people
            .iter()
            .find(|e| &e.influencer_id == i)
            .map(|e| format!("@{}", e.handle))
            .unwrap_or_default(),
        None => "the campaign".into(),
    };
    let token = &signed.form_token;
    let action = format!("/dashboard/campaigns/{id}/costs");
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (c.id) } { (c.name) } " /" }
        h1 { "Costs" }
        p.hint { "Fees and commissions are counted already. Add what else the campaign cost: product sent, content, ad spend, tools, agency time. Every cost counts in ROI, CPA and pruning; costs of the campaign are "
            @match c.cost_allocation.as_str() {
                "by_net_revenue" => { "spread over the influencers by net revenue" }
                "even" => { "spread evenly over the influencers" }
                _ => { "kept in the campaign's totals (change it in the campaign's settings)" }
            }
            "." }
        (form_card("Add a cost", &action, &cost_fields(choices), posted, errors, token, "Add cost"))
        h2 { "Costs of the campaign" }
        @if rows.is_empty() {
            p.empty { "No costs yet." }
        } @else {
            div.scroll { table {
                thead { tr {
                    th scope="col" { "Incurred" } th scope="col" { "Kind" } th scope="col" { "For" }
                    th.num scope="col" { "Amount (" (c.currency) ")" } th scope="col" { "Entered" } th scope="col" { "Note" }
                    th.actions scope="col" { span.sr { "Actions" } }
                } }
                tbody { @for r in &rows { tr {
                    td { (r.incurred_at.chars().take(10).collect::<String>()) }
                    td { (r.kind.as_str().replace('_', " ")) }
                    td { (handle(&r.influencer_id)) @if let Some(u) = &r.post_url { br; small { (u) } } }
                    td.num { (r.amount) }
                    td { (r.original_amount) " " (r.original_currency) }
                    td { (r.note.clone().unwrap_or_default()) }
                    td.actions {
                        form method="post" action={ "/dashboard/campaigns/" (c.id) "/costs/" (r.id) "/delete" } {
                            (token_field(token))
                            button.danger type="submit" { "Delete" }
                        }
                    }
                } } }
            } }
        }
    };
    Ok(render(status_of(errors), "Costs", Some(signed), body))
}

/// `GET /dashboard/campaigns/{campaign_id}/costs`
pub async fn page(app: App, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    either(
        async {
            let signed = admin_session(&app, &req).await?;
            let id = path_id(&path, CampaignId::parse)?;
            costs_page(&app, &signed, &id, &Posted::default(), &[]).await
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/costs`
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
            let input: CostInput = match forms::read(&cost_fields(vec![]), &posted) {
                Ok(i) => i,
                Err(errors) => return costs_page(&app, &signed, &id, &posted, &errors).await,
            };
            let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
            match app
                .read(move |conn| costs::create(conn, &brand_id, &cid, input))
                .await
            {
                Ok(_) => Ok(redirect(&format!("/dashboard/campaigns/{id}/costs"))),
                Err(e) => {
                    let errors = refused(e.into())?;
                    costs_page(&app, &signed, &id, &posted, &errors).await
                }
            }
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/costs/{cost_id}/delete`
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
            let cost = path_id(&path.1, CostId::parse)?;
            let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
            page_of(
                app.read(move |conn| costs::delete(conn, &brand_id, &cid, &cost))
                    .await,
            )?;
            Ok(redirect(&format!("/dashboard/campaigns/{id}/costs")))
        }
        .await,
    )
}
