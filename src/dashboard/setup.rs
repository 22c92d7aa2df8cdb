//! Setting a brand up without the API: campaigns (create, edit), influencers (one by one or
//! from a CSV file, previewed before anything is written), enrolments, more links, post
//! metrics (by form or CSV), keys and the store connection. Every form names its fields as
//! the API does and is checked by the API's own input types.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use maud::{html, Markup};
use serde_json::Value;

use super::forms::{self, errors_of, Field, Kind, Posted};
use super::{
    admin_post, admin_session, either, error_page, page_of, path_id, redirect, refused, render,
    status_of, token_field, App, Page, Signed,
};
use crate::core::admin::campaigns::{self, CreateCampaign, UpdateCampaign};
use crate::core::admin::enrollments::{self, Enroll, EnrollmentView};
use crate::core::admin::influencers::{self, CreateInfluencer, ListFilter};
use crate::core::admin::keys::{self, CreateKey};
use crate::core::admin::links::{self, CreateLink};
use crate::core::admin::posts::{self, PostInput};
use crate::core::admin::{self, AdminError, Page as ListPage};
use crate::domain::field::FieldError;
use crate::domain::ids::{CampaignId, InfluencerId, KeyId};
use crate::web::problem::ApiError;

/// The most rows one CSV import takes.
const MAX_ROWS: usize = 1000;
/// The largest CSV file or form an import reads.
const MAX_UPLOAD: usize = 512 * 1024;

pub(super) const ALL: ListPage = ListPage {
    limit: 500,
    after: None,
};

const GOAL_METRICS: &[(&str, &str)] = &[
    ("", "No goal"),
    ("net_revenue", "Net revenue"),
    ("conversions", "Conversions"),
    ("clicks", "Clicks"),
    ("leads", "Leads"),
    ("event_value", "Event value"),
    ("roi", "ROI"),
];
const ALLOCATIONS: &[(&str, &str)] = &[
    ("", "Default (none)"),
    ("none", "Campaign totals only"),
    ("by_net_revenue", "Spread by net revenue"),
    ("even", "Spread evenly"),
];
const MODELS: &[(&str, &str)] = &[
    ("", "Default (last click)"),
    ("last_click", "Last click"),
    ("first_click", "First click"),
    ("linear", "Linear"),
    ("time_decay", "Time decay"),
    ("position_based", "Position based"),
];
const STATUSES: &[(&str, &str)] = &[
    ("", "Default (active)"),
    ("draft", "Draft"),
    ("active", "Active"),
    ("paused", "Paused"),
    ("ended", "Ended"),
];

fn campaign_fields(editing: bool) -> Vec<Field> {
    let mut f = vec![
        Field::new("name", "Name", Kind::Text).required(),
        Field::new("destination_url", "Destination URL", Kind::Url)
            .required()
            .hint("Where a click lands, e.g. https://shop.example/spring"),
    ];
    if !editing {
        f.push(
            Field::new("currency", "Currency", Kind::Text)
                .required()
                .hint("ISO 4217 code, e.g. EUR; fixed once created"),
        );
    }
    let mut rest = vec![
        Field::new("status", "Status", Kind::Select(STATUSES)),
        Field::new("starts_at", "Starts at", Kind::DateTime).hint("UTC"),
        Field::new("ends_at", "Ends at", Kind::DateTime).hint("UTC"),
        Field::new("budget", "Budget", Kind::Decimal),
        Field::new("goal.metric", "Goal metric", Kind::Select(GOAL_METRICS)),
        Field::new("goal.target", "Goal target", Kind::Decimal)
            .hint("Money in the campaign's currency, or a count"),
        Field::new(
            "attribution.model",
            "Attribution model",
            Kind::Select(MODELS),
        ),
        Field::new(
            "attribution.window_days",
            "Attribution window days",
            Kind::Int,
        )
        .hint("1 to 365; default 30"),
        Field::new("attribution.code_priority", "Code priority", Kind::YesNo)
            .hint("A discount code outranks a click when both name an influencer (default yes)"),
        Field::new("holding_days", "Holding days", Kind::Int)
            .hint("Days an order waits before its commission is approved; default 30"),
        Field::new("links_apply_code", "Links apply code", Kind::Check)
            .hint("New links carry the influencer's discount code into the shop"),
        Field::new("identity_window_days", "Customer memory days", Kind::Int).hint(
            "1 to 730; default 90: an order naming only its customer credits the customer's earlier touches this far back",
        ),
        Field::new("lead_bands.medium", "Medium lead from score", Kind::Int)
            .hint("0 to 100; default 40 (below: slow)"),
        Field::new("lead_bands.fast", "Fast lead from score", Kind::Int)
            .hint("0 to 100; default 70"),
        Field::new("event_values.lead", "Value of a lead", Kind::Decimal)
            .hint("Money in the campaign's currency, for leads sent without a value"),
        Field::new("event_values.signup", "Value of a sign-up", Kind::Decimal)
            .hint("Saving these replaces the event values set through the API"),
        Field::new("cost_allocation", "Costs without an influencer", Kind::Select(ALLOCATIONS))
            .hint("Spread over the influencers for ranking and pruning, or left in the totals"),
    ];
    if editing {
        for field in &mut rest {
            if matches!(
                field.name,
                "starts_at" | "ends_at" | "budget" | "goal.metric" | "goal.target"
            ) {
                field.clears = true;
            }
        }
        rest[0] = Field::new("status", "Status", Kind::Select(&STATUSES[1..]));
    }
    f.extend(rest);
    f
}

/// A form in a card: its errors above, its fields, the button.
pub(super) fn form_card(
    title: &str,
    action: &str,
    fields: &[Field],
    posted: &Posted,
    errors: &[FieldError],
    token: &str,
    button: &str,
) -> Markup {
    form_card_in("f-", title, action, fields, (posted, errors), token, button)
}

/// [`form_card`] with its ids under `prefix`.
pub(super) fn form_card_in(
    prefix: &str,
    title: &str,
    action: &str,
    fields: &[Field],
    (posted, errors): (&Posted, &[FieldError]),
    token: &str,
    button: &str,
) -> Markup {
    html! {
        section.card {
            h2 { (title) }
            (forms::general_errors(fields, errors))
            form method="post" action=(action) {
                (token_field(token))
                (forms::inputs_in(prefix, fields, posted, errors))
                button type="submit" { (button) }
            }
        }
    }
}

// --- campaigns -------------------------------------------------------------------------

fn new_campaign_page(signed: &Signed, posted: &Posted, errors: &[FieldError]) -> HttpResponse {
    let fields = campaign_fields(false);
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " }
        h1 { "New campaign" }
        (form_card("Settings", "/dashboard/campaigns", &fields, posted, errors, &signed.form_token, "Create campaign"))
    };
    render(status_of(errors), "New campaign", Some(signed), body)
}

/// `GET /dashboard/campaigns/new`
pub async fn new_campaign(app: App, req: HttpRequest) -> HttpResponse {
    match admin_session(&app, &req).await {
        Ok(signed) => new_campaign_page(&signed, &Posted::default(), &[]),
        Err(r) => r,
    }
}

/// `POST /dashboard/campaigns`
pub async fn create_campaign(app: App, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let posted = Posted::parse(&body);
    either(create_campaign_post(app, req, posted).await)
}

async fn create_campaign_post(app: App, req: HttpRequest, posted: Posted) -> Page {
    let signed = admin_post(&app, &req, posted.token()).await?;
    let input: CreateCampaign = match forms::read(&campaign_fields(false), &posted) {
        Ok(i) => i,
        Err(errors) => return Err(new_campaign_page(&signed, &posted, &errors)),
    };
    let brand_id = signed.key.brand_id.clone();
    match app
        .read(move |conn| campaigns::create(conn, &brand_id, input))
        .await
    {
        Ok(row) => Ok(redirect(&format!("/dashboard/campaigns/{}", row.id))),
        Err(e) => Err(new_campaign_page(&signed, &posted, &errors_of(e.into()))),
    }
}

/// The form's values of a stored campaign.
fn campaign_values(c: &campaigns::CampaignView) -> Posted {
    let mut p = Posted::default();
    p.set("name", &c.name);
    p.set("destination_url", &c.destination_url);
    p.set("status", c.status.as_str());
    if let Some(t) = &c.starts_at {
        p.set("starts_at", forms::local_value(t));
    }
    if let Some(t) = &c.ends_at {
        p.set("ends_at", forms::local_value(t));
    }
    if let Some(b) = &c.budget {
        p.set("budget", b);
    }
    if let Some(g) = &c.goal {
        p.set("goal.metric", g.metric.as_str());
        p.set("goal.target", &g.target);
    }
    p.set("attribution.model", c.attribution.model.as_str());
    p.set(
        "attribution.window_days",
        c.attribution.window_days.to_string(),
    );
    p.set(
        "attribution.code_priority",
        c.attribution.code_priority.to_string(),
    );
    p.set("holding_days", c.holding_days.to_string());
    if c.links_apply_code {
        p.set("links_apply_code", "true");
    }
    p.set("identity_window_days", c.identity_window_days.to_string());
    p.set("lead_bands.medium", c.lead_bands.medium.to_string());
    p.set("lead_bands.fast", c.lead_bands.fast.to_string());
    for kind in ["lead", "signup"] {
        if let Some(v) = c.event_values.get(kind) {
            p.set(&format!("event_values.{kind}"), v);
        }
    }
    p.set("cost_allocation", c.cost_allocation.as_str());
    p
}

fn edit_campaign_page(
    signed: &Signed,
    c: &campaigns::CampaignView,
    posted: &Posted,
    errors: &[FieldError],
) -> HttpResponse {
    let fields = campaign_fields(true);
    let action = format!("/dashboard/campaigns/{}/edit", c.id);
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (c.id) } { (c.name) } " /" }
        h1 { "Edit " (c.name) }
        p.meta { "Currency " (c.currency) " (fixed) · slug " code { (c.slug) } }
        (form_card("Settings", &action, &fields, posted, errors, &signed.form_token, "Save campaign"))
    };
    render(status_of(errors), "Edit campaign", Some(signed), body)
}

pub(super) async fn load_campaign(
    app: &App,
    signed: &Signed,
    id: &CampaignId,
) -> Result<campaigns::CampaignView, HttpResponse> {
    let (brand_id, id) = (signed.key.brand_id.clone(), id.clone());
    page_of(
        app.read(move |conn| campaigns::get(conn, &brand_id, &id))
            .await,
    )
    .map(campaigns::CampaignView::from)
}

/// `GET /dashboard/campaigns/{campaign_id}/edit`
pub async fn edit_campaign(app: App, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    either(
        async {
            let signed = admin_session(&app, &req).await?;
            let id = path_id(&path, CampaignId::parse)?;
            let c = load_campaign(&app, &signed, &id).await?;
            Ok(edit_campaign_page(&signed, &c, &campaign_values(&c), &[]))
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/edit`
pub async fn update_campaign(
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
            let c = load_campaign(&app, &signed, &id).await?;
            let input: UpdateCampaign = match forms::read(&campaign_fields(true), &posted) {
                Ok(i) => i,
                Err(errors) => return Err(edit_campaign_page(&signed, &c, &posted, &errors)),
            };
            let brand_id = signed.key.brand_id.clone();
            let target = id.clone();
            match app
                .write(move |conn| campaigns::update(conn, &brand_id, &target, input))
                .await
            {
                Ok(_) => Ok(redirect(&format!("/dashboard/campaigns/{id}"))),
                Err(e) => Err(edit_campaign_page(
                    &signed,
                    &c,
                    &posted,
                    &errors_of(e.into()),
                )),
            }
        }
        .await,
    )
}

// --- influencers -----------------------------------------------------------------------

fn influencer_fields() -> Vec<Field> {
    vec![
        Field::new("handle", "Handle", Kind::Text)
            .required()
            .hint("Letters, digits, . _ -; unique in the brand"),
        Field::new("display_name", "Display name", Kind::Text),
        Field::new("email", "Email", Kind::Email).hint("Stored hashed"),
        Field::new("platform", "Platform", Kind::Text).hint("e.g. instagram, tiktok"),
        Field::new("followers", "Followers", Kind::Int),
        Field::new("tags", "Tags", Kind::List).hint("Separated by commas"),
    ]
}

/// An influencer's body: the platform and followers become its one platform entry.
fn influencer_input(posted: &Posted) -> Result<CreateInfluencer, Vec<FieldError>> {
    let mut body = forms::body(&influencer_fields(), posted)?;
    if let Value::Object(m) = &mut body {
        let platform = m.remove("platform");
        let followers = m.remove("followers");
        if let Some(platform) = platform {
            let mut entry = serde_json::Map::new();
            entry.insert("platform".into(), platform);
            entry.insert(
                "handle".into(),
                m.get("handle").cloned().unwrap_or(Value::Null),
            );
            if let Some(f) = followers {
                entry.insert("followers".into(), f);
            }
            m.insert("platforms".into(), Value::Array(vec![Value::Object(entry)]));
        } else if followers.is_some() {
            return Err(vec![FieldError::new(
                "platform",
                "name the platform the followers are on",
            )]);
        }
    }
    crate::web::extract::from_value(body).map_err(|e| {
        errors_of(e)
            .into_iter()
            .map(|mut f| {
                // The platform entry is the form's platform field.
                if let Some(member) = f.field.strip_prefix("platforms[0].") {
                    f.field = member.to_string();
                }
                f
            })
            .collect()
    })
}

/// What the influencers page shows besides the list: a form's values and errors, an import's
/// preview.
#[derive(Default)]
struct InfluencersState {
    posted: Posted,
    errors: Vec<FieldError>,
    added: Option<String>,
    import: Option<ImportView>,
}

/// An import as previewed or applied.
struct ImportView {
    text: String,
    /// `(line, handle, errors)` per row.
    rows: Vec<(u64, String, Vec<String>)>,
    file_error: Option<String>,
    written: bool,
}

impl ImportView {
    /// A file that is no CSV: nothing to preview.
    fn refused(text: String, why: String) -> Self {
        Self {
            text,
            rows: vec![],
            file_error: Some(why),
            written: false,
        }
    }

    fn ok(&self) -> bool {
        self.file_error.is_none()
            && !self.rows.is_empty()
            && self.rows.iter().all(|r| r.2.is_empty())
    }
}

const CSV_HELP: &str = "A header line names the columns as the API names the fields: handle (required), display_name, email, platform, followers, tags (separated by semicolons).";

/// What an import card says: its title and help, where it posts, the noun of a row.
struct ImportCard<'a> {
    title: &'a str,
    help: &'a str,
    action: &'a str,
    /// e.g. ("Imported", "influencers"), ("Saved", "posts").
    done: (&'a str, &'a str),
    /// The apply button's verb: "import", "save".
    apply: &'a str,
    /// The preview's column naming each row ("Handle", "Influencer").
    who: &'a str,
}

fn import_card(card: &ImportCard<'_>, token: &str, view: Option<&ImportView>) -> Markup {
    let (verb, noun) = card.done;
    html! {
        section.card #import {
            h2 { (card.title) }
            p.hint { (card.help) " Nothing is written until you apply a preview without errors." }
            @if let Some(v) = view {
                @if let Some(e) = &v.file_error { p.notice.error role="alert" { (e) } }
                @if v.written {
                    p.notice role="status" { strong.good { (verb) " " (v.rows.len()) " " (noun) "." } }
                } @else if !v.rows.is_empty() {
                    @let bad = v.rows.iter().filter(|r| !r.2.is_empty()).count();
                    p role="status" { "Preview: " (v.rows.len()) " rows, " (bad) " with errors." }
                    div.scroll { table.preview {
                        thead { tr { th scope="col" { "Line" } th scope="col" { (card.who) } th scope="col" { "Result" } } }
                        tbody { @for (line, handle, errors) in &v.rows {
                            tr.bad[!errors.is_empty()] {
                                td { (line) } th scope="row" { (handle) }
                                td.message { @if errors.is_empty() { span.good { "ready" } } @else { span.bad { (errors.join("; ")) } } }
                            }
                        } }
                    } }
                }
                @if !v.written {
                    form method="post" action=(card.action) {
                        (token_field(token))
                        div.field.wide {
                            label for="csv" { "CSV" }
                            textarea #csv name="csv" rows="8" spellcheck="false" { (v.text) }
                            small.hint { "Correct the rows with errors here, then preview again." }
                        }
                        button type="submit" name="action" value="preview" { "Preview" }
                        @if v.ok() { " " button type="submit" name="action" value="apply" { "Apply: " (card.apply) " " (v.rows.len()) " " (noun) } }
                    }
                }
            }
            @if view.is_none_or(|v| v.written) {
                form method="post" action=(card.action) enctype="multipart/form-data" {
                    (token_field(token))
                    div.field {
                        label for="file" { "CSV file" }
                        input #file type="file" name="file" accept=".csv,text/csv" required;
                    }
                    input type="hidden" name="action" value="preview";
                    button type="submit" { "Preview" }
                }
            }
        }
    }
}

/// Whether a page with this form's errors and this import answers 200 or 422.
fn page_status(errors: &[FieldError], import: Option<&ImportView>) -> StatusCode {
    if errors.is_empty() && import.is_none_or(|v| v.written || v.ok()) {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

/// An import of `text`: each row read by `parse` (its errors by line), then every readable row
/// through `each` in one batch (a preview keeps nothing; an apply keeps all or nothing).
async fn run_import<T, R>(
    app: &App,
    text: String,
    apply: bool,
    parse: impl Fn(&Posted) -> Result<T, Vec<FieldError>>,
    each: impl FnMut(&mut crate::core::AnyConnection, T) -> admin::AdminResult<R> + Send + 'static,
) -> Result<ImportView, HttpResponse>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let rows = match forms::csv_rows(&text, MAX_ROWS) {
        Err(e) => return Ok(ImportView::refused(text, e)),
        Ok(rows) if rows.is_empty() => {
            return Ok(ImportView::refused(
                text,
                "no rows under the header line".into(),
            ))
        }
        Ok(rows) => rows,
    };
    let handles: Vec<(u64, String)> = rows
        .iter()
        .map(|(line, r)| (*line, r.get("handle").to_string()))
        .collect();
    let parsed: Vec<Result<T, Vec<FieldError>>> = rows.iter().map(|(_, r)| parse(r)).collect();
    let mut errors: Vec<Vec<String>> = parsed
        .iter()
        .map(|p| p.as_ref().err().map(|e| messages(e)).unwrap_or_default())
        .collect();
    let items: Vec<Option<T>> = parsed.into_iter().map(Result::ok).collect();
    let batch = page_of(
        app.read(move |conn| admin::batch(conn, items, apply, each))
            .await,
    )?;
    for (slot, outcome) in errors.iter_mut().zip(batch.outcomes) {
        if let Some(Err(e)) = outcome {
            *slot = messages(&errors_of(e.into()));
        }
    }
    Ok(ImportView {
        text,
        rows: handles
            .into_iter()
            .zip(errors)
            .map(|((line, h), e)| (line, h, e))
            .collect(),
        file_error: None,
        written: batch.written,
    })
}

async fn influencers_page(app: &App, signed: &Signed, state: InfluencersState) -> Page {
    let brand_id = signed.key.brand_id.clone();
    let list = page_of(
        app.read(move |conn| influencers::list(conn, &brand_id, &ListFilter::default(), &ALL))
            .await,
    )?;
    let fields = influencer_fields();
    let status = page_status(&state.errors, state.import.as_ref());
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " }
        h1 { "Influencers" }
        @if let Some(h) = &state.added { p.notice role="status" { strong.good { "Added @" (h) "." } } }
        div.grid {
            (form_card("Add an influencer", "/dashboard/influencers", &fields, &state.posted, &state.errors, &signed.form_token, "Add influencer"))
            (import_card(&ImportCard {
                title: "Import from a CSV file",
                help: CSV_HELP,
                action: "/dashboard/influencers/import",
                done: ("Imported", "influencers"),
                apply: "import",
                who: "Handle",
            }, &signed.form_token, state.import.as_ref()))
        }
        h2 { (list.len().min(500)) " influencers" }
        @if list.is_empty() { p { "None yet." } } @else {
            div.scroll { table {
                thead { tr { th scope="col" { "Handle" } th scope="col" { "Display name" } th scope="col" { "Platforms" } th scope="col" { "Tags" } } }
                tbody { @for i in list.iter().take(500) { tr {
                    th scope="row" { "@" (i.row.handle) }
                    td { (i.row.display_name) }
                    td { (i.platforms.iter().map(|p| match p.followers { Some(f) => format!("{} ({} followers)", p.platform, super::grouped(&f.to_string())), None => p.platform.clone() }).collect::<Vec<_>>().join(", ")) }
                    td { (i.tags.join(", ")) }
                } } }
            } }
        }
    };
    Ok(render(status, "Influencers", Some(signed), body))
}

/// `GET /dashboard/influencers`
pub async fn influencers(app: App, req: HttpRequest) -> HttpResponse {
    either(
        async {
            let signed = admin_session(&app, &req).await?;
            influencers_page(&app, &signed, InfluencersState::default()).await
        }
        .await,
    )
}

/// `POST /dashboard/influencers`: one influencer.
pub async fn add_influencer(app: App, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let posted = Posted::parse(&body);
    either(
        async {
            let signed = admin_post(&app, &req, posted.token()).await?;
            let input = match influencer_input(&posted) {
                Ok(i) => i,
                Err(errors) => {
                    let state = InfluencersState {
                        posted,
                        errors,
                        ..Default::default()
                    };
                    return Err(either(influencers_page(&app, &signed, state).await));
                }
            };
            let brand_id = signed.key.brand_id.clone();
            let result = app
                .read(move |conn| influencers::create(conn, &brand_id, input))
                .await;
            let state = match result {
                Ok(i) => InfluencersState {
                    added: Some(i.row.handle),
                    ..Default::default()
                },
                Err(e) => InfluencersState {
                    posted,
                    errors: errors_of(e.into()),
                    ..Default::default()
                },
            };
            influencers_page(&app, &signed, state).await
        }
        .await,
    )
}

/// A form that may come as `multipart/form-data` (a file) or urlencoded (text corrected in
/// the preview): its fields, a file's text as the field `csv`.
async fn upload(req: &HttpRequest, payload: web::Payload) -> Result<Posted, HttpResponse> {
    let too_large = || {
        error_page(ApiError::BadRequest(format!(
            "the file is larger than {} KiB",
            MAX_UPLOAD / 1024
        )))
    };
    let multipart = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !multipart {
        let mut bytes = web::BytesMut::new();
        let mut payload = payload;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| error_page(ApiError::BadRequest(e.to_string())))?;
            if bytes.len() + chunk.len() > MAX_UPLOAD {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        return Ok(Posted::parse(&bytes));
    }
    let mut form = actix_multipart::Multipart::new(req.headers(), payload);
    let mut out = Posted::default();
    let mut total = 0;
    while let Some(field) = form.next().await {
        let mut field =
            field.map_err(|e| error_page(ApiError::BadRequest(format!("the form: {e}"))))?;
        let name = match field.name() {
            Some("file") => "csv".to_string(),
            Some(n) => n.to_string(),
            None => continue,
        };
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| error_page(ApiError::BadRequest(format!("the form: {e}"))))?;
            total += chunk.len();
            if total > MAX_UPLOAD {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(bytes).map_err(|_| {
            error_page(ApiError::BadRequest(
                "the file is not UTF-8 text: save it as CSV UTF-8".into(),
            ))
        })?;
        out.0.push((name, text));
    }
    Ok(out)
}

/// `POST /dashboard/influencers/import`: `action=preview` runs every row and keeps nothing;
/// `action=apply` writes every row or, when any fails, nothing.
pub async fn import_influencers(app: App, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    either(
        async {
            let posted = upload(&req, payload).await?;
            let signed = admin_post(&app, &req, posted.token()).await?;
            let text = posted.get("csv").to_string();
            let apply = posted.get("action") == "apply";
            let brand_id = signed.key.brand_id.clone();
            let view = run_import(&app, text, apply, influencer_input, move |conn, i| {
                influencers::create(conn, &brand_id, i)
            })
            .await?;
            let state = InfluencersState {
                import: Some(view),
                ..Default::default()
            };
            influencers_page(&app, &signed, state).await
        }
        .await,
    )
}

fn messages(errors: &[FieldError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| {
            if e.field.is_empty() {
                e.message.clone()
            } else {
                format!("{}: {}", e.field, e.message)
            }
        })
        .collect()
}

// --- enrolments and links --------------------------------------------------------------

const DISCOUNT_TYPES: &[(&str, &str)] = &[
    ("", "Default (10 percent)"),
    ("percent", "Percent"),
    ("fixed", "Fixed amount"),
];

fn enroll_fields(choices: Vec<(String, String)>) -> Vec<Field> {
    vec![
        Field::new("influencer_id", "Influencer", Kind::Choice)
            .required()
            .options(choices),
        Field::new("fee", "Fee", Kind::Decimal).hint("A flat fee in the campaign's currency"),
        Field::new("commission_rate", "Commission rate", Kind::Decimal)
            .hint("A share of net revenue: 0.10 is 10%"),
        Field::new("code", "Discount code", Kind::Text)
            .hint("e.g. ANNA15; made from the handle when empty"),
        Field::new(
            "discount.type",
            "Discount type",
            Kind::Select(DISCOUNT_TYPES),
        ),
        Field::new("discount.value", "Discount value", Kind::Decimal)
            .hint("Percent (0–100) or an amount"),
    ]
}

async fn enroll_page(
    app: &App,
    signed: &Signed,
    id: &CampaignId,
    posted: &Posted,
    errors: &[FieldError],
) -> Page {
    let c = load_campaign(app, signed, id).await?;
    let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
    let public_url = app.public_url().to_string();
    let (all, enrolled) = page_of(
        app.read(move |conn| {
            let all = influencers::list(conn, &brand_id, &ListFilter::default(), &ALL)?;
            let enrolled = enrollments::list(conn, &public_url, &brand_id, &cid, &ALL)?;
            Ok::<_, AdminError>((all, enrolled))
        })
        .await,
    )?;
    let mut choices = vec![(String::new(), "Choose…".to_string())];
    choices.extend(
        all.iter()
            .filter(|i| !enrolled.iter().any(|e| e.influencer_id == i.row.id))
            .map(|i| {
                (
                    i.row.id.to_string(),
                    format!("@{} ({})", i.row.handle, i.row.display_name),
                )
            }),
    );
    let none_left = choices.len() == 1;
    let fields = enroll_fields(choices);
    let action = format!("/dashboard/campaigns/{id}/enroll");
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (c.id) } { (c.name) } " /" }
        h1 { "Enroll in " (c.name) }
        p.meta { "Each enrolment gets a tracking link and a discount code at once. Amounts in " (c.currency) "." }
        @if none_left {
            p.notice { "Every influencer of the brand is enrolled. " a href="/dashboard/influencers" { "Add influencers" } " first." }
        } @else {
            (form_card("Terms", &action, &fields, posted, errors, &signed.form_token, "Enroll"))
        }
        @if !enrolled.is_empty() {
            h2 { "Enrolled" }
            ul { @for e in &enrolled { li { a href={ "/dashboard/campaigns/" (c.id) "/influencers/" (e.influencer_id) } { "@" (e.handle) } " · fee " (e.fee) " · commission " (super::rate_percent(&e.commission_rate)) } } }
        }
    };
    Ok(render(status_of(errors), "Enroll", Some(signed), body))
}

/// `GET /dashboard/campaigns/{campaign_id}/enroll`
pub async fn enroll_form(app: App, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    either(
        async {
            let signed = admin_session(&app, &req).await?;
            let id = path_id(&path, CampaignId::parse)?;
            enroll_page(&app, &signed, &id, &Posted::default(), &[]).await
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/enroll`
pub async fn enroll(
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
            let input: Enroll = match forms::read(&enroll_fields(vec![]), &posted) {
                Ok(i) => i,
                Err(errors) => return enroll_page(&app, &signed, &id, &posted, &errors).await,
            };
            let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
            let public_url = app.public_url().to_string();
            match app
                .write(move |conn| enrollments::enroll(conn, &public_url, &brand_id, &cid, input))
                .await
            {
                Ok(e) => Ok(redirect(&format!(
                    "/dashboard/campaigns/{id}/influencers/{}",
                    e.enrollment.influencer_id
                ))),
                Err(e) => enroll_page(&app, &signed, &id, &posted, &refused(e.into())?).await,
            }
        }
        .await,
    )
}

pub fn link_fields() -> Vec<Field> {
    vec![
        Field::new("label", "Label", Kind::Text).hint("e.g. the post it is for"),
        Field::new("destination_url", "Destination URL", Kind::Url)
            .hint("The campaign's when empty"),
        Field::new("utm.source", "UTM source", Kind::Text),
        Field::new("utm.medium", "UTM medium", Kind::Text),
        Field::new("utm.content", "UTM content", Kind::Text),
        Field::new("apply_code", "Apply code", Kind::YesNo)
            .hint("Carry the discount code into the shop (default: the campaign's setting)"),
        Field::new("paid", "Paid link", Kind::Check)
            .hint("Used in an ad: its clicks and sales count as paid"),
    ]
}

/// The "more links" form of an enrolment's page.
pub fn link_form(
    campaign_id: &CampaignId,
    e: &EnrollmentView,
    token: &str,
    posted: &Posted,
    errors: &[FieldError],
) -> Markup {
    let action = format!(
        "/dashboard/campaigns/{campaign_id}/influencers/{}/links",
        e.influencer_id
    );
    form_card(
        "Add a link",
        &action,
        &link_fields(),
        posted,
        errors,
        token,
        "Add link",
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/influencers/{influencer_id}/links`
pub async fn add_link(
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
            let cid = path_id(&raw_c, CampaignId::parse)?;
            let iid = path_id(&raw_i, InfluencerId::parse)?;
            let input: CreateLink = match forms::read(&link_fields(), &posted) {
                Ok(i) => i,
                Err(errors) => {
                    return super::influencer_page(app, req, (raw_c, raw_i), Some((posted, errors)))
                        .await
                }
            };
            let brand_id = signed.key.brand_id.clone();
            let public_url = app.public_url().to_string();
            let (c, i) = (cid.clone(), iid.clone());
            match app
                .write(move |conn| links::create(conn, &public_url, &brand_id, &c, &i, input))
                .await
            {
                Ok(_) => Ok(redirect(&format!(
                    "/dashboard/campaigns/{cid}/influencers/{iid}#links"
                ))),
                Err(e) => {
                    super::influencer_page(
                        app,
                        req,
                        (raw_c, raw_i),
                        Some((posted, errors_of(e.into()))),
                    )
                    .await
                }
            }
        }
        .await,
    )
}

// --- post metrics ----------------------------------------------------------------------

fn post_fields(choices: Vec<(String, String)>) -> Vec<Field> {
    vec![
        Field::new("handle", "Influencer", Kind::Choice)
            .required()
            .options(choices),
        Field::new("post_url", "Post URL", Kind::Url).required(),
        Field::new("platform", "Platform", Kind::Text)
            .required()
            .hint("e.g. instagram"),
        Field::new("paid", "Paid", Kind::Check).hint("Boosted with ad spend"),
        Field::new("impressions", "Impressions", Kind::Int),
        Field::new("reach", "Reach", Kind::Int),
        Field::new("likes", "Likes", Kind::Int),
        Field::new("comments", "Comments", Kind::Int),
        Field::new("shares", "Shares", Kind::Int),
        Field::new("saves", "Saves", Kind::Int),
        Field::new("video_views", "Video views", Kind::Int),
        Field::new("posted_at", "Posted at", Kind::DateTime).hint("UTC"),
    ]
}

/// A post row (form or CSV): the handle it names and the API's input.
fn post_input(
    posted: &Posted,
    enrolled: &[EnrollmentView],
) -> Result<(InfluencerId, PostInput), Vec<FieldError>> {
    let mut posted = posted.clone();
    let handle = posted
        .get("handle")
        .trim()
        .trim_start_matches('@')
        .to_string();
    let matching: Vec<&EnrollmentView> = enrolled
        .iter()
        .filter(|e| e.handle.eq_ignore_ascii_case(&handle))
        .collect();
    if matching.len() > 1 {
        // A deleted influencer's enrolment keeps its handle, which a new one may take.
        return Err(vec![FieldError::new(
            "handle",
            format!("@{handle} names {} enrolments of this campaign: use the API with the influencer's id", matching.len()),
        )]);
    }
    let who = matching.first().copied();
    // A CSV says paid as true/false/yes/no/1/0.
    let paid = posted.get("paid").trim().to_ascii_lowercase();
    posted.set(
        "paid",
        if matches!(paid.as_str(), "true" | "yes" | "1" | "on") {
            "true"
        } else {
            ""
        },
    );
    let fields: Vec<Field> = post_fields(vec![])
        .into_iter()
        .filter(|f| f.name != "handle")
        .collect();
    let parsed: Result<PostInput, Vec<FieldError>> = forms::read(&fields, &posted);
    match (who, parsed) {
        (Some(e), Ok(p)) => Ok((e.influencer_id.clone(), p)),
        (None, parsed) => {
            let mut errors = vec![FieldError::new(
                "handle",
                if handle.is_empty() {
                    "name the influencer".to_string()
                } else {
                    format!("@{handle} is not enrolled in this campaign")
                },
            )];
            errors.extend(parsed.err().unwrap_or_default());
            Err(errors)
        }
        (Some(_), Err(e)) => Err(e),
    }
}

const POSTS_CSV_HELP: &str = "Columns named as the API names the fields: handle, post_url, platform (required), paid (yes/no), impressions, reach, likes, comments, shares, saves, video_views, posted_at. A post already recorded (same URL) gets the new figures.";

#[derive(Default)]
struct PostsState {
    posted: Posted,
    errors: Vec<FieldError>,
    saved: Option<String>,
    import: Option<ImportView>,
}

async fn posts_page(app: &App, signed: &Signed, id: &CampaignId, state: PostsState) -> Page {
    let c = load_campaign(app, signed, id).await?;
    let enrolled = enrolled(app, signed, id).await?;
    let mut choices = vec![(String::new(), "Choose…".to_string())];
    choices.extend(
        enrolled
            .iter()
            .map(|e| (e.handle.clone(), format!("@{}", e.handle))),
    );
    let fields = post_fields(choices);
    let action = format!("/dashboard/campaigns/{id}/posts");
    let import_action = format!("/dashboard/campaigns/{id}/posts/import");
    let token = &signed.form_token;
    let status = page_status(&state.errors, state.import.as_ref());
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " a href={ "/dashboard/campaigns/" (c.id) } { (c.name) } " /" }
        h1 { "Post metrics" }
        @if let Some(s) = &state.saved { p.notice role="status" { strong.good { (s) } } }
        div.grid {
            (form_card("One post", &action, &fields, &state.posted, &state.errors, token, "Save post"))
            (import_card(&ImportCard {
                title: "From a CSV file",
                help: POSTS_CSV_HELP,
                action: &import_action,
                done: ("Saved", "posts"),
                apply: "save",
                who: "Influencer",
            }, token, state.import.as_ref()))
        }
    };
    Ok(render(status, "Post metrics", Some(signed), body))
}

pub(super) async fn enrolled(
    app: &App,
    signed: &Signed,
    id: &CampaignId,
) -> Result<Vec<EnrollmentView>, HttpResponse> {
    let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
    let public_url = app.public_url().to_string();
    page_of(
        app.read(move |conn| enrollments::list(conn, &public_url, &brand_id, &cid, &ALL))
            .await,
    )
}

/// `GET /dashboard/campaigns/{campaign_id}/posts`
pub async fn posts(app: App, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    either(
        async {
            let signed = admin_session(&app, &req).await?;
            let id = path_id(&path, CampaignId::parse)?;
            posts_page(&app, &signed, &id, PostsState::default()).await
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/posts`: one post's latest figures.
pub async fn save_post(
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
            let enrolled = enrolled(&app, &signed, &id).await?;
            let (iid, input) = match post_input(&posted, &enrolled) {
                Ok(x) => x,
                Err(errors) => {
                    let state = PostsState {
                        posted,
                        errors,
                        ..Default::default()
                    };
                    return posts_page(&app, &signed, &id, state).await;
                }
            };
            let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
            let result = app
                .read(move |conn| posts::upsert(conn, &brand_id, &cid, &iid, input))
                .await;
            let state = match result {
                Ok((view, created)) => PostsState {
                    saved: Some(format!(
                        "{} {}",
                        if created { "Saved" } else { "Updated" },
                        view.post_url
                    )),
                    ..Default::default()
                },
                Err(e) => PostsState {
                    posted,
                    errors: errors_of(e.into()),
                    ..Default::default()
                },
            };
            posts_page(&app, &signed, &id, state).await
        }
        .await,
    )
}

/// `POST /dashboard/campaigns/{campaign_id}/posts/import`
pub async fn import_posts(
    app: App,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    either(
        async {
            let posted = upload(&req, payload).await?;
            let signed = admin_post(&app, &req, posted.token()).await?;
            let id = path_id(&path, CampaignId::parse)?;
            let enrolled = enrolled(&app, &signed, &id).await?;
            let text = posted.get("csv").to_string();
            let apply = posted.get("action") == "apply";
            let (brand_id, cid) = (signed.key.brand_id.clone(), id.clone());
            let parse = |r: &Posted| post_input(r, &enrolled);
            let view = run_import(&app, text, apply, parse, move |conn, (iid, p)| {
                posts::upsert(conn, &brand_id, &cid, &iid, p)
            })
            .await?;
            let state = PostsState {
                import: Some(view),
                ..Default::default()
            };
            posts_page(&app, &signed, &id, state).await
        }
        .await,
    )
}

// --- keys ------------------------------------------------------------------------------

const SCOPES: &[(&str, &str)] = &[
    ("admin", "Admin: everything"),
    ("read", "Read: reports and the dashboard"),
    ("storefront", "Storefront: orders and code checks"),
    ("influencer", "Influencer: their own figures"),
];

fn key_fields(choices: Vec<(String, String)>) -> Vec<Field> {
    vec![
        Field::new("scope", "Scope", Kind::Select(SCOPES)).required(),
        Field::new("name", "Name", Kind::Text).hint("e.g. the shop, or who uses it"),
        Field::new("influencer_id", "Influencer", Kind::Choice)
            .options(choices)
            .hint("For an influencer key only"),
    ]
}

async fn keys_page(
    app: &App,
    signed: &Signed,
    posted: &Posted,
    errors: &[FieldError],
    created: Option<&keys::CreatedKey>,
) -> Page {
    let brand_id = signed.key.brand_id.clone();
    let (rows, people) = page_of(
        app.read(move |conn| {
            let rows = keys::list(conn, &brand_id, &ALL)?;
            let people = influencers::list(conn, &brand_id, &ListFilter::default(), &ALL)?;
            Ok::<_, AdminError>((rows, people))
        })
        .await,
    )?;
    let mut choices = vec![(String::new(), "—".to_string())];
    choices.extend(
        people
            .iter()
            .map(|i| (i.row.id.to_string(), format!("@{}", i.row.handle))),
    );
    let handle = |id: &InfluencerId| {
        people
            .iter()
            .find(|i| &i.row.id == id)
            .map(|i| format!("@{}", i.row.handle))
            .unwrap_or_default()
    };
    let token = &signed.form_token;
    let body = html! {
        p.crumbs { a href="/dashboard" { "Campaigns" } " / " }
        h1 { "Keys" }
        @if let Some(k) = created {
            section.card.notice role="status" {
                h2 { "Your new " (k.view.scope.as_str()) " key" }
                p { "Copy it now: it is shown only this once and cannot be recovered." }
                p { code #new-key { (k.key) } " " button.copy type="button" data-copy=(k.key) { "Copy" } }
            }
        }
        (form_card("Create a key", "/dashboard/keys", &key_fields(choices), posted, errors, token, "Create key"))
        h2 { "Keys of the brand" }
        div.scroll { table {
            thead { tr { th scope="col" { "Name" } th scope="col" { "Scope" } th scope="col" { "Influencer" } th scope="col" { "Created" } th scope="col" { "State" } th.actions scope="col" { span.sr { "Actions" } } } }
            tbody { @for k in rows.iter().take(500) { tr {
                th scope="row" { (k.name) }
                td { (k.scope.as_str()) }
                td { (k.influencer_id.as_ref().map(handle).unwrap_or_default()) }
                td { (crate::domain::time::rfc3339(k.created_at).chars().take(10).collect::<String>()) }
                td { @if k.revoked_at.is_some() { span.badge.bad { "revoked" } } @else { span.badge { "active" } } }
                td.actions { @if k.revoked_at.is_none() {
                    form method="post" action={ "/dashboard/keys/" (k.id) "/revoke" } {
                        (token_field(token))
                        button.danger type="submit" { "Revoke" }
                    }
                } }
            } } }
        } }
        p.hint { "Revoking the key you signed in with ends this session." }
    };
    Ok(render(status_of(errors), "Keys", Some(signed), body))
}

/// `GET /dashboard/keys`
pub async fn keys(app: App, req: HttpRequest) -> HttpResponse {
    either(
        async {
            let signed = admin_session(&app, &req).await?;
            keys_page(&app, &signed, &Posted::default(), &[], None).await
        }
        .await,
    )
}

/// `POST /dashboard/keys`: the new key, shown once.
pub async fn create_key(app: App, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let posted = Posted::parse(&body);
    either(
        async {
            let signed = admin_post(&app, &req, posted.token()).await?;
            let input: CreateKey = match forms::read(&key_fields(vec![]), &posted) {
                Ok(i) => i,
                Err(errors) => return keys_page(&app, &signed, &posted, &errors, None).await,
            };
            let brand_id = signed.key.brand_id.clone();
            match app
                .read(move |conn| keys::create(conn, &brand_id, input))
                .await
            {
                Ok(created) => {
                    keys_page(&app, &signed, &Posted::default(), &[], Some(&created)).await
                }
                Err(e) => keys_page(&app, &signed, &posted, &refused(e.into())?, None).await,
            }
        }
        .await,
    )
}

/// `POST /dashboard/keys/{key_id}/revoke`
pub async fn revoke_key(
    app: App,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let posted = Posted::parse(&body);
    either(
        async {
            let signed = admin_post(&app, &req, posted.token()).await?;
            let id = path_id(&path, KeyId::parse)?;
            let brand_id = signed.key.brand_id.clone();
            page_of(
                app.read(move |conn| keys::revoke(conn, Some(&brand_id), &id))
                    .await,
            )?;
            Ok(redirect("/dashboard/keys"))
        }
        .await,
    )
}
