//! The admin API of webhooks (Standard Webhooks): register, list, read, change, delete, a
//! new secret, a test event, the deliveries and a retry. An endpoint's secret is in the
//! answer to its registration (and to a new secret) only.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header::LOCATION};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::AdminUser;
use super::extract::{ApiJson, ApiQuery, IdPath};
use super::paging::PageParams;
use crate::app::AppState;
use crate::audit::Audit;
use crate::error::{ApiError, Problem, Result};
use crate::store::{Delivery, Webhook};
use crate::webhooks::{WebhookChange, WebhookRequest, Webhooks};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_webhooks, create_webhook))
        .routes(routes!(get_webhook, patch_webhook, delete_webhook))
        .routes(routes!(new_webhook_secret))
        .routes(routes!(test_webhook))
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
}

fn flows(state: &AppState) -> Webhooks {
    Webhooks::new(state.store.clone(), &state.config.webhooks)
}

#[derive(Deserialize, ToSchema)]
pub struct CreateWebhookRequest {
    /// An `https` URL that resolves to public addresses (any URL with GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE).
    #[schema(max_length = 2000, example = "https://app.example.com/webhooks/gatehouse")]
    pub url: String,
    /// Event types to receive, or `["*"]` for all.
    #[schema(min_items = 1, example = json!(["user.deleted", "user.disabled", "session.revoked"]))]
    pub events: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateWebhookRequest {
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub url: Option<String>,
    #[serde(default)]
    #[schema(min_items = 1)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    /// A disabled endpoint is sent nothing; its waiting deliveries go once it is enabled.
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// An endpoint with its signing secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` + base64 of 32 random bytes: the key of the `webhook-signature` HMAC.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub items: Vec<Webhook>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub items: Vec<Delivery>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

/// Registers a webhook endpoint (admin only).
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])), request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Registered; `secret` shown this once", body = WebhookWithSecret,
            headers(("Location" = String, description = "/v1/webhooks/{id}"))),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a URL that is not https or does not resolve to public addresses, an unknown event type, or another field", body = Problem, content_type = "application/problem+json"),
    ))]
async fn create_webhook(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    ApiJson(req): ApiJson<CreateWebhookRequest>,
) -> Result<impl IntoResponse> {
    let request = WebhookRequest { url: req.url, events: req.events, description: req.description };
    let (webhook, secret) = flows(&state).register(&audit, Some(admin.user_id), request).await?;
    let location = HeaderValue::from_str(&format!("/v1/webhooks/{}", webhook.id)).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, [(LOCATION, location)], super::auth::no_store_json(WebhookWithSecret { webhook, secret })))
}

/// Lists the webhook endpoints, oldest first (admin only).
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses(
        (status = 200, description = "Every endpoint", body = WebhookList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_webhooks(State(state): State<AppState>, _admin: AdminUser) -> Result<Json<WebhookList>> {
    Ok(Json(WebhookList { items: state.store.webhooks().await? }))
}

/// Reads one webhook endpoint (admin only).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The endpoint", body = Webhook),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such endpoint", body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_webhook(State(state): State<AppState>, _admin: AdminUser, IdPath(id): IdPath) -> Result<Json<Webhook>> {
    Ok(Json(state.store.webhook(id).await?.ok_or(ApiError::NotFound)?))
}

/// Changes an endpoint's URL, events, description, or whether it is enabled (admin only).
#[utoipa::path(patch, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])), request_body = UpdateWebhookRequest,
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The endpoint as it now is", body = Webhook),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such endpoint", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    ))]
async fn patch_webhook(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    IdPath(id): IdPath,
    ApiJson(req): ApiJson<UpdateWebhookRequest>,
) -> Result<Json<Webhook>> {
    let change = WebhookChange { url: req.url, events: req.events, description: req.description, enabled: req.enabled };
    Ok(Json(flows(&state).change(&audit, Some(admin.user_id), id, change).await?))
}

/// Deletes an endpoint and its deliveries (admin only).
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such endpoint", body = Problem, content_type = "application/problem+json"),
    ))]
async fn delete_webhook(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    IdPath(id): IdPath,
) -> Result<StatusCode> {
    flows(&state).remove(&audit, Some(admin.user_id), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret (admin only): for 24 hours deliveries carry a signature by each.
#[utoipa::path(post, path = "/v1/webhooks/{id}/secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 200, description = "The endpoint with its new secret, shown this once", body = WebhookWithSecret),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such endpoint", body = Problem, content_type = "application/problem+json"),
    ))]
async fn new_webhook_secret(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    audit: Audit,
    IdPath(id): IdPath,
) -> Result<impl IntoResponse> {
    let (webhook, secret) = flows(&state).rotate_secret(&audit, Some(admin.user_id), id).await?;
    Ok(super::auth::no_store_json(WebhookWithSecret { webhook, secret }))
}

/// Queues a `webhook.test` event to this endpoint (admin only).
#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id")),
    responses(
        (status = 202, description = "Queued: the delivery, `pending`", body = Delivery),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such endpoint", body = Problem, content_type = "application/problem+json"),
    ))]
async fn test_webhook(State(state): State<AppState>, _admin: AdminUser, IdPath(id): IdPath) -> Result<(StatusCode, Json<Delivery>)> {
    Ok((StatusCode::ACCEPTED, Json(flows(&state).send_test(id).await?)))
}

/// An endpoint's delivery attempts, newest first (admin only).
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id"), PageParams),
    responses(
        (status = 200, description = "One page of attempts, newest first", body = DeliveryList),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such endpoint", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a query parameter is malformed or out of range", body = Problem, content_type = "application/problem+json"),
    ))]
async fn list_deliveries(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<DeliveryList>> {
    let mut errors = Vec::new();
    let paging = params.parse(&mut errors);
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    state.store.webhook(id).await?.ok_or(ApiError::NotFound)?;
    let offset = i64::from(paging.page - 1) * i64::from(paging.per_page);
    let page = state.store.deliveries(id, offset, i64::from(paging.per_page)).await?;
    Ok(Json(DeliveryList { items: page.items, total: page.total, page: paging.page, per_page: paging.per_page }))
}

/// Sends the event of one delivery again, now (admin only): the same `webhook-id`.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery_id}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Webhook id"), ("delivery_id" = Uuid, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Queued, due now: the attempt that will be made", body = Delivery),
        (status = 403, description = "`forbidden`: the caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such endpoint or delivery", body = Problem, content_type = "application/problem+json"),
    ))]
async fn retry_delivery(
    State(state): State<AppState>,
    _admin: AdminUser,
    path: std::result::Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Result<(StatusCode, Json<Delivery>)> {
    let Path((id, delivery)) = path.map_err(|_| ApiError::NotFound)?;
    let parse = |raw: &str| super::schemas::parse_uuid(raw).ok_or(ApiError::NotFound);
    Ok((StatusCode::ACCEPTED, Json(flows(&state).retry(parse(&id)?, parse(&delivery)?).await?)))
}
