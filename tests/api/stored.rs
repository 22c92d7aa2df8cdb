//! What is read back from the database is what was written, or an error naming where it is:
//! a stored value that does not parse is never read as a default.

use diesel::connection::SimpleConnection;
use influtrack::db::{open_connection, DatabaseUrl};
use influtrack::domain::ids::{BrandId, CampaignId};
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn a_stored_value_that_does_not_parse_names_its_row_and_is_never_a_default() {
    let app = spawn_app().await;
    let (brand_id, admin) = app.create_brand("Acme").await;
    let r = app
        .post(
            "/api/v1/campaigns",
            &admin,
            json!({"name": "Spring", "destination_url": "https://shop.example/", "currency": "EUR"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let campaign_id = r.json()["id"].as_str().unwrap().to_string();
    let url = DatabaseUrl::parse(&app.db.url()).unwrap();
    let mut conn = open_connection(&url).unwrap();
    conn.batch_execute(&format!(
        "UPDATE campaigns SET attribution_model = 'best_guess' WHERE id = '{campaign_id}'"
    ))
    .unwrap();

    let read = influtrack::store::campaigns::find(
        &mut conn,
        &BrandId::parse(&brand_id).unwrap(),
        &CampaignId::parse(&campaign_id).unwrap(),
    );
    let error = read
        .expect_err("a model that is none is an error")
        .to_string();
    assert!(
        error.contains(&format!(
            "campaigns row {campaign_id}: column attribution_model: \"best_guess\" is not a valid attribution model"
        )),
        "{error}"
    );
    // Through the API: a server error (logged with the row), not a campaign with a guessed
    // model.
    let r = app
        .get(&format!("/api/v1/campaigns/{campaign_id}"), &admin)
        .await;
    r.problem(500);
    assert!(!r.text.contains("last_click"), "{}", r.text);
    // The rest of the brand's data still reads.
    let r = app.get("/api/v1/influencers", &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
}
