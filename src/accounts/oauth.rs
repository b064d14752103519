//! OpenID Connect authorization: checking a request (the client and its exact redirect URI
//! first, then everything else, whose errors go back to the client), consent, and the code.
//! The token endpoint's grants are in [`super::oauth_tokens`].

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use url::Url;
use uuid::Uuid;

use crate::auth::refresh;
use crate::domain::oauth::{self as rules, Prompt, Refusal};
use crate::store::{Client, DynStore, NewCode, StoreError};

/// Codes one user may be issued for one client in a minute, as a burst that refills
/// evenly: a person signs in to an app a few times a day, a loop far more.
const CODES_PER_USER_AND_CLIENT_PER_MINUTE: u32 = 20;
/// Past this many tracked pairs, those whose bucket is full again are forgotten.
const MAX_TRACKED_PAIRS: usize = 100_000;

/// Codes issued per (user, client).
pub type CodeLimiter = governor::DefaultKeyedRateLimiter<(Uuid, Uuid)>;

pub fn code_limiter() -> CodeLimiter {
    let per_minute = std::num::NonZeroU32::new(CODES_PER_USER_AND_CLIENT_PER_MINUTE).unwrap_or(std::num::NonZeroU32::MIN);
    governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute))
}

/// Whether this user may be issued one more code for this client now.
pub fn may_issue_code(limiter: &CodeLimiter, user_id: Uuid, client: Uuid) -> bool {
    if limiter.len() > MAX_TRACKED_PAIRS {
        limiter.retain_recent();
    }
    limiter.check_key(&(user_id, client)).is_ok()
}

/// The query of GET /oauth/authorize, as sent.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
pub struct AuthorizeParams {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub response_mode: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub registration: Option<String>,
    /// The org (its slug) the session is for, with scope `organization`.
    pub organization: Option<String>,
    /// Ours, not the client's: the signed time after which a sign-in that `prompt=login` or
    /// `max_age` forced must have happened (see `pages::authorize`).
    pub login_after: Option<String>,
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct Authorization {
    pub client: Client,
    pub redirect_uri: String,
    pub scopes: Vec<&'static str>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    pub login_after: Option<String>,
    /// `organization=SLUG`, as asked.
    pub organization: Option<String>,
}

impl Authorization {
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

/// Why a request cannot go on.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or its redirect URI is unknown: a page says so, never a redirect.
    Page(&'static str),
    /// Anything else goes back to the client's redirect URI (RFC 6749 §4.1.2.1).
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        refusal: Refusal,
    },
    Store(StoreError),
}

impl From<StoreError> for AuthorizeError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

/// Checks a request: first the client and redirect URI, then the rest.
pub async fn check_request(store: &DynStore, params: &AuthorizeParams) -> Result<Authorization, AuthorizeError> {
    let Some(client_id) = params.client_id.as_deref().filter(|c| c.len() <= 200) else {
        return Err(AuthorizeError::Page("unknown_client"));
    };
    let Some((client, _)) = store.client_by_client_id(client_id).await? else {
        return Err(AuthorizeError::Page("unknown_client"));
    };
    let Some(redirect_uri) = params.redirect_uri.as_deref().filter(|uri| client.redirect_uris.iter().any(|r| r == uri)) else {
        return Err(AuthorizeError::Page("unknown_redirect_uri"));
    };
    let redirect_uri = redirect_uri.to_string();
    // `state` goes back exactly as sent (RFC 6749 §4.1.2). A longer one than we keep is
    // refused on a page: an error redirect would have to carry it whole.
    if params.state.as_deref().is_some_and(|s| s.chars().count() > rules::MAX_STATE_CHARS) {
        return Err(AuthorizeError::Page("state_too_long"));
    }
    let state = params.state.clone();
    let back = |refusal: Refusal| AuthorizeError::Redirect { redirect_uri: redirect_uri.clone(), state: state.clone(), refusal };
    let refuse = |error: &'static str, description: &str| back(Refusal::new(error, description));
    if params.request.is_some() {
        return Err(refuse("request_not_supported", "request objects are not supported"));
    }
    if params.request_uri.is_some() {
        return Err(refuse("request_uri_not_supported", "request_uri is not supported"));
    }
    if params.registration.is_some() {
        return Err(refuse("registration_not_supported", "registration is not supported"));
    }
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(refuse("invalid_request", "response_type is required")),
        Some(_) => return Err(refuse("unsupported_response_type", "only response_type=code is supported")),
    }
    if params.response_mode.as_deref().is_some_and(|m| m != "query") {
        return Err(refuse("invalid_request", "only response_mode=query is supported"));
    }
    let scopes = rules::granted_scopes(params.scope.as_deref().unwrap_or(""), &client.scopes).map_err(back)?;
    let code_challenge =
        rules::code_challenge(params.code_challenge.as_deref(), params.code_challenge_method.as_deref(), client.public).map_err(back)?;
    let prompt = rules::prompt(params.prompt.as_deref()).map_err(back)?;
    let max_age = rules::max_age(params.max_age.as_deref()).map_err(back)?;
    let nonce = rules::short_param("nonce", params.nonce.as_deref()).map_err(back)?;
    let login_hint = rules::short_param("login_hint", params.login_hint.as_deref()).map_err(back)?;
    let login_after = params.login_after.clone().filter(|v| v.len() <= 100);
    let organization = rules::short_param("organization", params.organization.as_deref()).map_err(back)?;
    Ok(Authorization { client, redirect_uri, scopes, state, nonce, code_challenge, prompt, max_age, login_hint, login_after, organization })
}

/// The client's redirect URI with these parameters added, and `iss` (RFC 9207).
pub fn redirect_to(redirect_uri: &str, issuer: &str, state: Option<&str>, pairs: &[(&str, &str)]) -> String {
    let Ok(mut url) = Url::parse(redirect_uri) else { return redirect_uri.to_string() };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in pairs {
            query.append_pair(name, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.to_string()
}

/// Where a refusal sends the browser.
pub fn error_redirect(redirect_uri: &str, issuer: &str, state: Option<&str>, refusal: &Refusal) -> String {
    redirect_to(redirect_uri, issuer, state, &[("error", refusal.error), ("error_description", refusal.description())])
}

/// Whether the user must be asked: not for a first-party client, nor when an earlier
/// consent covers every scope asked for (unless `prompt=consent`).
pub async fn needs_consent(store: &DynStore, user_id: Uuid, request: &Authorization) -> Result<bool, StoreError> {
    if request.prompt.consent {
        return Ok(true);
    }
    if request.client.first_party {
        return Ok(false);
    }
    let Some(given) = store.consent(user_id, request.client.id).await? else { return Ok(true) };
    let given: Vec<&str> = given.split(' ').collect();
    Ok(!request.scopes.iter().all(|s| given.contains(s)))
}

/// Whether the sign-in is too old for `max_age` (then the user signs in again).
pub fn too_old(request: &Authorization, auth_time: DateTime<Utc>) -> bool {
    request.max_age.is_some_and(|max| (Utc::now() - auth_time).num_seconds() > max)
}

/// Issues a code for a signed-in user, living `ttl_secs` (GATEHOUSE_OAUTH_CODE_TTL, at most
/// 60), and answers where the browser goes with it; `org` is the org the session is for.
#[allow(clippy::too_many_arguments)]
pub async fn issue_code(
    store: &DynStore,
    issuer: &str,
    ttl_secs: u64,
    request: &Authorization,
    user_id: Uuid,
    auth_time: DateTime<Utc>,
    amr: &str,
    org: Option<Uuid>,
) -> Result<String, StoreError> {
    let code = refresh::new_token();
    store
        .create_code(NewCode {
            code_hash: refresh::hash(&code),
            client: request.client.id,
            user_id,
            redirect_uri: request.redirect_uri.clone(),
            scope: request.scope(),
            nonce: request.nonce.clone(),
            code_challenge: request.code_challenge.clone(),
            auth_time,
            amr: amr.to_string(),
            expires_at: Utc::now() + Duration::seconds(ttl_secs.min(60) as i64),
            org,
        })
        .await?;
    Ok(redirect_to(&request.redirect_uri, issuer, request.state.as_deref(), &[("code", &code)]))
}
