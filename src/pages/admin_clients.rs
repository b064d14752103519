//! The admin console's applications: the OpenID Connect clients, registered, changed, given
//! a new secret or deleted through the same flows as `/v1/clients`. A secret is shown once.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Value;
use serde::Serialize;

use super::Page;
use super::admin::{admin, message};
use super::session::Visit;
use super::signin::{CsrfForm, base, form_expired};
use crate::accounts::{AccountError, ClientChange, ClientRequest};
use crate::app::AppState;
use crate::audit::Audit;
use crate::domain::client::{DEFAULT_SCOPES, SCOPES};
use crate::store::Client;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/clients", get(clients_page).post(register))
        .route("/admin/clients/{id}", get(client_page).post(change))
        .route("/admin/clients/{id}/secret", post(new_secret))
        .route("/admin/clients/{id}/delete", post(delete))
}

/// The client form as typed: URI lists one a line, a checkbox per scope (`scope`, repeated).
#[derive(Serialize)]
pub struct ClientForm {
    #[serde(skip)]
    csrf: String,
    name: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    resources: String,
    scopes: Vec<String>,
    public: bool,
    first_party: bool,
}

impl Default for ClientForm {
    fn default() -> Self {
        Self {
            csrf: String::new(),
            name: String::new(),
            redirect_uris: String::new(),
            post_logout_redirect_uris: String::new(),
            resources: String::new(),
            scopes: DEFAULT_SCOPES.map(String::from).to_vec(),
            public: false,
            first_party: false,
        }
    }
}

impl ClientForm {
    fn from_fields(fields: &[(String, String)]) -> Self {
        let one = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default();
        Self {
            csrf: one("csrf"),
            name: one("name"),
            redirect_uris: one("redirect_uris"),
            post_logout_redirect_uris: one("post_logout_redirect_uris"),
            resources: one("resources"),
            scopes: fields.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.clone()).collect(),
            public: fields.iter().any(|(k, _)| k == "public"),
            first_party: fields.iter().any(|(k, _)| k == "first_party"),
        }
    }

    fn of(client: &Client) -> Self {
        Self {
            csrf: String::new(),
            name: client.name.clone(),
            redirect_uris: client.redirect_uris.join("\n"),
            post_logout_redirect_uris: client.post_logout_redirect_uris.join("\n"),
            resources: client.resources.join("\n"),
            scopes: client.scopes.clone(),
            public: client.public,
            first_party: client.first_party,
        }
    }
}

/// A refusal's field errors; `redirect_uris[2]` shows beside the one text box that holds them all.
fn field_errors(fields: Vec<crate::error::FieldError>) -> BTreeMap<String, String> {
    fields.into_iter().map(|f| (f.field.split('[').next().unwrap_or_default().to_string(), f.message)).collect()
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
    context.insert("form", Value::from_serialize(form));
    context.insert("all_scopes", Value::from_serialize(SCOPES));
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

async fn register(State(state): State<AppState>, visit: Visit, audit: Audit, Form(fields): Form<Vec<(String, String)>>) -> Page {
    let form = ClientForm::from_fields(&fields);
    let (visit, session) = admin(&state, visit, "/admin/clients")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let request = ClientRequest {
        name: form.name.clone(),
        redirect_uris: lines(&form.redirect_uris),
        public: form.public,
        first_party: form.first_party,
        post_logout_redirect_uris: lines(&form.post_logout_redirect_uris),
        scopes: Some(form.scopes.clone()),
        resources: lines(&form.resources),
        id_token_alg: None,
    };
    match state.accounts.register_client(&audit, Some(session.user.id), request).await {
        Ok((client, Some(secret))) => Ok(secret_page(&state, visit, &client.client_id, &secret)),
        Ok((_, None)) => {
            Ok(render(&state, visit, StatusCode::OK, &ClientForm::default(), BTreeMap::new(), Some(state.pages.text("changed"))).await)
        }
        Err(AccountError::Invalid(fields)) => {
            Ok(render(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &form, field_errors(fields), None).await)
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

/// One client's page: what it is and the form that changes it.
fn edit_page(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    client: &Client,
    form: &ClientForm,
    errors: BTreeMap<String, String>,
) -> Response {
    let mut context = base(state, &visit, "admin_clients_title");
    context.insert("title", Value::from(client.name.as_str()));
    context.insert("client", Value::from_serialize(client));
    context.insert("form", Value::from_serialize(form));
    context.insert("all_scopes", Value::from_serialize(SCOPES));
    if !errors.is_empty() {
        context.insert("error", Value::from(state.pages.text("fix_fields")));
    }
    context.insert("errors", Value::from_serialize(&errors));
    let page = state.pages.render(status, "admin_client.html", context);
    visit.respond(page)
}

/// The client an admin page is about, or the 404 page.
async fn find(state: &AppState, visit: Visit, id: &str) -> Result<(Visit, Client), Response> {
    let found = match uuid::Uuid::parse_str(id) {
        Ok(id) => state.store.client(id).await,
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(client)) => Ok((visit, client)),
        Ok(None) => Err(message(state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found")),
        Err(err) => {
            tracing::warn!(error = %err, "could not read a client for the admin console");
            Err(super::error_page(state, visit))
        }
    }
}

async fn client_page(State(state): State<AppState>, visit: Visit, Path(id): Path<String>) -> Page {
    let (visit, _) = admin(&state, visit, &format!("/admin/clients/{id}"))?;
    let (visit, client) = find(&state, visit, &id).await?;
    Ok(edit_page(&state, visit, StatusCode::OK, &client, &ClientForm::of(&client), BTreeMap::new()))
}

async fn change(
    State(state): State<AppState>,
    visit: Visit,
    audit: Audit,
    Path(id): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Page {
    let (visit, session) = admin(&state, visit, &format!("/admin/clients/{id}"))?;
    let form = ClientForm::from_fields(&fields);
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let (visit, client) = find(&state, visit, &id).await?;
    let change = ClientChange {
        name: Some(form.name.clone()),
        redirect_uris: Some(lines(&form.redirect_uris)),
        first_party: Some(form.first_party),
        post_logout_redirect_uris: Some(lines(&form.post_logout_redirect_uris)),
        scopes: Some(form.scopes.clone()),
        resources: Some(lines(&form.resources)),
        id_token_alg: None,
    };
    match state.accounts.change_client(&audit, Some(session.user.id), client.id, change).await {
        Ok(_) => {
            Ok(render(&state, visit, StatusCode::OK, &ClientForm::default(), BTreeMap::new(), Some(state.pages.text("changed"))).await)
        }
        Err(AccountError::Invalid(fields)) => {
            Ok(edit_page(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &client, &form, field_errors(fields)))
        }
        Err(AccountError::NotFound) => Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found")),
        Err(other) => {
            tracing::warn!(error = %other, "a client change from the admin console failed");
            Ok(super::error_page(&state, visit))
        }
    }
}
