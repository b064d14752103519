//! The start of an upstream sign-in and its callback.
//!
//! The start keeps a flow row: the `state` sent upstream names it (stored as its SHA-256),
//! with a fresh `nonce`, the PKCE verifier (S256), where to return, and the hash of a
//! random value in a cookie of the browser that began it. The callback takes that row
//! once (a replayed callback finds nothing), and only for the same browser: a victim's
//! browser cannot be made to finish an attacker's sign-in (login CSRF).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::discovery::issuer_matches;
use super::oidc::{self, Profile, Tokens};
use super::{Upstream, UpstreamError};
use crate::auth::refresh;
use crate::domain::provider as rules;
use crate::store::Provider;

/// How long a person may take at the provider.
const FLOW_TTL_SECS: i64 = 600;
pub const BEGUN: &str = "begun";

/// What the start keeps for the callback.
#[derive(Serialize, Deserialize)]
struct Begun {
    provider: String,
    nonce: String,
    verifier: String,
    return_to: String,
    /// Set when a signed-in person links another identity to their account.
    link_user: Option<Uuid>,
}

/// A callback's query.
#[derive(Debug, Default, Deserialize)]
pub struct Callback {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub state: String,
    /// RFC 9207.
    #[serde(default)]
    pub iss: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// A callback that checked out: who the provider vouches for, and what the start asked.
pub struct Arrived {
    pub provider: Provider,
    pub profile: Profile,
    pub return_to: String,
    pub link_user: Option<Uuid>,
}

fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Upstream {
    /// A provider and its client secret, opened.
    pub async fn provider_with_secret(&self, slug: &str) -> Result<(Provider, String), UpstreamError> {
        let (provider, sealed) = self.store.provider_by_slug(slug).await?.ok_or(UpstreamError::UnknownProvider)?;
        let secret = self.sealer.open(&super::secret_purpose(provider.id), &sealed)?;
        Ok((provider, secret))
    }

    /// Starts a sign-in (or, with `link_user`, a link) at provider `slug` for the browser
    /// whose binding value is `browser`: answers the URL to send it to.
    pub async fn begin(&self, slug: &str, browser: &str, return_to: &str, link_user: Option<Uuid>) -> Result<String, UpstreamError> {
        let (provider, _) = self.store.provider_by_slug(slug).await?.ok_or(UpstreamError::UnknownProvider)?;
        let state = refresh::new_token();
        let begun = Begun {
            provider: provider.slug.clone(),
            nonce: refresh::new_token(),
            verifier: refresh::new_token(),
            return_to: return_to.chars().take(2000).collect(),
            link_user,
        };
        let endpoint = match provider.kind.as_str() {
            "github" => provider.authorization_endpoint.clone().unwrap_or_else(|| rules::GITHUB_AUTHORIZE.to_string()),
            _ => match &provider.authorization_endpoint {
                Some(endpoint) => endpoint.clone(),
                None => self.cache.discovery(&self.http, provider.issuer.as_deref().unwrap_or_default()).await?.authorization_endpoint,
            },
        };
        let mut url = url::Url::parse(&endpoint).map_err(|_| UpstreamError::failed("authorization_endpoint_invalid"))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", &self.callback_url(&provider.slug))
            .append_pair("scope", &provider.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("code_challenge", &s256(&begun.verifier))
            .append_pair("code_challenge_method", "S256");
        if provider.kind == "oidc" {
            url.query_pairs_mut().append_pair("nonce", &begun.nonce);
        }
        let kept = serde_json::to_string(&begun).map_err(anyhow::Error::from)?;
        let expires_at = Utc::now() + chrono::Duration::seconds(FLOW_TTL_SECS);
        self.store.keep_upstream_flow(&refresh::hash(&state), BEGUN, &refresh::hash(browser), &kept, expires_at).await?;
        Ok(url.to_string())
    }

    /// Completes the callback: the flow taken once for this browser, the provider's answer
    /// checked, the code exchanged, the person's profile read and verified.
    pub async fn arrive(&self, slug: &str, browser: Option<&str>, callback: &Callback) -> Result<Arrived, UpstreamError> {
        if !refresh::looks_valid(&callback.state) {
            return Err(UpstreamError::refused("state_missing", "upstream_expired"));
        }
        let Some((bound, kept)) = self.store.take_upstream_flow(&refresh::hash(&callback.state), BEGUN).await? else {
            return Err(UpstreamError::refused("state_unknown_or_used", "upstream_expired"));
        };
        let same_browser = browser.is_some_and(|b| bool::from(refresh::hash(b).ct_eq(&bound)));
        if !same_browser {
            return Err(UpstreamError::refused("state_other_browser", "upstream_expired"));
        }
        let begun: Begun = serde_json::from_str(&kept).map_err(anyhow::Error::from)?;
        if begun.provider != slug {
            return Err(UpstreamError::refused("state_other_provider", "upstream_expired"));
        }
        let (provider, secret) = self.provider_with_secret(slug).await?;
        if let Some(error) = &callback.error {
            let error: String = error.chars().filter(char::is_ascii_graphic).take(64).collect();
            return Err(UpstreamError::refused(format!("provider_error_{error}"), "upstream_cancelled"));
        }
        if callback.code.is_empty() {
            return Err(UpstreamError::failed("code_missing"));
        }
        let profile = match provider.kind.as_str() {
            "github" => {
                let token_endpoint = provider.token_endpoint.clone().unwrap_or_else(|| rules::GITHUB_TOKEN.to_string());
                let post = ["client_secret_post".to_string()];
                let tokens =
                    oidc::exchange(self, &provider, &secret, &token_endpoint, Some(&post), &callback.code, &begun.verifier).await?;
                super::github::profile(self, &provider, &tokens).await?
            }
            _ => {
                let discovery = self.cache.discovery(&self.http, provider.issuer.as_deref().unwrap_or_default()).await?;
                // RFC 9207: the response names its issuer; a mix-up sends another's.
                match &callback.iss {
                    Some(iss) if !issuer_matches(iss, &discovery.issuer, None) && !discovery.issuer.contains("{tenantid}") => {
                        return Err(UpstreamError::failed("iss_mismatch"));
                    }
                    None if discovery.authorization_response_iss_parameter_supported => {
                        return Err(UpstreamError::failed("iss_missing"));
                    }
                    _ => {}
                }
                let token_endpoint = provider.token_endpoint.clone().unwrap_or_else(|| discovery.token_endpoint.clone());
                let methods = discovery.token_endpoint_auth_methods_supported.as_deref();
                let tokens: Tokens =
                    oidc::exchange(self, &provider, &secret, &token_endpoint, methods, &callback.code, &begun.verifier).await?;
                oidc::profile(self, &provider, &discovery, &tokens, &begun.nonce).await?
            }
        };
        Ok(Arrived { provider, profile, return_to: begun.return_to, link_user: begun.link_user })
    }
}
