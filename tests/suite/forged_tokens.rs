//! A catalogue of forged and broken access tokens (RFC 8725, RFC 9068): each is refused
//! with 401 `invalid_token`. Validly signed forgeries use the server's own Ed25519 seed,
//! read from its database, so that only the property under test is wrong.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use ed25519_dalek::{Signer as _, SigningKey};
use hmac::{Hmac, Mac};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::common::{TestApp, TestUser, assert_problem};

struct Forge {
    seed: [u8; 32],
    public: Vec<u8>,
    kid: String,
    claims: Value,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Forge {
    async fn new(app: &TestApp, user: &TestUser) -> Self {
        let store = gatehouse::store::connect(&app.database_url).await.expect("store");
        let keys = store.signing_keys().await.expect("keys");
        let active = keys.into_iter().find(|k| k.retired_at.is_none()).expect("an active key");
        let payload = user.access.split('.').nth(1).expect("payload");
        let claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json");
        Self { seed: active.private_key.try_into().expect("32-byte seed"), public: active.public_key, kid: active.kid, claims }
    }

    fn header(&self) -> Value {
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": self.kid })
    }

    fn sign(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = SigningKey::from_bytes(&self.seed).sign(input.as_bytes());
        format!("{input}.{}", b64(signature.to_bytes()))
    }

    fn with_header(&self, change: impl FnOnce(&mut Value)) -> String {
        let mut header = self.header();
        change(&mut header);
        self.sign(&header, &self.claims)
    }

    fn with_claims(&self, change: impl FnOnce(&mut Value)) -> String {
        let mut claims = self.claims.clone();
        change(&mut claims);
        self.sign(&self.header(), &claims)
    }
}

fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(mac.finalize().into_bytes()))
}

async fn assert_refused(app: &TestApp, token: &str, what: &str) {
    let res = app.get_me(token).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what} was accepted");
    let challenge = res.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert!(challenge.contains("invalid_token"), "{what}: WWW-Authenticate {challenge:?}");
    assert_problem(res, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

async fn setup() -> (TestApp, TestUser, Forge) {
    let app = TestApp::spawn().await;
    let user = app.user("mallory").await;
    let forge = Forge::new(&app, &user).await;
    (app, user, forge)
}

#[tokio::test]
async fn a_token_re_signed_by_the_harness_with_nothing_changed_is_accepted() {
    let (app, _, forge) = setup().await;

    let token = forge.sign(&forge.header(), &forge.claims);

    assert_eq!(app.get_me(&token).await.status(), StatusCode::OK, "the forging harness must be sound");
}

#[tokio::test]
async fn alg_none_is_refused_in_every_casing() {
    let (app, user, forge) = setup().await;
    let signature = user.access.rsplit('.').next().expect("signature").to_string();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({ "alg": alg, "typ": "at+jwt", "kid": forge.kid });
        let unsigned = format!("{}.{}.", b64(header.to_string()), b64(forge.claims.to_string()));
        assert_refused(&app, &unsigned, &format!("alg {alg} unsigned")).await;
        assert_refused(&app, &format!("{}{signature}", unsigned), &format!("alg {alg} with a signature")).await;
    }
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let (app, _, forge) = setup().await;
    let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": forge.kid });
    let x = b64(&forge.public);

    assert_refused(&app, &hs256(&forge.public, &header, &forge.claims), "HS256 with the raw public key").await;
    assert_refused(&app, &hs256(x.as_bytes(), &header, &forge.claims), "HS256 with the JWK x string").await;
}

#[tokio::test]
async fn other_algorithms_in_the_header_are_refused() {
    let (app, _, forge) = setup().await;
    for alg in ["RS256", "ES256", "PS256", "HS512", "eddsa", "Ed25519"] {
        assert_refused(&app, &forge.with_header(|h| h["alg"] = json!(alg)), &format!("alg {alg}")).await;
    }
}

#[tokio::test]
async fn unknown_and_injected_kids_are_refused() {
    let (app, _, forge) = setup().await;
    for kid in [json!("no-such-kid"), json!("../../etc/passwd"), json!("' OR 1=1 --"), json!(""), json!(42), Value::Null] {
        assert_refused(&app, &forge.with_header(|h| h["kid"] = kid.clone()), &format!("kid {kid}")).await;
    }
    let no_kid = forge.with_header(|h| {
        h.as_object_mut().expect("object").remove("kid");
    });
    assert_refused(&app, &no_kid, "no kid").await;
}

#[tokio::test]
async fn key_location_headers_are_refused_and_never_fetched() {
    let (app, _, forge) = setup().await;
    let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(&forge.public) });
    for (name, value) in [
        ("jku", json!("http://127.0.0.1:9/jwks.json")),
        ("x5u", json!("http://127.0.0.1:9/cert.pem")),
        ("jwk", jwk),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ] {
        assert_refused(&app, &forge.with_header(|h| h[name] = value.clone()), &format!("header {name}")).await;
    }
}

#[tokio::test]
async fn a_wrong_or_missing_typ_is_refused() {
    let (app, _, forge) = setup().await;
    for typ in ["JWT", "jwt", "rt+jwt", ""] {
        assert_refused(&app, &forge.with_header(|h| h["typ"] = json!(typ)), &format!("typ {typ}")).await;
    }
    let missing = forge.with_header(|h| {
        h.as_object_mut().expect("object").remove("typ");
    });
    assert_refused(&app, &missing, "no typ").await;
}

#[tokio::test]
async fn a_wrong_issuer_or_audience_is_refused() {
    let (app, _, forge) = setup().await;

    assert_refused(&app, &forge.with_claims(|c| c["iss"] = json!("https://evil.example")), "wrong iss").await;
    assert_refused(&app, &forge.with_claims(|c| c["aud"] = json!("another-service")), "wrong aud").await;
    assert_refused(&app, &forge.with_claims(|c| c["aud"] = json!(["another-service"])), "wrong aud list").await;
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_refused_beyond_the_leeway() {
    let (app, _, forge) = setup().await;
    let now = Utc::now().timestamp();

    let expired = forge.with_claims(|c| {
        c["iat"] = json!(now - 1000);
        c["nbf"] = json!(now - 1000);
        c["exp"] = json!(now - 61 - 5);
    });
    let not_yet = forge.with_claims(|c| {
        c["nbf"] = json!(now + 61 + 5);
        c["exp"] = json!(now + 900);
    });

    assert_refused(&app, &expired, "expired").await;
    assert_refused(&app, &not_yet, "not yet valid").await;
}

#[tokio::test]
async fn a_token_missing_any_required_claim_is_refused() {
    let (app, _, forge) = setup().await;
    for claim in ["iss", "sub", "aud", "exp", "iat", "nbf", "jti", "sid", "roles", "username"] {
        let token = forge.with_claims(|c| {
            c.as_object_mut().expect("object").remove(claim);
        });
        assert_refused(&app, &token, &format!("without {claim}")).await;
    }
}

#[tokio::test]
async fn a_refresh_token_is_refused_as_a_bearer_token() {
    let (app, user, _) = setup().await;

    assert_refused(&app, &user.refresh, "refresh token").await;
}

#[tokio::test]
async fn a_token_over_the_size_limit_is_refused_even_when_validly_signed() {
    let (app, _, forge) = setup().await;

    let token = forge.with_claims(|c| c["pad"] = json!("x".repeat(5000)));

    assert!(token.len() > 4096);
    assert_refused(&app, &token, "oversized").await;
}

#[tokio::test]
async fn one_flipped_bit_in_any_part_of_a_valid_token_is_refused() {
    let (app, user, _) = setup().await;
    assert_eq!(app.get_me(&user.access).await.status(), StatusCode::OK);
    let parts: Vec<&str> = user.access.split('.').collect();
    for index in 0..3 {
        for byte in [0usize, 7, usize::MAX] {
            let mut decoded = URL_SAFE_NO_PAD.decode(parts[index]).expect("base64");
            let at = byte.min(decoded.len() - 1);
            decoded[at] ^= 0x01;
            let mut forged: Vec<String> = parts.iter().map(|p| p.to_string()).collect();
            forged[index] = b64(&decoded);
            assert_refused(&app, &forged.join("."), &format!("bit flipped in part {index} at byte {at}")).await;
        }
    }
}

#[tokio::test]
async fn malformed_strings_are_refused() {
    let (app, user, _) = setup().await;
    let two_parts = user.access.rsplit_once('.').expect("two parts").0.to_string();
    for token in ["", "a", "a.b", "a.b.c", "....", &two_parts, &format!("{}.extra", user.access)] {
        let res = app.get_me(token).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{token:?}");
    }
}
