//! Browser sessions and CSRF tokens.
//!
//! A browser session is a row of `sessions` (listed, revoked and expired like any other)
//! that an HttpOnly, SameSite=Lax cookie names by a 256-bit secret, stored as its SHA-256.
//! It ends at the absolute timeout (GATEHOUSE_BROWSER_SESSION_TTL), after the idle timeout
//! (GATEHOUSE_BROWSER_IDLE_TIMEOUT), at sign-out, or when anything revokes it (sign out
//! everywhere, a password change, an admin disabling the user).
//!
//! CSRF: a signed double-submit token. A second cookie holds a random value; every form
//! carries HMAC-SHA256(server secret, that value), and a POST whose field does not match
//! its cookie, or that a browser marks as sent from another site, is refused.
//! With an https public URL both cookies are `Secure` and take the `__Host-` prefix.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::auth::refresh;
use crate::store::BrowserSession;

/// A session's `last_used_at` is written at most this often (seconds), and at most every
/// quarter of the idle timeout, so a session in use never ends more than a quarter early.
const TOUCH_EVERY_SECS: i64 = 30;

/// The cookies' names: `__Host-` ones when the public URL is https.
struct Names {
    session: &'static str,
    csrf: &'static str,
    secure: bool,
}

fn names(state: &AppState) -> Names {
    if state.config.public_url().starts_with("https://") {
        Names { session: "__Host-gatehouse_session", csrf: "__Host-gatehouse_csrf", secure: true }
    } else {
        Names { session: "gatehouse_session", csrf: "gatehouse_csrf", secure: false }
    }
}

fn cookie(name: &'static str, value: String, secure: bool, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build()
}

/// One visit of a page: the CSRF token its forms carry, the browser session if any, and
/// the cookies to send back.
pub struct Visit {
    jar: CookieJar,
    /// The CSRF cookie's value (fresh when the browser had none).
    csrf_cookie: String,
    /// What the forms of this page carry.
    pub csrf: String,
    pub session: Option<BrowserSession>,
    /// Whether the browser said the request came from another site.
    cross_site: bool,
}

impl FromRequestParts<AppState> for Visit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let names = names(state);
        let mut jar = CookieJar::from_headers(&parts.headers);
        let csrf_cookie = match jar.get(names.csrf).map(|c| c.value().to_string()).filter(|v| refresh::looks_valid(v)) {
            Some(value) => value,
            None => {
                let value = refresh::new_token();
                jar = jar.add(cookie(names.csrf, value.clone(), names.secure, state.config.pages.browser_session_ttl as i64));
                value
            }
        };
        let csrf = sign(&state.csrf_secret, &csrf_cookie);
        let cross_site = parts.headers.get("sec-fetch-site").is_some_and(|v| v.as_bytes() == b"cross-site");
        let session = match jar.get(names.session).map(|c| c.value().to_string()).filter(|v| refresh::looks_valid(v)) {
            Some(secret) => live_session(state, &secret).await,
            None => None,
        };
        Ok(Self { jar, csrf_cookie, csrf, session, cross_site })
    }
}

async fn live_session(state: &AppState, secret: &str) -> Option<BrowserSession> {
    let idle = chrono::Duration::seconds(state.config.pages.browser_idle_timeout as i64);
    // A database outage reads as no session: the page asks to sign in, nothing breaks.
    let session = match state.store.browser_session(&refresh::hash(secret), Utc::now() - idle).await {
        Ok(found) => found?,
        Err(err) => {
            tracing::warn!(error = %err, "could not read a browser session");
            return None;
        }
    };
    let touch_every = TOUCH_EVERY_SECS.min(idle.num_seconds() / 4);
    if (Utc::now() - session.last_used_at).num_seconds() >= touch_every
        && let Err(err) = state.store.touch_session(session.session_id).await
    {
        tracing::warn!(error = %err, "could not record a browser session's use");
    }
    Some(session)
}

fn sign(secret: &[u8], value: &str) -> String {
    sign_for(secret, "csrf", value)
}

/// HMAC-SHA256 of `value` under the server secret, for one `purpose` (so that a value
/// signed for one use never passes for another), in base64url.
pub(super) fn sign_for(secret: &[u8], purpose: &str, value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.update(b":");
    mac.update(value.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

impl Visit {
    /// Whether a POST's form token is this browser's and the browser did not mark the
    /// request as cross-site.
    pub fn csrf_ok(&self, state: &AppState, sent: &str) -> bool {
        let expected = sign(&state.csrf_secret, &self.csrf_cookie);
        !self.cross_site && bool::from(expected.as_bytes().ct_eq(sent.as_bytes()))
    }

    /// The response with this visit's cookies.
    pub fn respond(self, response: impl IntoResponse) -> Response {
        (self.jar, response).into_response()
    }

    /// Starts a browser session named by a fresh cookie, for a session the flows just made.
    pub async fn start_session(&mut self, state: &AppState, session_id: uuid::Uuid) -> Result<(), crate::store::StoreError> {
        let names = names(state);
        let secret = refresh::new_token();
        let ttl = state.config.pages.browser_session_ttl as i64;
        state.store.attach_cookie(session_id, &refresh::hash(&secret), Utc::now() + chrono::Duration::seconds(ttl)).await?;
        self.jar = self.jar.clone().add(cookie(names.session, secret, names.secure, ttl));
        self.renew_csrf(state);
        Ok(())
    }

    /// Forgets the session cookie (after sign-out).
    pub fn end_session(mut self, state: &AppState) -> Self {
        let names = names(state);
        // The removal must carry the cookie's own attributes: a browser ignores a
        // `__Host-` cookie without `Secure` and `Path=/`, and keeps the old one.
        self.jar = self.jar.clone().add(cookie(names.session, String::new(), names.secure, 0));
        self.session = None;
        self.renew_csrf(state);
        self
    }

    /// A new CSRF cookie value, so that a token read before a sign-in or sign-out is
    /// worthless after it.
    fn renew_csrf(&mut self, state: &AppState) {
        let names = names(state);
        self.csrf_cookie = refresh::new_token();
        self.csrf = sign(&state.csrf_secret, &self.csrf_cookie);
        let ttl = state.config.pages.browser_session_ttl as i64;
        self.jar = self.jar.clone().add(cookie(names.csrf, self.csrf_cookie.clone(), names.secure, ttl));
    }

    /// The sign-in page for a visit without a session, returning here afterwards.
    pub fn send_to_sign_in(self, return_to: &str) -> Response {
        let query = serde_urlencoded::to_string([("return_to", return_to)]).unwrap_or_default();
        self.respond(Redirect::to(&format!("/login?{query}")))
    }
}
