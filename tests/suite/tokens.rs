//! Access tokens checked from the outside: an independent Ed25519 verification against the
//! served JWKS, and every forgery the contract says must be refused.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::{TestApp, TestUser, assert_problem};

/// A JWT cut into its parts: header, claims, signature, and the signed `header.payload`.
struct Jwt {
    header: Value,
    claims: Value,
    signature: Vec<u8>,
    signing_input: String,
}

fn split(token: &str) -> Jwt {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS in compact form");
    let decode = |p: &str| B64.decode(p).expect("base64url");
    Jwt {
        header: serde_json::from_slice(&decode(parts[0])).expect("header JSON"),
        claims: serde_json::from_slice(&decode(parts[1])).expect("claims JSON"),
        signature: decode(parts[2]),
        signing_input: format!("{}.{}", parts[0], parts[1]),
    }
}

fn encode(value: &Value) -> String {
    B64.encode(serde_json::to_vec(value).expect("json"))
}

fn ed25519_token(key: &SigningKey, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", encode(header), encode(claims));
    let signature = key.sign(input.as_bytes());
    format!("{input}.{}", B64.encode(signature.to_bytes()))
}

fn hs256_token(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", encode(header), encode(claims));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(input.as_bytes());
    format!("{input}.{}", B64.encode(mac.finalize().into_bytes()))
}

async fn jwks(app: &TestApp) -> Value {
    let res = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.expect("JWK set")
}

/// The public key the served JWKS lists under `kid`, decoded by hand.
fn public_key(jwks: &Value, kid: &str) -> VerifyingKey {
    let jwk = jwks["keys"].as_array().expect("keys").iter().find(|k| k["kid"] == kid).expect("kid in the JWKS");
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    let x: [u8; 32] = B64.decode(jwk["x"].as_str().expect("x")).expect("base64url").try_into().expect("32 bytes");
    VerifyingKey::from_bytes(&x).expect("an Ed25519 point")
}

async fn assert_refused(app: &TestApp, token: &str) {
    let res = app.get_me(token).await;
    assert_eq!(res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer error=\"invalid_token\""));
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn session_id(app: &TestApp, user: &TestUser) -> String {
    let body: Value = app.get("/v1/auth/sessions", Some(&user.access)).await.json().await.expect("json");
    body["items"][0]["id"].as_str().expect("id").to_string()
}

#[tokio::test]
async fn an_access_token_verifies_independently_against_the_served_jwks() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let kid = jwt.header["kid"].as_str().expect("kid");

    let key = public_key(&jwks(&app).await, kid);
    let signature = Signature::from_slice(&jwt.signature).expect("64-byte signature");

    assert!(key.verify_strict(jwt.signing_input.as_bytes(), &signature).is_ok());
    assert!(key.verify(jwt.signing_input.as_bytes(), &signature).is_ok());
    assert_eq!(jwt.header["alg"], "EdDSA");
    assert_eq!(jwt.header["typ"], "at+jwt");
}

#[tokio::test]
async fn an_access_token_carries_every_claim_of_the_contract() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let sid = session_id(&app, &alice).await;

    let claims = split(&alice.access).claims;

    assert_eq!(claims["iss"], app.base.as_str());
    assert_eq!(claims["sub"], alice.id.as_str());
    assert_eq!(claims["aud"], "gatehouse");
    let (iat, nbf, exp) =
        (claims["iat"].as_i64().expect("iat"), claims["nbf"].as_i64().expect("nbf"), claims["exp"].as_i64().expect("exp"));
    let now = chrono::Utc::now().timestamp();
    assert!((now - 60..=now + 1).contains(&iat), "iat {iat} near now {now}");
    assert!(nbf <= iat);
    assert_eq!(exp - iat, 900);
    assert!(uuid::Uuid::parse_str(claims["jti"].as_str().expect("jti")).is_ok());
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["roles"], json!(["user"]));
    assert_eq!(claims["username"], "alice");
}

#[tokio::test]
async fn two_tokens_never_share_a_jti() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let refreshed: Value = app.post_refresh(&alice.refresh).await.json().await.expect("json");

    let again = refreshed["access_token"].as_str().expect("access");
    assert_ne!(split(&alice.access).claims["jti"], split(again).claims["jti"]);
}

#[tokio::test]
async fn an_alg_none_token_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let header = json!({ "alg": "none", "typ": "at+jwt", "kid": jwt.header["kid"] });

    for signature in ["", "AAAA"] {
        let forged = format!("{}.{}.{signature}", encode(&header), encode(&jwt.claims));

        assert_refused(&app, &forged).await;
    }
}

#[tokio::test]
async fn an_hs256_token_signed_with_the_public_key_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let kid = jwt.header["kid"].as_str().expect("kid").to_string();
    let keys = jwks(&app).await;
    let public = public_key(&keys, &kid).to_bytes();
    let list = keys["keys"].as_array().expect("keys");
    let x = list.iter().find(|k| k["kid"] == kid.as_str()).expect("the access token's key")["x"].as_str().expect("x").to_string();
    let n = list.iter().find(|k| k["kty"] == "RSA").expect("the ID tokens' RSA key")["n"].as_str().expect("n").to_string();
    let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": kid });

    for secret in [&public[..], x.as_bytes(), n.as_bytes()] {
        let forged = hs256_token(secret, &header, &jwt.claims);

        assert_refused(&app, &forged).await;
    }
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let parts: Vec<&str> = alice.access.split('.').collect();
    let mut claims = split(&alice.access).claims;
    claims["roles"] = json!(["admin", "user"]);

    let forged = format!("{}.{}.{}", parts[0], encode(&claims), parts[2]);

    assert_refused(&app, &forged).await;
}

#[tokio::test]
async fn a_token_signed_by_an_unknown_key_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let stranger = SigningKey::from_bytes(&[7u8; 32]);

    let unknown_kid = ed25519_token(&stranger, &json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": "not-a-key-of-ours" }), &jwt.claims);
    let known_kid_wrong_key = ed25519_token(&stranger, &jwt.header, &jwt.claims);
    let no_kid = ed25519_token(&stranger, &json!({ "alg": "EdDSA", "typ": "at+jwt" }), &jwt.claims);

    assert_refused(&app, &unknown_kid).await;
    assert_refused(&app, &known_kid_wrong_key).await;
    assert_refused(&app, &no_kid).await;
}

#[tokio::test]
async fn a_token_without_the_at_jwt_type_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let mut header = jwt.header.clone();
    header["typ"] = json!("JWT");

    // Re-signing needs the server's key: take it from the store, as only the server could.
    let records = app.state.store.signing_keys().await.expect("keys");
    let seed: [u8; 32] = records[0].private_key.clone().try_into().expect("seed");
    let forged = ed25519_token(&SigningKey::from_bytes(&seed), &header, &jwt.claims);

    assert_refused(&app, &forged).await;
}

#[tokio::test]
async fn an_expired_token_or_a_foreign_audience_or_issuer_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let records = app.state.store.signing_keys().await.expect("keys");
    let server_key = SigningKey::from_bytes(&records[0].private_key.clone().try_into().expect("seed"));
    let now = chrono::Utc::now().timestamp();
    let with = |field: &str, value: Value| {
        let mut claims = jwt.claims.clone();
        claims[field] = value;
        ed25519_token(&server_key, &jwt.header, &claims)
    };

    let control = ed25519_token(&server_key, &jwt.header, &jwt.claims);
    assert_eq!(app.get_me(&control).await.status(), StatusCode::OK, "re-signing by itself changes nothing");
    assert_refused(&app, &with("exp", json!(now - 120))).await;
    assert_refused(&app, &with("nbf", json!(now + 600))).await;
    assert_refused(&app, &with("aud", json!("someone-else"))).await;
    assert_refused(&app, &with("iss", json!("https://evil.example"))).await;
}

#[tokio::test]
async fn a_refresh_token_used_as_a_bearer_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    assert_refused(&app, &alice.refresh).await;
}

#[tokio::test]
async fn an_oversized_token_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let mut claims = jwt.claims.clone();
    claims["padding"] = json!("x".repeat(6000));
    let records = app.state.store.signing_keys().await.expect("keys");
    let server_key = SigningKey::from_bytes(&records[0].private_key.clone().try_into().expect("seed"));

    let big = ed25519_token(&server_key, &jwt.header, &claims);

    assert!(big.len() > 4096);
    assert_refused(&app, &big).await;
}

#[tokio::test]
async fn a_missing_token_is_401_with_a_bare_bearer_challenge() {
    let app = TestApp::spawn().await;

    let res = app.get("/v1/auth/me", None).await;

    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn a_non_bearer_authorization_header_is_refused() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.client.get(app.url("/v1/auth/me")).header("authorization", format!("Basic {}", alice.access)).send().await.expect("sent");

    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn the_legacy_x_access_token_header_is_accepted() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let res = app.client.get(app.url("/v1/auth/me")).header("x-access-token", &alice.access).send().await.expect("sent");

    assert_eq!(res.status(), StatusCode::OK);
    let me: Value = res.json().await.expect("json");
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn with_a_shared_secret_access_tokens_are_hs256_and_the_jwks_holds_only_the_id_token_keys() {
    let secret = "0123456789abcdef0123456789abcdef-hs256";
    let app = TestApp::spawn_with(|c| c.jwt_secret = Some(gatehouse::config::Secret::new(secret).expect("long enough"))).await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);

    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(jwt.signing_input.as_bytes());

    assert!(mac.verify_slice(&jwt.signature).is_ok(), "signed with the secret's UTF-8 bytes");
    assert_eq!(jwt.header["alg"], "HS256");
    assert_eq!(jwt.header["typ"], "at+jwt");
    let published = jwks(&app).await;
    assert!(published["keys"].as_array().expect("keys").iter().all(|k| k["kty"] != "oct"), "a shared secret is never published");
    assert!(!published.to_string().contains(secret));
    assert_eq!(app.get_me(&alice.access).await.status(), StatusCode::OK);
    let refreshed: Value = app.post_refresh(&alice.refresh).await.json().await.expect("json");
    assert_eq!(app.get_me(refreshed["access_token"].as_str().expect("access")).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_a_shared_secret_an_eddsa_or_wrongly_keyed_token_is_refused() {
    let secret = "0123456789abcdef0123456789abcdef-hs256";
    let app = TestApp::spawn_with(|c| c.jwt_secret = Some(gatehouse::config::Secret::new(secret).expect("long enough"))).await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let records = app.state.store.signing_keys().await.expect("keys");
    let stored_key = SigningKey::from_bytes(&records[0].private_key.clone().try_into().expect("seed"));

    let eddsa = ed25519_token(&stored_key, &json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": records[0].kid }), &jwt.claims);
    let other_secret = hs256_token(b"another-secret-of-at-least-32-bytes!!", &jwt.header, &jwt.claims);

    assert_refused(&app, &eddsa).await;
    assert_refused(&app, &other_secret).await;
}

#[test]
fn a_jwt_secret_under_32_bytes_is_refused_when_parsed() {
    use clap::Parser as _;

    let short = gatehouse::config::Secret::new("only-31-bytes-long-xxxxxxxxxxxx");
    let parsed = gatehouse::cli::Cli::try_parse_from(["gatehouse", "--jwt-secret", "too-short", "migrate"]);
    let exact = gatehouse::config::Secret::new("x".repeat(32));

    assert!(short.is_err_and(|why| why.contains("32")));
    assert!(parsed.is_err_and(|e| e.to_string().contains("32 bytes")));
    assert!(exact.is_ok());
}

#[tokio::test]
async fn after_a_key_rotation_old_tokens_verify_the_jwks_holds_both_and_new_tokens_use_the_new_key() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let old_kid = split(&alice.access).header["kid"].as_str().expect("kid").to_string();
    let store = gatehouse::store::connect(&app.database_url).await.expect("store");
    let key = gatehouse::auth::keys::generate_key();
    let new_kid = key.kid.clone();

    store.add_signing_key(key, true).await.expect("rotated");
    app.state.tokens.reload().await.expect("reloaded");

    let keys = jwks(&app).await;
    let kids: Vec<&str> =
        keys["keys"].as_array().expect("keys").iter().filter(|k| k["alg"] == "EdDSA").map(|k| k["kid"].as_str().expect("kid")).collect();
    assert_eq!(kids.len(), 2);
    assert!(kids.contains(&old_kid.as_str()) && kids.contains(&new_kid.as_str()));
    assert_eq!(app.get_me(&alice.access).await.status(), StatusCode::OK, "old tokens still verify");
    let fresh = app.login("alice", &alice.password).await;
    let jwt = split(&fresh.access);
    assert_eq!(jwt.header["kid"], new_kid.as_str());
    let signature = Signature::from_slice(&jwt.signature).expect("signature");
    assert!(public_key(&keys, &new_kid).verify_strict(jwt.signing_input.as_bytes(), &signature).is_ok());
    assert_eq!(app.get_me(&fresh.access).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_with_a_kid_made_by_another_instance_makes_this_one_reload_its_keys() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let jwt = split(&alice.access);
    let store = gatehouse::store::connect(&app.database_url).await.expect("store");
    let key = gatehouse::auth::keys::generate_key();
    let new_kid = key.kid.clone();
    let seed: [u8; 32] = key.private_key.clone().try_into().expect("seed");
    store.add_signing_key(key, true).await.expect("rotated");
    // What another instance that already reloaded would issue.
    let from_elsewhere =
        ed25519_token(&SigningKey::from_bytes(&seed), &json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": new_kid }), &jwt.claims);
    // Unknown kids reload the keys at most every 2 seconds.
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let res = app.get_me(&from_elsewhere).await;

    assert_eq!(res.status(), StatusCode::OK);
    let fresh = app.login("alice", &alice.password).await;
    assert_eq!(split(&fresh.access).header["kid"], new_kid.as_str(), "this instance now signs with the new key");
}
