//! The rules of an OpenID Connect client's registration: its name, exact redirect URIs,
//! the scopes it may ask for, and how its ID tokens are signed.

use url::Url;

/// The scopes a client may be allowed; `offline_access` gives a refresh token,
/// `organization` the `org` claim of the org the person picks.
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "offline_access", "organization"];
/// What a client may ask for when its registration names no scopes.
pub const DEFAULT_SCOPES: [&str; 3] = ["openid", "profile", "email"];
/// ID token signing: RS256, which every OpenID Connect client supports, or EdDSA.
pub const ID_TOKEN_ALGS: [&str; 2] = ["RS256", "EdDSA"];
/// Longest redirect URI taken.
const MAX_URI_CHARS: usize = 2000;

pub fn client_name(raw: &str) -> Result<String, String> {
    let name = raw.trim();
    if name.is_empty() || raw.chars().count() > 100 || raw.chars().any(char::is_control) {
        return Err("must be 1 to 100 characters without control characters".into());
    }
    Ok(name.to_string())
}

/// An absolute URI matched exactly at sign-in: `https`, `http` only on a loopback host (a
/// native app's local server, RFC 8252 §7.3), or an app's own scheme with a dot in it
/// (`com.example.app:/callback`, §7.1). Never a fragment.
pub fn redirect_uri(raw: &str) -> Result<String, String> {
    if raw.chars().count() > MAX_URI_CHARS || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("must be an absolute URI of at most {MAX_URI_CHARS} characters without spaces"));
    }
    let uri = Url::parse(raw).map_err(|_| "must be an absolute URI such as https://app.example.com/callback".to_string())?;
    if uri.fragment().is_some() {
        return Err("must not have a fragment (#...)".into());
    }
    let loopback = matches!(uri.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match uri.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err("must use https (http only on localhost, 127.0.0.1 or [::1])".into()),
        scheme if scheme.contains('.') => {}
        _ => return Err("must use https, http on a loopback host, or an app's own scheme such as com.example.app".into()),
    }
    // Kept as typed: matching at sign-in is exact, character for character.
    Ok(raw.to_string())
}

/// A resource server a client's access tokens may be meant for (RFC 8707): an absolute
/// `https` URI (`http` only on a loopback host), without a fragment.
pub fn resource(raw: &str) -> Result<String, String> {
    if raw.chars().count() > MAX_URI_CHARS || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("must be an absolute URI of at most {MAX_URI_CHARS} characters without spaces"));
    }
    let uri = Url::parse(raw).map_err(|_| "must be an absolute URI such as https://api.example.com".to_string())?;
    if uri.fragment().is_some() {
        return Err("must not have a fragment (#...)".into());
    }
    let loopback = matches!(uri.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match uri.scheme() {
        "https" => Ok(raw.to_string()),
        "http" if loopback => Ok(raw.to_string()),
        _ => Err("must use https (http only on localhost, 127.0.0.1 or [::1])".into()),
    }
}

pub fn scope(raw: &str) -> Result<String, String> {
    SCOPES.iter().find(|s| **s == raw).map(|s| s.to_string()).ok_or_else(|| format!("must be one of {}", SCOPES.join(", ")))
}

pub fn id_token_alg(raw: &str) -> Result<String, String> {
    ID_TOKEN_ALGS.iter().find(|a| **a == raw).map(|a| a.to_string()).ok_or_else(|| format!("must be {}", ID_TOKEN_ALGS.join(" or ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_loopback_http_or_an_apps_own_scheme_without_fragments() {
        for good in ["https://app.example.com/callback", "http://localhost:5000/cb", "http://127.0.0.1/cb", "com.example.app:/oauth"] {
            assert_eq!(redirect_uri(good).as_deref(), Ok(good), "{good}");
        }
        for bad in
            ["http://app.example.com/cb", "https://app.example.com/cb#x", "/callback", "javascript:alert(1)", "myapp:/cb", "https://a b"]
        {
            assert!(redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resources_are_https_or_loopback_http_uris_without_fragments() {
        for good in ["https://api.example.com", "https://api.example.com/v2", "http://localhost:9000"] {
            assert_eq!(resource(good).as_deref(), Ok(good), "{good}");
        }
        for bad in ["http://api.example.com", "https://api.example.com#x", "api", "urn:example:api", "com.example.app:/x", ""] {
            assert!(resource(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scopes_and_algorithms_come_from_closed_lists() {
        assert!(scope("openid").is_ok() && scope("offline_access").is_ok());
        assert!(scope("admin").is_err());
        assert!(id_token_alg("RS256").is_ok() && id_token_alg("EdDSA").is_ok());
        assert!(id_token_alg("none").is_err() && id_token_alg("HS256").is_err());
    }
}
