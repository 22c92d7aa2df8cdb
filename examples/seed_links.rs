//! Seeds a running influtrack with one brand, one campaign and N enrolled influencers (one
//! link each), over the public API. Prints `code<TAB>tracking url` lines to stdout.
//! `seed_links <base url> <operator token> <n>`

use serde_json::{json, Value};

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .expect("usage: seed_links <base url> <operator token> <n>");
    let operator = args.next().expect("operator token");
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let client = reqwest::Client::new();
    let post = |path: String, key: String, body: Value| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let r = client
                .post(format!("{base}{path}"))
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .expect("request");
            let status = r.status();
            let body: Value = r.json().await.expect("json");
            assert!(status.is_success(), "{path}: {status} {body}");
            body
        }
    };
    let brand = post("/api/v1/brands".into(), operator, json!({"name": "Bench"})).await;
    let admin = brand["admin_key"].as_str().unwrap().to_string();
    let campaign = post(
        "/api/v1/campaigns".into(),
        admin.clone(),
        json!({"name": "Bench", "destination_url": "https://shop.example/landing?ref=bench", "currency": "EUR"}),
    )
    .await;
    let campaign_id = campaign["id"].as_str().unwrap().to_string();
    let mut done = 0;
    while done < n {
        let batch: Vec<_> = (done..(done + 32).min(n))
            .map(|i| {
                let (admin, campaign_id, post) = (admin.clone(), campaign_id.clone(), &post);
                async move {
                    let inf = post(
                        "/api/v1/influencers".into(),
                        admin.clone(),
                        json!({"handle": format!("inf{i}")}),
                    )
                    .await;
                    let e = post(
                        format!("/api/v1/campaigns/{campaign_id}/influencers"),
                        admin,
                        json!({"influencer_id": inf["id"]}),
                    )
                    .await;
                    format!(
                        "{}\t{}",
                        e["link"]["code"].as_str().unwrap(),
                        e["link"]["tracking_url"].as_str().unwrap()
                    )
                }
            })
            .collect();
        for line in futures_util::future::join_all(batch).await {
            println!("{line}");
        }
        done = (done + 32).min(n);
    }
}
