//! The admin console's webhooks: endpoints listed and added (the secret shown once),
//! disabled and enabled, given a new secret, sent a test event and deleted after a
//! confirmation; each endpoint's recent deliveries with their status and answer, and a
//! button that sends one again. The same flows as `/v1/webhooks`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::Page;
use super::admin::{admin, message};
use super::session::Visit;
use super::signin::{CsrfForm, base, form_expired};
use crate::accounts::AccountError;
use crate::app::AppState;
use crate::audit::Audit;
use crate::store::{EventType, Webhook};
use crate::webhooks::{WebhookChange, WebhookRequest, Webhooks};

/// Deliveries shown on an endpoint's page.
const RECENT_DELIVERIES: i64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/webhooks", get(list_page).post(add))
        .route("/admin/webhooks/{id}", get(endpoint_page))
        .route("/admin/webhooks/{id}/enabled", post(set_enabled))
        .route("/admin/webhooks/{id}/secret", post(new_secret))
        .route("/admin/webhooks/{id}/test", post(send_test))
        .route("/admin/webhooks/{id}/delete", get(delete_page).post(delete))
        .route("/admin/webhooks/{id}/deliveries/{delivery}/retry", post(retry))
}

fn flows(state: &AppState) -> Webhooks {
    Webhooks::new(state.store.clone(), &state.config.webhooks)
}

#[derive(Deserialize, Default, serde::Serialize)]
pub struct WebhookForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    url: String,
    /// Event types separated by spaces or commas; `*` for all.
    #[serde(default)]
    events: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
pub struct EnabledForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    enabled: String,
}

/// The event types an endpoint may subscribe to, for the form's hint.
fn event_names() -> String {
    EventType::ALL.iter().filter(|e| **e != EventType::WebhookTest).map(|e| e.as_str()).collect::<Vec<_>>().join(" ")
}

/// The webhook of a path's id, or the not-found page.
#[allow(clippy::result_large_err)]
async fn find(state: &AppState, visit: Visit, raw: &str) -> Result<(Visit, Webhook), Response> {
    let found = match Uuid::parse_str(raw) {
        Ok(id) => state.store.webhook(id).await,
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(webhook)) => Ok((visit, webhook)),
        Ok(None) => Err(message(state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found")),
        Err(err) => {
            tracing::warn!(error = %err, "could not read a webhook for the admin console");
            Err(super::error_page(state, visit))
        }
    }
}

async fn render_list(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    form: &WebhookForm,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
) -> Response {
    let webhooks = match state.store.webhooks().await {
        Ok(list) => list,
        Err(err) => {
            tracing::warn!(error = %err, "could not list webhooks for the admin console");
            return super::error_page(state, visit);
        }
    };
    let mut context = base(state, &visit, "admin_webhooks");
    context.insert("view", Value::from("list"));
    context.insert("webhooks", Value::from_serialize(&webhooks));
    context.insert("form", Value::from_serialize(form));
    context.insert("events_hint", Value::from(state.pages.text("webhook_events_hint").replace("{events}", &event_names())));
    if !errors.is_empty() {
        context.insert("error", Value::from(state.pages.text("fix_fields")));
    }
    context.insert("errors", Value::from_serialize(&errors));
    context.insert("notice", Value::from(notice));
    visit.respond(state.pages.render(status, "admin_webhooks.html", context))
}

/// An endpoint's page: its settings, its actions and its recent deliveries.
async fn render_endpoint(state: &AppState, visit: Visit, webhook: &Webhook, notice: Option<String>) -> Response {
    let deliveries = match state.store.deliveries(webhook.id, 0, RECENT_DELIVERIES).await {
        Ok(page) => page.items,
        Err(err) => {
            tracing::warn!(error = %err, "could not list deliveries for the admin console");
            return super::error_page(state, visit);
        }
    };
    let rows: Vec<_> = deliveries
        .iter()
        .map(|d| {
            json!({ "id": d.id, "type": d.kind, "event_id": d.event_id, "attempt": d.attempt, "status": d.status,
                "response_status": d.response_status, "error": d.error, "duration_ms": d.duration_ms,
                "created_at": d.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string() })
        })
        .collect();
    let mut context = base(state, &visit, "admin_webhook_title");
    context.insert("view", Value::from("endpoint"));
    context.insert("webhook", Value::from_serialize(webhook));
    context.insert("deliveries", Value::from_serialize(&rows));
    context.insert("notice", Value::from(notice));
    visit.respond(state.pages.render(StatusCode::OK, "admin_webhooks.html", context))
}

fn secret_page(state: &AppState, visit: Visit, webhook: &Webhook, secret: &str, rotated: bool) -> Response {
    let mut context = base(state, &visit, "webhook_secret_title");
    context.insert("view", Value::from("secret"));
    context.insert("webhook", Value::from_serialize(webhook));
    context.insert("secret", Value::from(secret));
    context.insert("rotated", Value::from(rotated));
    visit.respond(state.pages.render(StatusCode::OK, "admin_webhooks.html", context))
}

fn failed(state: &AppState, visit: Visit, err: AccountError, what: &str) -> Response {
    match err {
        AccountError::NotFound => message(state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found"),
        other => {
            tracing::warn!(error = %other, what, "a webhook change from the admin console failed");
            super::error_page(state, visit)
        }
    }
}

async fn list_page(State(state): State<AppState>, visit: Visit) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/webhooks")?;
    let form = WebhookForm { events: "*".into(), ..WebhookForm::default() };
    Ok(render_list(&state, visit, StatusCode::OK, &form, BTreeMap::new(), None).await)
}

async fn add(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<WebhookForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/webhooks")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let events = form.events.split([' ', ',', '\n', '\r', '\t']).filter(|e| !e.is_empty()).map(str::to_string).collect();
    let request = WebhookRequest { url: form.url.trim().to_string(), events, description: Some(form.description.clone()) };
    match flows(&state).register(&audit, Some(session.user.id), request).await {
        Ok((webhook, secret)) => Ok(secret_page(&state, visit, &webhook, &secret, false)),
        Err(AccountError::Invalid(fields)) => {
            // `events[2]` shows beside the one box that holds them all.
            let errors = fields.into_iter().map(|f| (f.field.split('[').next().unwrap_or_default().to_string(), f.message)).collect();
            Ok(render_list(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &form, errors, None).await)
        }
        Err(other) => Ok(failed(&state, visit, other, "add")),
    }
}

async fn endpoint_page(State(state): State<AppState>, visit: Visit, Path(id): Path<String>) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/webhooks")?;
    let (visit, webhook) = find(&state, visit, &id).await?;
    Ok(render_endpoint(&state, visit, &webhook, None).await)
}

async fn set_enabled(
    State(state): State<AppState>,
    visit: Visit,
    audit: Audit,
    Path(id): Path<String>,
    Form(form): Form<EnabledForm>,
) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/webhooks")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let (visit, webhook) = find(&state, visit, &id).await?;
    let enabled = form.enabled == "true";
    let change = WebhookChange { enabled: Some(enabled), ..WebhookChange::default() };
    match flows(&state).change(&audit, Some(session.user.id), webhook.id, change).await {
        Ok(webhook) => {
            let notice = state.pages.text(if enabled { "webhook_enabled" } else { "webhook_disabled" });
            Ok(render_endpoint(&state, visit, &webhook, Some(notice)).await)
        }
        Err(err) => Ok(failed(&state, visit, err, "enable")),
    }
}

async fn new_secret(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/webhooks")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let (visit, webhook) = find(&state, visit, &id).await?;
    match flows(&state).rotate_secret(&audit, Some(session.user.id), webhook.id).await {
        Ok((webhook, secret)) => Ok(secret_page(&state, visit, &webhook, &secret, true)),
        Err(err) => Ok(failed(&state, visit, err, "new secret")),
    }
}

async fn send_test(State(state): State<AppState>, visit: Visit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/webhooks")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let (visit, webhook) = find(&state, visit, &id).await?;
    match flows(&state).send_test(webhook.id).await {
        Ok(_) => Ok(render_endpoint(&state, visit, &webhook, Some(state.pages.text("webhook_test_queued"))).await),
        Err(err) => Ok(failed(&state, visit, err, "test")),
    }
}

async fn retry(
    State(state): State<AppState>,
    visit: Visit,
    Path((id, delivery)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/webhooks")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let (visit, webhook) = find(&state, visit, &id).await?;
    let Ok(delivery) = Uuid::parse_str(&delivery) else {
        return Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found"));
    };
    match flows(&state).retry(webhook.id, delivery).await {
        Ok(_) => Ok(render_endpoint(&state, visit, &webhook, Some(state.pages.text("webhook_retry_queued"))).await),
        Err(err) => Ok(failed(&state, visit, err, "retry")),
    }
}

async fn delete_page(State(state): State<AppState>, visit: Visit, Path(id): Path<String>) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/webhooks")?;
    let (visit, webhook) = find(&state, visit, &id).await?;
    let mut context = base(&state, &visit, "webhook_delete_title");
    context.insert("view", Value::from("delete"));
    context.insert("webhook", Value::from_serialize(&webhook));
    Ok(visit.respond(state.pages.render(StatusCode::OK, "admin_webhooks.html", context)))
}

async fn delete(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/webhooks")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let (visit, webhook) = find(&state, visit, &id).await?;
    match flows(&state).remove(&audit, Some(session.user.id), webhook.id).await {
        Ok(_) => {
            let form = WebhookForm { events: "*".into(), ..WebhookForm::default() };
            Ok(render_list(&state, visit, StatusCode::OK, &form, BTreeMap::new(), Some(state.pages.text("webhook_deleted"))).await)
        }
        Err(err) => Ok(failed(&state, visit, err, "delete")),
    }
}
