//! Sign-in by email code in the browser: ask for a code (/login/email-code), type it
//! (the page that follows), or open the mailed link (/login/email?challenge=..&code=..,
//! whose button signs in: a mail scanner that opens links spends nothing). And the re-check
//! code a passwordless account asks for on /account.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;

use super::authorize::with_sign_in_policy;
use super::session::Visit;
use super::signin::{CsrfForm, base, form_expired, refusal, second_step_page, signed_in};
use crate::accounts::AccountError;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::ClientInfo;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/email-code", get(ask_page).post(ask))
        .route("/login/email", get(link_page).post(spend))
        .route("/account/email-code", post(reauth_code))
}

#[derive(Deserialize, Default)]
pub struct AskQuery {
    #[serde(default)]
    return_to: String,
}

#[derive(Deserialize)]
pub struct AskForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    return_to: String,
}

#[derive(Deserialize, Default)]
pub struct LinkQuery {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    code: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    return_to: String,
}

fn off(state: &AppState, visit: Visit) -> Response {
    let mut context = base(state, &visit, "not_found_title");
    context.insert("message", Value::from(state.pages.text("not_found")));
    let page = state.pages.render(StatusCode::NOT_FOUND, "message.html", context);
    visit.respond(page)
}

fn render_ask(state: &AppState, visit: Visit, status: StatusCode, email: &str, return_to: &str, error: Option<String>) -> Response {
    let mut context = base(state, &visit, "email_code_title");
    context.insert("email", Value::from(email));
    context.insert("return_to", Value::from(return_to));
    context.insert("error", Value::from(error));
    let page = state.pages.render(status, "email_code.html", context);
    visit.respond(page)
}

/// The page to type the code on; `link` when it came from the mailed link (code filled in).
fn render_code(state: &AppState, visit: Visit, status: StatusCode, form: &CodeForm, link: bool, error: Option<String>) -> Response {
    let mut context = base(state, &visit, "email_code_enter_title");
    context.insert("challenge", Value::from(form.challenge.as_str()));
    context.insert("code", Value::from(if link { form.code.as_str() } else { "" }));
    context.insert("link", Value::from(link));
    context.insert("return_to", Value::from(form.return_to.as_str()));
    context.insert("error", Value::from(error));
    let page = state.pages.render(status, "email_code_enter.html", context);
    visit.respond(page)
}

async fn ask_page(State(state): State<AppState>, visit: Visit, Query(query): Query<AskQuery>) -> Response {
    if !state.accounts.email_code_on() {
        return off(&state, visit);
    }
    let page = render_ask(&state, visit, StatusCode::OK, "", &query.return_to, None);
    with_sign_in_policy(&state, &query.return_to, page).await
}

async fn ask(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<AskForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let page = match state.accounts.request_email_code(audit, &form.email) {
        Ok(challenge) => {
            let next =
                CodeForm { csrf: String::new(), challenge: challenge.to_string(), code: String::new(), return_to: form.return_to.clone() };
            render_code(&state, visit, StatusCode::OK, &next, false, None)
        }
        Err(AccountError::Invalid(_)) => {
            let message = state.pages.text("email_code_bad_address");
            render_ask(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, form.email.trim(), &form.return_to, Some(message))
        }
        Err(AccountError::NotFound) => return off(&state, visit),
        Err(other) => {
            let (status, message) = refusal(&state, &other);
            render_ask(&state, visit, status, form.email.trim(), &form.return_to, Some(message))
        }
    };
    with_sign_in_policy(&state, &form.return_to, page).await
}

/// The mailed link: only a page with a button; opening it spends nothing.
async fn link_page(State(state): State<AppState>, visit: Visit, Query(query): Query<LinkQuery>) -> Response {
    if !state.accounts.email_code_on() {
        return off(&state, visit);
    }
    let form = CodeForm { csrf: String::new(), challenge: query.challenge, code: query.code, return_to: String::new() };
    render_code(&state, visit, StatusCode::OK, &form, true, None)
}

async fn spend(State(state): State<AppState>, visit: Visit, client: ClientInfo, audit: Audit, Form(form): Form<CodeForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let outcome = state.accounts.sign_in_with_email_code(&state.sessions, &audit, &form.challenge, &form.code, client).await;
    let page = match outcome {
        Ok(pair) => return signed_in(&state, visit, pair, &form.return_to).await,
        Err(AccountError::MfaRequired(token)) => second_step_page(&state, visit, StatusCode::OK, &token.0, &form.return_to, None).await,
        Err(AccountError::NotFound) => return off(&state, visit),
        Err(AccountError::InvalidCredentials) => {
            let message = state.pages.text("email_code_wrong");
            render_code(&state, visit, StatusCode::UNAUTHORIZED, &form, false, Some(message))
        }
        Err(other) => {
            let (status, message) = refusal(&state, &other);
            render_code(&state, visit, status, &form, false, Some(message))
        }
    };
    with_sign_in_policy(&state, &form.return_to, page).await
}

/// A passwordless account asks for the code its next re-check takes.
async fn reauth_code(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<CsrfForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    match state.accounts.request_reauth_code(&audit, session.user.id).await {
        Ok(_) => visit.respond(Redirect::to("/account?done=reauth_code_sent")),
        Err(AccountError::MailQuotaSpent { .. }) => visit.respond(Redirect::to("/account?done=reauth_code_capped")),
        Err(other) => {
            tracing::warn!(error = %other, "a re-check code from the account page failed");
            super::error_page(&state, visit)
        }
    }
}
