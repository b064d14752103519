//! Where a page goes after sign-in: `return_to` when it is on this origin or on one of
//! GATEHOUSE_ALLOWED_RETURN_ORIGINS, else the account page. No open redirect: the target
//! is resolved against the public URL the way a browser would (`//evil.example`,
//! `/\evil.example` and `https://ok@evil.example` all land on evil.example) and only then
//! its origin is compared.

use url::Url;

use crate::app::AppState;

pub const DEFAULT: &str = "/account";

pub fn resolve(state: &AppState, raw: &str) -> String {
    let raw = raw.trim();
    if raw.is_empty() || raw.chars().any(char::is_control) {
        return DEFAULT.to_string();
    }
    let Ok(base) = Url::parse(&state.config.public_url()) else { return DEFAULT.to_string() };
    let Ok(target) = base.join(raw) else { return DEFAULT.to_string() };
    if !matches!(target.scheme(), "http" | "https") {
        return DEFAULT.to_string();
    }
    let origin = target.origin().ascii_serialization();
    if origin == base.origin().ascii_serialization() {
        // Same origin: keep it relative, so a proxy's view of the host does not matter;
        // but a path starting `//` would read as another host, so that one stays absolute.
        if target.path().starts_with("//") {
            return target.to_string();
        }
        let mut local = target.path().to_string();
        if let Some(query) = target.query() {
            local.push('?');
            local.push_str(query);
        }
        return local;
    }
    if state.config.pages.allowed_return_origins.contains(&origin) {
        return target.to_string();
    }
    tracing::info!(return_to = %origin, "a return_to to an origin not allowed was ignored");
    DEFAULT.to_string()
}
