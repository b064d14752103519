//! OpenID Connect clients through the admin API: registration with the secret shown once
//! and stored hashed, the redirect URI rules, a new secret, changes, deletion, the audit
//! trail, and nobody else.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{TestApp, assert_problem};

fn photo_app() -> Value {
    json!({ "name": "Photo app", "redirect_uris": ["https://photos.example.com/callback"], "public": false })
}

#[tokio::test]
async fn an_admin_registers_a_confidential_client_whose_secret_is_shown_once_and_stored_hashed() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;

    let res = app.post("/v1/clients", &photo_app(), Some(&admin.access)).await;

    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let location = res.headers()["location"].to_str().expect("location").to_string();
    let created: Value = res.json().await.expect("client");
    let secret = created["client_secret"].as_str().expect("a secret").to_string();
    assert_eq!(secret.len(), 43);
    assert!(created["client_id"].as_str().expect("client_id").starts_with("gh_"));
    assert_eq!(created["scopes"], json!(["openid", "profile", "email"]));
    assert_eq!(created["id_token_signed_response_alg"], "RS256");
    assert_eq!((created["public"].clone(), created["first_party"].clone()), (json!(false), json!(false)));
    assert_eq!(location, format!("/v1/clients/{}", created["id"].as_str().expect("id")));

    let read: Value = app.get(&location, Some(&admin.access)).await.json().await.expect("client");
    assert!(read.get("client_secret").is_none() && !read.to_string().contains(&secret), "never shown again: {read}");
    let list: Value = app.get("/v1/clients", Some(&admin.access)).await.json().await.expect("list");
    assert_eq!(list["items"][0]["client_id"], created["client_id"]);
    let (_, stored) =
        app.store().await.client_by_client_id(created["client_id"].as_str().expect("id")).await.expect("read").expect("found");
    assert_eq!(stored.expect("a hash"), Sha256::digest(secret.as_bytes()).to_vec(), "stored as its SHA-256 only");
}

#[tokio::test]
async fn a_public_client_has_no_secret_and_cannot_get_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let body = json!({ "name": "SPA", "redirect_uris": ["http://localhost:5173/cb", "com.example.app:/oauth"], "public": true,
        "scopes": ["openid", "offline_access", "openid"], "id_token_signed_response_alg": "EdDSA" });

    let created: Value = app.post("/v1/clients", &body, Some(&admin.access)).await.json().await.expect("client");

    assert_eq!(created["client_secret"], Value::Null);
    assert_eq!(created["scopes"], json!(["openid", "offline_access"]), "each scope once");
    assert_eq!(created["id_token_signed_response_alg"], "EdDSA");
    let res = app.post(&format!("/v1/clients/{}/secret", created["id"].as_str().expect("id")), &json!({}), Some(&admin.access)).await;
    assert_problem(res, StatusCode::CONFLICT, "public_client").await;
}

#[tokio::test]
async fn redirect_uris_other_than_https_loopback_http_or_an_apps_own_scheme_are_refused_by_index() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;

    for (uris, field) in [
        (json!(["https://ok.example.com/cb", "http://evil.example.com/cb"]), "redirect_uris[1]"),
        (json!(["https://ok.example.com/cb#frag"]), "redirect_uris[0]"),
        (json!(["javascript:alert(1)"]), "redirect_uris[0]"),
        (json!(["/relative"]), "redirect_uris[0]"),
        (json!([]), "redirect_uris"),
    ] {
        let body = json!({ "name": "x", "redirect_uris": uris, "public": false });
        let problem = assert_problem(
            app.post("/v1/clients", &body, Some(&admin.access)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], field, "{uris}");
    }
    let body = json!({ "name": "x", "redirect_uris": ["https://ok.example.com/cb"], "public": false, "scopes": ["admin"] });
    assert_problem(app.post("/v1/clients", &body, Some(&admin.access)).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let list: Value = app.get("/v1/clients", Some(&admin.access)).await.json().await.expect("list");
    assert_eq!(list["items"], json!([]), "nothing was registered");
}

#[tokio::test]
async fn a_new_secret_replaces_the_old_one_and_a_client_is_changed_and_deleted_with_audit_events() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let created: Value = app.post("/v1/clients", &photo_app(), Some(&admin.access)).await.json().await.expect("client");
    let path = format!("/v1/clients/{}", created["id"].as_str().expect("id"));
    let client_id = created["client_id"].as_str().expect("client_id");

    let res = app.post(&format!("{path}/secret"), &json!({}), Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::OK);
    let fresh = res.json::<Value>().await.expect("secret")["client_secret"].as_str().expect("secret").to_string();
    assert_ne!(fresh, created["client_secret"].as_str().expect("old"));
    let (_, stored) = app.store().await.client_by_client_id(client_id).await.expect("read").expect("found");
    assert_eq!(stored.expect("hash"), Sha256::digest(fresh.as_bytes()).to_vec(), "the old secret no longer matches");

    let change =
        json!({ "name": "Photos", "first_party": true, "scopes": ["openid"], "redirect_uris": ["https://photos.example.com/cb2"] });
    let changed: Value = app.patch(&path, &change, Some(&admin.access)).await.json().await.expect("client");
    assert_eq!((changed["name"].clone(), changed["first_party"].clone()), (json!("Photos"), json!(true)));
    assert_eq!(changed["redirect_uris"], json!(["https://photos.example.com/cb2"]));
    assert_eq!(changed["client_id"], client_id, "the client_id never changes");

    assert_eq!(app.delete(&path, Some(&admin.access)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&path, Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    let audit: Value = app.get("/v1/audit?per_page=100", Some(&admin.access)).await.json().await.expect("audit");
    let kinds: Vec<&str> = audit["items"].as_array().expect("items").iter().filter_map(|e| e["type"].as_str()).collect();
    for kind in ["client.created", "client.secret_rotated", "client.updated", "client.deleted"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(!audit.to_string().contains(&fresh), "no secret in the audit trail");
}

#[tokio::test]
async fn only_admins_see_or_register_clients() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    assert_problem(app.get("/v1/clients", Some(&alice.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_problem(app.post("/v1/clients", &photo_app(), Some(&alice.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.get("/v1/clients", None).await.status(), StatusCode::UNAUTHORIZED);
}
