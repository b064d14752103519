//! The OpenID Connect provider over HTTP: discovery, the code flow with PKCE through the
//! pages' sign-in, ID tokens checked against the JWKS, userinfo, refresh, and the refusals
//! (wrong redirect URI, code replay, PKCE mismatch, expired code, wrong secret,
//! `prompt=none` without a session).

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::oidc::{REDIRECT_URI, Rp, authorize_path, pkce, query_param};
use crate::common::{TestApp, TestUser};

/// Signs `user` in and runs an authorization request to its code; answers the code.
async fn code_for(app: &TestApp, user: &TestUser, rp: &Rp, challenge: &str, scope: &str) -> String {
    let agent = app.agent();
    agent.sign_in(&user.username).await;
    let (_, landed, _) = agent.follow(&authorize_path(rp, challenge, scope, &[])).await;
    assert!(landed.starts_with(REDIRECT_URI), "back at the client: {landed}");
    assert_eq!(query_param(&landed, "state").as_deref(), Some("st-123"));
    assert_eq!(query_param(&landed, "iss").as_deref(), Some(app.issuer.as_str()), "RFC 9207");
    query_param(&landed, "code").expect("a code")
}

async fn exchange(app: &TestApp, rp: &Rp, code: &str, verifier: &str) -> reqwest::Response {
    let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT_URI), ("code_verifier", verifier)];
    app.token_call("/oauth/token", rp, &form).await
}

async fn oauth_error(res: reqwest::Response, status: StatusCode, error: &str) {
    assert_eq!(res.status(), status);
    let body: Value = res.json().await.expect("an RFC 6749 error");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string());
}

/// Checks an ID token's signature against the served JWKS and answers its claims.
pub(super) async fn verified_id_token(app: &TestApp, token: &str, audience: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("a JWT");
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.expect("JWKS");
    let kid = header.kid.expect("kid");
    let jwk = jwks["keys"].as_array().expect("keys").iter().find(|k| k["kid"] == kid.as_str()).expect("the key in the JWKS").clone();
    let key = match header.alg {
        Algorithm::RS256 => DecodingKey::from_rsa_components(jwk["n"].as_str().expect("n"), jwk["e"].as_str().expect("e")).expect("RSA"),
        Algorithm::EdDSA => DecodingKey::from_ed_components(jwk["x"].as_str().expect("x")).expect("Ed25519"),
        other => panic!("unexpected {other:?}"),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[&app.issuer]);
    jsonwebtoken::decode::<Value>(token, &key, &validation).expect("the ID token verifies").claims
}

#[tokio::test]
async fn discovery_names_the_issuer_and_every_endpoint_and_the_jwks_holds_an_rsa_and_an_ed25519_key() {
    let app = TestApp::spawn().await;

    let meta: Value = app.get("/.well-known/openid-configuration", None).await.json().await.expect("metadata");

    assert_eq!(meta["issuer"], app.issuer.as_str());
    for endpoint in ["authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri", "end_session_endpoint"] {
        assert!(meta[endpoint].as_str().expect(endpoint).starts_with("http"), "{endpoint}");
    }
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["id_token_signing_alg_values_supported"], json!(["RS256", "EdDSA"]));
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.expect("JWKS");
    let kinds: Vec<&str> = jwks["keys"].as_array().expect("keys").iter().map(|k| k["kty"].as_str().expect("kty")).collect();
    assert_eq!(kinds.len(), 2);
    assert!(kinds.contains(&"RSA") && kinds.contains(&"OKP"), "{kinds:?}");
    for key in jwks["keys"].as_array().expect("keys") {
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "never a private part: {key}");
        }
    }
}

#[tokio::test]
async fn a_confidential_client_signs_a_user_in_with_pkce_and_gets_a_verified_id_token_userinfo_and_a_refresh() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    let user = app.user("alice").await;
    let (verifier, challenge) = pkce();

    let code = code_for(&app, &user, &rp, &challenge, "openid profile email offline_access").await;
    let res = exchange(&app, &rp, &code, &verifier).await;

    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let tokens: Value = res.json().await.expect("tokens");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "openid profile email offline_access");
    let claims = verified_id_token(&app, tokens["id_token"].as_str().expect("id_token"), &rp.client_id).await;
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["nonce"], "n-456");
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(claims["auth_time"].as_i64().expect("auth_time") <= claims["iat"].as_i64().expect("iat"));
    let access = tokens["access_token"].as_str().expect("access token");
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(access.as_bytes());
    assert_eq!(claims["at_hash"], base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]));

    let info: Value = app.get("/oauth/userinfo", Some(access)).await.json().await.expect("userinfo");
    assert_eq!(info, json!({ "sub": user.id, "preferred_username": "alice" }), "no email registered: no email claims");
    assert_eq!(app.get_me(access).await.status(), StatusCode::UNAUTHORIZED, "a client's token is not for the account API");

    let refresh = tokens["refresh_token"].as_str().expect("a refresh token with offline_access");
    let res = app.token_call("/oauth/token", &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let renewed: Value = res.json().await.expect("tokens");
    assert_ne!(renewed["refresh_token"], tokens["refresh_token"], "rotated");
    assert_eq!(
        app.post_refresh(renewed["refresh_token"].as_str().expect("refresh")).await.status(),
        StatusCode::UNAUTHORIZED,
        "not the API's"
    );
}

#[tokio::test]
async fn a_code_presented_twice_is_refused_and_the_tokens_its_first_use_gave_stop_working() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    let user = app.user("alice").await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &user, &rp, &challenge, "openid").await;
    let tokens: Value = exchange(&app, &rp, &code, &verifier).await.json().await.expect("tokens");
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(app.get("/oauth/userinfo", Some(access)).await.status(), StatusCode::OK);

    oauth_error(exchange(&app, &rp, &code, &verifier).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    assert_eq!(app.get("/oauth/userinfo", Some(access)).await.status(), StatusCode::UNAUTHORIZED, "revoked");
    let audit: Value = app.get("/v1/audit?type=oauth.code_replayed", Some(&admin.access)).await.json().await.expect("audit");
    assert_eq!(audit["items"].as_array().expect("items").len(), 1);
}

#[tokio::test]
async fn a_pkce_mismatch_a_wrong_redirect_uri_a_wrong_secret_and_another_clients_code_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    let other = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    let user = app.user("alice").await;
    let (verifier, challenge) = pkce();

    let code = code_for(&app, &user, &rp, &challenge, "openid").await;
    let (wrong_verifier, _) = pkce();
    oauth_error(exchange(&app, &rp, &code, &wrong_verifier).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let code = code_for(&app, &user, &rp, &challenge, "openid").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", "https://rp.example.com/other"),
        ("code_verifier", &verifier),
    ];
    oauth_error(app.token_call("/oauth/token", &rp, &form).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let code = code_for(&app, &user, &rp, &challenge, "openid").await;
    let wrong_secret = Rp { client_id: rp.client_id.clone(), secret: Some("x".repeat(43)) };
    let res = exchange(&app, &wrong_secret, &code, &verifier).await;
    assert!(res.headers()["www-authenticate"].to_str().expect("header").starts_with("Basic"));
    oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    oauth_error(exchange(&app, &other, &code, &verifier).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let metrics = app.get("/metrics", None).await.text().await.expect("metrics");
    for outcome in ["invalid_grant", "invalid_client"] {
        let series = format!("gatehouse_oauth_tokens_total{{grant=\"authorization_code\",outcome=\"{outcome}\"}}");
        assert!(metrics.contains(&series), "{series} counted");
    }
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let app = TestApp::spawn_with(|c| c.oauth_code_ttl = 1).await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    let user = app.user("alice").await;
    let (verifier, challenge) = pkce();
    let code = code_for(&app, &user, &rp, &challenge, "openid").await;

    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;

    oauth_error(exchange(&app, &rp, &code, &verifier).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn an_unknown_client_or_redirect_uri_gets_a_page_and_other_errors_go_back_to_the_client_with_state_and_iss() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({})).await;
    let agent = app.agent();
    let (_, challenge) = pkce();

    let unknown = Rp { client_id: "gh_nobody".into(), secret: None };
    let res = agent.get(&authorize_path(&unknown, &challenge, "openid", &[])).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none(), "never a redirect");
    let res = agent.get(&authorize_path(&rp, &challenge, "openid", &[("redirect_uri", "https://evil.example/cb")])).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("location").is_none(), "never a redirect");

    for (extra, error) in [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("code_challenge", ""), ("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("scope", "profile")], "invalid_scope"),
        (vec![("prompt", "none")], "login_required"),
    ] {
        let mut path = authorize_path(&rp, &challenge, "openid", &extra);
        if extra[0].1.is_empty() {
            path = path.replace("&code_challenge=&code_challenge_method=", "");
        }
        let (_, landed, _) = agent.follow(&path).await;
        assert!(landed.starts_with(REDIRECT_URI), "{extra:?}: {landed}");
        assert_eq!(query_param(&landed, "error").as_deref(), Some(error), "{extra:?}");
        assert_eq!(query_param(&landed, "state").as_deref(), Some("st-123"));
        assert_eq!(query_param(&landed, "iss").as_deref(), Some(app.issuer.as_str()));
    }
}

#[tokio::test]
async fn a_client_registered_for_eddsa_gets_ed25519_signed_id_tokens_with_a_sha512_at_hash() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({ "first_party": true, "id_token_signed_response_alg": "EdDSA" })).await;
    let user = app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;

    let tokens = app.granted_tokens(&agent, &rp, "openid").await;

    let id_token = tokens["id_token"].as_str().expect("id_token");
    assert_eq!(jsonwebtoken::decode_header(id_token).expect("header").alg, Algorithm::EdDSA);
    let claims = verified_id_token(&app, id_token, &rp.client_id).await;
    assert_eq!(claims["sub"], user.id.as_str());
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha512::digest(tokens["access_token"].as_str().expect("access").as_bytes());
    assert_eq!(claims["at_hash"], base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..32]));
}

#[tokio::test]
async fn a_login_hint_fills_in_the_sign_in_page_and_a_totp_sign_in_shows_in_amr() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({ "first_party": true })).await;
    let (_, challenge) = pkce();
    let agent = app.agent();

    let (_, _, page) = agent.follow(&authorize_path(&rp, &challenge, "openid", &[("login_hint", "carol")])).await;
    assert!(page.contains("value=\"carol\""), "the name is filled in");

    let carol = app.mfa_user("carol").await;
    let res = agent.submit("/login", "/login", &[("username", "carol"), ("password", crate::common::PASSWORD), ("return_to", "")]).await;
    let page = res.text().await.expect("the second step");
    let needle = "name=\"mfa_token\" value=\"";
    let token_start = page.find(needle).expect("the step's token") + needle.len();
    let mfa_token = page[token_start..].split('"').next().expect("token").to_string();
    let code = crate::common::mfa::code_at(&carol.secret, crate::common::mfa::fresh_step().await);
    let res = agent.submit_on(&page, "/login/mfa", &[("mfa_token", &mfa_token), ("code", &code), ("return_to", "")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let tokens = app.granted_tokens(&agent, &rp, "openid").await;

    let claims = verified_id_token(&app, tokens["id_token"].as_str().expect("id_token"), &rp.client_id).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));
}
