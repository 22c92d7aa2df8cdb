//! The dashboard end to end in headless Chromium (Debian's `chromium`, driven by
//! playwright-core from `tests/e2e`): `dashboard.mjs` signs in to the demo, sorts the
//! leaderboard, previews a prune and checks what the pages show; `workspace.mjs` takes a new
//! brand from empty to a pruned campaign and its successor through the dashboard only. Both
//! save screenshots of each page (laptop and phone) in the test's temporary folder.
//!
//! Needs Chromium and Node.js, so it is not part of `cargo test`: `bash .ci/run` installs them
//! and runs `cargo test --test dashboard -- --ignored`.

use influtrack::config::Settings;
use influtrack::Application;

#[tokio::test]
#[ignore = "needs chromium and node (bash .ci/run installs them)"]
async fn the_dashboard_works_in_a_browser() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("demo.db");
    let mut settings = Settings::for_database(db.to_str().unwrap());
    settings.bind = "127.0.0.1:0".into();
    settings.admin_token = Some("e2e-operator-token-0123456789-abcdefXYZ".into());
    settings.log = "warn".into();
    let mut conn = influtrack::open_admin_connection(&settings).expect("database");
    let demo = influtrack::demo::seed(&mut conn).expect("demo seeded");
    drop(conn);
    let app = Application::build(settings).await.expect("server starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let shots = dir.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let e2e = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e");
    let output = tokio::process::Command::new("node")
        .current_dir(e2e)
        .arg("dashboard.mjs")
        .arg(&base)
        .arg(&demo.admin_key)
        .arg(&demo.influencer_key)
        .arg(&shots)
        .output()
        .await
        .expect("node runs (install Node.js, then `npm install` in tests/e2e)");
    println!("{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    // A brand from empty, through the dashboard: the operator's call that makes the brand
    // (and its admin key, to sign in with) is the only one the brand does not make by hand.
    let brand: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/brands"))
        .bearer_auth("e2e-operator-token-0123456789-abcdefXYZ")
        .json(&serde_json::json!({"name": "Fresh Brand"}))
        .send()
        .await
        .expect("the operator creates a brand")
        .json()
        .await
        .expect("the brand");
    let admin_key = brand["admin_key"]
        .as_str()
        .expect("an admin key")
        .to_string();
    let workspace = tokio::process::Command::new("node")
        .current_dir(e2e)
        .arg("workspace.mjs")
        .arg(&base)
        .arg(&admin_key)
        .arg(&shots)
        .output()
        .await
        .expect("node runs");
    println!("{}", String::from_utf8_lossy(&workspace.stdout));
    eprintln!("{}", String::from_utf8_lossy(&workspace.stderr));
    let kept = std::env::temp_dir().join("influtrack-dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&kept);
    std::fs::create_dir_all(&kept).unwrap();
    for entry in std::fs::read_dir(&shots).unwrap().flatten() {
        let _ = std::fs::copy(entry.path(), kept.join(entry.file_name()));
    }
    println!("screenshots: {}", kept.display());
    handle.stop(true).await;
    assert!(output.status.success(), "the browser run failed");
    assert!(workspace.status.success(), "the workspace run failed");
    assert!(
        std::fs::read_dir(&kept).unwrap().count() >= 2 * (7 + 16),
        "a laptop and a phone screenshot of each page"
    );
}
