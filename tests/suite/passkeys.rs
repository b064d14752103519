//! Passkeys over the API, on both stores: what a caller without an authenticator can see
//! of them (the browser tests drive the ceremonies with Chromium's virtual authenticator).

use gatehouse::app::Application;
use gatehouse::config::{Config, PasskeyMode};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::passkeys::passkey_app;
use crate::common::{PASSWORD, TestApp, assert_problem};

#[tokio::test]
async fn passkeys_are_off_with_an_ip_address_as_the_public_host_and_their_routes_say_not_found() {
    let app = TestApp::spawn().await;
    assert_problem(app.post("/v1/auth/passkeys/login/begin", &json!({}), None).await, StatusCode::NOT_FOUND, "not_found").await;
    let alice = app.user("alice").await;
    let res = app.post("/v1/auth/passkeys/register/begin", &json!({ "password": PASSWORD }), Some(&alice.access)).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    let page = app.get("/login", None).await.text().await.expect("page");
    assert!(!page.contains("passkey"), "the sign-in page offers no passkey");
}

#[tokio::test]
async fn passkeys_on_with_an_ip_address_as_the_public_host_stop_the_start_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::for_database(format!("sqlite://{}", dir.path().join("g.db").display()));
    config.bind = "127.0.0.1:0".parse().expect("address");
    config.public_url = Some("http://127.0.0.1:8080".into());
    config.passkeys = PasskeyMode::On;
    let err = Application::build(config).await.err().expect("the start is refused");
    let message = format!("{err:#}");
    assert!(message.contains("GATEHOUSE_PASSKEYS=on") && message.contains("IP address"), "{message}");
}

#[tokio::test]
async fn a_sign_in_ceremony_names_the_relying_party_asks_for_user_verification_and_refuses_what_answers_no_ceremony() {
    let app = passkey_app().await;
    let res = app.post("/v1/auth/passkeys/login/begin", &json!({}), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let begun: Value = res.json().await.expect("options");
    let options = &begun["options"]["publicKey"];
    assert_eq!(options["rpId"], "localhost");
    assert_eq!(options["userVerification"], "required");
    assert!(options["challenge"].as_str().is_some_and(|c| c.len() >= 43), "a 32-byte challenge: {options}");

    // An answer that is no credential is a field error; a well-formed one for an unknown
    // ceremony is refused like a wrong password.
    let garbage = json!({ "ceremony_id": begun["ceremony_id"], "credential": { "id": 5 } });
    let res = app.post("/v1/auth/passkeys/login/finish", &garbage, None).await;
    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "credential");
    let forged = json!({
        "ceremony_id": uuid::Uuid::now_v7(),
        "credential": { "id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": { "clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA", "userHandle": "AAAA" } },
    });
    assert_problem(app.post("/v1/auth/passkeys/login/finish", &forged, None).await, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
}

#[tokio::test]
async fn adding_a_passkey_needs_the_password_and_a_wrong_one_counts_toward_the_lockout() {
    let app = TestApp::spawn_with(|c| {
        crate::common::passkeys::on_localhost(c);
        c.login_max_failures = 2;
    })
    .await;
    let alice = app.user("alice").await;
    let wrong = json!({ "password": "not the password at all" });
    for _ in 0..2 {
        let res = app.post("/v1/auth/passkeys/register/begin", &wrong, Some(&alice.access)).await;
        let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert_eq!(body["errors"][0]["field"], "password");
    }
    let right = json!({ "password": PASSWORD });
    assert_problem(
        app.post("/v1/auth/passkeys/register/begin", &right, Some(&alice.access)).await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;

    let bob = app.user("bob").await;
    let res = app.post("/v1/auth/passkeys/register/begin", &right, Some(&bob.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let begun: Value = res.json().await.expect("options");
    let options = &begun["options"]["publicKey"];
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required", "discoverable: no username to sign in");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "required");
    assert_eq!(options["user"]["name"], "bob");

    // An answer that is no credential is refused on its field.
    let finish = json!({ "ceremony_id": begun["ceremony_id"], "name": " ", "credential": {} });
    let body = assert_problem(
        app.post("/v1/auth/passkeys/register/finish", &finish, Some(&bob.access)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(body["errors"].as_array().expect("errors").iter().any(|e| e["field"] == "credential" || e["field"] == "name"), "{body}");
}

#[tokio::test]
async fn passkeys_of_others_are_out_of_reach_and_an_admin_sees_a_users_list() {
    let app = passkey_app().await;
    let alice = app.user("alice").await;
    let admin = app.admin("root").await;
    let listed: Value = app.get("/v1/auth/passkeys", Some(&alice.access)).await.json().await.expect("list");
    assert_eq!(listed["items"], json!([]));

    let someone = uuid::Uuid::now_v7();
    let rename = app.patch(&format!("/v1/auth/passkeys/{someone}"), &json!({ "name": "Mine now" }), Some(&alice.access)).await;
    assert_problem(rename, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.get(&format!("/v1/users/{}/passkeys", alice.id), Some(&alice.access)).await;
    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
    let res = app.get(&format!("/v1/users/{}/passkeys", alice.id), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get(&format!("/v1/users/{someone}/passkeys"), Some(&admin.access)).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.delete(&format!("/v1/users/{}/passkeys/{someone}", alice.id), Some(&admin.access)).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
    let res = app.delete(&format!("/v1/users/{}/passkeys/not-an-id", alice.id), Some(&admin.access)).await;
    assert_problem(res, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn the_second_step_offers_passkeys_only_to_a_valid_mfa_token_of_an_account_that_has_one() {
    let app = passkey_app().await;
    let res = app.post("/v1/auth/login/mfa/passkey/begin", &json!({ "mfa_token": "made-up" }), None).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    app.mfa_user("carol").await;
    let token = app.mfa_token("carol").await;
    let res = app.post("/v1/auth/login/mfa/passkey/begin", &json!({ "mfa_token": token }), None).await;
    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "mfa_token");
}

#[tokio::test]
async fn a_credential_is_registered_once_whoever_tries_again_and_goes_with_its_user() {
    let app = passkey_app().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let record = |user: &str| gatehouse::store::PasskeyRecord {
        id: uuid::Uuid::now_v7(),
        user_id: user.parse().expect("a user id"),
        credential_id: "c2FtZS1jcmVkZW50aWFs".into(),
        name: "Key".into(),
        authenticator: "security_key".into(),
        credential: "{}".into(),
        sign_count: 0,
        backup_eligible: false,
        backup_state: false,
        created_at: chrono::Utc::now(),
        last_used_at: None,
    };
    let store = &app.state.store;
    store.insert_passkey(&record(&alice.id)).await.expect("the first registration");
    for again in [record(&alice.id), record(&bob.id)] {
        let err = store.insert_passkey(&again).await.expect_err("the same credential again");
        assert!(matches!(err, gatehouse::store::StoreError::Conflict(gatehouse::store::Conflict::PasskeyTaken)), "{err:?}");
    }

    let root = app.admin("root").await;
    assert_eq!(app.delete(&format!("/v1/users/{}", alice.id), Some(&root.access)).await.status(), StatusCode::NO_CONTENT);
    assert!(store.passkeys_of(alice.id.parse().expect("id")).await.expect("read").is_empty(), "deleted with alice");
    store.insert_passkey(&record(&bob.id)).await.expect("free again once its user is gone");
}

#[tokio::test]
async fn a_server_on_a_loopback_address_without_a_public_url_names_localhost_so_passkeys_are_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = match crate::STORE {
        crate::common::StoreKind::Sqlite => format!("sqlite://{}", dir.path().join("gatehouse.db").display()),
        crate::common::StoreKind::Postgres => crate::common::postgres::shared().create_database().await,
    };
    let mut config = Config::for_database(url);
    config.bind = "127.0.0.1:0".parse().expect("address");
    config.mail_outbox = dir.path().join("outbox");

    let app = Application::build(config).await.expect("the server starts");

    let port = app.local_addr().port();
    assert_eq!(app.state().config.public_url(), format!("http://localhost:{port}"));
    assert!(app.state().accounts.passkeys.is_some(), "passkeys are on by default");
}
