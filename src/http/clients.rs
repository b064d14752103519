//! The admin API of OpenID Connect clients: register, list, read, change, delete, and a
//! new secret. A confidential client's secret is in the answer to its registration (and to
//! a new secret) only.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AdminUser;
use super::extract::{ApiJson, IdPath};
use crate::accounts::{ClientChange, ClientRequest};
use crate::app::AppState;
use crate::audit::Audit;
use crate::error::{ApiError, Problem, Result};
use crate::store::Client;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_clients, create_client))
        .routes(routes!(get_client, patch_client, delete_client))
        .routes(routes!(new_secret))
}

// The name's rule (`domain::client::client_name`) as a pattern: 1 to 100 characters, not
// only white space, no control characters (the template name's pattern).

#[derive(Deserialize, ToSchema)]
pub struct CreateClientRequest {
    #[schema(
        example = "Photo app",
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: String,
    /// 1 to 20 exact URIs: `https`, `http` on localhost, 127.0.0.1 or [::1] only, or an app's
    /// own scheme with a dot (`com.example.app:/callback`); no fragment.
    #[schema(min_items = 1, max_items = 20, example = json!(["https://photos.example.com/callback"]))]
    pub redirect_uris: Vec<RedirectUri>,
    /// No secret: a browser or mobile app, which must use PKCE.
    pub public: bool,
    /// Skips the consent page (default false).
    #[serde(default)]
    pub first_party: Option<bool>,
    /// Where RP-initiated logout may return to (the same rules as `redirect_uris`).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub post_logout_redirect_uris: Option<Vec<RedirectUri>>,
    /// What the client may ask for; default `openid`, `profile`, `email`.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub scopes: Option<Vec<ScopeName>>,
    /// Resource servers (RFC 8707) its access tokens may be for: `https` URIs (`http` on a
    /// loopback host), asked for with `resource` at the token endpoint. Without one, the
    /// `aud` of its access tokens is its `client_id`.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub resources: Option<Vec<ResourceUri>>,
    /// `RS256` (default) or `EdDSA`.
    #[serde(default)]
    pub id_token_signed_response_alg: Option<IdTokenAlg>,
}

/// A resource server's URI (see `resources`).
#[derive(Deserialize, ToSchema)]
#[schema(
    value_type = String,
    max_length = 2000,
    pattern = r"^(?:https://(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?][^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000#]*)?|http://(?:localhost|127\.0\.0\.1|\[::1\])(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?][^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000#]*)?)$",
    example = "https://api.photos.example.com"
)]
pub struct ResourceUri(pub String);

/// A redirect URI (see `redirect_uris`).
#[derive(Deserialize, ToSchema)]
// `https` on a DNS name, `http` on a loopback host, or an app's own scheme with a dot (no `//`
// after it); no fragment, space or control character (`domain::client::redirect_uri`).
#[schema(
    value_type = String,
    max_length = 2000,
    pattern = r"^(?:https://(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)*[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?][^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000#]*)?|http://(?:localhost|127\.0\.0\.1|\[::1\])(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?][^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000#]*)?|[A-Za-z][A-Za-z0-9+-]*\.[A-Za-z0-9+.-]*:/?(?:[^/\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000#][^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000#]*)?)$",
    example = "https://photos.example.com/callback"
)]
pub struct RedirectUri(pub String);

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeName {
    Openid,
    Profile,
    Email,
    OfflineAccess,
    Organization,
}

impl ScopeName {
    fn as_str(&self) -> &'static str {
        match self {
            Self::Openid => "openid",
            Self::Profile => "profile",
            Self::Email => "email",
            Self::OfflineAccess => "offline_access",
            Self::Organization => "organization",
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub enum IdTokenAlg {
    RS256,
    EdDSA,
}

impl IdTokenAlg {
    fn as_str(&self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::EdDSA => "EdDSA",
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateClientRequest {
    #[serde(default)]
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001F\u007F-\u009F]*[^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F]*$"
    )]
    pub name: Option<String>,
    #[serde(default)]
    #[schema(min_items = 1, max_items = 20)]
    pub redirect_uris: Option<Vec<RedirectUri>>,
    #[serde(default)]
    pub first_party: Option<bool>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub post_logout_redirect_uris: Option<Vec<RedirectUri>>,
    #[serde(default)]
    #[schema(max_items = 5)]
    pub scopes: Option<Vec<ScopeName>>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub resources: Option<Vec<ResourceUri>>,
    #[serde(default)]
    pub id_token_signed_response_alg: Option<IdTokenAlg>,
}

/// A client with its secret, shown this once (`null` for a public client).
#[derive(Serialize, ToSchema)]
pub struct RegisteredClient {
    #[serde(flatten)]
    pub client: Client,
    pub client_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ClientList {
    pub items: Vec<Client>,
}

#[derive(Serialize, ToSchema)]
pub struct ClientSecret {
    /// Shown this once; the old secret no longer works.
    pub client_secret: String,
}

fn uris(list: Option<Vec<RedirectUri>>) -> Option<Vec<String>> {
    list.map(|l| l.into_iter().map(|u| u.0).collect())
}

fn resources(list: Option<Vec<ResourceUri>>) -> Option<Vec<String>> {
    list.map(|l| l.into_iter().map(|u| u.0).collect())
}

fn scopes(list: Option<Vec<ScopeName>>) -> Option<Vec<String>> {
    list.map(|l| l.iter().map(|s| s.as_str().to_string()).collect())
}

/// Registers a client (admin only).
#[utoipa::path(post, path = "/v1/clients", tag = "clients", security(("bearer" = [])), request_body = CreateClientRequest,
    responses(
        (status = 201, description = "Registered; `client_secret` shown this once (null for a public client)", body = RegisteredClient,
            headers(("Location" = String, description = "/v1/clients/{id}"))),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a redirect URI that is not https (or http on a loopback host, or an app's own scheme), or another field", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_client(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    ApiJson(req): ApiJson<CreateClientRequest>,
) -> Result<impl IntoResponse> {
    let request = ClientRequest {
        name: req.name,
        redirect_uris: uris(Some(req.redirect_uris)).unwrap_or_default(),
        public: req.public,
        first_party: req.first_party.unwrap_or(false),
        post_logout_redirect_uris: uris(req.post_logout_redirect_uris).unwrap_or_default(),
        scopes: scopes(req.scopes),
        resources: resources(req.resources).unwrap_or_default(),
        id_token_alg: req.id_token_signed_response_alg.map(|a| a.as_str().to_string()),
    };
    let (client, client_secret) = state.accounts.register_client(&audit, Some(admin.user_id), request).await?;
    let location = HeaderValue::from_str(&format!("/v1/clients/{}", client.id)).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], super::auth::no_store_json(RegisteredClient { client, client_secret })))
}

/// Lists the clients, oldest first (admin only).
#[utoipa::path(get, path = "/v1/clients", tag = "clients", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every client", body = ClientList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_clients(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<ClientList>> {
    Ok(Json(ClientList { items: state.store.clients().await? }))
}

/// Reads one client (admin only).
#[utoipa::path(get, path = "/v1/clients/{id}", tag = "clients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Client id (`id`, not `client_id`)")),
    responses(
        (status = 200, description = "The client", body = Client),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such client", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_client(State(state): State<AppState>, _admin: AdminUser, IdPath(id): IdPath) -> Result<Json<Client>> {
    Ok(Json(state.store.client(id).await?.ok_or(ApiError::NotFound)?))
}

/// Changes a client's name, URIs, scopes, consent or ID token algorithm (admin only).
#[utoipa::path(patch, path = "/v1/clients/{id}", tag = "clients", security(("bearer" = [])), request_body = UpdateClientRequest,
    params(("id" = Uuid, Path, description = "Client id")),
    responses(
        (status = 200, description = "The client as it now is", body = Client),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such client", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_client(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateClientRequest>,
) -> Result<Json<Client>> {
    let change = ClientChange {
        name: req.name,
        redirect_uris: uris(req.redirect_uris),
        first_party: req.first_party,
        post_logout_redirect_uris: uris(req.post_logout_redirect_uris),
        scopes: scopes(req.scopes),
        resources: resources(req.resources),
        id_token_alg: req.id_token_signed_response_alg.map(|a| a.as_str().to_string()),
    };
    Ok(Json(state.accounts.change_client(&audit, Some(admin.user_id), id, change).await?))
}

/// Deletes a client (admin only): its users can no longer sign in to it.
#[utoipa::path(delete, path = "/v1/clients/{id}", tag = "clients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Client id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such client", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_client(State(state): State<AppState>, AdminUser(admin): AdminUser, audit: Audit, IdPath(id): IdPath) -> Result<StatusCode> {
    state.accounts.delete_client(&audit, Some(admin.user_id), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret for a confidential client (admin only): the old one stops working at once.
#[utoipa::path(post, path = "/v1/clients/{id}/secret", tag = "clients", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Client id")),
    responses(
        (status = 200, description = "The new secret, shown this once", body = ClientSecret),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`public_client`: a public client has no secret", body = Problem, content_type = "application/problem+json"),
    ))]
async fn new_secret(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse> {
    let client_secret = state.accounts.rotate_client_secret(&audit, Some(admin.user_id), id).await?;
    Ok(super::auth::no_store_json(ClientSecret { client_secret }))
}
