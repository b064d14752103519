//! "Continue with ...": the start of an upstream sign-in, its callback, the confirm page
//! that proves a local account before an identity is linked to it, and linking and
//! unlinking from the account page.
//!
//! The browser that starts a flow gets a random value in a cookie of its own; the flow
//! keeps only its hash, and the callback and confirm page go on only with the same value.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::Value;
use serde::Deserialize;
use serde_json::json;

use super::session::Visit;
use super::signin::{base, form_expired, refusal, second_step_page, signed_in};
use crate::accounts::AccountError;
use crate::app::AppState;
use crate::audit::Audit;
use crate::auth::refresh;
use crate::auth::sessions::ClientInfo;
use crate::store::AuditType;
use crate::upstream::UpstreamError;
use crate::upstream::complete::{Outcome, Proof};
use crate::upstream::flow::Callback;

/// The binding cookie lives as long as a flow may take.
const BINDING_MAX_AGE_SECS: i64 = 900;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/{slug}", get(start))
        .route("/login/{slug}/callback", get(callback))
        .route("/login/{slug}/confirm", get(confirm_page).post(confirm))
        .route("/login/{slug}/confirm/passkey", post(begin_passkey_confirm))
        .route("/account/identities/link", post(start_link))
        .route("/account/identities/{id}/unlink", post(unlink))
}

/// The providers the sign-in and sign-up pages offer, as `[{slug, name}]` (none when the
/// database cannot say: the password form still works).
pub(super) async fn offered(state: &AppState) -> Value {
    match state.store.providers().await {
        Ok(list) => Value::from_serialize(list.iter().map(|p| json!({ "slug": p.slug, "name": p.name })).collect::<Vec<_>>()),
        Err(err) => {
            tracing::warn!(error = %err, "could not list providers for a page");
            Value::from_serialize(Vec::<()>::new())
        }
    }
}

/// The account page's linked identities (with their provider's name) and the providers
/// it may link; empty when the database cannot say.
pub(super) async fn account_rows(state: &AppState, user_id: uuid::Uuid) -> (Value, Value) {
    let (Ok(providers), Ok(identities)) = (state.store.providers().await, state.store.identities_of(user_id).await) else {
        tracing::warn!("could not list identities for the account page");
        return (Value::from_serialize(Vec::<()>::new()), Value::from_serialize(Vec::<()>::new()));
    };
    let name_of = |slug: &str| providers.iter().find(|p| p.slug == slug).map_or(slug.to_string(), |p| p.name.clone());
    let rows: Vec<_> = identities
        .iter()
        .map(|i| {
            json!({
                "id": i.id, "provider_name": name_of(&i.provider), "email": i.email,
                "created_at": i.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                "last_used_at": i.last_used_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            })
        })
        .collect();
    let linkable: Vec<_> = providers.iter().map(|p| json!({ "slug": p.slug, "name": p.name })).collect();
    (Value::from_serialize(rows), Value::from_serialize(linkable))
}

fn binding_name(state: &AppState) -> (&'static str, bool) {
    if state.config.public_url().starts_with("https://") { ("__Host-gatehouse_upstream", true) } else { ("gatehouse_upstream", false) }
}

fn binding_of(state: &AppState, jar: &CookieJar) -> Option<String> {
    jar.get(binding_name(state).0).map(|c| c.value().to_string()).filter(|v| refresh::looks_valid(v))
}

/// This browser's binding value, and the cookie to (re)set it.
fn binding(state: &AppState, jar: &CookieJar) -> (String, HeaderValue) {
    let (name, secure) = binding_name(state);
    let value = binding_of(state, jar).unwrap_or_else(refresh::new_token);
    let cookie = Cookie::build((name, value.clone()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(BINDING_MAX_AGE_SECS))
        .build();
    let header = HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""));
    (value, header)
}

#[derive(Deserialize, Default)]
struct StartQuery {
    #[serde(default)]
    return_to: String,
}

async fn start(
    State(state): State<AppState>,
    visit: Visit,
    jar: CookieJar,
    Path(slug): Path<String>,
    Query(query): Query<StartQuery>,
) -> Response {
    let (browser, cookie) = binding(&state, &jar);
    match state.upstream.begin(&slug, &browser, &query.return_to, None).await {
        Ok(url) => visit.respond(([(header::SET_COOKIE, cookie)], Redirect::to(&url))),
        Err(err) => refused_page(&state, visit, None, &slug, &query.return_to, err).await,
    }
}

async fn callback(
    State(state): State<AppState>,
    visit: Visit,
    jar: CookieJar,
    client: ClientInfo,
    audit: Audit,
    Path(slug): Path<String>,
    Query(query): Query<Callback>,
) -> Response {
    let browser = binding_of(&state, &jar);
    let arrived = match state.upstream.arrive(&slug, browser.as_deref(), &query).await {
        Ok(arrived) => arrived,
        Err(err) => return refused_page(&state, visit, Some(&audit), &slug, "", err).await,
    };
    let return_to = arrived.return_to.clone();
    let browser = browser.unwrap_or_default();
    let outcome = state.upstream.complete(&state.accounts, &state.sessions, &audit, &browser, arrived, client).await;
    finish(&state, visit, &audit, &slug, &return_to, outcome).await
}

async fn finish(
    state: &AppState,
    visit: Visit,
    audit: &Audit,
    slug: &str,
    return_to: &str,
    outcome: Result<Outcome, UpstreamError>,
) -> Response {
    match outcome {
        Ok(Outcome::SignedIn(pair)) => signed_in(state, visit, *pair, return_to).await,
        Ok(Outcome::SecondStep(token)) => second_step_page(state, visit, StatusCode::OK, &token.0, return_to, None).await,
        Ok(Outcome::Linked) => visit.respond(Redirect::to("/account?done=identity_linked")),
        Ok(Outcome::Confirm(token)) => {
            let query = serde_urlencoded::to_string([("flow", token.as_str())]).unwrap_or_default();
            visit.respond(Redirect::to(&format!("/login/{slug}/confirm?{query}")))
        }
        Err(err) => refused_page(state, visit, Some(audit), slug, return_to, err).await,
    }
}

/// The sign-in page with the reason an upstream sign-in stopped; refusals are audited.
async fn refused_page(state: &AppState, visit: Visit, audit: Option<&Audit>, slug: &str, return_to: &str, err: UpstreamError) -> Response {
    let (status, message) = match &err {
        UpstreamError::UnknownProvider => (StatusCode::NOT_FOUND, state.pages.text("not_found")),
        UpstreamError::Refused { reason, sentence } => {
            tracing::info!(provider = slug, reason = %reason, "an upstream sign-in was refused");
            if let Some(audit) = audit {
                let detail = json!({ "reason": format!("upstream_{reason}"), "provider": slug });
                audit.record(AuditType::LoginFailed, None, None, detail).await;
                crate::metrics::login("upstream_refused");
            }
            (StatusCode::BAD_REQUEST, state.pages.text(sentence))
        }
        UpstreamError::Account(account) => refusal(state, account),
        UpstreamError::Internal(inner) => {
            tracing::error!(error = %inner, provider = slug, "an upstream sign-in failed");
            (StatusCode::SERVICE_UNAVAILABLE, state.pages.text("error"))
        }
    };
    super::signin::render_sign_in(state, visit, status, "", return_to, None, Some(message)).await
}

#[derive(Deserialize, Default)]
struct ConfirmQuery {
    #[serde(default)]
    flow: String,
}

#[derive(Deserialize)]
struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    flow: String,
    #[serde(default)]
    password: String,
    /// With a passkey instead of the password: the ceremony and the browser's answer.
    #[serde(default)]
    ceremony_id: String,
    #[serde(default)]
    credential: String,
}

async fn confirm_page(
    State(state): State<AppState>,
    visit: Visit,
    jar: CookieJar,
    Path(slug): Path<String>,
    Query(query): Query<ConfirmQuery>,
) -> Response {
    render_confirm(&state, visit, &jar, &slug, &query.flow, StatusCode::OK, None).await
}

async fn render_confirm(
    state: &AppState,
    visit: Visit,
    jar: &CookieJar,
    slug: &str,
    flow: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let pending = match state.upstream.pending(flow, binding_of(state, jar).as_deref()).await {
        Ok(pending) => pending,
        Err(err) => return refused_page(state, visit, None, slug, "", err).await,
    };
    let provider_name = match state.store.provider_by_slug(slug).await {
        Ok(Some((provider, _))) => provider.name,
        _ => slug.to_string(),
    };
    let mut context = base(state, &visit, "link_confirm_title");
    let prompt = state
        .pages
        .text("link_confirm_prompt")
        .replace("{provider}", &provider_name)
        .replace("{email}", pending.profile.email.as_deref().unwrap_or_default())
        .replace("{username}", &pending.username);
    context.insert("prompt", Value::from(prompt));
    context.insert("flow", Value::from(flow));
    context.insert("slug", Value::from(slug));
    context.insert("username", Value::from(pending.username.as_str()));
    let passkeys = state.accounts.passkeys_on() && state.store.passkeys_of(pending.user_id).await.is_ok_and(|p| !p.is_empty());
    context.insert("passkeys", Value::from(passkeys));
    context.insert("error", Value::from(error));
    let page = state.pages.render(status, "link_confirm.html", context);
    visit.respond(page)
}

async fn confirm(
    State(state): State<AppState>,
    visit: Visit,
    jar: CookieJar,
    client: ClientInfo,
    audit: Audit,
    Path(slug): Path<String>,
    Form(form): Form<ConfirmForm>,
) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let browser = binding_of(&state, &jar);
    let answer = serde_json::from_str(&form.credential).ok().and_then(|v| crate::accounts::read_credential(v).ok());
    let proof = match &answer {
        Some(credential) => Proof::Passkey { ceremony_id: uuid::Uuid::parse_str(&form.ceremony_id).unwrap_or_default(), credential },
        None => Proof::Password(&form.password),
    };
    match state.upstream.confirm(&state.accounts, &state.sessions, &audit, &form.flow, browser.as_deref(), proof, client).await {
        Ok((outcome, return_to)) => finish(&state, visit, &audit, &slug, &return_to, Ok(outcome)).await,
        Err(UpstreamError::Account(AccountError::InvalidCredentials)) => {
            let message = state.pages.text(if answer.is_some() { "passkey_refused" } else { "wrong_password" });
            render_confirm(&state, visit, &jar, &slug, &form.flow, StatusCode::UNAUTHORIZED, Some(message)).await
        }
        Err(UpstreamError::Account(err @ AccountError::Locked { .. })) => {
            let (status, message) = refusal(&state, &err);
            render_confirm(&state, visit, &jar, &slug, &form.flow, status, Some(message)).await
        }
        Err(err) => refused_page(&state, visit, Some(&audit), &slug, "", err).await,
    }
}

/// The confirm page's passkey: a ceremony offering the pending account's passkeys, as JSON
/// for the pages' script.
async fn begin_passkey_confirm(State(state): State<AppState>, visit: Visit, jar: CookieJar, Form(form): Form<ConfirmForm>) -> Response {
    if !visit.csrf_ok(&state, &form.csrf) {
        return super::passkeys::expired_for_script(&state, visit);
    }
    let begun = match state.upstream.pending(&form.flow, binding_of(&state, &jar).as_deref()).await {
        Ok(pending) => state.accounts.begin_passkey_proof(pending.user_id).await,
        Err(_) => Err(AccountError::InvalidToken),
    };
    super::passkeys::to_script(&state, visit, begun)
}

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    provider: String,
}

async fn start_link(State(state): State<AppState>, visit: Visit, jar: CookieJar, Form(form): Form<LinkForm>) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let (browser, cookie) = binding(&state, &jar);
    match state.upstream.begin(&form.provider, &browser, "/account", Some(session.user.id)).await {
        Ok(url) => visit.respond(([(header::SET_COOKIE, cookie)], Redirect::to(&url))),
        Err(err) => refused_page(&state, visit, None, &form.provider, "/account", err).await,
    }
}

async fn unlink(
    State(state): State<AppState>,
    visit: Visit,
    audit: Audit,
    Path(id): Path<String>,
    Form(form): Form<super::signin::CsrfForm>,
) -> Response {
    let Some(session) = visit.session.clone() else { return visit.send_to_sign_in("/account") };
    if !visit.csrf_ok(&state, &form.csrf) {
        return form_expired(&state, visit);
    }
    let Some(id) = crate::http::schemas::parse_uuid(&id) else { return visit.respond(Redirect::to("/account")) };
    let error = match state.upstream.unlink(&audit, Some(session.user.id), session.user.id, id).await {
        Ok(_) => return visit.respond(Redirect::to("/account?done=identity_unlinked")),
        Err(AccountError::Store(crate::store::StoreError::Conflict(crate::store::Conflict::LastSignInMethod))) => "last_sign_in_method",
        Err(AccountError::NotFound) => "not_found",
        Err(err) => {
            tracing::warn!(error = %err, "could not unlink an identity");
            "error"
        }
    };
    let message = state.pages.text(error);
    super::account::render(&state, visit, &session, StatusCode::CONFLICT, Default::default(), None, Some(message)).await.into_response()
}
