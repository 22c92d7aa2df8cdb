//! The baseline of the redirect benchmark: actix-web answering 302 from an in-memory map,
//! with no database and no click recording. `bare_redirect <codes file> <bind address>`;
//! the file holds one `code<TAB>url` per line.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::{http::header, web, App, HttpResponse, HttpServer};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let file = args
        .next()
        .expect("usage: bare_redirect <codes file> <bind>");
    let bind = args.next().unwrap_or_else(|| "127.0.0.1:8090".into());
    let links: HashMap<String, String> = std::fs::read_to_string(file)?
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(code, url)| (code.to_string(), url.to_string()))
        .collect();
    let links = Arc::new(links);
    eprintln!("bare redirect: {} links on {bind}", links.len());
    HttpServer::new(move || {
        let links = links.clone();
        App::new().route(
            "/r/{code}",
            web::get().to(move |code: web::Path<String>| {
                let links = links.clone();
                async move {
                    match links.get(code.as_str()) {
                        Some(url) => HttpResponse::Found()
                            .insert_header((header::LOCATION, url.as_str()))
                            .finish(),
                        None => HttpResponse::NotFound().finish(),
                    }
                }
            }),
        )
    })
    .bind(bind)?
    .run()
    .await
}
