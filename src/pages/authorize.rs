//! The browser's side of the OpenID Connect provider: /oauth/authorize (sign-in through
//! the pages, the consent page, the code) and /oauth/logout (RP-initiated logout).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use minijinja::Value;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::authorize_org::OrgPick;
use super::session::{Visit, sign_for};
use super::signin::{base, form_expired};
use crate::accounts::oauth::{self, Authorization, AuthorizeError, AuthorizeParams};
use crate::app::AppState;
use crate::domain::client::SCOPES;
use crate::store::BrowserSession;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/authorize", get(authorize).post(decide))
        .route("/oauth/logout", get(super::logout::logout_page).post(super::logout::logout))
}

/// A page saying why a request cannot go on, with no redirect.
pub(super) fn refusal_page(state: &AppState, visit: Visit, message_key: &str) -> Response {
    let mut context = base(state, &visit, "oauth_error_title");
    context.insert("message", Value::from(state.pages.text(message_key)));
    let page = state.pages.render(StatusCode::BAD_REQUEST, "message.html", context);
    visit.respond(page)
}

/// Reads and checks an authorization request's query; `Err` is the page or redirect that
/// answers a bad one.
async fn check(state: &AppState, visit: Visit, query: &str) -> Result<(Authorization, Visit), Response> {
    let Ok(params) = serde_urlencoded::from_str::<AuthorizeParams>(query) else {
        return Err(refusal_page(state, visit, "bad_authorize_request"));
    };
    match oauth::check_request(&state.store, &params).await {
        Ok(request) => Ok((request, visit)),
        Err(AuthorizeError::Page(key)) => Err(refusal_page(state, visit, key)),
        Err(AuthorizeError::Redirect { redirect_uri, state: client_state, refusal }) => {
            let target = oauth::error_redirect(&redirect_uri, &state.config.issuer(), client_state.as_deref(), &refusal);
            Err(visit.respond(Redirect::to(&target)))
        }
        Err(AuthorizeError::Store(err)) => {
            tracing::warn!(error = %err, "could not check an authorization request");
            Err(super::error_page(state, visit))
        }
    }
}

async fn authorize(State(state): State<AppState>, visit: Visit, RawQuery(query): RawQuery) -> Response {
    authorize_request(state, visit, query.unwrap_or_default()).await
}

/// An authorization request, from the query of a GET or the form of a POST (OpenID
/// Connect Core §3.1.2.1 allows both).
async fn authorize_request(state: AppState, visit: Visit, query: String) -> Response {
    let (request, visit) = match check(&state, visit, &query).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let Some(session) = visit.session.clone() else {
        if request.prompt.none {
            return back_with_error(&state, visit, &request, "login_required", "the user is not signed in");
        }
        return to_sign_in(visit, &query, None, request.login_hint.as_deref());
    };
    let forced_and_done = signed_in_after(&state, request.login_after.as_deref(), session.auth_time);
    if !forced_and_done && (request.prompt.login || oauth::too_old(&request, session.auth_time)) {
        if request.prompt.none {
            return back_with_error(&state, visit, &request, "login_required", "the sign-in is older than max_age");
        }
        let bound = login_after(&state, Utc::now().timestamp_millis());
        return to_sign_in(visit, &query, Some(&bound), Some(&session.user.username));
    }
    match oauth::needs_consent(&state.store, session.user.id, &request).await {
        Ok(false) => issue(&state, visit, &request, &session, &query).await,
        Ok(true) if request.prompt.none => {
            back_with_error(&state, visit, &request, "consent_required", "the user has not allowed this client")
        }
        Ok(true) => consent_page(&state, visit, &request, &session, &query),
        Err(err) => {
            tracing::warn!(error = %err, "could not read a consent");
            super::error_page(&state, visit)
        }
    }
}

fn back_with_error(state: &AppState, visit: Visit, request: &Authorization, error: &'static str, description: &str) -> Response {
    let refusal = crate::domain::oauth::Refusal::new(error, description);
    let target = oauth::error_redirect(&request.redirect_uri, &state.config.issuer(), request.state.as_deref(), &refusal);
    visit.respond(Redirect::to(&target))
}

/// Off to the sign-in page, which comes back here. A forced sign-in (`prompt=login`,
/// `max_age`) keeps its requirement on the way back, with `login_after`: a signed time
/// that the new sign-in must be later than, so opening the way back directly skips nothing.
fn to_sign_in(visit: Visit, query: &str, login_after: Option<&str>, login_hint: Option<&str>) -> Response {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let mut kept: Vec<(String, String)> = pairs.into_iter().filter(|(name, _)| name != "login_after").collect();
    if let Some(bound) = login_after {
        kept.push(("login_after".into(), bound.to_string()));
    }
    let back = format!("/oauth/authorize?{}", serde_urlencoded::to_string(&kept).unwrap_or_default());
    let mut sign_in = vec![("return_to", back.as_str())];
    if login_after.is_some() {
        sign_in.push(("again", "1"));
    }
    if let Some(hint) = login_hint {
        sign_in.push(("login_hint", hint));
    }
    visit.respond(Redirect::to(&format!("/login?{}", serde_urlencoded::to_string(&sign_in).unwrap_or_default())))
}

/// How long a forced sign-in's bound holds, in milliseconds: time enough to sign in,
/// second step included.
const FORCED_SIGN_IN_WINDOW_MS: i64 = 900_000;

/// `login_after`'s value: the time (Unix milliseconds), and its signature under the server
/// secret.
fn login_after(state: &AppState, at: i64) -> String {
    format!("{at}.{}", sign_for(&state.csrf_secret, "login_after", &at.to_string()))
}

/// Whether a forced sign-in happened: the bound is ours, recent, and the session's sign-in
/// came at or after it.
fn signed_in_after(state: &AppState, bound: Option<&str>, auth_time: DateTime<Utc>) -> bool {
    let Some((at, signature)) = bound.and_then(|b| b.split_once('.')) else { return false };
    let Ok(at) = at.parse::<i64>() else { return false };
    let expected = sign_for(&state.csrf_secret, "login_after", &at.to_string());
    let age = Utc::now().timestamp_millis() - at;
    (0..=FORCED_SIGN_IN_WINDOW_MS).contains(&age)
        && bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
        && auth_time.timestamp_millis() > at
}

async fn issue(state: &AppState, visit: Visit, request: &Authorization, session: &BrowserSession, query: &str) -> Response {
    let org = match super::authorize_org::pick(state, request, session.user.id).await {
        Ok(OrgPick::Org(org)) => org,
        Ok(OrgPick::NotMember) => {
            return back_with_error(state, visit, request, "access_denied", "the user is not a member of this organization");
        }
        Ok(OrgPick::Choose(orgs)) => return super::authorize_org::chooser_page(state, visit, &orgs, query),
        Err(err) => {
            tracing::warn!(error = %err, "could not read the user's organizations");
            return super::error_page(state, visit);
        }
    };
    if !oauth::may_issue_code(&state.code_limiter, session.user.id, request.client.id) {
        crate::metrics::rate_limited("oauth_codes");
        return back_with_error(
            state,
            visit,
            request,
            "temporarily_unavailable",
            "too many sign-ins to this client; try again in a minute",
        );
    }
    match oauth::issue_code(
        &state.store,
        &state.config.issuer(),
        state.config.oauth_code_ttl,
        request,
        session.user.id,
        session.auth_time,
        &session.amr,
        org,
    )
    .await
    {
        Ok(target) => visit.respond(Redirect::to(&target)),
        Err(err) => {
            tracing::warn!(error = %err, "could not issue an authorization code");
            super::error_page(state, visit)
        }
    }
}

fn consent_page(state: &AppState, visit: Visit, request: &Authorization, session: &BrowserSession, query: &str) -> Response {
    let mut context = base(state, &visit, "consent_title");
    context.insert("intro", Value::from(state.pages.text("consent_intro").replace("{client}", &request.client.name)));
    let scopes: Vec<String> = request.scopes.iter().map(|s| state.pages.text(&format!("scope_{s}"))).collect();
    context.insert("scopes", Value::from(scopes));
    // What was asked for and will not be given is said, not dropped silently.
    let asked: Vec<String> = serde_urlencoded::from_str::<Vec<(String, String)>>(query)
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect::<Vec<_>>())
        .collect();
    let not_granted = asked.iter().filter(|s| !request.scopes.contains(&s.as_str()));
    let (known, unknown): (Vec<&String>, Vec<&String>) = not_granted.partition(|s| SCOPES.contains(&s.as_str()));
    let refused: Vec<String> = known.iter().map(|s| state.pages.text(&format!("scope_{s}"))).collect();
    context.insert("refused", Value::from(refused));
    context.insert("unknown", Value::from(!unknown.is_empty()));
    let host = url::Url::parse(&request.redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| request.redirect_uri.clone());
    context.insert(
        "returns_to",
        Value::from(state.pages.text("consent_returns_to").replace("{client}", &request.client.name).replace("{host}", &host)),
    );
    context.insert("username", Value::from(session.user.username.as_str()));
    context.insert("request", Value::from(query));
    let mut page = state.pages.render(StatusCode::OK, "consent.html", context);
    page.headers_mut().insert(header::CONTENT_SECURITY_POLICY, state.pages.csp_allowing(&request.client.redirect_uris));
    visit.respond(page)
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    request: String,
    #[serde(default)]
    decision: String,
}

/// The consent page's answer (the request is checked again from the start), or an
/// authorization request sent as a form.
async fn decide(State(state): State<AppState>, visit: Visit, body: String) -> Response {
    let Ok(form) = serde_urlencoded::from_str::<DecisionForm>(&body) else {
        return refusal_page(&state, visit, "bad_authorize_request");
    };
    if form.decision.is_empty() && form.request.is_empty() {
        return authorize_request(state, visit, body).await;
    }
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let (request, visit) = match check(&state, visit, &form.request).await {
        Ok(checked) => checked,
        Err(page) => return page,
    };
    let Some(session) = visit.session.clone() else {
        return to_sign_in(visit, &form.request, None, None);
    };
    if form.decision != "allow" {
        return back_with_error(&state, visit, &request, "access_denied", "the user denied the request");
    }
    if let Err(err) = state.store.grant_consent(session.user.id, request.client.id, &request.scope()).await {
        tracing::warn!(error = %err, "could not record a consent");
        return super::error_page(&state, visit);
    }
    issue(&state, visit, &request, &session, &form.request).await
}

/// The policy of a sign-in page whose `return_to` is an authorization request: its forms
/// end at the client's redirect URI, which `form-action` must allow.
pub(super) async fn sign_in_policy(state: &AppState, return_to: &str) -> Option<HeaderValue> {
    let query = return_to.strip_prefix("/oauth/authorize?")?;
    let params: AuthorizeParams = serde_urlencoded::from_str(query).ok()?;
    let (client, _) = state.store.client_by_client_id(params.client_id.as_deref()?).await.ok()??;
    Some(state.pages.csp_allowing(&client.redirect_uris))
}

/// A sign-in page's response with [`sign_in_policy`] when it applies.
pub(super) async fn with_sign_in_policy(state: &AppState, return_to: &str, response: Response) -> Response {
    let mut response = response.into_response();
    if let Some(policy) = sign_in_policy(state, return_to).await {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    response
}
