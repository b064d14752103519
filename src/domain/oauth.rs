//! The rules of an OpenID Connect authorization request that need no database: scopes,
//! PKCE, `prompt` and `max_age` (OpenID Connect Core §3.1.2.1, RFC 7636).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::error_description;

/// A refused request: the RFC 6749 §4.1.2.1 error code and a sentence for the client, in
/// the characters an `error_description` may hold (the field is private for that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub error: &'static str,
    description: String,
}

impl Refusal {
    pub fn new(error: &'static str, description: &str) -> Self {
        Self { error, description: error_description(description) }
    }

    pub fn description(&self) -> &str {
        &self.description
    }
}

fn refuse(error: &'static str, description: impl AsRef<str>) -> Refusal {
    Refusal::new(error, description.as_ref())
}

/// An echoed value in a description: its first characters only.
fn echo(value: &str) -> String {
    let short: String = value.chars().take(40).collect();
    if short.len() < value.len() { format!("{short}...") } else { short }
}

/// The longest `nonce` or `login_hint` taken.
const MAX_PARAM_CHARS: usize = 512;
/// The longest `state` taken; it comes back whole, exactly as sent.
pub const MAX_STATE_CHARS: usize = 2048;

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
            _ => return Err(refuse("invalid_request", format!("prompt value '{}' is not supported", echo(value)))),
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

/// `nonce` and `login_hint`: kept as sent, at most 512 characters.
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
    fn every_refusal_and_token_error_keeps_to_the_characters_rfc_6749_allows_even_when_it_echoes_input() {
        use crate::error::{ApiError, OAuthError, description_char};
        let hostile = "\"bogus\" \\ é\n\u{7f}\u{2028}";
        let long = "x".repeat(MAX_PARAM_CHARS + 1);
        let challenge = "a".repeat(43);
        let refusals = [
            granted_scopes(hostile, &[]),
            granted_scopes("openid", &[]),
            code_challenge(None, None, true).map(|_| vec![]),
            code_challenge(None, Some(hostile), false).map(|_| vec![]),
            code_challenge(Some(&challenge), Some(hostile), false).map(|_| vec![]),
            code_challenge(Some(&challenge), None, false).map(|_| vec![]),
            code_challenge(Some(hostile), Some("S256"), false).map(|_| vec![]),
            prompt(Some(hostile)).map(|_| vec![]),
            prompt(Some(&format!("{hostile}{long}"))).map(|_| vec![]),
            prompt(Some("none consent")).map(|_| vec![]),
            max_age(Some(hostile)).map(|_| vec![]),
            short_param("nonce", Some(&long)).map(|_| vec![]),
            Err(Refusal::new("invalid_request", hostile)),
        ];
        for refusal in refusals {
            let refusal = refusal.expect_err("refused");
            assert!(refusal.description().chars().all(description_char), "{refusal:?}");
        }
        for error in [OAuthError::bad("invalid_request", hostile), OAuthError::invalid_client(hostile), OAuthError::invalid_token(hostile)]
        {
            let ApiError::OAuth(error) = error else { panic!("an OAuth error") };
            assert!(error.description().chars().all(description_char), "{error:?}");
            assert_eq!(error.description(), "'bogus' ? ????");
        }
        let every_char: String = (0..=0x10FFFFu32).filter_map(char::from_u32).collect();
        let cleaned = crate::error::error_description(&every_char);
        assert!(cleaned.chars().all(description_char));
        // The 95 printable characters but `"` and `\`, each kept once; `?` and `'` also stand in.
        assert_eq!(cleaned.chars().filter(|c| *c != '?' && *c != '\'').count(), 95 - 2 - 2, "the allowed set stays");
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
