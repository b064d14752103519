//! `gatehouse export` and its import: accounts move to a database of the other kind and
//! sign in there as before, password and TOTP included; accounts already present are skipped.

use std::process::Output;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::STORE;
use crate::common::mfa::code_at;
use crate::common::{PASSWORD, StoreKind, TestApp, assert_problem, postgres};

pub async fn gatehouse(database_url: &str, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .env("GATEHOUSE_DATABASE_URL", database_url)
        .env("GATEHOUSE_LOG", "warn")
        .env_remove("GATEHOUSE_JWT_SECRET")
        .output()
        .await
        .expect("gatehouse runs")
}

pub fn succeeded(output: &Output) -> String {
    assert!(output.status.success(), "gatehouse failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A new empty database of the kind this suite does not run on.
async fn other_kind(dir: &tempfile::TempDir) -> String {
    match STORE {
        StoreKind::Sqlite => postgres::shared().create_database().await,
        StoreKind::Postgres => format!("sqlite://{}", dir.path().join("target.db").display()),
    }
}

#[tokio::test]
async fn an_export_imported_into_an_empty_database_of_the_other_kind_signs_everyone_in_with_password_and_totp() {
    let source = TestApp::spawn().await;
    let alice = source.mfa_user("alice").await;
    assert_eq!(source.post_register("bob", Some("bob@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    // A passkey of alice's, as a registration leaves it (the key record is the library's JSON).
    let passkey = gatehouse::store::PasskeyRecord {
        id: uuid::Uuid::now_v7(),
        user_id: alice.user.id.parse().expect("a user id"),
        credential_id: "YWxpY2VzLWtleQ".into(),
        name: "Laptop".into(),
        authenticator: "synced".into(),
        credential: r#"{"cred":{"counter":4}}"#.into(),
        sign_count: 4,
        backup_eligible: true,
        backup_state: true,
        created_at: chrono::Utc::now(),
        last_used_at: Some(chrono::Utc::now()),
    };
    source.state.store.insert_passkey(&passkey).await.expect("a passkey");
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("users.jsonl");

    let exported = succeeded(&gatehouse(&source.database_url, &["export", file.to_str().expect("utf-8")]).await);

    assert!(exported.contains("2 users exported"), "{exported}");
    let text = std::fs::read_to_string(&file).expect("the export");
    let header: Value = serde_json::from_str(text.lines().next().expect("a header")).expect("JSON header");
    assert_eq!(
        (header["format"].as_str(), header["version"].as_u64(), header["users"].as_u64()),
        (Some("gatehouse-export"), Some(u64::from(gatehouse::export::VERSION)), Some(2))
    );
    assert!(header["notice"].as_str().is_some_and(|n| n.contains("readable by its owner only")), "{header}");
    assert!(!text.contains(PASSWORD), "the export holds hashes, never a password");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&file).expect("metadata").permissions().mode() & 0o777, 0o600);
    }

    let target_url = other_kind(&dir).await;
    let imported = succeeded(&gatehouse(&target_url, &["import", file.to_str().expect("utf-8")]).await);
    assert!(imported.contains("imported 2 users, skipped 0"), "{imported}");

    let target = TestApp::spawn_on(&target_url, |_| {}).await;
    assert_eq!(target.post_login("bob@example.com", PASSWORD).await.status(), StatusCode::OK, "bob logs in by email");
    // The step the source accepted last came along: its code is spent, the next one is not.
    let res = target.post_login_mfa(&target.mfa_token("alice").await, &code_at(&alice.secret, alice.t - 30)).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let res = target.post_login_mfa(&target.mfa_token("alice").await, &code_at(&alice.secret, alice.t)).await;
    assert_eq!(res.status(), StatusCode::OK, "alice's TOTP secret came along");
    let res = target.post_login_mfa(&target.mfa_token("alice").await, &alice.recovery_codes[0]).await;
    assert_eq!(res.status(), StatusCode::OK, "alice's recovery codes came along");
    let me: Value = target.get_me(&target.login("bob", PASSWORD).await.access).await.json().await.expect("me");
    assert_eq!(me["email"], json!("bob@example.com"));
    let moved = target.state.store.passkeys_of(passkey.user_id).await.expect("passkeys");
    assert_eq!(moved.len(), 1, "alice's passkey came along");
    let p = &moved[0];
    assert_eq!(
        (p.id, p.credential_id.as_str(), p.name.as_str(), p.sign_count, p.backup_state),
        (passkey.id, "YWxpY2VzLWtleQ", "Laptop", 4, true)
    );
    assert_eq!(serde_json::from_str::<Value>(&p.credential).expect("JSON"), json!({"cred": {"counter": 4}}));
}

#[tokio::test]
async fn an_import_into_a_database_holding_some_of_the_users_skips_them_and_imports_the_rest() {
    let source = TestApp::spawn().await;
    for name in ["alice", "bob", "carol"] {
        source.user(name).await;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("users.jsonl");
    succeeded(&gatehouse(&source.database_url, &["export", file.to_str().expect("utf-8")]).await);
    let target = TestApp::spawn().await;
    let res = target.post_register("bob", None, "another long passphrase").await;
    assert_eq!(res.status(), StatusCode::CREATED);

    let output = gatehouse(&target.database_url, &["import", file.to_str().expect("utf-8")]).await;

    let stdout = succeeded(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("imported 2 users, skipped 1"), "{stdout}");
    assert!(stderr.contains("bob is already present"), "{stderr}");
    assert_eq!(target.post_login("alice", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(target.post_login("bob", "another long passphrase").await.status(), StatusCode::OK, "the bob already there is kept");
    let again = succeeded(&gatehouse(&target.database_url, &["import", file.to_str().expect("utf-8")]).await);
    assert!(again.contains("imported 0 users, skipped 3"), "a second run skips everyone: {again}");
}

#[tokio::test]
async fn an_export_never_replaces_an_existing_file() {
    let source = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("keep.txt");
    std::fs::write(&file, "precious").expect("file written");

    let output = gatehouse(&source.database_url, &["export", file.to_str().expect("utf-8")]).await;

    assert!(!output.status.success());
    assert_eq!(std::fs::read_to_string(&file).expect("file"), "precious");
}
