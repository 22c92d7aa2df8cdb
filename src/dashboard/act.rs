//! Acting on a campaign: the successor wizard (what will happen, then doing it), payouts with
//! mark-paid, and the CSV exports of the leaderboard and the payouts.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use maud::html;

use super::forms::{self, errors_of, Field, Kind, Posted};
use super::{
    admin_post, admin_session, either, grouped, page_of, path_id, rate_percent, redirect, refused,
    render, session, status_of, token_field, App, CampaignQuery, Page, Signed, View,
};
use crate::core::admin::influencers::{self, ListFilter};
use crate::core::admin::Page as ListPage;
use crate::core::auth::Principal;
use crate::core::campaign_loop::payouts::{self, MarkPaid};
use crate::core::campaign_loop::successor::{self, SuccessorInput};
use crate::core::reporting::leaderboard::LeaderboardRow;
use crate::core::reporting::{overview, Reader};
use crate::domain::field::FieldError;
use crate::domain::ids::{CampaignId, InfluencerId};
use crate::domain::metrics::SORTABLE;
use crate::domain::scope::Scope;
use crate::web::csv::{csv_of, leaderboard_columns, PAYOUT_COLUMNS};

const MODELS: &[(&str, &str)] = &[
    ("", "As the campaign decides"),
    ("last_click", "Last click"),
    ("first_click", "First click"),
    ("linear", "Linear"),
    ("time_decay", "Time decay"),
    ("position_based", "Position based"),
];

fn successor_fields() -> Vec<Field> {
    let sorts: Vec<(String, String)> = SORTABLE
        .iter()
        .map(|s| (s.to_string(), s.replace('_', " ")))
        .collect();
    vec![
        Field::new("name", "Name", Kind::Text).required(),
        Field::new("keep_top", "Keep top", Kind::Int)
            .required()
            .hint("How many of the best to keep (pruned influencers never)"),
        Field::new("sort", "Sort", Kind::Choice)
            .options(sorts)
            .hint("The metric that decides who is best"),
        Field::new("model", "Model", Kind::Select(MODELS)),
        Field::new("carry_codes", "Carry codes", Kind::Check)
            .hint("The kept keep their discount codes (they move to the new campaign)"),
        Field::new("starts_at", "Starts at", Kind::DateTime).hint("UTC"),
        Field::new("ends_at", "Ends at", Kind::DateTime).hint("UTC"),
    ]
}

/// The successor's body: the form's fields and the influencers ticked to add.
fn successor_input(posted: &Posted) -> Result<SuccessorInput, Vec<FieldError>> {
    let mut body = forms::body(&successor_fields(), posted)?;
    body["add_influencer_ids"] = serde_json::Value::Array(
        posted
            .all("add_influencer_ids")
            .into_iter()
            .map(|s| serde_json::Value::String(s.to_string()))
            .collect(),
    );
    crate::web::extract::from_value(body).map_err(errors_of)
}

async fn successor_page(
    app: &App,
    signed: &Signed,
    id: &CampaignId,
    posted: &Posted,
    errors: &[FieldError],
    preview: Option<&successor::Preview>,
) -> Page {
    let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
    let reader = Reader::brand(brand_id.clone());
    let public_url = app.public_url().to_string();
    let (c, people, enrolled) = page_of(
        app.read(move |conn| {
            let c = crate::core::admin::campaigns::get(conn, &brand_id, &cid)?;
            let page = ListPage {
                limit: 500,
                after: None,
            };
            let people = influencers::list(conn, &brand_id, &ListFilter::default(), &page)?;
            let enrolled = crate::core::admin::enrollments::list(
                conn,
                &public_url,
                &reader.brand_id,
                &cid,
                &page,
            )?;
            Ok::<_, crate::core::admin::AdminError>((c, people, enrolled))
        })
        .await,
    )?;
    let others: Vec<_> = people
        .iter()
        .filter(|i| !enrolled.iter().any(|e| e.influencer_id == i.row.id))
        .collect();
    let ticked = posted.all("add_influencer_ids");
    let mut values = posted.clone();
    if values.get("sort").is_empty() {
        values.set("sort", "net_revenue");
    }
    let action = format!("/dashboard/campaigns/{id}/successor");
    let token = &signed.form_token;
    let fields = successor_fields();
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (c.id) } { (c.name) } " /" }
        h1 { "Next campaign after " (c.name) }
        p.hint { "The same destination, currency, attribution, goal and holding period; the best influencers with their terms; fresh links. Preview first: nothing is created until you confirm." }
        @if let Some(p) = preview {
            section.card.preview #preview aria-live="polite" {
                h2 { "Preview: " (p.name) }
                h3 { "Kept (" (p.kept.len()) "), best first" }
                @if p.kept.is_empty() { p { "Nobody." } }
                ol { @for (h, fee, rate) in &p.kept { li { strong { "@" (h) } " · fee " (grouped(fee)) " " (c.currency.code()) " · commission " (rate_percent(rate)) } } }
                @if !p.added.is_empty() { h3 { "Added (" (p.added.len()) ")" } ul { @for h in &p.added { li { "@" (h) " (no fee, no commission until set)" } } } }
                @if !p.left.is_empty() { h3 { "Not carried over (" (p.left.len()) ")" } p.muted { (p.left.iter().map(|h| format!("@{h}")).collect::<Vec<_>>().join(", ")) } }
                p { @if p.carry_codes { "Discount codes move to the new campaign." } @else { "Everyone gets a fresh discount code." } }
                form method="post" action=(action) {
                    (token_field(token))
                    @for (k, v) in posted.0.iter().filter(|(k, _)| k != "form_token" && k != "action") {
                        input type="hidden" name=(k) value=(v);
                    }
                    input type="hidden" name="action" value="apply";
                    button type="submit" { "Create campaign " (p.name) }
                }
            }
        }
        section.card {
            h2 { "The next campaign" }
            (forms::general_errors(&fields, errors))
            form method="post" action=(action) {
                (token_field(token))
                (forms::inputs(&fields, &values, errors))
                fieldset {
                    legend { "Add influencers" }
                    @if others.is_empty() { p.muted { "Every influencer of the brand is in this campaign." } }
                    @for i in &others {
                        label.check { input type="checkbox" name="add_influencer_ids" value=(i.row.id) checked[ticked.contains(&i.row.id.as_str())]; " @" (i.row.handle) }
                    }
                }
                input type="hidden" name="action" value="preview";
                button type="submit" { "Preview" }
            }
        }
    };
    Ok(render(
        status_of(errors),
        "Next campaign",
        Some(signed),
        body,
    ))
}

/// `GET /dashboard/campaigns/{campaign_id}/successor`
pub async fn successor_form(app: App, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    either(
        async {
            let signed = admin_session(&app, &req).await?;
            let id = path_id(&path, CampaignId::parse)?;
            successor_page(&app, &signed, &id, &Posted::default(), &[], None).await
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/successor`: `action=preview` shows what would
/// happen; `action=apply` does it.
pub async fn successor(
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
            let input = match successor_input(&posted) {
                Ok(i) => i,
                Err(errors) => {
                    return successor_page(&app, &signed, &id, &posted, &errors, None).await
                }
            };
            let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
            if posted.get("action") != "apply" {
                return match app
                    .read(move |conn| successor::preview(conn, &brand_id, &cid, input))
                    .await
                {
                    Ok(p) => successor_page(&app, &signed, &id, &posted, &[], Some(&p)).await,
                    Err(e) => {
                        successor_page(&app, &signed, &id, &posted, &errors_of(e.into()), None)
                            .await
                    }
                };
            }
            let public_url = app.public_url().to_string();
            match app
                .write(move |conn| successor::successor(conn, &public_url, &brand_id, &cid, input))
                .await
            {
                Ok(s) => Ok(redirect(&format!("/dashboard/campaigns/{}", s.campaign.id))),
                Err(e) => {
                    successor_page(&app, &signed, &id, &posted, &errors_of(e.into()), None).await
                }
            }
        }
        .await,
    )
}

// --- payouts ---------------------------------------------------------------------------

fn paid_fields() -> Vec<Field> {
    vec![
        Field::new("amount", "Amount", Kind::Decimal).required(),
        Field::new("reference", "Reference", Kind::Text)
            .hint("e.g. the bank transfer's; the same reference twice is refused"),
    ]
}

/// A payment form as posted for one influencer, with its errors.
type Posting = (InfluencerId, Posted, Vec<FieldError>);

/// Whether a line has something to pay.
fn owes(l: &payouts::PayoutLine) -> bool {
    l.balance.parse::<f64>().is_ok_and(|b| b > 0.0)
}

/// A payment form's values: as posted, else the balance to pay.
fn payment_values(posted: Option<&Posted>, balance: &str) -> Posted {
    let mut values = posted.cloned().unwrap_or_default();
    if values.get("amount").is_empty() && !balance.starts_with('-') {
        values.set("amount", balance);
    }
    values
}

async fn payouts_page(
    app: &App,
    signed: &Signed,
    id: &CampaignId,
    posting: Option<Posting>,
) -> Page {
    let reader = page_of(Reader::of(&Principal::Brand(signed.key.clone())))?;
    let cid = id.clone();
    let brand_id = signed.key.brand_id.clone();
    let (list, name) = page_of(
        app.read(move |conn| {
            let list = payouts::list(conn, &reader, &cid)?;
            let c = crate::core::admin::campaigns::get(conn, &brand_id, &cid)?;
            Ok::<_, crate::web::problem::ApiError>((list, c.name))
        })
        .await,
    )?;
    let admin = (signed.key.scope == Scope::Admin).then_some(signed.form_token.as_str());
    let cur = &list.currency;
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (id) } { (name) } " /" }
        h1 { "Payouts" }
        p.hint { "Commission is approved once an order is " (list.holding_days) " days old (the holding period); fee plus approved commission, less what was paid, is to be paid. Amounts in " (cur) ", as of " (list.as_of.chars().take(16).collect::<String>().replace('T', " ")) " UTC." }
        p { a.button href={ "/dashboard/campaigns/" (id) "/payouts.csv" } download { "Download CSV" } }
        div.scroll { table.board {
            thead { tr {
                th scope="col" { "Influencer" } th scope="col" { "Fee" } th scope="col" { "Commission rate" }
                th scope="col" { "Pending commission" } th scope="col" { "Approved" } th scope="col" { "Paid" } th scope="col" { "To be paid" }
            } }
            tbody { @for l in &list.items {
                tr data-handle=(l.handle) {
                    th scope="row" { "@" (l.handle) @if l.status == crate::domain::campaign::EnrollmentStatus::Pruned { " " span.badge.bad { "pruned" } } }
                    td { (grouped(&l.fee)) } td { (rate_percent(&l.commission_rate)) }
                    td { (grouped(&l.commission_pending)) } td { (grouped(&l.approved)) } td { (grouped(&l.paid)) }
                    td.balance { strong { (grouped(&l.balance)) } }
                }
            } }
        } }
        @if let Some(token) = admin {
            @let owed: Vec<_> = list.items.iter().filter(|l| owes(l) || posting.as_ref().is_some_and(|p| p.0 == l.influencer_id)).collect();
            h2 { "Mark paid" }
            @if owed.is_empty() { p.muted { "Nobody is owed anything now." } }
            ul.cards { @for l in owed {
                @let mine = posting.as_ref().filter(|p| p.0 == l.influencer_id);
                @let values = payment_values(mine.map(|m| &m.1), &l.balance);
                @let errors = mine.map(|m| m.2.as_slice()).unwrap_or(&[]);
                li.card.payment {
                    h3 { "@" (l.handle) ": " (grouped(&l.balance)) " " small { (cur) } " to be paid" }
                    (forms::general_errors(&paid_fields(), errors))
                    form method="post" action={ "/dashboard/campaigns/" (id) "/payouts/" (l.influencer_id) "/mark-paid" } aria-label={ "Mark @" (l.handle) " paid" } {
                        (token_field(token))
                        (forms::inputs_in(&format!("pay-{}-", l.influencer_id), &paid_fields(), &values, errors))
                        button type="submit" { "Mark paid" }
                    }
                }
            } }
        }
    };
    let status = if posting.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok(render(status, "Payouts", Some(signed), body))
}

/// `GET /dashboard/campaigns/{campaign_id}/payouts` (admin and read keys)
pub async fn payouts(app: App, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    either(
        async {
            let signed = brand_session(&app, &req).await?;
            let id = path_id(&path, CampaignId::parse)?;
            payouts_page(&app, &signed, &id, None).await
        }
        .await,
    )
}

/// A brand's admin or read key (an influencer has its own page).
async fn brand_session(app: &App, req: &HttpRequest) -> Result<Signed, HttpResponse> {
    let signed = session(app, req).await?;
    if signed.key.scope == Scope::Influencer {
        return Err(redirect("/dashboard/me"));
    }
    Ok(signed)
}

/// `POST /dashboard/campaigns/{campaign_id}/payouts/{influencer_id}/mark-paid`
pub async fn mark_paid(
    app: App,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> HttpResponse {
    let posted = Posted::parse(&body);
    either(
        async {
            let signed = admin_post(&app, &req, posted.token()).await?;
            let (raw_c, raw_i) = path.into_inner();
            let id = path_id(&raw_c, CampaignId::parse)?;
            let iid = path_id(&raw_i, InfluencerId::parse)?;
            let input: MarkPaid = match forms::read(&paid_fields(), &posted) {
                Ok(i) => i,
                Err(errors) => {
                    return payouts_page(&app, &signed, &id, Some((iid, posted, errors))).await
                }
            };
            let key = signed.key.clone();
            let (cid, who) = (id.clone(), iid.clone());
            match app
                .read(move |conn| payouts::mark_paid(conn, &key, &cid, &who, input))
                .await
            {
                Ok(_) => {
                    app.nudge_outbox();
                    Ok(redirect(&format!("/dashboard/campaigns/{id}/payouts")))
                }
                Err(e) => {
                    let errors = refused(e.into())?;
                    payouts_page(&app, &signed, &id, Some((iid, posted, errors))).await
                }
            }
        }
        .await,
    )
}

fn csv_response(filename: &str, text: String) -> HttpResponse {
    super::secured(HttpResponse::Ok())
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .body(text)
}

/// `GET /dashboard/campaigns/{campaign_id}/payouts.csv`
pub async fn payouts_csv(app: App, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    either(
        async {
            let signed = brand_session(&app, &req).await?;
            let id = path_id(&path, CampaignId::parse)?;
            let reader = page_of(Reader::of(&Principal::Brand(signed.key.clone())))?;
            let cid = id.clone();
            let list = page_of(
                app.read(move |conn| payouts::list(conn, &reader, &cid))
                    .await,
            )?;
            let out = page_of(csv_of::<payouts::PayoutLine>(&PAYOUT_COLUMNS, &list.items))?;
            Ok(csv_response(&format!("payouts-{id}.csv"), out))
        }
        .await,
    )
}

/// `GET /dashboard/campaigns/{campaign_id}/leaderboard.csv` (the page's model, sort and
/// dates; the API's columns).
pub async fn leaderboard_csv(
    app: App,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<CampaignQuery>,
) -> HttpResponse {
    either(
        async {
            let signed = session(&app, &req).await?;
            let reader = page_of(Reader::of(&Principal::Brand(signed.key.clone())))?;
            let id = path_id(&path, CampaignId::parse)?;
            let view = View::of(&query);
            let window = super::window_of(&query)?;
            let (model, sort, descending) = (view.model, view.sort.clone(), view.descending);
            let cid = id.clone();
            // The page's switch: a brand's reader may download the figures without the rules.
            let off = query.without_rules(signed.key.scope);
            let d = page_of(
                app.read(move |conn| {
                    crate::core::exclusions::switched(off, || {
                        overview::campaign(conn, &reader, &cid, model, &sort, descending, window)
                    })
                })
                .await,
            )?;
            let out = page_of(csv_of::<LeaderboardRow>(&leaderboard_columns(), &d.board))?;
            Ok(csv_response(&format!("leaderboard-{id}.csv"), out))
        }
        .await,
    )
}
