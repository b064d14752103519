//! Each client's access tokens are for that client (or a resource registered on it), never
//! for another client nor the account API; /oauth/authorize and /oauth/token are limited
//! per address, and a user's codes and sessions per client are capped.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::oidc::{REDIRECT_URI, Rp, authorize_path, pkce, query_param};
use crate::common::{TestApp, assert_problem};

const API: &str = "https://api.photos.example.com";

/// The claims of a JWT, unverified (the signature is checked by the endpoints that take it).
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON claims")
}

async fn oauth_error(res: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.expect("an RFC 6749 error");
    assert_eq!(body["error"], error, "{body}");
}

#[tokio::test]
async fn a_users_token_for_one_client_carries_its_client_id_as_audience_and_passes_neither_another_client_nor_the_account_api() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let photos = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    let notes = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;

    let tokens = app.granted_tokens(&agent, &photos, "openid offline_access").await;
    let access = tokens["access_token"].as_str().expect("access");

    let seen = claims(access);
    assert_eq!((seen["aud"].clone(), seen["azp"].clone()), (json!(photos.client_id), json!(photos.client_id)));
    assert_ne!(seen["aud"], app.state.config.audience.as_str(), "never the account API's audience");
    assert_eq!(app.get_me(access).await.status(), StatusCode::UNAUTHORIZED, "the account API refuses it");
    let by_other: Value = app.token_call("/oauth/introspect", &notes, &[("token", access)]).await.json().await.expect("introspection");
    assert_eq!(by_other, json!({ "active": false }), "another client learns nothing of it");
    let by_owner: Value = app.token_call("/oauth/introspect", &photos, &[("token", access)]).await.json().await.expect("introspection");
    assert_eq!((by_owner["active"].clone(), by_owner["aud"].clone()), (json!(true), json!(photos.client_id)));
    assert_eq!(app.get("/oauth/userinfo", Some(access)).await.status(), StatusCode::OK, "userinfo takes any client's token");

    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let renewed: Value = app
        .token_call("/oauth/token", &photos, &[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .await
        .json()
        .await
        .expect("tokens");
    assert_eq!(claims(renewed["access_token"].as_str().expect("access"))["aud"], photos.client_id.as_str(), "after a refresh too");

    let own: Value = app.token_call("/oauth/token", &notes, &[("grant_type", "client_credentials")]).await.json().await.expect("tokens");
    let own = own["access_token"].as_str().expect("access");
    assert_eq!((claims(own)["aud"].clone(), claims(own)["azp"].clone()), (json!(notes.client_id), json!(notes.client_id)));
    assert_eq!(app.get_me(own).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_client_gets_a_registered_resource_as_its_tokens_audience_and_an_unregistered_one_is_invalid_target() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true, "resources": [API] })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let (verifier, challenge) = pkce();
    let (_, landed, _) = agent.follow(&authorize_path(&rp, &challenge, "openid offline_access", &[])).await;
    let code = query_param(&landed, "code").expect("a code");

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
        ("resource", API),
    ];
    let tokens: Value = app.token_call("/oauth/token", &rp, &form).await.json().await.expect("tokens");
    assert_eq!(claims(tokens["access_token"].as_str().expect("access"))["aud"], API);
    assert_eq!(claims(tokens["id_token"].as_str().expect("id"))["aud"], rp.client_id.as_str(), "the ID token stays the client's");

    let refresh = tokens["refresh_token"].as_str().expect("refresh");
    let res = app.token_call("/oauth/token", &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh), ("resource", API)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let renewed: Value = res.json().await.expect("tokens");
    assert_eq!(claims(renewed["access_token"].as_str().expect("access"))["aud"], API);

    let res = app.token_call("/oauth/token", &rp, &[("grant_type", "client_credentials"), ("resource", "https://other.example.com")]).await;
    oauth_error(res, StatusCode::BAD_REQUEST, "invalid_target").await;
    let own: Value =
        app.token_call("/oauth/token", &rp, &[("grant_type", "client_credentials"), ("resource", API)]).await.json().await.expect("tokens");
    assert_eq!(claims(own["access_token"].as_str().expect("access"))["aud"], API);
}

#[tokio::test]
async fn a_clients_resources_must_be_https_uris_and_never_the_account_apis_audience() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let base = json!({ "name": "Photos", "redirect_uris": [REDIRECT_URI], "public": false });

    let mut own_audience = base.clone();
    own_audience["resources"] = json!([app.state.config.audience]);
    let res = app.post("/v1/clients", &own_audience, Some(&admin.access)).await;
    let problem = assert_problem(res, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert_eq!(problem["errors"][0]["field"], "resources[0]");

    let mut plain_http = base.clone();
    plain_http["resources"] = json!(["http://api.example.com"]);
    assert_eq!(app.post("/v1/clients", &plain_http, Some(&admin.access)).await.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let mut good = base;
    good["resources"] = json!([API]);
    let res = app.post("/v1/clients", &good, Some(&admin.access)).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let created: Value = res.json().await.expect("client");
    assert_eq!(created["resources"], json!([API]));
    let id = created["id"].as_str().expect("id");
    let changed: Value =
        app.patch(&format!("/v1/clients/{id}"), &json!({ "resources": [] }), Some(&admin.access)).await.json().await.expect("client");
    assert_eq!(changed["resources"], json!([]));
}

#[tokio::test]
async fn the_token_and_authorize_endpoints_are_limited_per_address() {
    let app = TestApp::spawn_with(|config| config.rate_limit_per_ip = 3).await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({})).await;

    let mut last = None;
    for _ in 0..4 {
        last = Some(app.token_call("/oauth/token", &rp, &[("grant_type", "client_credentials")]).await);
    }
    let refused = last.expect("answered");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    oauth_error(refused, StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable").await;

    let (_, challenge) = pkce();
    let path = authorize_path(&rp, &challenge, "openid", &[]);
    let mut status = StatusCode::OK;
    for _ in 0..4 {
        status = app.client.get(app.url(&path)).send().await.expect("answered").status();
    }
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

/// Runs an authorization request for an agent already signed in; answers where it landed.
async fn authorize(agent: &crate::common::oidc::Agent, rp: &Rp, challenge: &str) -> String {
    agent.follow(&authorize_path(rp, challenge, "openid offline_access", &[])).await.1
}

#[tokio::test]
async fn a_user_gets_at_most_twenty_codes_a_minute_for_one_client_and_holds_at_most_ten_unspent() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let (verifier, challenge) = pkce();

    let mut codes = Vec::new();
    for _ in 0..20 {
        codes.push(query_param(&authorize(&agent, &rp, &challenge).await, "code").expect("a code"));
    }
    let landed = authorize(&agent, &rp, &challenge).await;
    assert_eq!(query_param(&landed, "error").as_deref(), Some("temporarily_unavailable"), "{landed}");
    assert_eq!(query_param(&landed, "state").as_deref(), Some("st-123"));

    let spend = |code: String| {
        let verifier = verifier.clone();
        let app = &app;
        let rp = &rp;
        async move {
            let form =
                [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", REDIRECT_URI), ("code_verifier", &verifier)];
            app.token_call("/oauth/token", rp, &form).await.status()
        }
    };
    assert_eq!(spend(codes[9].clone()).await, StatusCode::BAD_REQUEST, "only the newest ten stay");
    assert_eq!(spend(codes[10].clone()).await, StatusCode::OK);
    assert_eq!(spend(codes[19].clone()).await, StatusCode::OK);
}

#[tokio::test]
async fn past_gatehouse_oauth_sessions_per_client_a_new_session_ends_the_oldest() {
    let app = TestApp::spawn_with(|config| config.oauth_sessions_per_client = 2).await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    let other = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;

    let elsewhere = app.granted_tokens(&agent, &other, "openid offline_access").await;
    let mut sessions = Vec::new();
    for _ in 0..3 {
        sessions.push(app.granted_tokens(&agent, &rp, "openid offline_access").await);
    }

    let refresh = |tokens: &Value| tokens["refresh_token"].as_str().expect("refresh").to_string();
    let status_of = |rp: Rp, token: String| {
        let app = &app;
        async move { app.token_call("/oauth/token", &rp, &[("grant_type", "refresh_token"), ("refresh_token", &token)]).await.status() }
    };
    assert_eq!(status_of(rp.clone(), refresh(&sessions[0])).await, StatusCode::BAD_REQUEST, "the oldest ended");
    assert_eq!(status_of(rp.clone(), refresh(&sessions[1])).await, StatusCode::OK);
    assert_eq!(status_of(rp.clone(), refresh(&sessions[2])).await, StatusCode::OK);
    assert_eq!(status_of(other, refresh(&elsewhere)).await, StatusCode::OK, "another client's session is not counted");
}
