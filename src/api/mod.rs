//! The HTTP API: handlers that parse a request, call core and render its answer (JSON, CSV,
//! status codes). They hold no SQL and no rules. Imports `core`, `domain` and `web`.

pub mod brands;
pub mod campaign_loop;
pub mod campaigns;
pub mod codes;
pub mod costs;
pub mod docs;
pub mod enrollments;
pub mod exclusions;
pub mod hooks;
pub mod influencers;
pub mod links;
pub mod ops;
pub mod orders;
pub mod redirect;
pub mod reports;
pub mod webhooks;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Serialize;

use crate::core::ingest::Recorded;
use crate::core::Core;

/// The application, as every handler receives it.
pub type App = web::Data<Core>;

/// 201 for what was recorded now, 200 for a resend of what was recorded before.
pub fn recorded<T: Serialize>(r: Recorded<T>) -> HttpResponse {
    let status = if r.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    HttpResponse::build(status).json(r.view)
}
