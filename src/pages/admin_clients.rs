//! The admin console's applications: the OpenID Connect clients, registered, given a new
//! secret or deleted through the same flows as `/v1/clients`. A secret is shown once.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;

use super::Page;
use super::admin::{admin, message};
use super::session::Visit;
use super::signin::{CsrfForm, base, form_expired};
use crate::accounts::{AccountError, ClientRequest};
use crate::app::AppState;
use crate::audit::Audit;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(clients_page).post(register))
        .route("/admin/clients/{id}/secret", post(new_secret))
        .route("/admin/clients/{id}/delete", post(delete))
}

#[derive(Deserialize, Default)]
pub struct ClientForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    resources: String,
    #[serde(default)]
    public: Option<String>,
    #[serde(default)]
    first_party: Option<String>,
}

/// A text box's non-empty lines, trimmed.
fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
}

async fn render(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    form: &ClientForm,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
) -> Response {
    let clients = match state.store.clients().await {
        Ok(clients) => clients,
        Err(err) => {
            tracing::warn!(error = %err, "could not list clients for the admin console");
            return super::error_page(state, visit);
        }
    };
    let mut context = base(state, &visit, "admin_clients_title");
    context.insert("clients", Value::from_serialize(&clients));
    context.insert(
        "form",
        Value::from_serialize(BTreeMap::from([
            ("name", &form.name),
            ("redirect_uris", &form.redirect_uris),
            ("resources", &form.resources),
        ])),
    );
    if !errors.is_empty() {
        context.insert("error", Value::from(state.pages.text("fix_fields")));
    }
    context.insert("errors", Value::from_serialize(&errors));
    context.insert("notice", Value::from(notice));
    let page = state.pages.render(status, "admin_clients.html", context);
    visit.respond(page)
}

async fn clients_page(State(state): State<AppState>, visit: Visit) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/clients")?;
    Ok(render(&state, visit, StatusCode::OK, &ClientForm::default(), BTreeMap::new(), None).await)
}

fn secret_page(state: &AppState, visit: Visit, client_id: &str, secret: &str) -> Response {
    let mut context = base(state, &visit, "client_secret_title");
    context.insert("client_id", Value::from(client_id));
    context.insert("secret", Value::from(secret));
    let page = state.pages.render(StatusCode::OK, "admin_client_secret.html", context);
    visit.respond(page)
}

async fn register(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<ClientForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/clients")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let request = ClientRequest {
        name: form.name.clone(),
        redirect_uris: lines(&form.redirect_uris),
        public: form.public.is_some(),
        first_party: form.first_party.is_some(),
        post_logout_redirect_uris: Vec::new(),
        scopes: None,
        resources: lines(&form.resources),
        id_token_alg: None,
    };
    match state.accounts.register_client(&audit, Some(session.user.id), request).await {
        Ok((client, Some(secret))) => Ok(secret_page(&state, visit, &client.client_id, &secret)),
        Ok((_, None)) => {
            Ok(render(&state, visit, StatusCode::OK, &ClientForm::default(), BTreeMap::new(), Some(state.pages.text("changed"))).await)
        }
        Err(AccountError::Invalid(fields)) => {
            // `redirect_uris[2]` shows beside the one text box that holds them all.
            let errors = fields.into_iter().map(|f| (f.field.split('[').next().unwrap_or_default().to_string(), f.message)).collect();
            Ok(render(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &form, errors, None).await)
        }
        Err(other) => {
            tracing::warn!(error = %other, "a client registration from the admin console failed");
            Ok(super::error_page(&state, visit))
        }
    }
}

async fn new_secret(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/clients")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found"));
    };
    match state.accounts.rotate_client_secret(&audit, Some(session.user.id), id).await {
        Ok(secret) => {
            let client_id = state.store.client(id).await.ok().flatten().map(|c| c.client_id).unwrap_or_default();
            Ok(secret_page(&state, visit, &client_id, &secret))
        }
        Err(AccountError::NotFound | AccountError::Store(_)) => {
            Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found"))
        }
        Err(other) => {
            tracing::warn!(error = %other, "a new client secret from the admin console failed");
            Ok(super::error_page(&state, visit))
        }
    }
}

async fn delete(State(state): State<AppState>, visit: Visit, audit: Audit, Path(id): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/clients")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let Ok(id) = uuid::Uuid::parse_str(&id) else {
        return Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found"));
    };
    match state.accounts.delete_client(&audit, Some(session.user.id), id).await {
        Ok(_) => {
            Ok(render(&state, visit, StatusCode::OK, &ClientForm::default(), BTreeMap::new(), Some(state.pages.text("client_deleted")))
                .await)
        }
        Err(AccountError::NotFound) => Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found")),
        Err(other) => {
            tracing::warn!(error = %other, "a client deletion from the admin console failed");
            Ok(super::error_page(&state, visit))
        }
    }
}
