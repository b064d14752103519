//! The rules of an upstream provider's registration: its slug, name, kind, endpoints and
//! scopes; and the username an account made through it starts with.

use url::Url;

/// `oidc`: any OpenID provider by its issuer's discovery document; `github`: GitHub's
/// OAuth 2 and API.
pub const KINDS: [&str; 2] = ["oidc", "github"];
/// Scopes asked of an OpenID provider when none are set.
pub const OIDC_DEFAULT_SCOPES: [&str; 3] = ["openid", "email", "profile"];
/// Scopes asked of GitHub when none are set: the profile and the addresses.
pub const GITHUB_DEFAULT_SCOPES: [&str; 2] = ["read:user", "user:email"];
/// GitHub's own endpoints (GitHub Enterprise sets its own).
pub const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_API: &str = "https://api.github.com";
/// Words of `/login/...` that are pages of their own, never a provider.
const RESERVED: [&str; 6] = ["mfa", "email", "passkey", "passkeys", "link", "callback"];
const MAX_URL_CHARS: usize = 2000;

/// 1 to 32 of `a-z 0-9 -`, starting with a letter or digit.
pub fn slug(raw: &str) -> Result<String, String> {
    let ok = (1..=32).contains(&raw.len())
        && raw.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !raw.starts_with('-');
    if !ok {
        return Err("must be 1 to 32 of a-z, 0-9 and -, not starting with -".into());
    }
    if RESERVED.contains(&raw) {
        return Err(format!("`{raw}` is a page of its own; choose another slug"));
    }
    Ok(raw.to_string())
}

pub fn name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || raw.chars().count() > 100 || raw.chars().any(char::is_control) {
        return Err("must be 1 to 100 characters without control characters".into());
    }
    Ok(name.to_string())
}

pub fn kind(raw: &str) -> Result<String, String> {
    if KINDS.contains(&raw) { Ok(raw.to_string()) } else { Err("must be `oidc` or `github`".into()) }
}

/// An issuer or endpoint: `https`, or `http` on a loopback host (development and tests);
/// no fragment, no user or password.
pub fn endpoint(raw: &str) -> Result<String, String> {
    if raw.chars().count() > MAX_URL_CHARS || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("must be an absolute URL of at most {MAX_URL_CHARS} characters without spaces"));
    }
    let url = Url::parse(raw).map_err(|_| "must be an absolute URL such as https://idp.example.com".to_string())?;
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a fragment, a user or a password".into());
    }
    match url.scheme() {
        "https" => Ok(raw.to_string()),
        "http" if is_loopback(&url) => Ok(raw.to_string()),
        _ => Err("must use https (http only on localhost, 127.0.0.1 or [::1])".into()),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// 1 to 20 scopes of printable ASCII without spaces or quotes (RFC 6749 §3.3).
pub fn scopes(raw: &[String]) -> Result<Vec<String>, String> {
    let ok = |s: &String| !s.is_empty() && s.len() <= 100 && s.chars().all(|c| c.is_ascii_graphic() && c != '"' && c != '\\');
    if raw.len() > 20 || !raw.iter().all(ok) {
        return Err("must be at most 20 scopes of printable ASCII without spaces or quotes".into());
    }
    let mut out: Vec<String> = Vec::new();
    for s in raw {
        if !out.contains(s) {
            out.push(s.clone());
        }
    }
    Ok(out)
}

/// What a username made from an upstream profile starts as: the first of `candidates`
/// that keeps 3 characters once cut to `A-Z a-z 0-9 _ . -`, at most 24 of them (room for
/// a suffix that makes it unique); `user` when none does.
pub fn username_base<'a>(candidates: impl IntoIterator<Item = &'a str>) -> String {
    for candidate in candidates {
        let local = candidate.split('@').next().unwrap_or_default();
        let kept: String = local
            .chars()
            .map(|c| if c.is_whitespace() { '.' } else { c })
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            .take(24)
            .collect();
        let kept = kept.trim_matches('.').to_string();
        if kept.len() >= 3 {
            return kept;
        }
    }
    "user".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_short_lowercase_words_and_never_a_page_of_their_own() {
        assert!(slug("google").is_ok());
        assert!(slug("corp-idp2").is_ok());
        for bad in ["", "Google", "-x", "a b", "mfa", "email", &"x".repeat(33)] {
            assert!(slug(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn endpoints_are_https_or_http_on_a_loopback_host() {
        assert!(endpoint("https://accounts.google.com").is_ok());
        assert!(endpoint("http://127.0.0.1:4000/oidc").is_ok());
        assert!(endpoint("http://localhost:4000").is_ok());
        for bad in ["http://idp.example.com", "ftp://x", "https://u:p@idp.example.com", "https://idp.example.com/#x", "idp"] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_username_is_made_from_the_first_usable_profile_value() {
        assert_eq!(username_base(["ana.lopez@example.com"]), "ana.lopez");
        assert_eq!(username_base(["", "Ana Lopez"]), "Ana.Lopez");
        assert_eq!(username_base(["李", "@@"]), "user");
        assert_eq!(username_base(["octocat"]), "octocat");
    }
}
