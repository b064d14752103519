//! `gatehouse copy --to URL`: a SQLite database moved to PostgreSQL keeps its users,
//! templates, sessions, refresh tokens, keys, audit events and TOTP second factors.

use std::process::Output;

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;
use tokio::process::Command;

use crate::common::mfa::{code_at, unix_now};
use crate::common::oidc::{REDIRECT_URI, Rp, authorize_path, pkce, query_param};
use crate::common::postgres;
use crate::common::{PASSWORD, TestApp, assert_problem};

fn gatehouse(database_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    cmd.env("GATEHOUSE_DATABASE_URL", database_url).env_remove("GATEHOUSE_JWT_SECRET");
    cmd
}

async fn copy(from: &str, to: &str, force: bool) -> Output {
    let mut cmd = gatehouse(from);
    cmd.args(["copy", "--to", to]);
    if force {
        cmd.arg("--force");
    }
    cmd.output().await.expect("run gatehouse copy")
}

#[tokio::test]
async fn a_sqlite_database_copied_to_postgres_keeps_users_templates_sessions_keys_and_audit_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite://{}", dir.path().join("old.db").display());
    let source = TestApp::spawn_on(&sqlite_url, |_| {}).await;
    let alice = source.user("alice").await;
    let change = serde_json::json!({"email": "alice@new.example", "current_password": PASSWORD});
    assert_eq!(source.patch("/v1/auth/me", &change, Some(&alice.access)).await.status(), StatusCode::OK);
    let res = source.post_register("bob", Some("bob@example.com"), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let mut admin = gatehouse(&sqlite_url)
        .args(["user", "create", "root", "--admin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    admin.stdin.take().expect("stdin").write_all(format!("{PASSWORD}\n").as_bytes()).await.expect("password");
    assert!(admin.wait().await.expect("user create").success());
    let res = source
        .post("/v1/templates", &serde_json::json!({"name": "welcome", "content": "Hello {{name}}\n\tcafé"}), Some(&alice.access))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let template: Value = res.json().await.expect("template");
    let template_path = format!("/v1/templates/{}", template["id"].as_str().expect("id"));
    let res = source.post_refresh(&alice.refresh).await;
    let pair: Value = res.json().await.expect("pair");
    let live_refresh = pair["refresh_token"].as_str().expect("refresh token").to_string();
    let source_root = source.login("root", PASSWORD).await;
    let carol = source.mfa_user("carol").await;
    let client = serde_json::json!({"name": "Photo app", "redirect_uris": ["https://photos.example.com/cb"], "public": false});
    let client: Value = source.post("/v1/clients", &client, Some(&source_root.access)).await.json().await.expect("client");
    // An OpenID Connect client's session (with a refresh token) and alice's consent to it.
    let rp = source.register_rp(&source_root, false, serde_json::json!({})).await;
    let (rp_tokens, rp_path) = oidc_grant(&source, &rp).await;
    // A passkey, as a registration leaves it, with its counter and backup flags.
    let passkey = gatehouse::store::PasskeyRecord {
        id: uuid::Uuid::now_v7(),
        user_id: alice.id.parse().expect("a user id"),
        credential_id: "Y3JlZGVudGlhbA".into(),
        name: "Laptop".into(),
        authenticator: "synced".into(),
        credential: "{}".into(),
        sign_count: 7,
        backup_eligible: true,
        backup_state: true,
        created_at: chrono::Utc::now(),
        last_used_at: None,
    };
    source.state.store.insert_passkey(&passkey).await.expect("a passkey");
    let registered_before = registered_events(&source, &source_root.access, &alice.id).await;
    assert_eq!(registered_before.len(), 1, "alice's registration is audited: {registered_before:?}");

    let target = postgres::shared().create_database().await;
    let out = copy(&sqlite_url, &target, false).await;
    assert!(out.status.success(), "copy: {}", String::from_utf8_lossy(&out.stderr));

    let again = copy(&sqlite_url, &target, false).await;
    assert!(!again.status.success(), "a second copy into a non-empty database must be refused");
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"), "{}", String::from_utf8_lossy(&again.stderr));
    let forced = copy(&sqlite_url, &target, true).await;
    assert!(forced.status.success(), "copy --force: {}", String::from_utf8_lossy(&forced.stderr));

    let issuer = source.issuer.clone();
    let moved = TestApp::spawn_on(&target, |c| c.issuer = Some(issuer)).await;
    // The client's session and alice's consent came along.
    let refresh = rp_tokens["refresh_token"].as_str().expect("refresh");
    let res = moved.token_call("/oauth/token", &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(res.status(), StatusCode::OK, "the client's refresh token works after the move");
    let agent = moved.agent();
    agent.sign_in("alice").await;
    let (_, landed, _) = agent.follow(&rp_path).await;
    assert!(query_param(&landed, "code").is_some(), "the consent is remembered: {landed}");
    // The old refresh token goes on, and so does the access token signed before the move.
    let res = moved.post_refresh(&live_refresh).await;
    assert_eq!(res.status(), StatusCode::OK, "refresh after the move");
    let me: Value = moved.get_me(&alice.access).await.json().await.expect("user");
    assert_eq!(me["id"], alice.id);
    assert_eq!(me["pending_email"], "alice@new.example", "a pending address change comes along");
    moved.login("alice", PASSWORD).await;
    moved.login("BOB@example.com", PASSWORD).await;
    let root = moved.login("root", PASSWORD).await;
    let me: Value = moved.get_me(&root.access).await.json().await.expect("user");
    assert_eq!(me["roles"], serde_json::json!(["admin", "user"]));
    assert_eq!(moved.post_register("Alice", None, PASSWORD).await.status(), StatusCode::CONFLICT);
    // The template, every column as it was, and its name still taken for its owner.
    let read: Value = moved.get(&template_path, Some(&alice.access)).await.json().await.expect("template");
    assert_eq!(read, template);
    let res = moved.post("/v1/templates", &serde_json::json!({"name": "welcome"}), Some(&alice.access)).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    // carol's TOTP came along: the step her confirmation used stays used; the current code
    // and a recovery code work.
    let token = moved.mfa_token("carol").await;
    let res = moved.post_login_mfa(&token, &code_at(&carol.secret, carol.t - 30)).await;
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(moved.post_login_mfa(&token, &code_at(&carol.secret, unix_now())).await.status(), StatusCode::OK);
    let token = moved.mfa_token("carol").await;
    assert_eq!(moved.post_login_mfa(&token, &carol.recovery_codes[9]).await.status(), StatusCode::OK);
    // The client, with its secret's hash: the same client_id and secret go on working.
    let moved_client: Value =
        moved.get(&format!("/v1/clients/{}", client["id"].as_str().expect("id")), Some(&root.access)).await.json().await.expect("client");
    let mut expected = client.clone();
    expected.as_object_mut().expect("object").remove("client_secret");
    assert_eq!(moved_client, expected);
    let (_, hash) =
        moved.store().await.client_by_client_id(client["client_id"].as_str().expect("client_id")).await.expect("read").expect("found");
    assert_eq!(hash, Some(gatehouse::auth::refresh::hash(client["client_secret"].as_str().expect("secret"))));
    // alice's passkey came along.
    let listed: Value = moved.get(&format!("/v1/users/{}/passkeys", alice.id), Some(&root.access)).await.json().await.expect("passkeys");
    let item = &listed["items"][0];
    assert_eq!(
        (item["id"].as_str(), item["name"].as_str(), item["sign_count"].as_i64()),
        (Some(passkey.id.to_string().as_str()), Some("Laptop"), Some(7))
    );
    assert_eq!((item["authenticator"].as_str(), item["backup_state"].as_bool()), (Some("synced"), Some(true)));
    // The audit trail: alice's registration, every field as recorded on SQLite.
    assert_eq!(registered_events(&moved, &root.access, &alice.id).await, registered_before);
}

/// The `user.registered` events about `user_id`, read through the admin view.
/// alice signs in to `rp` and allows it; answers its tokens and the authorization request.
async fn oidc_grant(app: &TestApp, rp: &Rp) -> (Value, String) {
    let agent = app.agent();
    agent.sign_in("alice").await;
    let (verifier, challenge) = pkce();
    let path = authorize_path(rp, &challenge, "openid offline_access", &[]);
    let (_, _, page) = agent.follow(&path).await;
    let res = agent.submit_on(&page, "/oauth/authorize", &[("request", &path["/oauth/authorize?".len()..]), ("decision", "allow")]).await;
    let code = query_param(res.headers()["location"].to_str().expect("location"), "code").expect("code");
    let form = [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT_URI), ("code_verifier", &verifier)];
    let tokens: Value = app.token_call("/oauth/token", rp, &form).await.json().await.expect("tokens");
    (tokens, path)
}

async fn registered_events(app: &TestApp, admin: &str, user_id: &str) -> Vec<Value> {
    let res = app.get_query("/v1/audit", &[("user_id", user_id), ("type", "user.registered")], Some(admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let list: Value = res.json().await.expect("audit list");
    list["items"].as_array().expect("items").clone()
}

#[tokio::test]
async fn a_copy_keeps_organizations_members_invitations_and_the_sessions_active_org() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite://{}", dir.path().join("old.db").display());
    let source = TestApp::spawn_on(&sqlite_url, |c| c.mail_outbox = dir.path().join("outbox")).await;
    let alice = source.mail_verified_user("alice", "alice@example.com").await;
    let mut bob = source.mail_verified_user("bob", "bob@example.com").await;
    let org = source.org(&alice, "acme").await;
    let token = source.invite(&alice, &org, "bob@example.com", &["billing"]).await;
    source.join(&mut bob, &token, &org).await;
    let pending = source.invite(&alice, &org, "carol@example.com", &[]).await;

    let target = postgres::shared().create_database().await;
    let out = copy(&sqlite_url, &target, false).await;
    assert!(out.status.success(), "copy: {}", String::from_utf8_lossy(&out.stderr));
    let issuer = source.issuer.clone();
    let moved = TestApp::spawn_on(&target, |c| c.issuer = Some(issuer)).await;

    assert_eq!(moved.get_me(&bob.access).await.status(), StatusCode::OK, "bob's token with the org still passes");
    let members: Value = moved.get(&format!("/v1/orgs/{org}/members"), Some(&alice.access)).await.json().await.expect("members");
    assert_eq!(members["total"], 2);
    let invitations: Value = moved.get(&format!("/v1/orgs/{org}/invitations"), Some(&alice.access)).await.json().await.expect("list");
    assert_eq!(invitations["items"][0]["email"], "carol@example.com");
    assert_eq!(invitations["items"][0]["status"], "pending");
    let carol = moved.mail_verified_user("carol", "carol@example.com").await;
    let accepted = moved.post("/v1/invitations/accept", &serde_json::json!({ "token": pending }), Some(&carol.access)).await;
    assert_eq!(accepted.status(), StatusCode::OK, "the copied invitation's link still works");
}
