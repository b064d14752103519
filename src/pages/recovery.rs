//! The pages behind the mailed links, and the one that asks for a reset link:
//! /forgot-password, /reset-password?token=, /verify-email?token=.
//!
//! Opening a link changes nothing: its page holds a button that posts the token, so a
//! mail scanner fetching the link neither verifies an address nor spends a reset link.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;

use super::session::Visit;
use super::signin::{base, form_expired};
use crate::accounts::AccountError;
use crate::app::AppState;
use crate::audit::Audit;
use crate::store::{Conflict, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/forgot-password", get(forgot_page).post(forgot))
        .route("/reset-password", get(reset_page).post(reset))
        .route("/verify-email", get(verify_page).post(verify))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

impl TokenQuery {
    pub fn token(&self) -> &str {
        &self.token
    }
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

async fn forgot_page(State(state): State<AppState>, visit: Visit) -> Response {
    let context = base(&state, &visit, "forgot_title");
    let page = state.pages.render(StatusCode::OK, "forgot.html", context);
    visit.respond(page)
}

async fn forgot(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<ForgotForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    // The same page, as fast, for every name: the flow looks the account up afterwards.
    state.accounts.request_password_reset(audit, form.username.trim().to_string());
    let mut context = base(&state, &visit, "forgot_title");
    context.insert("sent", Value::from(true));
    let page = state.pages.render(StatusCode::OK, "forgot.html", context);
    visit.respond(page)
}

fn reset_form(state: &AppState, visit: Visit, status: StatusCode, token: &str, errors: BTreeMap<String, String>) -> Response {
    let mut context = base(state, &visit, "reset_title");
    context.insert("token", Value::from(token));
    context.insert("errors", Value::from_serialize(&errors));
    if !errors.is_empty() {
        context.insert("error", Value::from(state.pages.text("fix_fields")));
    }
    let page = state.pages.render(status, "reset.html", context);
    visit.respond(page)
}

async fn reset_page(State(state): State<AppState>, visit: Visit, Query(query): Query<TokenQuery>) -> Response {
    reset_form(&state, visit, StatusCode::OK, &query.token, BTreeMap::new())
}

async fn reset(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<TokenForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    match state.accounts.reset_password(&audit, &form.token, &form.new_password).await {
        Ok(()) => visit.respond(Redirect::to("/login?notice=password_reset_done")),
        Err(AccountError::Invalid(fields)) => {
            let errors = fields.into_iter().map(|f| ("new_password".to_string(), f.message)).collect();
            reset_form(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &form.token, errors)
        }
        Err(AccountError::InvalidToken) => link_invalid(&state, visit),
        Err(other) => {
            tracing::warn!(error = %other, "a password reset from its page failed");
            super::error_page(&state, visit)
        }
    }
}

fn link_invalid(state: &AppState, visit: Visit) -> Response {
    let mut context = base(state, &visit, "link_invalid_title");
    context.insert("message", Value::from(state.pages.text("link_invalid")));
    let page = state.pages.render(StatusCode::UNAUTHORIZED, "message.html", context);
    visit.respond(page)
}

async fn verify_page(State(state): State<AppState>, visit: Visit, Query(query): Query<TokenQuery>) -> Response {
    let mut context = base(&state, &visit, "verify_title");
    context.insert("token", Value::from(query.token));
    let page = state.pages.render(StatusCode::OK, "verify.html", context);
    visit.respond(page)
}

async fn verify(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<TokenForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let (status, key) = match state.accounts.verify_email(&audit, &form.token).await {
        Ok(_) => (StatusCode::OK, "email_verified"),
        Err(AccountError::InvalidToken) => return link_invalid(&state, visit),
        Err(AccountError::Store(StoreError::Conflict(Conflict::EmailTaken))) => (StatusCode::CONFLICT, "email_taken_now"),
        Err(other) => {
            tracing::warn!(error = %other, "an email verification from its page failed");
            return super::error_page(&state, visit);
        }
    };
    let mut context = base(&state, &visit, "verify_title");
    context.insert("message", Value::from(state.pages.text(key)));
    let page = state.pages.render(status, "message.html", context);
    visit.respond(page)
}
