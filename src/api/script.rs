//! `GET /t.js`: the first-party script storefronts add to their pages to keep click ids
//! from landing URLs until checkout (see `assets/t.js`).

use actix_web::http::header;
use actix_web::HttpResponse;

const SCRIPT: &str = include_str!("../../assets/t.js");

/// `GET /t.js`
pub async fn tracking_script() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/javascript; charset=utf-8",
        ))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(SCRIPT)
}
