//! Kind `oidc`: the code exchange at the token endpoint, the ID token checked (signature
//! by the provider's keys, `iss`, `aud`, `azp`, `nonce`, `exp`), and userinfo for the
//! claims the ID token left out. Upstream tokens are used here and dropped, never kept.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::discovery::{Discovery, get_json, issuer_matches};
use super::{Upstream, UpstreamError};
use crate::store::Provider;

/// Algorithms an upstream ID token may be signed with (never `none`, never HMAC).
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];
/// `amr` values that say the provider checked a second factor (RFC 8176).
const MFA_AMR: [&str; 5] = ["mfa", "otp", "hwk", "sms", "swk"];

/// The person as the provider vouches for them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub preferred_username: Option<String>,
    /// The provider's `amr` said a second factor was checked.
    pub mfa: bool,
}

/// An access token and ID token from the token endpoint (the latter `None` for GitHub).
pub struct Tokens {
    pub access_token: String,
    pub id_token: Option<String>,
}

/// POSTs the code (with the PKCE verifier) to the token endpoint, authenticating with the
/// client secret as the provider prefers (Basic unless it supports only the form).
pub async fn exchange(
    up: &Upstream,
    provider: &Provider,
    secret: &str,
    token_endpoint: &str,
    methods: Option<&[String]>,
    code: &str,
    verifier: &str,
) -> Result<Tokens, UpstreamError> {
    let redirect_uri = up.callback_url(&provider.slug);
    let mut form = vec![("grant_type", "authorization_code"), ("code", code), ("redirect_uri", &redirect_uri), ("code_verifier", verifier)];
    let basic = methods.is_none_or(|m| m.is_empty() || m.iter().any(|m| m == "client_secret_basic"));
    let mut request = up.http.post(token_endpoint);
    if basic {
        let user = form_urlencode(&provider.client_id);
        request = request.basic_auth(user, Some(form_urlencode(secret)));
    } else {
        form.push(("client_id", &provider.client_id));
        form.push(("client_secret", secret));
    }
    let answer = get_json(request.form(&form), "token").await?;
    if let Some(error) = answer.get("error").and_then(Value::as_str) {
        tracing::info!(provider = %provider.slug, error, "the provider refused the code");
        return Err(UpstreamError::failed("token_refused"));
    }
    let access_token = answer.get("access_token").and_then(Value::as_str).ok_or_else(|| UpstreamError::failed("token_missing"))?;
    let id_token = answer.get("id_token").and_then(Value::as_str).map(str::to_string);
    Ok(Tokens { access_token: access_token.to_string(), id_token })
}

/// RFC 6749 §2.3.1: the client id and secret are form-encoded before Basic.
fn form_urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Checks an ID token and answers its claims.
pub async fn verify_id_token(
    up: &Upstream,
    provider: &Provider,
    discovery: &Discovery,
    id_token: &str,
    nonce: &str,
) -> Result<Map<String, Value>, UpstreamError> {
    let header = jsonwebtoken::decode_header(id_token).map_err(|_| UpstreamError::failed("id_token_malformed"))?;
    if !ALGORITHMS.contains(&header.alg) {
        return Err(UpstreamError::failed("id_token_algorithm"));
    }
    let jwk = up.cache.key(&up.http, &discovery.jwks_uri, header.kid.as_deref()).await?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| UpstreamError::failed("id_token_key_unusable"))?;
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[&provider.client_id]);
    // The issuer is compared below (a multi-tenant template needs the token's `tid`).
    validation.iss = None;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.leeway = 60;
    let data = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation).map_err(|err| {
        use jsonwebtoken::errors::ErrorKind;
        let reason = match err.kind() {
            ErrorKind::InvalidSignature => "id_token_signature",
            ErrorKind::InvalidAudience => "id_token_audience",
            ErrorKind::ExpiredSignature => "id_token_expired",
            ErrorKind::ImmatureSignature => "id_token_not_yet_valid",
            ErrorKind::MissingRequiredClaim(_) => "id_token_claim_missing",
            _ => "id_token_invalid",
        };
        UpstreamError::failed(reason)
    })?;
    let claims = data.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if !issuer_matches(text("iss").unwrap_or_default(), &discovery.issuer, text("tid")) {
        return Err(UpstreamError::failed("id_token_issuer"));
    }
    if text("nonce") != Some(nonce) {
        return Err(UpstreamError::failed("id_token_nonce"));
    }
    // With several audiences, `azp` must name this client; when present, always.
    let several = claims.get("aud").and_then(Value::as_array).is_some_and(|a| a.len() > 1);
    match text("azp") {
        Some(azp) if azp != provider.client_id => return Err(UpstreamError::failed("id_token_azp")),
        None if several => return Err(UpstreamError::failed("id_token_azp")),
        _ => {}
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(UpstreamError::failed("id_token_claim_missing"));
    }
    Ok(claims)
}

/// The profile of an OpenID sign-in: the ID token's claims, and userinfo's for `email`,
/// `email_verified` and `name` when the ID token left them out (userinfo's `sub` must be
/// the ID token's).
pub async fn profile(
    up: &Upstream,
    provider: &Provider,
    discovery: &Discovery,
    tokens: &Tokens,
    nonce: &str,
) -> Result<Profile, UpstreamError> {
    let id_token = tokens.id_token.as_deref().ok_or_else(|| UpstreamError::failed("id_token_missing"))?;
    let mut claims = verify_id_token(up, provider, discovery, id_token, nonce).await?;
    let missing = ["email", "email_verified", "name"].iter().any(|c| !claims.contains_key(*c));
    if missing && let Some(userinfo) = &discovery.userinfo_endpoint {
        let info = get_json(up.http.get(userinfo).bearer_auth(&tokens.access_token), "userinfo").await?;
        if info.get("sub") != claims.get("sub") {
            return Err(UpstreamError::failed("userinfo_subject"));
        }
        for claim in ["email", "email_verified", "name", "preferred_username"] {
            if !claims.contains_key(claim)
                && let Some(value) = info.get(claim)
            {
                claims.insert(claim.to_string(), value.clone());
            }
        }
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_string);
    // Some providers send the flag as a string.
    let email_verified = match claims.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    };
    let mfa =
        claims.get("amr").and_then(Value::as_array).is_some_and(|amr| amr.iter().filter_map(Value::as_str).any(|m| MFA_AMR.contains(&m)));
    Ok(Profile {
        subject: text("sub").unwrap_or_default(),
        email: text("email").filter(|e| !e.is_empty()),
        email_verified,
        name: text("name"),
        preferred_username: text("preferred_username"),
        mfa,
    })
}
