//! Sign in (with the second step), sign up and sign out.

use std::collections::BTreeMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;
use serde_json::json;

use super::authorize::with_sign_in_policy;
use super::session::Visit;
use crate::accounts::{AccountError, Registration, Via};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::sessions::{ClientInfo, TokenPair};
use crate::store::{AuditType, Conflict, StoreError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(sign_in_page).post(sign_in))
        .route("/login/mfa", post(second_step))
        .route("/register", get(sign_up_page).post(sign_up))
        .route("/logout", post(sign_out))
}

#[derive(Deserialize, Default)]
pub struct PageQuery {
    #[serde(default)]
    return_to: String,
    /// A sentence key to show once (after sign-up or sign-out); only known ones are shown.
    #[serde(default)]
    notice: String,
    /// Sign in again although signed in (an OpenID Connect client's `prompt=login` or `max_age`).
    #[serde(default)]
    again: String,
    /// The name to fill in (an OpenID Connect client's `login_hint`).
    #[serde(default)]
    login_hint: String,
    /// An invitation's token, from the mailed link to the sign-up page.
    #[serde(default)]
    invitation: String,
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    return_to: String,
}

#[derive(Deserialize)]
pub struct SecondStepForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    mfa_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    return_to: String,
}

#[derive(Deserialize)]
pub struct SignUpForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    return_to: String,
    /// The token of the invitation the mailed link carried.
    #[serde(default)]
    invitation: String,
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// What every page's context starts with.
pub fn base(state: &AppState, visit: &Visit, title_key: &str) -> BTreeMap<&'static str, Value> {
    BTreeMap::from([
        ("title", Value::from(state.pages.text(title_key))),
        ("csrf", Value::from(visit.csrf.as_str())),
        ("signed_in", Value::from(visit.session.is_some())),
        ("is_admin", Value::from(visit.session.as_ref().is_some_and(|s| s.user.is_admin()))),
    ])
}

/// The page refusing a form without this browser's CSRF token.
pub fn form_expired(state: &AppState, visit: Visit) -> Response {
    let mut context = base(state, &visit, "form_expired_title");
    context.insert("message", Value::from(state.pages.text("form_expired")));
    let page = state.pages.render(StatusCode::FORBIDDEN, "message.html", context);
    visit.respond(page)
}

async fn sign_in_page(State(state): State<AppState>, visit: Visit, Query(query): Query<PageQuery>) -> Response {
    if visit.session.is_some() && query.again != "1" {
        let target = super::return_to::resolve(&state, &query.return_to);
        return visit.respond(Redirect::to(&target));
    }
    let notice = ["signed_out", "welcome", "password_reset_done"].contains(&query.notice.as_str()).then(|| state.pages.text(&query.notice));
    let hint: String = query.login_hint.chars().take(254).collect();
    let page = render_sign_in(&state, visit, StatusCode::OK, &hint, &query.return_to, notice, None).await;
    with_sign_in_policy(&state, &query.return_to, page).await
}

pub(super) async fn render_sign_in(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    username: &str,
    return_to: &str,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let mut context = base(state, &visit, "sign_in_title");
    context.insert("username", Value::from(username));
    context.insert("return_to", Value::from(return_to));
    context.insert("notice", Value::from(notice));
    context.insert("error", Value::from(error));
    context.insert("passkeys", Value::from(state.accounts.passkeys_on()));
    context.insert("email_code", Value::from(state.accounts.email_code_on()));
    context.insert("sign_up_open", Value::from(state.accounts.registration == crate::config::RegistrationMode::Open));
    context.insert("providers", super::upstream::offered(state).await);
    let page = state.pages.render(status, "login.html", context);
    visit.respond(page)
}

async fn sign_in(State(state): State<AppState>, visit: Visit, client: ClientInfo, audit: Audit, Form(form): Form<SignInForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let outcome = state.accounts.login(&state.sessions, &audit, form.username.trim(), &form.password, client).await;
    let page = match outcome {
        Ok(pair) => return signed_in(&state, visit, pair, &form.return_to).await,
        Err(AccountError::MfaRequired(token)) => second_step_page(&state, visit, StatusCode::OK, &token.0, &form.return_to, None).await,
        Err(err) => {
            let (status, message) = refusal(&state, &err);
            render_sign_in(&state, visit, status, form.username.trim(), &form.return_to, None, Some(message)).await
        }
    };
    with_sign_in_policy(&state, &form.return_to, page).await
}

async fn second_step(
    State(state): State<AppState>,
    visit: Visit,
    client: ClientInfo,
    audit: Audit,
    Form(form): Form<SecondStepForm>,
) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    match state.accounts.login_mfa(&state.sessions, &audit, &form.mfa_token, &code, client).await {
        Ok(pair) => signed_in(&state, visit, pair, &form.return_to).await,
        Err(err) => {
            // The step's token is single-use only on success: a wrong code may be retried
            // with it until it expires or the account locks.
            let (status, message) = match err {
                AccountError::InvalidCredentials => (StatusCode::UNAUTHORIZED, state.pages.text("wrong_code")),
                other => refusal(&state, &other),
            };
            let page = second_step_page(&state, visit, status, &form.mfa_token, &form.return_to, Some(message)).await;
            with_sign_in_policy(&state, &form.return_to, page).await
        }
    }
}

/// The second step's page: a code, or one of the account's passkeys when it has any.
pub(super) async fn second_step_page(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    mfa_token: &str,
    return_to: &str,
    error: Option<String>,
) -> Response {
    let passkeys = state.accounts.passkeys_on() && state.accounts.second_step_has_passkeys(mfa_token).await;
    let mut context = base(state, &visit, "mfa_title");
    context.insert("mfa_token", Value::from(mfa_token));
    context.insert("return_to", Value::from(return_to));
    context.insert("error", Value::from(error));
    context.insert("passkeys", Value::from(passkeys));
    let page = state.pages.render(status, "mfa.html", context);
    visit.respond(page)
}

/// The flows made a session: a cookie names it, and the browser goes where it asked to.
pub(super) async fn signed_in(state: &AppState, mut visit: Visit, pair: TokenPair, return_to: &str) -> Response {
    let session_id = match state.tokens.verify(&pair.access_token).await {
        Ok(claims) => claims.sid,
        Err(err) => {
            tracing::error!(error = %err, "a token just issued did not verify");
            return super::error_page(state, visit);
        }
    };
    // Signing in again (an OpenID Connect client asked for it) replaces the session.
    if let Some(old) = visit.session.take()
        && let Err(err) = state.store.revoke_session(old.session_id, old.user.id).await
    {
        tracing::warn!(error = %err, "could not end the session a new sign-in replaces");
    }
    match visit.start_session(state, session_id).await {
        Ok(()) => {
            let target = super::return_to::resolve(state, return_to);
            visit.respond(Redirect::to(&target))
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not start a browser session");
            super::error_page(state, visit)
        }
    }
}

/// The status and sentence for a refused sign-in: one answer for an unknown name and a
/// wrong password, as the API gives.
pub(super) fn refusal(state: &AppState, err: &AccountError) -> (StatusCode, String) {
    match err {
        AccountError::InvalidCredentials | AccountError::InvalidToken => (StatusCode::UNAUTHORIZED, state.pages.text("wrong_credentials")),
        AccountError::Locked { retry_after_secs } => {
            let minutes = retry_after_secs.div_ceil(60).max(1);
            (StatusCode::TOO_MANY_REQUESTS, state.pages.text("locked").replace("{minutes}", &minutes.to_string()))
        }
        AccountError::Disabled => (StatusCode::FORBIDDEN, state.pages.text("disabled")),
        AccountError::EmailUnverified => (StatusCode::FORBIDDEN, state.pages.text("email_unverified")),
        AccountError::NotFound => (StatusCode::NOT_FOUND, state.pages.text("not_found")),
        other => {
            tracing::warn!(error = %other, "a sign-in failed");
            (StatusCode::SERVICE_UNAVAILABLE, state.pages.text("error"))
        }
    }
}

async fn sign_up_page(State(state): State<AppState>, visit: Visit, Query(query): Query<PageQuery>) -> Response {
    let mut form = SignUpForm::empty(query.return_to);
    form.invitation = query.invitation;
    render_sign_up(&state, visit, StatusCode::OK, &form, BTreeMap::new(), None).await
}

/// The page instead of the sign-up form: registration is not open and no invitation came,
/// or the invitation's link no longer works.
fn sign_up_refused(state: &AppState, visit: Visit, invited: bool) -> Response {
    let (status, title, sentence) = match (invited, state.accounts.registration) {
        (true, _) => (StatusCode::NOT_FOUND, "link_invalid_title", "invitation_invalid"),
        (false, crate::config::RegistrationMode::Invite) => (StatusCode::FORBIDDEN, "sign_up_closed_title", "sign_up_invite_only"),
        (false, _) => (StatusCode::FORBIDDEN, "sign_up_closed_title", "sign_up_closed"),
    };
    let mut context = base(state, &visit, title);
    context.insert("message", Value::from(state.pages.text(sentence)));
    let page = state.pages.render(status, "message.html", context);
    visit.respond(page)
}

impl SignUpForm {
    fn empty(return_to: String) -> Self {
        Self {
            csrf: String::new(),
            username: String::new(),
            email: String::new(),
            password: String::new(),
            return_to,
            invitation: String::new(),
        }
    }
}

async fn render_sign_up(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    form: &SignUpForm,
    errors: BTreeMap<String, String>,
    error: Option<String>,
) -> Response {
    let invited = if form.invitation.is_empty() {
        if state.accounts.registration != crate::config::RegistrationMode::Open {
            return sign_up_refused(state, visit, false);
        }
        None
    } else {
        match state.store.live_sign_up_invitation(&crate::mail::hash_token(&form.invitation)).await {
            Ok(Some(invitation)) => Some(invitation),
            Ok(None) => return sign_up_refused(state, visit, true),
            Err(err) => {
                tracing::warn!(error = %err, "could not read an invitation");
                return super::error_page(state, visit);
            }
        }
    };
    let mut context = base(state, &visit, "sign_up_title");
    context.insert("invitation", Value::from(form.invitation.as_str()));
    context.insert("invited_email", Value::from(invited.map(|i| i.email)));
    context.insert("username", Value::from(form.username.as_str()));
    context.insert("email", Value::from(form.email.as_str()));
    context.insert("return_to", Value::from(form.return_to.as_str()));
    context.insert("errors", Value::from_serialize(&errors));
    context.insert("error", Value::from(error));
    context.insert("providers", super::upstream::offered(state).await);
    let page = state.pages.render(status, "register.html", context);
    visit.respond(page)
}

async fn sign_up(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<SignUpForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let email = Some(form.email.trim()).filter(|e| !e.is_empty());
    let via = if form.invitation.is_empty() { Via::SignUp } else { Via::SignUpInvitation(&form.invitation) };
    let new = Registration { username: form.username.trim(), email, password: &form.password, admin: false, roles: Vec::new(), via };
    let mut errors = BTreeMap::new();
    match state.accounts.register(&audit, new).await {
        Ok(_) => {
            let query = serde_urlencoded::to_string([("notice", "welcome"), ("return_to", form.return_to.as_str())]).unwrap_or_default();
            return visit.respond(Redirect::to(&format!("/login?{query}")));
        }
        Err(AccountError::Invalid(fields)) => {
            for field in fields {
                let sentence = super::sentences::for_person(&state.pages, &field.field, &field.message);
                errors.entry(field.field).or_insert(sentence);
            }
        }
        Err(AccountError::Store(StoreError::Conflict(Conflict::UsernameTaken))) => {
            errors.insert("username".into(), state.pages.text("username_taken"));
        }
        Err(AccountError::Store(StoreError::Conflict(Conflict::EmailTaken))) => {
            errors.insert("email".into(), state.pages.text("email_taken"));
        }
        Err(AccountError::RegistrationClosed) => return sign_up_refused(&state, visit, false),
        Err(other) => {
            let (status, message) = refusal(&state, &other);
            return render_sign_up(&state, visit, status, &form, errors, Some(message)).await;
        }
    }
    let message = state.pages.text("fix_fields");
    render_sign_up(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &form, errors, Some(message)).await
}

async fn sign_out(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<CsrfForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    if let Some(session) = &visit.session {
        let user_id = session.user.id;
        if let Err(err) = state.store.revoke_session(session.session_id, user_id).await {
            tracing::warn!(error = %err, "could not end a browser session");
            return super::error_page(&state, visit);
        }
        audit.record(AuditType::Logout, Some(user_id), Some(user_id), json!({ "session_id": session.session_id, "via": "page" })).await;
    }
    visit.end_session(&state).respond(Redirect::to("/login?notice=signed_out"))
}
