//! The account page's sensitive changes: the email address and two-step verification.
//! Each takes the current password again (and a code where TOTP is on), as the API does.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;

use super::account::render;
use super::session::Visit;
use super::signin::{base, form_expired};
use crate::accounts::{AccountError, EmailWish};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::totp;
use crate::domain::Email;
use crate::store::{BrowserSession, Conflict, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account/email", post(change_email))
        .route("/account/totp/setup", post(start_totp))
        .route("/account/totp/confirm", post(confirm_totp))
        .route("/account/totp/disable", post(disable_totp))
}

#[derive(Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    email_password: String,
    #[serde(default)]
    email_code: Option<String>,
}

#[derive(Deserialize)]
pub struct TotpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    totp_password: String,
    #[serde(default)]
    totp_code: String,
    #[serde(default)]
    code: String,
}

/// A refused change shown on the account page: field errors under the page's own field
/// names (`fields` maps a flow's field to the page's), or one sentence on top.
async fn refused(state: &AppState, visit: Visit, session: &BrowserSession, err: AccountError, fields: &[(&str, &str)]) -> Response {
    let mut errors = BTreeMap::new();
    let (status, sentence) = match err {
        AccountError::Invalid(found) => {
            for f in found {
                let page_field = fields.iter().find(|(flow, _)| *flow == f.field).map_or(f.field.clone(), |(_, page)| page.to_string());
                errors.entry(page_field).or_insert(f.message);
            }
            (StatusCode::UNPROCESSABLE_ENTITY, state.pages.text("fix_fields"))
        }
        AccountError::Locked { retry_after_secs } => {
            let minutes = retry_after_secs.div_ceil(60).max(1);
            (StatusCode::TOO_MANY_REQUESTS, state.pages.text("locked").replace("{minutes}", &minutes.to_string()))
        }
        AccountError::MailQuotaSpent { .. } => (StatusCode::TOO_MANY_REQUESTS, state.pages.text("mail_quota")),
        AccountError::Store(StoreError::Conflict(Conflict::EmailTaken)) => {
            errors.insert("email".to_string(), state.pages.text("email_taken"));
            (StatusCode::CONFLICT, state.pages.text("fix_fields"))
        }
        other => {
            tracing::warn!(error = %other, "a change from the account page failed");
            return super::error_page(state, visit);
        }
    };
    render(state, visit, session, status, errors, None, Some(sentence)).await
}

async fn change_email(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<EmailForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let raw = form.email.trim();
    let wish = if raw.is_empty() {
        EmailWish::Remove
    } else {
        match Email::parse(raw) {
            Ok(email) => EmailWish::Change(email),
            Err(message) => {
                let errors = BTreeMap::from([("email".to_string(), message)]);
                let sentence = state.pages.text("fix_fields");
                return render(&state, visit, &session, StatusCode::UNPROCESSABLE_ENTITY, errors, None, Some(sentence)).await;
            }
        }
    };
    let removing = matches!(wish, EmailWish::Remove);
    let code = form.email_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
    match state.accounts.change_email(&audit, session.user.id, &form.email_password, code, wish).await {
        Ok(_) => visit.respond(Redirect::to(if removing { "/account?done=email_removed" } else { "/account?done=email_pending" })),
        Err(err) => refused(&state, visit, &session, err, &[("current_password", "email_password"), ("code", "email_code")]).await,
    }
}

async fn start_totp(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<TotpForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    // The password again: a browser left signed in must not be enough to bind an authenticator.
    if let Err(err) = state.accounts.change_email(&audit, session.user.id, &form.totp_password, None, EmailWish::Keep).await {
        return refused(&state, visit, &session, err, &[("current_password", "totp_password")]).await;
    }
    match state.accounts.start_totp(&session.user, &state.config.totp_issuer).await {
        Ok(enrollment) => setup_page(&state, visit, StatusCode::OK, enrollment, BTreeMap::new()),
        Err(err) => refused(&state, visit, &session, err, &[]).await,
    }
}

fn setup_page(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    enrollment: totp::Enrollment,
    errors: BTreeMap<String, String>,
) -> Response {
    let mut context = base(state, &visit, "totp_setup_title");
    context.insert("secret", Value::from(enrollment.secret));
    context.insert("qr_svg", Value::from(enrollment.qr_svg));
    if !errors.is_empty() {
        context.insert("error", Value::from(state.pages.text("wrong_code")));
    }
    context.insert("errors", Value::from_serialize(&errors));
    let page = state.pages.render(status, "totp_setup.html", context);
    visit.respond(page)
}

async fn confirm_totp(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<TotpForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    match state.accounts.confirm_totp(&audit, &session.user, &code).await {
        Ok(codes) => {
            let mut context = base(&state, &visit, "recovery_title");
            context.insert("download", Value::from(codes.join("\n") + "\n"));
            context.insert("codes", Value::from_serialize(&codes));
            let page = state.pages.render(StatusCode::OK, "recovery_codes.html", context);
            visit.respond(page)
        }
        Err(AccountError::Invalid(found)) => {
            // The same pending secret again, so the app already holding it still works.
            let pending = state.store.totp(session.user.id).await.ok().flatten().filter(|r| !r.enabled);
            let Some(enrollment) =
                pending.and_then(|r| totp::enrollment(&r.secret, &state.config.totp_issuer, &session.user.username).ok())
            else {
                return visit.respond(Redirect::to("/account"));
            };
            let errors = found.into_iter().map(|f| (f.field, f.message)).collect();
            setup_page(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, enrollment, errors)
        }
        Err(err) => refused(&state, visit, &session, err, &[]).await,
    }
}

async fn disable_totp(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<TotpForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let code: String = form.totp_code.chars().filter(|c| !c.is_whitespace()).collect();
    match state.accounts.disable_totp(&audit, session.user.id, &form.totp_password, &code).await {
        Ok(()) => visit.respond(Redirect::to("/account?done=totp_turned_off")),
        Err(err) => refused(&state, visit, &session, err, &[("password", "totp_password"), ("code", "totp_code")]).await,
    }
}
