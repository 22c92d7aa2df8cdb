//! The operator's shell: brands and keys administered with subcommands, on the same database
//! the server uses.

use std::process::Command;

use serde_json::Value;

use crate::helpers::*;

pub(crate) fn influtrack(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_influtrack"))
        .args(args)
        .env("INFLUTRACK_DATABASE_URL", db)
        .env("INFLUTRACK_LOG", "error")
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn brands_and_keys_are_administered_from_the_shell() {
    let db = TestDb::new();
    let url = db.url();
    let (ok, out, err) = influtrack(&url, &["migrate"]);
    assert!(ok, "{err}");
    assert!(out.contains("migrations applied"));

    let (ok, out, err) = influtrack(&url, &["brands", "create", "--name", "Shell Brand"]);
    assert!(ok, "{err}");
    let brand: Value = serde_json::from_str(&out).unwrap();
    let brand_id = brand["id"].as_str().unwrap().to_string();
    let admin = brand["admin_key"].as_str().unwrap().to_string();

    let (ok, out, _) = influtrack(&url, &["brands", "list"]);
    assert!(ok && out.contains("Shell Brand"));
    let (ok, out, err) = influtrack(
        &url,
        &[
            "keys", "create", "--brand", &brand_id, "--scope", "read", "--name", "bi",
        ],
    );
    assert!(ok, "{err}");
    let read: Value = serde_json::from_str(&out).unwrap();
    let (ok, out, _) = influtrack(&url, &["keys", "list", "--brand", &brand_id]);
    assert!(ok);
    assert!(
        !out.contains(read["key"].as_str().unwrap()),
        "a listed key shows its secret"
    );

    // Bad input is a clear error, not a panic.
    let (ok, _, err) = influtrack(
        &url,
        &["keys", "create", "--brand", &brand_id, "--scope", "root"],
    );
    assert!(
        !ok && err.contains("admin, read, storefront, influencer"),
        "{err}"
    );
    let (ok, _, err) = influtrack(&url, &["brands", "create", "--name", "  "]);
    assert!(!ok && err.contains("name"), "{err}");

    // A key revoked from the shell is refused by the server; the shell's brand is served.
    let (ok, _, err) = influtrack(&url, &["keys", "revoke", read["id"].as_str().unwrap()]);
    assert!(ok, "{err}");
    let (ok, _, err) = influtrack(&url, &["keys", "revoke", "no-such-key"]);
    assert!(!ok && err.contains("no key"), "{err}");
    let settings = settings_for(&db);
    let app = spawn_with(db, settings).await;
    let r = app.get(&format!("/api/v1/brands/{brand_id}"), &admin).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["name"], "Shell Brand");
    app.get(
        &format!("/api/v1/brands/{brand_id}"),
        read["key"].as_str().unwrap(),
    )
    .await
    .problem(401);
}
