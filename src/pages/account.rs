//! The account page: profile, password change, passkeys (their forms in `passkeys`), live sessions with "sign out this one" and
//! "sign out everywhere else".

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;
use serde_json::json;

use super::session::Visit;
use super::signin::{CsrfForm, base, form_expired};
use crate::accounts::AccountError;
use crate::app::AppState;
use crate::audit::Audit;
use crate::store::{AuditQuery, AuditType, BrowserSession, Session};

/// Events of the security history the account page shows (the API pages through all).
const HISTORY_SHOWN: u32 = 20;

/// What `/account?done=KEY` may announce.
const DONE: &[&str] = &[
    "password_changed",
    "session_ended",
    "others_ended",
    "email_pending",
    "email_removed",
    "totp_turned_off",
    "passkey_added",
    "passkey_renamed",
    "passkey_removed",
    "reauth_code_sent",
    "reauth_code_capped",
    "identity_linked",
    "identity_unlinked",
];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account_page))
        .route("/account/password", post(change_password))
        .route("/account/sessions/{id}/end", post(end_session))
        .route("/account/sessions/end-others", post(end_other_sessions))
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn account_page(State(state): State<AppState>, visit: Visit, uri: Uri) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in(uri.path()) };
    let notice = uri.query().and_then(|q| q.strip_prefix("done=")).filter(|k| DONE.contains(k));
    let notice = notice.map(|key| state.pages.text(key));
    render(&state, visit, &session, StatusCode::OK, BTreeMap::new(), notice, None).await
}

/// Live sessions as the pages list them, the one of `current` marked.
pub(super) fn session_rows(sessions: Vec<Session>, current: Option<uuid::Uuid>) -> Vec<serde_json::Value> {
    sessions
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "current": Some(s.id) == current,
                "created_at": s.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                "last_used_at": s.last_used_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                "user_agent": s.user_agent,
                "ip": s.ip,
            })
        })
        .collect()
}

/// The account page, with field errors (by the page's field names) or a sentence on top.
pub(super) async fn render(
    state: &AppState,
    visit: Visit,
    session: &BrowserSession,
    status: StatusCode,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
    error: Option<String>,
) -> Response {
    let sessions = match state.store.live_sessions(session.user.id).await {
        Ok(sessions) => sessions,
        Err(err) => {
            tracing::warn!(error = %err, "could not list sessions for the account page");
            return super::error_page(state, visit);
        }
    };
    let sessions = session_rows(sessions, Some(session.session_id));
    let query = AuditQuery { page: 1, per_page: HISTORY_SHOWN, user_id: Some(session.user.id), ..AuditQuery::default() };
    let history: Vec<serde_json::Value> = match state.store.list_audit(&query).await {
        Ok(page) => page
            .items
            .into_iter()
            .map(|e| {
                // The network details of someone else's action are theirs, as in the API.
                let own = e.actor_id == Some(session.user.id);
                json!({ "type": e.kind, "time": e.time.format("%Y-%m-%d %H:%M UTC").to_string(), "ip": if own { e.ip } else { None } })
            })
            .collect(),
        Err(err) => {
            tracing::warn!(error = %err, "could not read the security history for the account page");
            return super::error_page(state, visit);
        }
    };
    let passkeys = match state.accounts.passkeys(session.user.id).await {
        Ok(passkeys) => super::passkeys::rows(passkeys),
        Err(err) => {
            tracing::warn!(error = %err, "could not list passkeys for the account page");
            return super::error_page(state, visit);
        }
    };
    let (has_password, breached) = match state.accounts.password_state(session.user.id).await {
        Ok(found) => found,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the password state for the account page");
            return super::error_page(state, visit);
        }
    };
    let (orgs, invitations) = match super::account_orgs::org_rows(state, &session.user).await {
        Ok(rows) => rows,
        Err(err) => {
            tracing::warn!(error = %err, "could not list organizations for the account page");
            return super::error_page(state, visit);
        }
    };
    let mut context = base(state, &visit, "account_title");
    // A passwordless account's re-checks take a code by email where others take the password.
    context.insert("has_password", Value::from(has_password));
    context.insert("password_breached", Value::from(breached));
    context.insert("secret_label", Value::from(state.pages.text(if has_password { "current_password" } else { "emailed_code" })));
    context.insert("orgs", Value::from_serialize(&orgs));
    context.insert("invitations", Value::from_serialize(&invitations));
    context.insert("user", Value::from_serialize(&session.user));
    context.insert("passkeys_on", Value::from(state.accounts.passkeys_on()));
    context.insert("passkeys", Value::from_serialize(&passkeys));
    context.insert("history", Value::from_serialize(&history));
    let (identities, link_providers) = super::upstream::account_rows(state, session.user.id).await;
    context.insert("identities", identities);
    context.insert("link_providers", link_providers);
    context.insert("sessions", Value::from_serialize(&sessions));
    context.insert("errors", Value::from_serialize(&errors));
    context.insert("notice", Value::from(notice));
    context.insert("error", Value::from(error));
    let page = state.pages.render(status, "account.html", context);
    visit.respond(page)
}

async fn change_password(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<PasswordForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let changed =
        state.accounts.change_password(&audit, session.user.id, session.session_id, &form.current_password, &form.new_password).await;
    let mut errors = BTreeMap::new();
    let status = match changed {
        Ok(()) => return visit.respond(Redirect::to("/account?done=password_changed")),
        Err(AccountError::Invalid(fields)) => {
            for field in fields {
                let message = if field.field == "current_password" { state.pages.text("wrong_current_password") } else { field.message };
                errors.entry(field.field).or_insert(message);
            }
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AccountError::InvalidCredentials) => {
            errors.insert("current_password".to_string(), state.pages.text("wrong_current_password"));
            StatusCode::UNPROCESSABLE_ENTITY
        }
        Err(AccountError::Locked { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60).max(1);
            let message = state.pages.text("locked").replace("{minutes}", &minutes.to_string());
            return render(&state, visit, &session, StatusCode::TOO_MANY_REQUESTS, errors, None, Some(message)).await;
        }
        Err(other) => {
            tracing::warn!(error = %other, "a password change from the account page failed");
            return super::error_page(&state, visit);
        }
    };
    let message = state.pages.text("fix_fields");
    render(&state, visit, &session, status, errors, None, Some(message)).await
}

async fn end_session(
    State(state): State<AppState>,
    visit: Visit,
    audit: Audit,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let user_id = session.user.id;
    // Another user's session, or no session at all, ends nothing and says the same.
    if let Ok(id) = uuid::Uuid::parse_str(&id) {
        match state.store.revoke_session(id, user_id).await {
            Ok(true) => {
                let detail = json!({ "session_id": id, "current": id == session.session_id, "via": "page" });
                audit.record(AuditType::SessionRevoked, Some(user_id), Some(user_id), detail).await;
            }
            Ok(false) => {}
            Err(err) => {
                tracing::warn!(error = %err, "could not end a session from the account page");
                return super::error_page(&state, visit);
            }
        }
    }
    visit.respond(Redirect::to("/account?done=session_ended"))
}

async fn end_other_sessions(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<CsrfForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let user_id = session.user.id;
    if let Err(err) = state.store.revoke_user_sessions(user_id, Some(session.session_id)).await {
        tracing::warn!(error = %err, "could not end the other sessions from the account page");
        return super::error_page(&state, visit);
    }
    audit.record(AuditType::SessionRevoked, Some(user_id), Some(user_id), json!({ "all_but": session.session_id, "via": "page" })).await;
    visit.respond(Redirect::to("/account?done=others_ended"))
}
