//! Passkeys on the pages: the `begin` routes answer a ceremony's options as JSON to the
//! pages' script (templates/pages/passkeys.js), which then submits an ordinary form with the
//! browser's answer; the rest (sessions, redirects, errors) is the pages' usual way. Every
//! form carries the CSRF token, the `begin` ones too.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

use super::authorize::with_sign_in_policy;
use super::session::Visit;
use super::signin::{form_expired, refusal, render_sign_in, second_step_page, signed_in};
use crate::accounts::{AccountError, Ceremony, read_credential};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::ClientInfo;
use crate::store::{Conflict, PasskeyRecord, StoreError};

const SCRIPT: &str = include_str!("../../templates/pages/passkeys.js");

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/passkey/begin", post(begin_sign_in))
        .route("/login/passkey", post(finish_sign_in))
        .route("/login/mfa/passkey/begin", post(begin_second_step))
        .route("/login/mfa/passkey", post(finish_second_step))
        .route("/account/passkeys/begin", post(begin_registration))
        .route("/account/passkeys", post(finish_registration))
        .route("/account/passkeys/rename", post(rename))
        .route("/account/passkeys/delete", post(delete))
        .route("/pages/passkeys.js", axum::routing::get(script))
}

/// Every field any of these forms sends; each route reads what it needs.
#[derive(Deserialize)]
pub struct PasskeyForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ceremony_id: String,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    return_to: String,
    #[serde(default)]
    passkey_id: String,
    #[serde(default)]
    passkey_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

impl PasskeyForm {
    fn ceremony(&self) -> Uuid {
        Uuid::parse_str(&self.ceremony_id).unwrap_or_default()
    }

    /// The browser's answer read as the library's type; `None` when the script sent none.
    fn answer<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        let value: serde_json::Value = serde_json::from_str(&self.credential).ok()?;
        read_credential(value).ok()
    }
}

/// Passkeys as the account page lists them.
pub(super) fn rows(passkeys: Vec<PasskeyRecord>) -> Vec<serde_json::Value> {
    passkeys
        .into_iter()
        .map(|p| {
            json!({
                "id": p.id,
                "name": p.name,
                "authenticator": p.authenticator,
                "created_at": p.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                "last_used_at": p.last_used_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            })
        })
        .collect()
}

async fn script() -> Response {
    let mut response = SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// A `begin` route's answer to the script: the ceremony, or `{"error": sentence}`.
pub(super) fn to_script<T: Serialize>(state: &AppState, visit: Visit, begun: Result<Ceremony<T>, AccountError>) -> Response {
    let (status, body) = match begun {
        Ok(ceremony) => (StatusCode::OK, json!({ "ceremony_id": ceremony.ceremony_id, "options": ceremony.options })),
        Err(AccountError::Invalid(fields)) if fields.iter().any(|f| f.field == "password") => {
            (StatusCode::UNPROCESSABLE_ENTITY, json!({ "error": state.pages.text("wrong_current_password") }))
        }
        Err(err) => {
            let (status, message) = refusal(state, &err);
            (status, json!({ "error": message }))
        }
    };
    visit.respond((status, Json(body)))
}

/// The status and sentence for a passkey sign-in or second step that did not pass: an
/// answer without the script's credential, a refused passkey, or the usual refusals.
fn refused_sign_in(state: &AppState, err: &AccountError) -> (StatusCode, String) {
    match err {
        AccountError::InvalidCredentials => (StatusCode::UNAUTHORIZED, state.pages.text("passkey_refused")),
        AccountError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, state.pages.text("passkey_needs_script")),
        other => refusal(state, other),
    }
}

pub(super) fn expired_for_script(state: &AppState, visit: Visit) -> Response {
    visit.respond((StatusCode::FORBIDDEN, Json(json!({ "error": state.pages.text("form_expired") }))))
}

async fn begin_sign_in(State(state): State<AppState>, visit: Visit, Form(form): Form<PasskeyForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return expired_for_script(&state, visit);
    }
    let begun = state.accounts.begin_passkey_sign_in().await;
    to_script(&state, visit, begun)
}

async fn finish_sign_in(
    State(state): State<AppState>,
    visit: Visit,
    client: ClientInfo,
    audit: Audit,
    Form(form): Form<PasskeyForm>,
) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let outcome = match form.answer() {
        Some(credential) => state.accounts.finish_passkey_sign_in(&state.sessions, &audit, form.ceremony(), &credential, client).await,
        None => Err(AccountError::Invalid(Vec::new())),
    };
    let (status, message) = match outcome {
        Ok(pair) => return signed_in(&state, visit, pair, &form.return_to).await,
        Err(err) => refused_sign_in(&state, &err),
    };
    let page = render_sign_in(&state, visit, status, "", &form.return_to, None, Some(message)).await;
    with_sign_in_policy(&state, &form.return_to, page).await
}

async fn begin_second_step(State(state): State<AppState>, visit: Visit, Form(form): Form<PasskeyForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return expired_for_script(&state, visit);
    }
    let begun = state.accounts.begin_passkey_second_step(&form.mfa_token).await;
    to_script(&state, visit, begun)
}

async fn finish_second_step(
    State(state): State<AppState>,
    visit: Visit,
    client: ClientInfo,
    audit: Audit,
    Form(form): Form<PasskeyForm>,
) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let outcome = match form.answer() {
        Some(credential) => {
            let accounts = &state.accounts;
            accounts.finish_passkey_second_step(&state.sessions, &audit, &form.mfa_token, form.ceremony(), &credential, client).await
        }
        None => Err(AccountError::Invalid(Vec::new())),
    };
    let (status, message) = match outcome {
        Ok(pair) => return signed_in(&state, visit, pair, &form.return_to).await,
        Err(err) => refused_sign_in(&state, &err),
    };
    let page = second_step_page(&state, visit, status, &form.mfa_token, &form.return_to, Some(message)).await;
    with_sign_in_policy(&state, &form.return_to, page).await
}

async fn begin_registration(State(state): State<AppState>, visit: Visit, Form(form): Form<PasskeyForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return expired_for_script(&state, visit);
    }
    let Some(session) = visit.session.clone() else {
        return visit.respond((StatusCode::UNAUTHORIZED, Json(json!({ "error": state.pages.text("form_expired") }))));
    };
    let begun = state.accounts.begin_passkey_registration(session.user.id, &form.password).await;
    to_script(&state, visit, begun)
}

async fn finish_registration(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<PasskeyForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let outcome = match form.answer() {
        Some(credential) => {
            let accounts = &state.accounts;
            accounts.finish_passkey_registration(&audit, &session.user, form.ceremony(), &form.passkey_name, &credential).await
        }
        None => Err(AccountError::Invalid(Vec::new())),
    };
    let mut errors = BTreeMap::new();
    let message = match outcome {
        Ok(_) => return visit.respond(Redirect::to("/account?done=passkey_added")),
        Err(AccountError::Invalid(fields)) if fields.iter().any(|f| f.field == "name") => {
            errors.insert("passkey_name".to_string(), fields.into_iter().map(|f| f.message).collect::<Vec<_>>().join("; "));
            state.pages.text("fix_fields")
        }
        Err(AccountError::Invalid(fields)) if fields.is_empty() => state.pages.text("passkey_needs_script"),
        Err(AccountError::Invalid(_)) => state.pages.text("passkey_failed"),
        Err(AccountError::Store(StoreError::Conflict(Conflict::PasskeyTaken))) => state.pages.text("passkey_taken"),
        Err(err) => refusal(&state, &err).1,
    };
    super::account::render(&state, visit, &session, StatusCode::UNPROCESSABLE_ENTITY, errors, None, Some(message)).await
}

async fn rename(State(state): State<AppState>, visit: Visit, Form(form): Form<PasskeyForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let id = Uuid::parse_str(&form.passkey_id).unwrap_or_default();
    match state.accounts.rename_passkey(session.user.id, id, &form.name).await {
        Ok(()) => visit.respond(Redirect::to("/account?done=passkey_renamed")),
        Err(AccountError::Invalid(fields)) => {
            let message =
                fields.into_iter().map(|f| format!("{} {}", state.pages.text("passkey_name"), f.message)).collect::<Vec<_>>().join("; ");
            super::account::render(&state, visit, &session, StatusCode::UNPROCESSABLE_ENTITY, BTreeMap::new(), None, Some(message)).await
        }
        Err(err) => {
            let (status, message) = refusal(&state, &err);
            super::account::render(&state, visit, &session, status, BTreeMap::new(), None, Some(message)).await
        }
    }
}

async fn delete(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<PasskeyForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let id = Uuid::parse_str(&form.passkey_id).unwrap_or_default();
    let (status, message) = match state.accounts.delete_own_passkey(&audit, session.user.id, id, &form.password).await {
        Ok(()) => return visit.respond(Redirect::to("/account?done=passkey_removed")),
        Err(AccountError::Invalid(_)) => (StatusCode::UNPROCESSABLE_ENTITY, state.pages.text("wrong_current_password")),
        Err(err) => refusal(&state, &err),
    };
    super::account::render(&state, visit, &session, status, BTreeMap::new(), None, Some(message)).await
}
