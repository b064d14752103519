//! Sign-in through upstream providers ("Continue with Google"): Gatehouse as a broker.
//!
//! - [`providers`]: adding, changing and removing providers (API, CLI and console alike).
//! - [`discovery`]: an issuer's discovery document and its keys, cached, refetched on an
//!   unknown `kid` (key rotation).
//! - [`oidc`] and [`github`]: the code exchange and the person's profile, by kind.
//! - [`flow`]: the start (state bound to the browser, nonce, PKCE S256) and the callback.
//! - [`complete`]: what a verified profile leads to: a sign-in, a sign-up, a link, or the
//!   confirm page that proves the local account first. Never a match by email alone.

pub mod complete;
pub mod discovery;
pub mod flow;
pub mod github;
pub mod oidc;
pub mod providers;

use std::sync::Arc;
use std::time::Duration;

use crate::accounts::AccountError;
use crate::auth::sealing::Sealer;
use crate::store::{DynStore, StoreError};

/// Upstream calls give up after this long.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(10);

/// What the upstream flows use.
#[derive(Clone)]
pub struct Upstream {
    pub store: DynStore,
    pub sealer: Arc<Sealer>,
    pub http: reqwest::Client,
    pub cache: Arc<discovery::Cache>,
    /// `{public_url}`: the callback is `{public_url}/login/{slug}/callback`.
    pub public_url: String,
}

impl Upstream {
    pub fn new(config: &crate::config::Config, store: DynStore) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            sealer: Arc::new(Sealer::from_config(config)),
            http: crate::outbound::client(UPSTREAM_TIMEOUT)?,
            cache: Arc::default(),
            public_url: config.public_url().trim_end_matches('/').to_string(),
        })
    }

    /// The redirect URI to register upstream for this provider.
    pub fn callback_url(&self, slug: &str) -> String {
        format!("{}/login/{slug}/callback", self.public_url)
    }
}

/// The seal's purpose for a provider's secret: a sealed secret moved to another provider's
/// row does not open.
pub(crate) fn secret_purpose(provider_id: uuid::Uuid) -> String {
    format!("upstream-provider-secret:{provider_id}")
}

/// Why an upstream sign-in did not complete. `Refused` carries a short reason that is
/// audited and logged (never a token or a secret), and the sentence key the page shows.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no such provider")]
    UnknownProvider,
    #[error("upstream sign-in refused: {reason}")]
    Refused { reason: String, sentence: &'static str },
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for UpstreamError {
    fn from(err: StoreError) -> Self {
        Self::Account(AccountError::Store(err))
    }
}

impl UpstreamError {
    /// A refusal the page explains with `upstream_failed`.
    pub fn failed(reason: impl Into<String>) -> Self {
        Self::Refused { reason: reason.into(), sentence: "upstream_failed" }
    }

    pub fn refused(reason: impl Into<String>, sentence: &'static str) -> Self {
        Self::Refused { reason: reason.into(), sentence }
    }
}
