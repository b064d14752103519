//! The client address and the per-address limit on the unauthenticated /v1/auth routes
//! and on the authenticated ones that send mail.
//!
//! The client address is the socket peer, unless GATEHOUSE_TRUSTED_PROXY_HEADER names a
//! header that the proxy in front of us sets. From that header we take the RIGHT-MOST
//! entry of its last occurrence: that is the address the proxy itself saw; everything to
//! its left was sent by the client and may be forged. (Behind a chain of several trusted
//! proxies, configure the last one to overwrite the header rather than append.) A request
//! without the header, or with an entry that is not an address, falls back to the socket
//! address.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request};
use axum::http::{Extensions, HeaderMap, HeaderName, Method};
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::app::AppState;
use crate::error::ApiError;

/// The routes anyone may call without a token: each costs us a hash or a database write.
const LIMITED_ROUTES: &[&str] = &[
    "/v1/auth/register",
    "/v1/auth/login",
    "/v1/auth/login/mfa",
    "/v1/auth/login/mfa/passkey/begin",
    "/v1/auth/login/mfa/passkey/finish",
    "/v1/auth/passkeys/login/begin",
    "/v1/auth/passkeys/login/finish",
    "/v1/auth/refresh",
    "/v1/auth/password/forgot",
    "/v1/auth/password/reset",
    "/v1/auth/email/verify",
    // Sign-in by email code: each request may write a code and queue a mail.
    "/v1/auth/email-code",
    "/v1/auth/email-code/verify",
    "/v1/auth/email-code/reauth",
    // Authenticated, but each call sends a mail.
    "/v1/auth/email/resend",
    // Each grant writes a session or checks a secret.
    "/oauth/token",
];
/// Authenticated routes limited for one method only: an email change mails two addresses
/// and checks a password, while GET of the same path is a cheap whoami.
/// The pages' forms that hash a password or write an account are limited like their API
/// twins (their GETs only render).
const LIMITED_METHOD_ROUTES: &[(Method, &str)] = &[
    (Method::PATCH, "/v1/auth/me"),
    (Method::POST, "/v1/auth/passkeys/register/begin"),
    (Method::POST, "/login/passkey/begin"),
    (Method::POST, "/login/passkey"),
    (Method::POST, "/login/mfa/passkey/begin"),
    (Method::POST, "/login/mfa/passkey"),
    (Method::POST, "/account/passkeys/begin"),
    (Method::POST, "/account/passkeys/delete"),
    (Method::POST, "/login"),
    (Method::POST, "/login/mfa"),
    (Method::POST, "/login/email-code"),
    (Method::POST, "/login/email"),
    (Method::POST, "/account/email-code"),
    (Method::POST, "/register"),
    (Method::POST, "/account/password"),
    (Method::POST, "/forgot-password"),
    (Method::POST, "/reset-password"),
    (Method::POST, "/verify-email"),
    (Method::POST, "/account/email"),
    (Method::POST, "/account/totp/setup"),
    (Method::POST, "/account/totp/confirm"),
    (Method::POST, "/account/totp/disable"),
    // Each may write an authorization code (and a consent).
    (Method::GET, "/oauth/authorize"),
    (Method::POST, "/oauth/authorize"),
];

fn is_limited(method: &Method, path: &str) -> bool {
    LIMITED_ROUTES.contains(&path)
        || LIMITED_METHOD_ROUTES.iter().any(|(m, p)| m == method && *p == path)
        || is_upstream_sign_in(method, path)
}

/// Upstream sign-in: GET /login/{slug} writes a flow and GET /login/{slug}/callback
/// exchanges a code upstream; POST /login/{slug}/confirm checks a password. (GET
/// /login/email-code and /login/email are pages of their own that only render.)
fn is_upstream_sign_in(method: &Method, path: &str) -> bool {
    let Some(rest) = path.strip_prefix("/login/") else { return false };
    match (method, rest.split('/').collect::<Vec<_>>().as_slice()) {
        (&Method::GET, [slug]) => !slug.is_empty() && !["email-code", "email"].contains(slug),
        (&Method::GET, [slug, "callback"]) | (&Method::POST, [slug, "confirm"]) => !slug.is_empty(),
        _ => false,
    }
}
/// Past this many tracked addresses, the ones whose bucket is full again are forgotten.
const MAX_TRACKED_ADDRESSES: usize = 100_000;

/// The client address of a request, as put in its extensions by [`guard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

pub type IpLimiter = DefaultKeyedRateLimiter<IpAddr>;

/// `per_minute` requests a minute from one address, as a burst that refills evenly;
/// `None` (no limit) for 0.
pub fn ip_limiter(per_minute: u32) -> Option<Arc<IpLimiter>> {
    NonZeroU32::new(per_minute).map(|n| Arc::new(RateLimiter::keyed(Quota::per_minute(n))))
}

/// The client address: the trusted header's right-most entry, else the socket address.
pub fn client_addr(headers: &HeaderMap, extensions: &Extensions, trusted_header: Option<&HeaderName>) -> Option<IpAddr> {
    let from_header = trusted_header.and_then(|name| {
        let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
        parse_forwarded_entry(value.rsplit(',').next()?)
    });
    from_header.or_else(|| extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip()))
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]:4711`, or the same
/// as an RFC 7239 `for=` parameter, possibly quoted.
fn parse_forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let entry = match entry.get(..4) {
        Some(prefix) if prefix.eq_ignore_ascii_case("for=") => &entry[4..],
        _ => entry,
    };
    let entry = entry.trim_matches('"');
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// Records the client address for every request, and answers 429 `rate_limited` with
/// `Retry-After` when an address goes over GATEHOUSE_RATE_LIMIT_PER_IP on the limited routes.
pub fn guard(state: &AppState, request: &mut Request) -> Option<Response> {
    let addr = client_addr(request.headers(), request.extensions(), state.config.trusted_proxy_header.as_ref());
    if let Some(ip) = addr {
        request.extensions_mut().insert(ClientAddr(ip));
    }
    if let (Some(limiter), Some(ip)) = (&state.ip_limiter, addr)
        && is_limited(request.method(), request.uri().path())
    {
        if limiter.len() > MAX_TRACKED_ADDRESSES {
            limiter.retain_recent();
        }
        if let Err(not_until) = limiter.check_key(&ip) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::warn!(%ip, "per-address limit reached");
            crate::metrics::rate_limited("per_ip");
            return Some(ApiError::RateLimited { retry_after_secs: secs.max(1) }.into_response());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_sign_in_routes_are_limited_and_the_pages_beside_them_are_not() {
        for (method, path) in
            [(Method::GET, "/login/google"), (Method::GET, "/login/google/callback"), (Method::POST, "/login/google/confirm")]
        {
            assert!(is_limited(&method, path), "{method} {path}");
        }
        for (method, path) in [
            (Method::GET, "/login"),
            (Method::GET, "/login/email-code"),
            (Method::GET, "/login/email"),
            (Method::GET, "/login/google/confirm"),
        ] {
            assert!(!is_limited(&method, path), "{method} {path}");
        }
    }

    #[test]
    fn forwarded_entries_parse_in_every_common_form() {
        for (raw, want) in [
            ("203.0.113.7", "203.0.113.7"),
            (" 203.0.113.7:4711", "203.0.113.7"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("for=\"[2001:db8::1]:80\"", "2001:db8::1"),
            ("FOR=198.51.100.2", "198.51.100.2"),
        ] {
            assert_eq!(parse_forwarded_entry(raw), Some(want.parse().expect("ip")), "{raw}");
        }
        assert_eq!(parse_forwarded_entry("unknown"), None);
        assert_eq!(parse_forwarded_entry(""), None);
    }

    #[test]
    fn the_right_most_entry_of_the_trusted_header_wins_and_others_are_ignored() {
        let name = HeaderName::from_static("x-forwarded-for");
        let mut headers = HeaderMap::new();
        headers.insert(&name, "6.6.6.6, 198.51.100.2".parse().expect("value"));
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 9))));
        assert_eq!(client_addr(&headers, &extensions, Some(&name)), Some("198.51.100.2".parse().expect("ip")));
        assert_eq!(client_addr(&headers, &extensions, None), Some("127.0.0.1".parse().expect("ip")));
        headers.insert(&name, "garbage".parse().expect("value"));
        assert_eq!(client_addr(&headers, &extensions, Some(&name)), Some("127.0.0.1".parse().expect("ip")));
    }
}
