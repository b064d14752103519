//! The JSON endpoints of the OpenID Connect provider: discovery, token, userinfo,
//! revocation and introspection. Their errors are RFC 6749's `{"error",
//! "error_description"}`; the browser's endpoints (authorize, logout) are pages.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::accounts::oauth_tokens::{self as grants, ClientAuth, CodeExchange, OAuthTokens};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::ClientInfo;
use crate::domain::client::{ID_TOKEN_ALGS, SCOPES};
use crate::error::{ApiError, OAuthError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(discovery))
        .routes(routes!(token))
        .routes(routes!(userinfo_get, userinfo_post))
        .routes(routes!(revoke))
        .routes(routes!(introspect))
}

/// The OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3).
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "openid",
    responses((status = 200, description = "the provider's metadata", body = Object)))]
async fn discovery(State(state): State<AppState>) -> Json<Value> {
    let issuer = state.config.issuer();
    let base = state.config.public_url().trim_end_matches('/').to_string();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "userinfo_endpoint": format!("{base}/oauth/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{base}/oauth/logout"),
        "revocation_endpoint": format!("{base}/oauth/revoke"),
        "introspection_endpoint": format!("{base}/oauth/introspect"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ID_TOKEN_ALGS,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "at_hash", "sid", "azp", "org",
            "preferred_username", "email", "email_verified"],
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    }))
}

/// A form body of the token, revocation or introspection endpoint. Every field a string;
/// a repeated field is refused (RFC 6749 §3.2).
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // Documents the form for the OpenAPI document; the body is read as pairs.
struct TokenForm {
    #[schema(example = "authorization_code")]
    grant_type: GrantType,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    /// RFC 8707: a resource server registered on the client; the access token's `aud`
    /// is then that URI instead of the client's `client_id`.
    resource: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // As TokenForm.
enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // As TokenForm.
struct TokenOnlyForm {
    token: String,
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The parameters these endpoints read.
const KNOWN_FIELDS: [&str; 11] = [
    "grant_type",
    "code",
    "redirect_uri",
    "code_verifier",
    "refresh_token",
    "scope",
    "resource",
    "client_id",
    "client_secret",
    "token",
    "token_type_hint",
];

/// The form's fields, and how the client authenticated.
struct OAuthForm {
    fields: HashMap<String, String>,
    auth: ClientAuth,
}

impl OAuthForm {
    fn read(headers: &HeaderMap, body: &Bytes) -> Result<Self, ApiError> {
        let form_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded")));
        if !form_type {
            return Err(OAuthError::bad("invalid_request", "the body must be application/x-www-form-urlencoded"));
        }
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(body).map_err(|_| OAuthError::bad("invalid_request", "the body is not a valid form"))?;
        let mut fields = HashMap::new();
        for (name, value) in pairs {
            // A parameter of ours sent twice is refused (RFC 6749 §3.2); others are ignored.
            if fields.insert(name.clone(), value).is_some() && KNOWN_FIELDS.contains(&name.as_str()) {
                return Err(OAuthError::bad("invalid_request", format!("{name} is repeated")));
            }
        }
        let basic = basic_auth(headers)?;
        let auth = ClientAuth { basic, client_id: fields.get("client_id").cloned(), client_secret: fields.get("client_secret").cloned() };
        Ok(Self { fields, auth })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| OAuthError::bad("invalid_request", format!("{name} is required")))
    }
}

/// `client_secret_basic`: both parts form-encoded, then joined by a colon (RFC 6749 §2.3.1).
fn basic_auth(headers: &HeaderMap) -> Result<Option<(String, String)>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let bad = || OAuthError::invalid_client("the Authorization header is not valid Basic authentication");
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else { return Err(bad()) };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let form_decode = |part: &str| -> Result<String, ApiError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={}", part.replace('&', "%26"))).map_err(|_| bad())?;
        Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
    };
    Ok(Some((form_decode(id)?, form_decode(secret)?)))
}

fn no_store(body: impl IntoResponse) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, header::HeaderValue::from_static("no-cache"));
    response
}

/// The token endpoint (RFC 6749 §3.2).
#[utoipa::path(post, path = "/oauth/token", tag = "openid",
    request_body(content = inline(TokenForm), content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "tokens", body = OAuthTokens),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `unsupported_grant_type`, `unauthorized_client`, `invalid_scope`, `invalid_target` (a `resource` not registered on the client)", body = Object),
        (status = 401, description = "`invalid_client`", body = Object),
    ))]
async fn token(
    State(state): State<AppState>,
    audit: Audit,
    info: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let form = OAuthForm::read(&headers, &body)?;
    let grant_type = form.required("grant_type")?;
    let Some(grant) = GRANT_TYPES.into_iter().find(|g| *g == grant_type) else {
        return Err(OAuthError::bad(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        ));
    };
    let answer = grant_tokens(&state, &audit, info, &form, grant).await;
    let outcome = match &answer {
        Ok(_) => "issued",
        Err(ApiError::OAuth(e)) => e.error,
        Err(_) => "failed",
    };
    crate::metrics::oauth_token(grant, outcome);
    Ok(no_store(Json(answer?)))
}

const GRANT_TYPES: [&str; 3] = ["authorization_code", "refresh_token", "client_credentials"];

async fn grant_tokens(state: &AppState, audit: &Audit, info: ClientInfo, form: &OAuthForm, grant: &str) -> Result<OAuthTokens, ApiError> {
    let client = grants::authenticate(&state.sessions, &form.auth).await?;
    let resource = grants::resource(&client, form.get("resource"))?;
    match grant {
        "authorization_code" => {
            let exchange = CodeExchange {
                code: form.required("code")?,
                redirect_uri: form.get("redirect_uri"),
                verifier: form.get("code_verifier"),
                resource,
            };
            grants::exchange_code(&state.sessions, audit, &client, exchange, info).await
        }
        "refresh_token" => {
            grants::refresh(&state.sessions, audit, &client, form.required("refresh_token")?, form.get("scope"), resource).await
        }
        _ => grants::client_credentials(&state.sessions, &client, resource),
    }
}

fn bearer(headers: &HeaderMap) -> Result<&str, ApiError> {
    let missing = || OAuthError::invalid_token("a bearer access token is required");
    let value = headers.get(header::AUTHORIZATION).ok_or_else(missing)?.to_str().map_err(|_| missing())?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => Ok(token.trim()),
        _ => Err(missing()),
    }
}

/// The claims of the token's user that its scope allows (OpenID Connect Core §5.3).
#[utoipa::path(get, path = "/oauth/userinfo", tag = "openid", security(("bearer" = [])),
    responses((status = 200, description = "`sub`, and by scope `preferred_username`, `email`, `email_verified`", body = Object),
        (status = 401, description = "`invalid_token`", body = Object)))]
async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    Ok(no_store(Json(grants::userinfo(&state.sessions, bearer(&headers)?).await?)))
}

#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // As TokenForm.
struct UserinfoForm {
    /// The access token, when no Authorization header carries it (RFC 6750 §2.2).
    access_token: Option<String>,
}

/// As GET; the token may also come as the form field `access_token`.
#[utoipa::path(post, path = "/oauth/userinfo", tag = "openid", security(("bearer" = [])),
    request_body(content = inline(UserinfoForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "as GET", body = Object), (status = 401, description = "`invalid_token`", body = Object)))]
async fn userinfo_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let from_form;
    let token = if headers.contains_key(header::AUTHORIZATION) {
        bearer(&headers)?
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        from_form = pairs.into_iter().find(|(name, _)| name == "access_token").map(|(_, value)| value);
        from_form.as_deref().ok_or_else(|| OAuthError::invalid_token("a bearer access token is required"))?
    };
    Ok(no_store(Json(grants::userinfo(&state.sessions, token).await?)))
}

/// Token revocation (RFC 7009): ends the session behind a token the client holds; 200 for
/// any token, known or not.
#[utoipa::path(post, path = "/oauth/revoke", tag = "openid",
    request_body(content = inline(TokenOnlyForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "revoked, or nothing to revoke"),
        (status = 400, description = "`invalid_request`", body = Object), (status = 401, description = "`invalid_client`", body = Object)))]
async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let form = OAuthForm::read(&headers, &body)?;
    let client = grants::authenticate(&state.sessions, &form.auth).await?;
    grants::revoke(&state.sessions, &client, form.required("token")?).await?;
    Ok(no_store(()))
}

/// Token introspection (RFC 7662), for confidential clients, about their own tokens.
#[utoipa::path(post, path = "/oauth/introspect", tag = "openid",
    request_body(content = inline(TokenOnlyForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "`{\"active\": true, ...}` or `{\"active\": false}`", body = Object),
        (status = 400, description = "`invalid_request`", body = Object), (status = 401, description = "`invalid_client`", body = Object)))]
async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let form = OAuthForm::read(&headers, &body)?;
    let client = grants::authenticate(&state.sessions, &form.auth).await?;
    if client.public {
        return Err(OAuthError::invalid_client("introspection is for confidential clients"));
    }
    Ok(no_store(Json(grants::introspect(&state.sessions, &client, form.required("token")?).await?)))
}
