//! The page of a mailed invitation link, /invitations/accept?token=. Opening it changes
//! nothing: a signed-in person accepts with a button; anyone else signs in, or signs up
//! with the invited address and comes back here (after verifying it) to accept.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;

use super::recovery::TokenQuery;
use super::session::Visit;
use super::signin::{base, form_expired};
use crate::app::AppState;
use crate::audit::Audit;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/invitations/accept", get(invitation_page).post(accept))
}

#[derive(Deserialize)]
pub struct AcceptForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
}

fn page(state: &AppState, visit: Visit, status: StatusCode, context: std::collections::BTreeMap<&'static str, Value>) -> Response {
    let page = state.pages.render(status, "invitation.html", context);
    visit.respond(page)
}

async fn invitation_page(State(state): State<AppState>, visit: Visit, Query(query): Query<TokenQuery>) -> Response {
    let mut context = base(&state, &visit, "invitation_title");
    let record = match state.accounts.pending_invitation(query.token()).await {
        Ok(record) => record,
        Err(ApiError::NotFound) => {
            context.insert("message", Value::from(state.pages.text("invitation_gone")));
            return page(&state, visit, StatusCode::NOT_FOUND, context);
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not read an invitation");
            return super::error_page(&state, visit);
        }
    };
    let back = format!("/invitations/accept?{}", serde_urlencoded::to_string([("token", query.token())]).unwrap_or_default());
    let with_return = |path: &str| format!("{path}?{}", serde_urlencoded::to_string([("return_to", back.as_str())]).unwrap_or_default());
    let intro = state.pages.text("invitation_intro").replace("{org}", &record.org.name).replace("{email}", &record.invitation.email);
    context.insert("intro", Value::from(intro));
    context.insert("org_name", Value::from(record.org.name.as_str()));
    context.insert("token", Value::from(query.token()));
    context.insert("signed_in", Value::from(visit.session.is_some()));
    context.insert("register_link", Value::from(with_return("/register")));
    context.insert("login_link", Value::from(with_return("/login")));
    page(&state, visit, StatusCode::OK, context)
}

async fn accept(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<AcceptForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let Some(session) = visit.session.clone() else {
        let back = format!("/invitations/accept?{}", serde_urlencoded::to_string([("token", form.token.as_str())]).unwrap_or_default());
        return visit.send_to_sign_in(&back);
    };
    let mut context = base(&state, &visit, "invitation_title");
    let (status, key) = match state.accounts.accept_invitation(&audit, &session.user, &form.token).await {
        Ok(_) => (StatusCode::OK, "invitation_accepted"),
        Err(ApiError::EmailUnverified) => (StatusCode::FORBIDDEN, "invitation_verify_first"),
        Err(ApiError::InvitationNotForYou) => (StatusCode::FORBIDDEN, "invitation_not_for_you"),
        Err(ApiError::NotFound) => (StatusCode::NOT_FOUND, "invitation_gone"),
        Err(ApiError::Conflict(_)) => (StatusCode::CONFLICT, "invitation_already_member"),
        Err(err) => {
            tracing::warn!(error = %err, "could not accept an invitation");
            return super::error_page(&state, visit);
        }
    };
    context.insert("message", Value::from(state.pages.text(key)));
    page(&state, visit, status, context)
}
