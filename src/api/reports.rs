//! Reports (leaderboard as JSON or CSV, campaign report, time series, funnel) and post
//! metrics.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::api::App;
use crate::core::admin::posts::{self, PostInput};
use crate::core::auth::Principal;
use crate::core::reporting::funnel::{self, FunnelQuery};
use crate::core::reporting::leaderboard::{self, LeaderboardQuery, LeaderboardRow};
use crate::core::reporting::report::{self, ReportQuery};
use crate::core::reporting::timeseries::{self, TimeseriesQuery};
use crate::core::reporting::{self, Reader};
use crate::domain::ids::CampaignId;
use crate::domain::scope::Access;
use crate::web::csv::{csv_of, leaderboard_columns};
use crate::web::extract::{path_id, Json, Query};
use crate::web::problem::ApiResult;

/// Whether the client prefers CSV to JSON (by `Accept` and its q-values; JSON on a tie).
pub fn wants_csv(request: &HttpRequest) -> bool {
    let Some(accept) = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let (mut csv, mut json) = (0.0_f32, 0.0_f32);
    for part in accept.split(',') {
        let mut fields = part.split(';');
        let media = fields
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        let q = fields
            .filter_map(|f| {
                f.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
            })
            .next()
            .unwrap_or(1.0);
        match media.as_str() {
            "text/csv" => csv = csv.max(q),
            "application/json" | "application/*" | "*/*" => json = json.max(q),
            _ => {}
        }
    }
    csv > 0.0 && csv > json
}

/// `GET /api/v1/campaigns/{campaign_id}/leaderboard` (JSON, or CSV when `Accept` prefers it)
pub async fn leaderboard(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<LeaderboardQuery>,
    request: HttpRequest,
) -> ApiResult<HttpResponse> {
    let reader = Reader::of(&principal)?;
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let board = app
        .read(move |conn| {
            let switch = query.0.exclusions.clone();
            reporting::scoped(&reader, switch.as_deref(), || {
                leaderboard::leaderboard(conn, &reader, &campaign_id, query.0)
            })
        })
        .await?;
    if wants_csv(&request) {
        let body = csv_of::<LeaderboardRow>(&leaderboard_columns(), &board.items)?;
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"leaderboard-{}.csv\"",
                    board.campaign_id
                ),
            ))
            .body(body));
    }
    Ok(HttpResponse::Ok().json(board))
}

/// `GET /api/v1/campaigns/{campaign_id}/report`
pub async fn report(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<ReportQuery>,
) -> ApiResult<HttpResponse> {
    let reader = Reader::of(&principal)?;
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let (model, window) = report::parse(&query.0)?;
    let report = app
        .read(move |conn| {
            reporting::scoped(&reader, query.0.exclusions.as_deref(), || {
                report::report(conn, &reader, &campaign_id, model, window)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// `GET /api/v1/campaigns/{campaign_id}/timeseries`
pub async fn timeseries(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<TimeseriesQuery>,
) -> ApiResult<HttpResponse> {
    let reader = Reader::of(&principal)?;
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let plan = timeseries::plan(&query.0, chrono::Utc::now())?;
    let series = app
        .read(move |conn| {
            reporting::scoped(&reader, query.0.exclusions.as_deref(), || {
                timeseries::timeseries(conn, &reader, &campaign_id, plan)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(series))
}

/// `GET /api/v1/campaigns/{campaign_id}/funnel`: clicks → landing views → leads → sign-ups →
/// trials → add to cart → checkout → orders, per influencer and in total.
pub async fn funnel(
    app: App,
    principal: Principal,
    path: web::Path<String>,
    query: Query<FunnelQuery>,
) -> ApiResult<HttpResponse> {
    let reader = Reader::of(&principal)?;
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let funnel = app
        .read(move |conn| {
            let switch = query.0.exclusions.clone();
            reporting::scoped(&reader, switch.as_deref(), || {
                funnel::funnel(conn, &reader, &campaign_id, query.0)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(funnel))
}

/// `POST /api/v1/campaigns/{campaign_id}/influencers/{influencer_id}/posts`: records a post or
/// replaces its metrics with the latest (one post per URL).
pub async fn upsert_post(
    app: App,
    principal: Principal,
    path: web::Path<(String, String)>,
    body: Json<PostInput>,
) -> ApiResult<HttpResponse> {
    let brand_id = principal.brand(Access::Write)?.brand_id.clone();
    let (campaign_id, influencer_id) = crate::api::enrollments::pair(&path)?;
    let (view, created) = app
        .read(move |conn| posts::upsert(conn, &brand_id, &campaign_id, &influencer_id, body.0))
        .await?;
    Ok(if created {
        HttpResponse::Created().json(view)
    } else {
        HttpResponse::Ok().json(view)
    })
}

/// `GET /api/v1/campaigns/{campaign_id}/flags`: the campaign's fraud signals now.
pub async fn flags(
    app: App,
    principal: Principal,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let reader = Reader::brand(principal.brand(Access::Read)?.brand_id.clone());
    let campaign_id = path_id(&path, CampaignId::parse)?;
    let flags = app
        .read(move |conn| crate::core::fraud::flags(conn, &reader, &campaign_id))
        .await?;
    Ok(HttpResponse::Ok().json(flags))
}
