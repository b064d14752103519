//! TOTP setup, confirmation, turning it off, and the admin and password-change cases.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::mfa::{code_at, fresh_step};
use crate::common::{PASSWORD, TestApp, assert_problem};

async fn mfa_enabled(app: &TestApp, access: &str) -> bool {
    let me: Value = app.get_me(access).await.json().await.expect("user");
    me["mfa_enabled"].as_bool().expect("mfa_enabled")
}

/// The caller's own audit events of `kind`.
async fn my_events(app: &TestApp, access: &str, kind: &str) -> Vec<Value> {
    let res = app.get_query("/v1/auth/me/audit", &[("per_page", "100")], Some(access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Value = res.json().await.expect("audit list");
    list["items"].as_array().expect("items").iter().filter(|e| e["type"] == kind).cloned().collect()
}

#[tokio::test]
async fn setup_returns_a_base32_secret_an_otpauth_uri_with_its_parameters_and_an_svg_qr_code() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.post("/v1/auth/mfa/totp/setup", &json!({}), Some(&alice.access)).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.expect("setup JSON");
    let secret = body["secret"].as_str().expect("secret");
    assert_eq!(secret.len(), 32, "160 bits in base32: {secret}");
    assert!(secret.bytes().all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)), "{secret}");
    let uri = reqwest::Url::parse(body["otpauth_uri"].as_str().expect("uri")).expect("a URL");
    assert_eq!(uri.scheme(), "otpauth");
    assert_eq!(uri.host_str(), Some("totp"));
    assert_eq!(uri.path(), "/Gatehouse:alice");
    let query: std::collections::HashMap<String, String> = uri.query_pairs().into_owned().collect();
    assert_eq!(query["secret"], secret);
    assert_eq!(query["issuer"], "Gatehouse");
    assert_eq!(query["algorithm"], "SHA1");
    assert_eq!(query["digits"], "6");
    assert_eq!(query["period"], "30");
    let svg = body["qr_svg"].as_str().expect("svg");
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg}");
    // Pending until confirmed.
    assert!(!mfa_enabled(&app, &alice.access).await);
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn confirming_with_a_wrong_code_is_422_on_code_and_a_right_code_turns_totp_on_with_ten_recovery_codes() {
    let app = TestApp::spawn().await;
    let bob = app.user("bob").await;
    let secret = app.setup_totp(&bob.access).await["secret"].as_str().expect("secret").to_string();
    let t = fresh_step().await;

    let wrong = code_at(&secret, t + 600);
    let body = assert_problem(app.confirm_totp(&bob.access, &wrong).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "code");
    assert!(!mfa_enabled(&app, &bob.access).await);

    let res = app.confirm_totp(&bob.access, &code_at(&secret, t)).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.expect("codes");
    let codes: Vec<&str> = body["recovery_codes"].as_array().expect("codes").iter().map(|c| c.as_str().expect("code")).collect();
    assert_eq!(codes.len(), 10);
    assert_eq!(codes.iter().collect::<std::collections::HashSet<_>>().len(), 10, "distinct: {codes:?}");
    assert!(mfa_enabled(&app, &bob.access).await);
    let enabled = my_events(&app, &bob.access, "mfa.enabled").await;
    assert_eq!(enabled.len(), 1);
    assert_eq!(enabled[0]["actor_id"], bob.id.as_str());
    assert!(!enabled[0].to_string().contains(&secret), "no secret in the audit trail");
}

#[tokio::test]
async fn setup_again_replaces_the_pending_secret_and_with_totp_on_setup_and_confirm_are_409() {
    let app = TestApp::spawn().await;
    let carol = app.user("carol").await;
    let first = app.setup_totp(&carol.access).await["secret"].as_str().expect("secret").to_string();
    let second = app.setup_totp(&carol.access).await["secret"].as_str().expect("secret").to_string();
    assert_ne!(first, second);
    let t = fresh_step().await;

    let res = app.confirm_totp(&carol.access, &code_at(&first, t)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(app.confirm_totp(&carol.access, &code_at(&second, t)).await.status(), StatusCode::OK);

    let res = app.post("/v1/auth/mfa/totp/setup", &json!({}), Some(&carol.access)).await;
    assert_problem(res, StatusCode::CONFLICT, "mfa_already_enabled").await;
    let res = app.confirm_totp(&carol.access, &code_at(&second, t + 30)).await;
    assert_problem(res, StatusCode::CONFLICT, "mfa_already_enabled").await;
}

#[tokio::test]
async fn confirming_without_a_setup_is_409_mfa_setup_required() {
    let app = TestApp::spawn().await;
    let dave = app.user("dave").await;

    assert_problem(app.confirm_totp(&dave.access, "123456").await, StatusCode::CONFLICT, "mfa_setup_required").await;
}

#[tokio::test]
async fn turning_totp_off_needs_the_password_and_a_current_code() {
    let app = TestApp::spawn().await;
    let erin = app.mfa_user("erin").await;
    let access = erin.user.access.clone();
    let off = |password: &str, code: &str| json!({ "password": password, "code": code });

    let res = app.delete_json("/v1/auth/mfa/totp", &off("not the password at all", &code_at(&erin.secret, erin.t)), Some(&access)).await;
    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "password");
    let res = app.delete_json("/v1/auth/mfa/totp", &off(PASSWORD, &code_at(&erin.secret, erin.t + 900)), Some(&access)).await;
    let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "code");
    // The code the confirmation used is used up.
    let res = app.delete_json("/v1/auth/mfa/totp", &off(PASSWORD, &code_at(&erin.secret, erin.t - 30)), Some(&access)).await;
    assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(mfa_enabled(&app, &access).await);

    let res = app.delete_json("/v1/auth/mfa/totp", &off(PASSWORD, &code_at(&erin.secret, erin.t)), Some(&access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(!mfa_enabled(&app, &access).await);
    assert_eq!(app.post_login("erin", PASSWORD).await.status(), StatusCode::OK, "the password alone logs in again");
    let disabled = my_events(&app, &access, "mfa.disabled").await;
    assert_eq!(disabled.len(), 1);
    assert_eq!(disabled[0]["actor_id"], erin.user.id.as_str());
    let res = app.delete_json("/v1/auth/mfa/totp", &off(PASSWORD, &code_at(&erin.secret, erin.t + 30)), Some(&access)).await;
    assert_problem(res, StatusCode::CONFLICT, "mfa_not_enabled").await;
}

#[tokio::test]
async fn turning_totp_off_also_takes_a_recovery_code() {
    let app = TestApp::spawn().await;
    let frank = app.mfa_user("frank").await;

    let body = json!({ "password": PASSWORD, "code": frank.recovery_codes[3] });
    let res = app.delete_json("/v1/auth/mfa/totp", &body, Some(&frank.user.access)).await;

    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(!mfa_enabled(&app, &frank.user.access).await);
}

#[tokio::test]
async fn a_password_change_keeps_totp_on() {
    let app = TestApp::spawn().await;
    let grace = app.mfa_user("grace").await;
    let new_password = "an entirely new passphrase";

    let body = json!({ "current_password": PASSWORD, "new_password": new_password });
    assert_eq!(app.post("/v1/auth/password", &body, Some(&grace.user.access)).await.status(), StatusCode::NO_CONTENT);

    assert!(mfa_enabled(&app, &grace.user.access).await);
    let res = app.post_login("grace", new_password).await;
    let problem = assert_problem(res, StatusCode::UNAUTHORIZED, "mfa_required").await;
    let token = problem["mfa_token"].as_str().expect("mfa_token");
    assert_eq!(app.post_login_mfa(token, &code_at(&grace.secret, grace.t)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_admin_resets_a_users_totp_and_the_reset_is_audited() {
    let app = TestApp::spawn().await;
    let root = app.admin("root").await;
    let heidi = app.mfa_user("heidi").await;
    let path = format!("/v1/users/{}/mfa", heidi.user.id);

    assert_problem(app.delete(&path, Some(&heidi.user.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let unknown = format!("/v1/users/{}/mfa", uuid::Uuid::now_v7());
    assert_problem(app.delete(&unknown, Some(&root.access)).await, StatusCode::NOT_FOUND, "not_found").await;

    assert_eq!(app.delete(&path, Some(&root.access)).await.status(), StatusCode::NO_CONTENT);

    assert!(!mfa_enabled(&app, &heidi.user.access).await);
    assert_eq!(app.post_login("heidi", PASSWORD).await.status(), StatusCode::OK);
    let res = app.get_query("/v1/audit", &[("user_id", heidi.user.id.as_str()), ("type", "mfa.disabled")], Some(&root.access)).await;
    let list: Value = res.json().await.expect("audit list");
    let events = list["items"].as_array().expect("items");
    assert_eq!(events.len(), 1, "{list}");
    assert_eq!(events[0]["actor_id"], root.id.as_str());
    // Again: nothing to reset, still 204, nothing more recorded.
    assert_eq!(app.delete(&path, Some(&root.access)).await.status(), StatusCode::NO_CONTENT);
    // A fresh setup works after the reset.
    let secret = app.setup_totp(&heidi.user.access).await["secret"].as_str().expect("secret").to_string();
    assert_ne!(secret, heidi.secret);
}

#[tokio::test]
async fn the_openapi_document_describes_the_mfa_routes_and_the_mfa_token_member() {
    let app = TestApp::spawn().await;

    let doc: Value = app.get("/openapi.json", None).await.json().await.expect("OpenAPI JSON");

    for (path, method) in [
        ("/v1/auth/mfa/totp/setup", "post"),
        ("/v1/auth/mfa/totp/confirm", "post"),
        ("/v1/auth/mfa/totp", "delete"),
        ("/v1/auth/login/mfa", "post"),
        ("/v1/users/{id}/mfa", "delete"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path} is documented");
    }
    assert!(doc["paths"]["/v1/auth/login/mfa"]["post"]["security"].is_null(), "the second step is public");
    assert!(doc["paths"]["/v1/auth/mfa/totp"]["delete"]["requestBody"].is_object());
    assert!(doc["components"]["schemas"]["Problem"]["properties"]["mfa_token"].is_object());
    let login_401 = doc["paths"]["/v1/auth/login"]["post"]["responses"]["401"]["description"].as_str().expect("401");
    assert!(login_401.contains("mfa_required"), "{login_401}");
}

#[tokio::test]
async fn wrong_codes_at_confirmation_count_toward_the_account_lockout() {
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures = 2;
        c.login_lockout = 900;
    })
    .await;
    let ivan = app.user("ivan").await;
    let secret = app.setup_totp(&ivan.access).await["secret"].as_str().expect("secret").to_string();
    let t = fresh_step().await;

    for _ in 0..2 {
        let res = app.confirm_totp(&ivan.access, &code_at(&secret, t + 600)).await;
        assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    }

    assert_problem(app.confirm_totp(&ivan.access, &code_at(&secret, t)).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_problem(app.post_login("ivan", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}
