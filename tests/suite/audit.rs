//! The audit trail: each action recorded with its actor and target, the admin view with
//! its filters, the self view, and pruning by age.

use chrono::{Duration, Utc};
use gatehouse::store::{AuditType, NewAuditEvent};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{PASSWORD, TestApp, assert_problem};

/// The admin view with these query parameters.
async fn audit(app: &TestApp, token: &str, query: &[(&str, &str)]) -> Value {
    let res = app.get_query("/v1/audit", query, Some(token)).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("audit list")
}

/// The events about `user_id`, newest first.
async fn events_of(app: &TestApp, admin: &str, user_id: &str) -> Vec<Value> {
    audit(app, admin, &[("user_id", user_id), ("per_page", "100")]).await["items"].as_array().expect("items").clone()
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

#[tokio::test]
async fn registration_and_logins_are_recorded_with_client_and_request_id() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let res = app.post_register("alice", None, PASSWORD).await;
    let request_id = res.headers()["x-request-id"].to_str().expect("request id").to_string();
    let alice_id = res.json::<Value>().await.expect("user")["id"].as_str().expect("id").to_string();

    app.login("alice", PASSWORD).await;
    app.post_login("alice", "not the password at all").await;

    let events = events_of(&app, &admin.access, &alice_id).await;
    let registered = of_type(&events, "user.registered")[0];
    assert_eq!(registered["actor_id"], Value::Null, "registration is anonymous");
    assert_eq!(registered["user_id"], alice_id);
    assert_eq!(registered["request_id"], request_id);
    assert_eq!(registered["ip"], "127.0.0.1");
    let succeeded = of_type(&events, "login.succeeded")[0];
    assert_eq!(succeeded["actor_id"], alice_id);
    let failed = of_type(&events, "login.failed")[0];
    assert_eq!(failed["actor_id"], Value::Null);
    assert_eq!(failed["user_id"], alice_id);
    assert_eq!(failed["detail"]["reason"], "invalid_credentials");
    let everything = serde_json::to_string(&events).expect("JSON");
    assert!(!everything.contains("not the password at all") && !everything.contains(PASSWORD), "no password in {everything}");
}

#[tokio::test]
async fn a_login_of_an_unknown_user_is_recorded_without_a_target() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;

    app.post_login("nobody", PASSWORD).await;

    let failed = audit(&app, &admin.access, &[("type", "login.failed")]).await;
    assert_eq!(failed["total"], 1);
    assert_eq!(failed["items"][0]["user_id"], Value::Null);
    assert_eq!(failed["items"][0]["actor_id"], Value::Null);
}

#[tokio::test]
async fn logout_session_revocation_password_and_email_changes_are_recorded_with_the_user_as_actor() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;
    let other = app.login("alice", PASSWORD).await;
    let sessions: Value = app.get("/v1/auth/sessions", Some(&alice.access)).await.json().await.expect("sessions");
    let other_session = sessions["items"].as_array().expect("items").iter().find(|s| s["current"] == false).expect("other")["id"].clone();

    app.delete(&format!("/v1/auth/sessions/{}", other_session.as_str().expect("id")), Some(&alice.access)).await;
    let res = app.patch("/v1/auth/me", &json!({"email": "alice@example.com", "current_password": PASSWORD}), Some(&alice.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .post(
            "/v1/auth/password",
            &json!({"current_password": PASSWORD, "new_password": "a different long passphrase"}),
            Some(&alice.access),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.post("/v1/auth/logout", &json!({}), Some(&alice.access)).await;
    drop(other);

    let events = events_of(&app, &admin.access, &alice.id).await;
    for kind in ["session.revoked", "email.changed", "password.changed", "logout"] {
        let found = of_type(&events, kind);
        assert_eq!(found.len(), 1, "{kind} in {events:?}");
        assert_eq!(found[0]["actor_id"], alice.id, "{kind} actor");
        assert_eq!(found[0]["user_id"], alice.id, "{kind} target");
    }
    assert_eq!(of_type(&events, "session.revoked")[0]["detail"]["session_id"], other_session);
    assert_eq!(of_type(&events, "email.changed")[0]["detail"]["pending_email"], "alice@example.com");
    let everything = serde_json::to_string(&events).expect("JSON");
    assert!(!everything.contains("a different long passphrase"), "no password in {everything}");
}

#[tokio::test]
async fn a_detected_refresh_token_reuse_is_recorded_for_the_token_owner() {
    let app = TestApp::spawn_with(|c| c.refresh_reuse_grace = 0).await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;

    app.post_refresh(&alice.refresh).await;
    app.post_refresh(&alice.refresh).await;

    let events = events_of(&app, &admin.access, &alice.id).await;
    let reused = of_type(&events, "refresh.reused");
    assert_eq!(reused.len(), 1, "{events:?}");
    assert_eq!(reused[0]["actor_id"], Value::Null);
    assert!(reused[0]["detail"]["session_id"].is_string());
    assert!(!serde_json::to_string(&events).expect("JSON").contains(&alice.refresh), "no refresh token");
}

#[tokio::test]
async fn admin_changes_are_recorded_with_the_admin_as_actor_and_the_user_as_target() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;
    let path = format!("/v1/users/{}", alice.id);

    app.patch(&path, &json!({"roles": ["editor"]}), Some(&admin.access)).await;
    app.patch(&path, &json!({"disabled": true}), Some(&admin.access)).await;
    app.patch(&path, &json!({"disabled": false}), Some(&admin.access)).await;
    assert_eq!(app.delete(&path, Some(&admin.access)).await.status(), StatusCode::NO_CONTENT);

    let events = events_of(&app, &admin.access, &alice.id).await;
    for kind in ["user.roles_changed", "user.disabled", "user.enabled", "user.deleted"] {
        let found = of_type(&events, kind);
        assert_eq!(found.len(), 1, "{kind} in {events:?}");
        assert_eq!(found[0]["actor_id"], admin.id, "{kind} actor");
        assert_eq!(found[0]["user_id"], alice.id, "{kind} target");
    }
    let roles = &of_type(&events, "user.roles_changed")[0]["detail"];
    assert_eq!(roles["before"], json!(["user"]));
    assert_eq!(roles["after"], json!(["editor", "user"]));
    assert_eq!(of_type(&events, "user.deleted")[0]["detail"]["username"], "alice");
}

#[tokio::test]
async fn an_admin_patch_that_changes_nothing_records_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;

    app.patch(&format!("/v1/users/{}", alice.id), &json!({"disabled": false, "roles": ["user"]}), Some(&admin.access)).await;

    let events = events_of(&app, &admin.access, &alice.id).await;
    assert!(events.iter().all(|e| e["type"] != "user.enabled" && e["type"] != "user.roles_changed"), "{events:?}");
}

#[tokio::test]
async fn the_admin_view_filters_by_user_and_type_and_lists_newest_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    app.login("alice", PASSWORD).await;

    let alice_logins = audit(&app, &admin.access, &[("user_id", &alice.id), ("type", "login.succeeded")]).await;
    let all = audit(&app, &admin.access, &[("per_page", "100")]).await;

    assert_eq!(alice_logins["total"], 2);
    assert!(alice_logins["items"].as_array().expect("items").iter().all(|e| e["user_id"] == alice.id && e["type"] == "login.succeeded"));
    let times: Vec<&str> = all["items"].as_array().expect("items").iter().map(|e| e["time"].as_str().expect("time")).collect();
    let ids: Vec<&str> = all["items"].as_array().expect("items").iter().map(|e| e["id"].as_str().expect("id")).collect();
    let mut newest_first = ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids, newest_first, "ids are time-ordered (v7), newest first");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
}

#[tokio::test]
async fn the_admin_view_pages_through_the_events() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    for _ in 0..3 {
        app.post_login("root", "wrong password, again").await;
    }

    let first = audit(&app, &admin.access, &[("type", "login.failed"), ("per_page", "2")]).await;
    let second = audit(&app, &admin.access, &[("type", "login.failed"), ("per_page", "2"), ("page", "2")]).await;

    assert_eq!(first["total"], 3);
    assert_eq!((first["page"].as_u64(), first["per_page"].as_u64()), (Some(1), Some(2)));
    assert_eq!(first["items"].as_array().expect("items").len(), 2);
    assert_eq!(second["items"].as_array().expect("items").len(), 1);
    assert!(first["items"][1]["id"].as_str() > second["items"][0]["id"].as_str(), "page 2 is older");
}

#[tokio::test]
async fn the_admin_view_filters_by_time_since_and_until() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let store = app.store().await;
    let old = Utc::now() - Duration::days(10);
    let mut event = NewAuditEvent::now(AuditType::KeysRotated, None, None, json!({"kid": "k1"}));
    event.time = old;
    store.record_audit(event).await.expect("recorded");
    let cut = (old + Duration::days(1)).to_rfc3339();

    let before_cut = audit(&app, &admin.access, &[("until", &cut)]).await;
    let after_cut = audit(&app, &admin.access, &[("since", &cut), ("per_page", "100")]).await;

    assert_eq!(before_cut["total"], 1);
    assert_eq!(before_cut["items"][0]["type"], "keys.rotated");
    assert!(after_cut["items"].as_array().expect("items").iter().all(|e| e["type"] != "keys.rotated"));
    assert!(after_cut["total"].as_u64() > Some(0));
}

#[tokio::test]
async fn the_admin_view_refuses_bad_parameters_with_422() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;

    for (key, value) in [("since", "yesterday"), ("until", "2026-13-01"), ("type", "no.such.type"), ("user_id", "42"), ("per_page", "0")] {
        let res = app.get_query("/v1/audit", &[(key, value)], Some(&admin.access)).await;
        let body = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
        assert!(body.to_string().contains(key), "{key}: {body}");
    }
}

#[tokio::test]
async fn the_admin_view_is_forbidden_to_users_who_are_not_admins() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.get("/v1/audit", Some(&alice.access)).await;

    assert_problem(res, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn the_self_view_shows_only_the_callers_own_events() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.post_login("bob", "wrong password for bob").await;

    let res = app.get("/v1/auth/me/audit", Some(&alice.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let mine: Value = res.json().await.expect("list");

    let items = mine["items"].as_array().expect("items");
    assert!(!items.is_empty());
    assert!(items.iter().all(|e| e["user_id"] == alice.id), "{items:?}");
    assert!(items.iter().any(|e| e["type"] == "login.succeeded"));
    assert!(!mine.to_string().contains(&bob.id));
    let bad = app.get_query("/v1/auth/me/audit", &[("page", "0")], Some(&alice.access)).await;
    assert_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
}

#[tokio::test]
async fn the_self_view_hides_the_ip_and_user_agent_of_an_admins_action_and_shows_the_users_own() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let alice = app.user("alice").await;
    let res = app
        .client
        .patch(app.url(&format!("/v1/users/{}", alice.id)))
        .bearer_auth(&admin.access)
        .header("user-agent", "AdminConsole/7.1")
        .json(&json!({ "roles": ["user", "editor"] }))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), StatusCode::OK);

    let mine: Value = app.get("/v1/auth/me/audit", Some(&alice.access)).await.json().await.expect("list");
    let everything: Value = audit(&app, &admin.access, &[("user_id", &alice.id)]).await;

    let items = mine["items"].as_array().expect("items");
    let by_admin = of_type(items, "user.roles_changed");
    assert_eq!(by_admin.len(), 1, "{items:?}");
    assert_eq!(by_admin[0]["actor_id"], admin.id);
    assert_eq!(by_admin[0]["ip"], Value::Null);
    assert_eq!(by_admin[0]["user_agent"], Value::Null);
    assert!(!mine.to_string().contains("AdminConsole"), "{mine}");
    let own = of_type(items, "login.succeeded");
    assert_eq!(own[0]["ip"], "127.0.0.1", "the user's own action keeps its address");
    let admin_view = of_type(everything["items"].as_array().expect("items"), "user.roles_changed");
    assert_eq!(admin_view[0]["user_agent"], "AdminConsole/7.1", "the admin view is unchanged");
    assert_eq!(admin_view[0]["ip"], "127.0.0.1");
}

#[tokio::test]
async fn events_older_than_the_retention_are_pruned_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("audit.db").display());
    let store = gatehouse::store::connect(&url).await.expect("store");
    let mut old = NewAuditEvent::now(AuditType::KeysRotated, None, None, json!({"kid": "old"}));
    old.time = Utc::now() - Duration::days(31);
    let mut recent = NewAuditEvent::now(AuditType::KeysRotated, None, None, json!({"kid": "recent"}));
    recent.time = Utc::now() - Duration::days(29);
    store.record_audit(old).await.expect("old");
    store.record_audit(recent).await.expect("recent");
    drop(store);

    let app = TestApp::spawn_with(|c| {
        c.database_url = url.clone();
        c.audit_retention_days = 30;
    })
    .await;
    let admin = app.admin("root").await;

    let mut kids = Vec::new();
    for _ in 0..50 {
        let rotated = audit(&app, &admin.access, &[("type", "keys.rotated")]).await;
        kids = rotated["items"].as_array().expect("items").iter().map(|e| e["detail"]["kid"].clone()).collect();
        if kids.len() == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(kids, vec![json!("recent")]);
}

#[tokio::test]
async fn prune_removes_only_events_older_than_the_cutoff() {
    let app = TestApp::spawn().await;
    let store = app.store().await;
    let mut old = NewAuditEvent::now(AuditType::Logout, None, Some(Uuid::now_v7()), json!({}));
    old.time = Utc::now() - Duration::days(100);
    store.record_audit(old).await.expect("old");

    let pruned = gatehouse::audit::prune(&store, 90).await.expect("pruned");

    assert_eq!(pruned, 1);
    let left = store.list_audit(&gatehouse::store::AuditQuery { page: 1, per_page: 100, ..Default::default() }).await.expect("list");
    assert!(left.items.iter().all(|e| e.time > Utc::now() - Duration::days(90)));
}
