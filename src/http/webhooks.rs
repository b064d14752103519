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
use crate::store::{Delivery, EventType, Webhook};
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

/// A webhook's URL: `https` on a DNS name (not an address, not `localhost`), an optional
/// port, path and query, no fragment, space or control character; its name must also
/// resolve to public addresses. (GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE lifts all of it but the
/// form of a URL: development and tests.)
#[derive(Deserialize, ToSchema)]
#[schema(
    value_type = String,
    max_length = 2000,
    pattern = r"^https://(?:[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\.)*(?:[A-Za-z]{2,8}|[A-Za-z]{10,63}|[a-km-zA-KM-Z][A-Za-z]{8}|[lL][a-np-zA-NP-Z][A-Za-z]{7}|[lL][oO][abd-zABD-Z][A-Za-z]{6}|[lL][oO][cC][b-zB-Z][A-Za-z]{5}|[lL][oO][cC][aA][a-km-zA-KM-Z][A-Za-z]{4}|[lL][oO][cC][aA][lL][a-gi-zA-GI-Z][A-Za-z]{3}|[lL][oO][cC][aA][lL][hH][a-np-zA-NP-Z][A-Za-z]{2}|[lL][oO][cC][aA][lL][hH][oO][a-rt-zA-RT-Z][A-Za-z]|[lL][oO][cC][aA][lL][hH][oO][sS][a-su-zA-SU-Z])(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?][^\u0000-\u0020\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000#]*)?$",
    example = "https://app.example.com/webhooks/gatehouse"
)]
pub struct WebhookUrl(pub String);

/// An event type an endpoint may receive, or `*` for every type.
pub struct WebhookEventName;

impl utoipa::PartialSchema for WebhookEventName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let names = std::iter::once("*").chain(EventType::ALL.iter().filter(|e| **e != EventType::WebhookTest).map(|e| e.as_str()));
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(names.collect::<Vec<_>>()))
            .description(Some("An event type, or `*` for every type (`webhook.test` is sent on request only)."))
            .examples(["user.deleted"])
            .into()
    }
}

impl ToSchema for WebhookEventName {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("WebhookEventName")
    }
}

#[derive(Deserialize, ToSchema)]
pub struct CreateWebhookRequest {
    /// An `https` URL that resolves to public addresses (any URL with GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE).
    #[schema(value_type = WebhookUrl, example = "https://app.example.com/webhooks/gatehouse")]
    pub url: String,
    /// Event types to receive, or `["*"]` for all.
    #[schema(value_type = Vec<WebhookEventName>, inline, min_items = 1, example = json!(["user.deleted", "user.disabled", "session.revoked"]))]
    pub events: Vec<String>,
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    pub description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct UpdateWebhookRequest {
    #[serde(default)]
    #[schema(value_type = Option<WebhookUrl>)]
    pub url: Option<String>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<WebhookEventName>>, inline, min_items = 1)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    #[schema(max_length = 500, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::schemas::{sample_chars, stated_pattern};
    use crate::webhooks::address::check_shape;

    #[test]
    fn every_webhook_url_the_pattern_allows_is_taken_and_the_usual_forms_are_allowed() {
        let pattern = stated_pattern::<WebhookUrl>("");
        for c in sample_chars() {
            for candidate in [
                format!("https://hooks.example.com/in{c}"),
                format!("https://ho{c}oks.example.com/"),
                format!("https://hooks.example.co{c}/"),
                format!("https://hooks.example.com:8{c}/"),
                format!("https://hooks.example.com/?q={c}"),
                format!("https://{c}.localhost/"),
            ] {
                assert!(!pattern.is_match(&candidate) || check_shape(&candidate, false).is_ok(), "{candidate:?}");
            }
        }
        for usual in
            ["https://app.example.com/webhooks/gatehouse", "https://a-b.example:8443/x?y=1&z=%20", "https://LOCALHOST.example.org/"]
        {
            assert!(pattern.is_match(usual) && check_shape(usual, false).is_ok(), "{usual}");
        }
        for refused in [
            "http://app.example.com/",
            "https://localhost/",
            "https://a.LocalHost/",
            "https://127.0.0.1/",
            "https://[::1]/",
            "https://app.example.com/#f",
            "https://user@app.example.com/",
            " https://app.example.com/",
        ] {
            assert!(!pattern.is_match(refused), "{refused}");
        }
    }

    #[test]
    fn the_event_names_the_schema_lists_are_exactly_those_an_endpoint_may_subscribe_to() {
        let schema = serde_json::to_value(<WebhookEventName as utoipa::PartialSchema>::schema()).expect("JSON");
        let listed: Vec<String> = serde_json::from_value(schema["enum"].clone()).expect("an enum");
        for name in EventType::ALL.map(EventType::as_str) {
            assert_eq!(listed.iter().any(|l| l == name), name != "webhook.test", "{name}");
        }
        assert!(listed.iter().any(|l| l == "*"));
    }

    #[test]
    fn the_description_pattern_refuses_exactly_the_control_characters() {
        let pattern = stated_pattern::<CreateWebhookRequest>("description");
        for c in sample_chars() {
            assert_eq!(pattern.is_match(&format!("a{c}b")), !c.is_control(), "{c:?}");
        }
    }
}
