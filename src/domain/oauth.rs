//! The rules of an OpenID Connect authorization request that need no database: scopes,
//! PKCE, `prompt` and `max_age` (OpenID Connect Core §3.1.2.1, RFC 7636).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A refused request: the RFC 6749 §4.1.2.1 error code and a sentence for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    pub description: String,
}

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal { error, description: description.into() }
}

/// The longest `state`, `nonce` or `login_hint` taken.
const MAX_PARAM_CHARS: usize = 512;

/// The scopes granted: those asked for that the client may have, in a fixed order, with
/// `openid` required. Unknown scopes are left out (OpenID Connect Core §3.1.2.1 lets a
/// provider ignore what it does not offer); the token response names what was granted.
pub fn granted_scopes(requested: &str, allowed: &[String]) -> Result<Vec<&'static str>, Refusal> {
    let asked: Vec<&str> = requested.split(' ').filter(|s| !s.is_empty()).collect();
    if !asked.contains(&"openid") {
        return Err(refuse("invalid_scope", "scope must include openid"));
    }
    if !allowed.iter().any(|a| a == "openid") {
        return Err(refuse("invalid_scope", "this client may not ask for openid"));
    }
    Ok(super::client::SCOPES.into_iter().filter(|s| asked.contains(s) && allowed.iter().any(|a| a == s)).collect())
}

/// A PKCE challenge: `S256` only (`plain` protects nothing a TLS-less attacker cannot
/// read), 43 to 128 characters of the unreserved set.
pub fn code_challenge(challenge: Option<&str>, method: Option<&str>, public_client: bool) -> Result<Option<String>, Refusal> {
    match (challenge, method) {
        (None, None) if public_client => Err(refuse("invalid_request", "a public client must send a PKCE code_challenge (S256)")),
        (None, None) => Ok(None),
        (None, Some(_)) => Err(refuse("invalid_request", "code_challenge_method without code_challenge")),
        (Some(_), Some(m)) if m != "S256" => Err(refuse("invalid_request", "code_challenge_method must be S256")),
        (Some(_), None) => Err(refuse("invalid_request", "code_challenge_method must be S256 (plain is not supported)")),
        (Some(c), Some(_)) if !pkce_chars(c) => {
            Err(refuse("invalid_request", "code_challenge must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~"))
        }
        (Some(c), Some(_)) => Ok(Some(c.to_string())),
    }
}

fn pkce_chars(value: &str) -> bool {
    (43..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether a `code_verifier` answers the stored S256 challenge.
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    if !pkce_chars(verifier) {
        return false;
    }
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    computed.as_bytes().ct_eq(challenge.as_bytes()).into()
}

/// What `prompt` asks for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

pub fn prompt(raw: Option<&str>) -> Result<Prompt, Refusal> {
    let mut prompt = Prompt::default();
    for value in raw.unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            // One account per browser: there is nothing to select.
            "select_account" => {}
            _ => return Err(refuse("invalid_request", format!("prompt {value:?} is not supported"))),
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(refuse("invalid_request", "prompt=none cannot be combined with other values"));
    }
    Ok(prompt)
}

/// `max_age` in seconds, when given.
pub fn max_age(raw: Option<&str>) -> Result<Option<i64>, Refusal> {
    match raw {
        None => Ok(None),
        Some(value) => value
            .parse::<u32>()
            .map(|s| Some(i64::from(s)))
            .map_err(|_| refuse("invalid_request", "max_age must be a whole number of seconds")),
    }
}

/// `state`, `nonce` and `login_hint`: kept as sent, at most 512 characters.
pub fn short_param(name: &str, value: Option<&str>) -> Result<Option<String>, Refusal> {
    match value {
        Some(v) if v.chars().count() > MAX_PARAM_CHARS => {
            Err(refuse("invalid_request", format!("{name} is longer than {MAX_PARAM_CHARS} characters")))
        }
        other => Ok(other.map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge_and_nothing_else_does() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", challenge));
        assert!(!verifier_matches("short", challenge));
    }

    #[test]
    fn granted_scopes_need_openid_and_keep_only_what_the_client_may_have() {
        let allowed: Vec<String> = ["openid", "email"].map(String::from).to_vec();
        assert_eq!(granted_scopes("openid profile email phone", &allowed), Ok(vec!["openid", "email"]));
        assert_eq!(granted_scopes("email", &allowed).map_err(|r| r.error), Err("invalid_scope"));
    }

    #[test]
    fn prompt_none_stands_alone_and_plain_pkce_is_refused() {
        assert_eq!(prompt(Some("login consent")), Ok(Prompt { none: false, login: true, consent: true }));
        assert_eq!(prompt(Some("none login")).map_err(|r| r.error), Err("invalid_request"));
        assert_eq!(code_challenge(Some(&"a".repeat(43)), Some("plain"), true).map_err(|r| r.error), Err("invalid_request"));
        assert_eq!(code_challenge(None, None, true).map_err(|r| r.error), Err("invalid_request"));
        assert_eq!(code_challenge(None, None, false), Ok(None));
    }
}
