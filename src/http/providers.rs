//! Upstream providers: the admin API (/v1/providers) and what the sign-in page offers
//! (/v1/auth/providers). A provider's client secret goes in and never comes out.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AdminUser;
use super::extract::ApiJson;
use crate::app::AppState;
use crate::audit::Audit;
use crate::error::{ApiError, Problem, Result};
use crate::store::Provider;
use crate::upstream::providers::{ProviderChange, ProviderRequest};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_providers, create_provider))
        .routes(routes!(get_provider, patch_provider, delete_provider))
        .routes(routes!(offered_providers))
}

#[derive(Deserialize, ToSchema)]
pub struct CreateProviderRequest {
    /// Names it in URLs (`/login/{slug}`): 1 to 32 of `a-z 0-9 -`.
    #[schema(example = "google", pattern = "^[a-z0-9][a-z0-9-]{0,31}$")]
    pub slug: String,
    /// What the button says: "Continue with {name}".
    #[schema(example = "Google", min_length = 1, max_length = 100)]
    pub name: String,
    /// `oidc` (any OpenID provider, by `issuer`) or `github`.
    #[schema(example = "oidc")]
    pub kind: String,
    /// The OpenID issuer (kind `oidc`, required): `https`, or `http` on a loopback host.
    #[serde(default)]
    #[schema(example = "https://accounts.google.com")]
    pub issuer: Option<String>,
    #[schema(min_length = 1, max_length = 500)]
    pub client_id: String,
    /// Kept sealed under the server's key; never shown again.
    #[schema(min_length = 1, max_length = 500)]
    pub client_secret: String,
    /// Default `openid email profile` (oidc) or `read:user user:email` (github).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub scopes: Option<Vec<String>>,
    /// An unknown identity may make a new account (default true).
    #[serde(default)]
    pub allow_signup: Option<bool>,
    /// An unknown identity whose verified address is a local account's verified address
    /// may be linked to it once the person proves that account (default true).
    #[serde(default)]
    pub link_by_email: Option<bool>,
    /// The upstream `amr` saying MFA was done stands in for the TOTP step (default false).
    #[serde(default)]
    pub trust_upstream_mfa: Option<bool>,
    /// Overrides the discovered endpoint (or GitHub's).
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// GitHub's API root; GitHub Enterprise: `https://HOST/api/v3`.
    #[serde(default)]
    pub api_base: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateProviderRequest {
    #[serde(default)]
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub allow_signup: Option<bool>,
    #[serde(default)]
    pub link_by_email: Option<bool>,
    #[serde(default)]
    pub trust_upstream_mfa: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ProviderList {
    pub items: Vec<Provider>,
}

/// A provider as the sign-in page offers it.
#[derive(Serialize, ToSchema)]
pub struct OfferedProvider {
    #[schema(example = "google")]
    pub slug: String,
    #[schema(example = "Google")]
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct OfferedProviders {
    pub items: Vec<OfferedProvider>,
}

/// Adds an upstream provider (admin only).
#[utoipa::path(post, path = "/v1/providers", tag = "providers", security(("bearer" = [])), request_body = CreateProviderRequest,
    responses(
        (status = 201, description = "Added (never with its secret); register `{public_url}/login/{slug}/callback` upstream", body = Provider,
            headers(("Location" = String, description = "/v1/providers/{slug}"))),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a field, or an issuer whose discovery document cannot be read", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_provider(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    ApiJson(req): ApiJson<CreateProviderRequest>,
) -> Result<impl IntoResponse> {
    let request = ProviderRequest {
        slug: req.slug,
        name: req.name,
        kind: req.kind,
        issuer: req.issuer,
        client_id: req.client_id,
        client_secret: req.client_secret,
        scopes: req.scopes,
        allow_signup: req.allow_signup,
        link_by_email: req.link_by_email,
        trust_upstream_mfa: req.trust_upstream_mfa,
        authorization_endpoint: req.authorization_endpoint,
        token_endpoint: req.token_endpoint,
        api_base: req.api_base,
    };
    let provider = state.upstream.add_provider(&audit, Some(admin.user_id), request).await?;
    let location = HeaderValue::from_str(&format!("/v1/providers/{}", provider.slug)).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], Json(provider)))
}

/// Lists the providers, oldest first (admin only).
#[utoipa::path(get, path = "/v1/providers", tag = "providers", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every provider", body = ProviderList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_providers(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<ProviderList>> {
    Ok(Json(ProviderList { items: state.store.providers().await? }))
}

/// Reads one provider (admin only).
#[utoipa::path(get, path = "/v1/providers/{slug}", tag = "providers", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The provider's slug")),
    responses(
        (status = 200, description = "The provider", body = Provider),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such provider", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_provider(State(state): State<AppState>, _admin: AdminUser, Path(slug): Path<String>) -> Result<Json<Provider>> {
    Ok(Json(state.store.provider_by_slug(&slug).await?.map(|(p, _)| p).ok_or(ApiError::NotFound)?))
}

/// Changes a provider (admin only): name, client, secret, scopes, rules.
#[utoipa::path(patch, path = "/v1/providers/{slug}", tag = "providers", security(("bearer" = [])), request_body = UpdateProviderRequest,
    params(("slug" = String, Path, description = "The provider's slug")),
    responses(
        (status = 200, description = "The provider as it now is", body = Provider),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such provider", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_provider(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    Path(slug): Path<String>,
    ApiJson(req): ApiJson<UpdateProviderRequest>,
) -> Result<Json<Provider>> {
    let change = ProviderChange {
        name: req.name,
        client_id: req.client_id,
        client_secret: req.client_secret,
        scopes: req.scopes,
        allow_signup: req.allow_signup,
        link_by_email: req.link_by_email,
        trust_upstream_mfa: req.trust_upstream_mfa,
    };
    Ok(Json(state.upstream.change_provider(&audit, Some(admin.user_id), &slug, change).await?))
}

/// Removes a provider and every identity linked through it (admin only).
#[utoipa::path(delete, path = "/v1/providers/{slug}", tag = "providers", security(("bearer" = [])),
    params(("slug" = String, Path, description = "The provider's slug")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such provider", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_provider(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    Path(slug): Path<String>,
) -> Result<StatusCode> {
    state.upstream.remove_provider(&audit, Some(admin.user_id), &slug).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The providers the sign-in page offers ("Continue with ..."), for anyone.
#[utoipa::path(get, path = "/v1/auth/providers", tag = "providers",
    responses((status = 200, description = "Each provider's slug and name; sign in at `/login/{slug}`", body = OfferedProviders)))]
async fn offered_providers(State(state): State<AppState>) -> Result<Json<OfferedProviders>> {
    let items = state.store.providers().await?.into_iter().map(|p| OfferedProvider { slug: p.slug, name: p.name }).collect();
    Ok(Json(OfferedProviders { items }))
}
