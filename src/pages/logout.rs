//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): with an `id_token_hint`
//! issued from this browser's own sign-in, the browser session and the client's session end
//! at once; with any other hint (an older sign-in's, another browser's) or none, a page asks
//! first, so that a link on another site cannot sign anyone out. A browser already signed
//! out whose hint names an ended session just goes on: nothing is left to end.

use axum::Form;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{Redirect, Response};
use minijinja::Value;
use serde::Deserialize;
use serde_json::json;

use super::authorize::refusal_page;
use super::session::Visit;
use super::signin::{base, form_expired};
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::id_tokens::IdClaims;
use crate::store::{AuditType, Client};

#[derive(Deserialize, Default)]
pub(super) struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Where the browser goes afterwards: a registered post-logout URI of the client, else the
/// sign-in page. `Err` names the page's sentence for a URI the client did not register.
async fn destination(state: &AppState, params: &LogoutParams, hint: Option<&IdClaims>) -> Result<String, &'static str> {
    let Some(uri) = params.post_logout_redirect_uri.as_deref().filter(|u| !u.is_empty()) else {
        return Ok("/login?notice=signed_out".into());
    };
    let client_id = hint.map(|h| h.aud.as_str()).or(params.client_id.as_deref().filter(|c| !c.is_empty()));
    let client: Option<Client> = match client_id {
        Some(id) => state.store.client_by_client_id(id).await.ok().flatten().map(|(c, _)| c),
        None => None,
    };
    match client {
        Some(client) if client.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            // The logout response carries `state` alone.
            let mut target = url::Url::parse(uri).map_err(|_| "unknown_logout_redirect")?;
            if let Some(client_state) = params.state.as_deref().filter(|s| !s.is_empty()) {
                target.query_pairs_mut().append_pair("state", client_state);
            }
            Ok(target.to_string())
        }
        _ => Err("unknown_logout_redirect"),
    }
}

pub(super) async fn logout_page(State(state): State<AppState>, visit: Visit, audit: Audit, Query(params): Query<LogoutParams>) -> Response {
    let hint = match params.id_token_hint.as_deref() {
        Some(token) => state.tokens.read_id_token_hint(token).await,
        None => None,
    };
    let target = match destination(&state, &params, hint.as_ref()).await {
        Ok(target) => target,
        Err(key) => return refusal_page(&state, visit, key),
    };
    // An ID token issued from this very sign-in of this browser is proof enough that the
    // client asks for it (a leaked older token is not); anything else is confirmed.
    let from_this_sign_in =
        |hint: &IdClaims| visit.session.as_ref().is_some_and(|s| s.user.id == hint.sub && s.auth_time.timestamp() == hint.auth_time);
    // Signed out here and the hint's session over: nothing is left to end, so nothing to ask.
    let nothing_left = match &hint {
        Some(hint) if visit.session.is_none() => !state.store.session_is_live(hint.sid, hint.sub, None).await.unwrap_or(true),
        _ => false,
    };
    match hint {
        Some(hint) if from_this_sign_in(&hint) => {
            end_client_session(&state, &hint).await;
            sign_out(&state, visit, &audit, &target, Some(&hint.aud)).await
        }
        Some(_) if nothing_left => visit.respond(Redirect::to(&target)),
        _ => {
            let mut context = base(&state, &visit, "logout_title");
            context.insert("id_token_hint", Value::from(params.id_token_hint.as_deref().unwrap_or("")));
            context.insert("client_id", Value::from(params.client_id.as_deref().unwrap_or("")));
            context.insert("post_logout_redirect_uri", Value::from(params.post_logout_redirect_uri.as_deref().unwrap_or("")));
            context.insert("state", Value::from(params.state.as_deref().unwrap_or("")));
            let mut page = state.pages.render(axum::http::StatusCode::OK, "logout.html", context);
            if let Some(uri) = &params.post_logout_redirect_uri {
                page.headers_mut().insert(header::CONTENT_SECURITY_POLICY, state.pages.csp_allowing(std::slice::from_ref(uri)));
            }
            visit.respond(page)
        }
    }
}

pub(super) async fn logout(State(state): State<AppState>, visit: Visit, audit: Audit, Form(params): Form<LogoutParams>) -> Response {
    if !visit.csrf_ok(&state, &params.csrf) {
        return form_expired(&state, visit);
    }
    let hint = match params.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
        Some(token) => state.tokens.read_id_token_hint(token).await,
        None => None,
    };
    let target = match destination(&state, &params, hint.as_ref()).await {
        Ok(target) => target,
        Err(key) => return refusal_page(&state, visit, key),
    };
    // Confirmed by the person: the client's session named by the hint ends too, when it is
    // theirs (or nobody is signed in here).
    let client_id = match hint {
        Some(hint) if visit.session.as_ref().is_none_or(|s| s.user.id == hint.sub) => {
            end_client_session(&state, &hint).await;
            Some(hint.aud)
        }
        _ => params.client_id.clone(),
    };
    sign_out(&state, visit, &audit, &target, client_id.as_deref()).await
}

async fn end_client_session(state: &AppState, hint: &IdClaims) {
    if let Err(err) = state.store.revoke_session(hint.sid, hint.sub).await {
        tracing::warn!(error = %err, "could not end a client's session at logout");
    }
}

async fn sign_out(state: &AppState, visit: Visit, audit: &Audit, target: &str, client_id: Option<&str>) -> Response {
    if let Some(session) = &visit.session {
        let user_id = session.user.id;
        if let Err(err) = state.store.revoke_session(session.session_id, user_id).await {
            tracing::warn!(error = %err, "could not end a browser session");
            return super::error_page(state, visit);
        }
        let detail = json!({ "session_id": session.session_id, "via": "oidc_logout", "client_id": client_id });
        audit.record(AuditType::Logout, Some(user_id), Some(user_id), detail).await;
    }
    visit.end_session(state).respond(Redirect::to(target))
}
