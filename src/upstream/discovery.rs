//! An OpenID provider's discovery document and signing keys, kept in memory for a while.
//! The keys are fetched again when a token names a `kid` the cached set lacks (the
//! provider rotated its keys), at most once every [`JWKS_REFETCH_GAP`] so that tokens with
//! made-up `kid`s cannot make this server hammer the provider.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use serde::Deserialize;
use tokio::sync::Mutex;

use super::UpstreamError;

/// How long a discovery document and a key set are trusted before being read again.
const KEEP_FOR: Duration = Duration::from_secs(3600);
/// The shortest time between two fetches of one key set for an unknown `kid`.
pub const JWKS_REFETCH_GAP: Duration = Duration::from_secs(2);
/// Largest document read from a provider.
const MAX_DOCUMENT_BYTES: usize = 512 * 1024;

/// What this server reads of a discovery document.
#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: String,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    /// RFC 9207: the provider sends `iss` with every authorization response.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

#[derive(Default)]
pub struct Cache {
    discovery: Mutex<HashMap<String, (Instant, Discovery)>>,
    keys: Mutex<HashMap<String, (Instant, Vec<Jwk>)>>,
}

impl Cache {
    /// The discovery document of `issuer` (cached), checked: its `issuer` is the one asked
    /// for (or, for Microsoft's multi-tenant issuers, its `{tenantid}` template).
    pub async fn discovery(&self, http: &reqwest::Client, issuer: &str) -> Result<Discovery, UpstreamError> {
        if let Some((at, found)) = self.discovery.lock().await.get(issuer)
            && at.elapsed() < KEEP_FOR
        {
            return Ok(found.clone());
        }
        let found = fetch_discovery(http, issuer).await?;
        self.discovery.lock().await.insert(issuer.to_string(), (Instant::now(), found.clone()));
        Ok(found)
    }

    /// The key for `kid` (or the one key fit for `alg` when the token names none), from
    /// the cached set, else from the set read again.
    pub async fn key(&self, http: &reqwest::Client, jwks_uri: &str, kid: Option<&str>) -> Result<Jwk, UpstreamError> {
        let cached = self.keys.lock().await.get(jwks_uri).cloned();
        if let Some((at, keys)) = &cached {
            if let Some(key) = pick(keys, kid) {
                if at.elapsed() < KEEP_FOR {
                    return Ok(key);
                }
            } else if at.elapsed() < JWKS_REFETCH_GAP {
                return Err(UpstreamError::failed("id_token_unknown_kid"));
            }
        }
        let keys = fetch_keys(http, jwks_uri).await?;
        let found = pick(&keys, kid);
        self.keys.lock().await.insert(jwks_uri.to_string(), (Instant::now(), keys));
        found.ok_or_else(|| UpstreamError::failed("id_token_unknown_kid"))
    }
}

fn pick(keys: &[Jwk], kid: Option<&str>) -> Option<Jwk> {
    let usable = |k: &&Jwk| !matches!(k.common.public_key_use, Some(jsonwebtoken::jwk::PublicKeyUse::Encryption));
    match kid {
        Some(kid) => keys.iter().filter(usable).find(|k| k.common.key_id.as_deref() == Some(kid)).cloned(),
        None => {
            let mut usable_keys = keys.iter().filter(usable);
            let only = usable_keys.next()?;
            usable_keys.next().is_none().then(|| only.clone())
        }
    }
}

/// A JSON document from a provider, refused when it is not a 200 or too large.
pub(super) async fn get_json(request: reqwest::RequestBuilder, what: &str) -> Result<serde_json::Value, UpstreamError> {
    let response = request.header(reqwest::header::ACCEPT, "application/json").send().await.map_err(|err| {
        tracing::warn!(error = %err, what, "an upstream provider could not be reached");
        UpstreamError::failed(format!("{what}_unreachable"))
    })?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|_| UpstreamError::failed(format!("{what}_unreadable")))?;
    if !status.is_success() {
        tracing::warn!(status = status.as_u16(), what, "an upstream provider answered with an error");
        return Err(UpstreamError::failed(format!("{what}_status_{}", status.as_u16())));
    }
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(UpstreamError::failed(format!("{what}_too_large")));
    }
    serde_json::from_slice(&bytes).map_err(|_| UpstreamError::failed(format!("{what}_not_json")))
}

pub async fn fetch_discovery(http: &reqwest::Client, issuer: &str) -> Result<Discovery, UpstreamError> {
    let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
    let document = get_json(http.get(&url), "discovery").await?;
    let found: Discovery = serde_json::from_value(document).map_err(|_| UpstreamError::failed("discovery_incomplete"))?;
    if !issuer_matches(&found.issuer, issuer, None) && !found.issuer.contains("{tenantid}") {
        return Err(UpstreamError::failed("discovery_issuer_mismatch"));
    }
    for endpoint in [&found.authorization_endpoint, &found.token_endpoint, &found.jwks_uri] {
        crate::domain::provider::endpoint(endpoint).map_err(|_| UpstreamError::failed("discovery_endpoint_not_https"))?;
    }
    Ok(found)
}

async fn fetch_keys(http: &reqwest::Client, jwks_uri: &str) -> Result<Vec<Jwk>, UpstreamError> {
    let document = get_json(http.get(jwks_uri), "jwks").await?;
    // Keys this library cannot read (another kind, an encryption key) are passed over.
    let keys = document.get("keys").and_then(|k| k.as_array()).cloned().unwrap_or_default();
    Ok(keys.into_iter().filter_map(|k| serde_json::from_value(k).ok()).collect())
}

/// Whether a token's (or a document's) `iss` is the expected issuer. A Microsoft Entra
/// multi-tenant issuer (`.../{tenantid}/v2.0`) stands for the token's own tenant `tid`.
pub fn issuer_matches(actual: &str, expected: &str, tid: Option<&str>) -> bool {
    if expected.contains("{tenantid}") {
        return tid.is_some_and(|tid| !tid.is_empty() && actual == expected.replace("{tenantid}", tid));
    }
    actual == expected
}

#[cfg(test)]
mod tests {
    use super::issuer_matches;

    #[test]
    fn a_multi_tenant_issuer_is_checked_against_the_tokens_own_tenant() {
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let real = "https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/v2.0";
        assert!(issuer_matches(real, template, Some("9188040d-6c67-4c5b-b112-36a304b66dad")));
        assert!(!issuer_matches(real, template, Some("another-tenant")));
        assert!(!issuer_matches(real, template, None));
        assert!(issuer_matches("https://idp.example.com", "https://idp.example.com", None));
        assert!(!issuer_matches("https://evil.example.com", "https://idp.example.com", None));
    }
}
