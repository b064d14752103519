//! The deployment's setup in a `gatehouse export` file (since version 3): upstream sign-in
//! providers and webhook endpoints, one a line before the accounts, so that accounts'
//! identities find their providers. Secrets go as stored: a provider's client secret
//! sealed (it opens only where the same GATEHOUSE_SECRETS_KEY is set), a webhook's signing
//! secret as the server keeps it to sign with.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::store::copy::{ProviderCopyRow, ProviderRow, WebhookEndpointRow};
use crate::store::{DynStore, IdentityRecord, Rows, Table};

/// A setup line: `{"provider": {...}}` or `{"webhook": {...}}`.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SetupLine {
    Provider(ProviderRecord),
    Webhook(WebhookRecord),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderRecord {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub issuer: Option<String>,
    pub client_id: String,
    /// Base64 of the sealed client secret (AES-256-GCM under GATEHOUSE_SECRETS_KEY).
    pub client_secret_sealed: String,
    pub scopes: Vec<String>,
    pub allow_signup: bool,
    pub link_by_email: bool,
    pub trust_upstream_mfa: bool,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub api_base: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookRecord {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    /// `whsec_...`, as stored.
    pub secret: String,
    /// The secret a rotation replaced, signing too until `previous_secret_until`.
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An account's identity at an upstream provider: found again by (provider, subject).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub id: Uuid,
    /// The provider's id and slug; an import finds it by id, else by slug.
    pub provider_id: Uuid,
    pub provider: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The identities of a batch by their user, each naming its provider's slug.
pub fn identities_by_user(identities: Vec<IdentityRecord>, slugs: &HashMap<Uuid, String>) -> HashMap<Uuid, Vec<Identity>> {
    let mut linked: HashMap<Uuid, Vec<Identity>> = HashMap::new();
    for i in identities {
        let provider = slugs.get(&i.provider_id).cloned().unwrap_or_default();
        let (id, provider_id, subject, email) = (i.id, i.provider_id, i.subject, i.email);
        let identity = Identity { id, provider_id, provider, subject, email, created_at: i.created_at, last_used_at: i.last_used_at };
        linked.entry(i.user_id).or_default().push(identity);
    }
    linked
}

/// An imported account's identities as rows, or why the account is left out: a provider
/// found neither by id nor by slug, or an identity linked already (here or earlier in the file).
pub async fn admit_identities(
    store: &DynStore,
    seen: &mut HashSet<String>,
    username: &str,
    user_id: Uuid,
    identities: Vec<Identity>,
) -> anyhow::Result<Result<Vec<IdentityRecord>, String>> {
    let mut rows = Vec::new();
    for i in identities {
        let provider = match store.provider_by_id(i.provider_id).await? {
            Some(p) => Some(p.id),
            None => store.provider_by_slug(&i.provider).await?.map(|(p, _)| p.id),
        };
        let Some(provider_id) = provider else {
            return Ok(Err(format!("{username}: its identity at {} has no such provider here", i.provider)));
        };
        let key = format!("identity {provider_id} {}", i.subject);
        if seen.contains(&key) || store.identity_owner(provider_id, &i.subject).await?.is_some() {
            return Ok(Err(format!("{username}: its identity at {} is linked already", i.provider)));
        }
        seen.insert(key);
        let (id, subject, email) = (i.id, i.subject, i.email);
        rows.push(IdentityRecord { id, user_id, provider_id, subject, email, created_at: i.created_at, last_used_at: i.last_used_at });
    }
    Ok(Ok(rows))
}

/// Every provider and webhook endpoint of `store`, as export lines.
pub async fn setup_lines(store: &DynStore) -> anyhow::Result<Vec<SetupLine>> {
    let mut lines = Vec::new();
    for table in [Table::UpstreamProviders, Table::WebhookEndpoints] {
        // Few rows: one page each.
        match store.export_rows(table, 0, u32::MAX).await.context("cannot read the providers and webhooks")? {
            Rows::UpstreamProviders(rows) => lines.extend(rows.into_iter().map(|p| SetupLine::Provider(p.into()))),
            Rows::WebhookEndpoints(rows) => lines.extend(rows.into_iter().map(|w| SetupLine::Webhook(w.into()))),
            _ => {}
        }
    }
    Ok(lines)
}

/// The providers' slugs by id, for the accounts' identities.
pub fn provider_slugs(lines: &[SetupLine]) -> HashMap<Uuid, String> {
    lines
        .iter()
        .filter_map(|line| match line {
            SetupLine::Provider(p) => Some((p.id, p.slug.clone())),
            SetupLine::Webhook(_) => None,
        })
        .collect()
}

/// Whether a line of the file is a setup line rather than an account.
pub fn is_setup_line(line: &str) -> bool {
    line.starts_with("{\"provider\":") || line.starts_with("{\"webhook\":")
}

/// Writes one setup line into `store`; `Err` says why it was left out (present already, or invalid).
pub async fn import_line(store: &DynStore, text: &str) -> anyhow::Result<Result<(), String>> {
    let line = match serde_json::from_str::<SetupLine>(text) {
        Ok(line) => line,
        Err(err) => return Ok(Err(format!("not a provider or webhook ({err})"))),
    };
    let rows = match line {
        SetupLine::Provider(p) => {
            if store.provider_by_id(p.id).await?.is_some() || store.provider_by_slug(&p.slug).await?.is_some() {
                return Ok(Err(format!("provider {} is already present (same id or slug)", p.slug)));
            }
            match ProviderCopyRow::try_from(p) {
                Ok(row) => Rows::UpstreamProviders(vec![row]),
                Err(why) => return Ok(Err(why)),
            }
        }
        SetupLine::Webhook(w) => {
            if store.webhook(w.id).await?.is_some() {
                return Ok(Err(format!("webhook {} is already present (same id)", w.url)));
            }
            Rows::WebhookEndpoints(vec![w.into()])
        }
    };
    store.import_rows([rows]).await?;
    Ok(Ok(()))
}

impl From<ProviderCopyRow> for ProviderRecord {
    fn from(copy: ProviderCopyRow) -> Self {
        let p = copy.row;
        Self {
            id: p.id,
            client_secret_sealed: STANDARD.encode(&p.client_secret_sealed),
            scopes: serde_json::from_str(&p.scopes).unwrap_or_default(),
            slug: p.slug,
            name: p.name,
            kind: p.kind,
            issuer: p.issuer,
            client_id: p.client_id,
            allow_signup: p.allow_signup,
            link_by_email: p.link_by_email,
            trust_upstream_mfa: p.trust_upstream_mfa,
            authorization_endpoint: p.authorization_endpoint,
            token_endpoint: p.token_endpoint,
            api_base: p.api_base,
            created_at: p.created_at,
            updated_at: copy.updated_at,
        }
    }
}

impl TryFrom<ProviderRecord> for ProviderCopyRow {
    type Error = String;

    fn try_from(p: ProviderRecord) -> Result<Self, String> {
        let sealed =
            STANDARD.decode(&p.client_secret_sealed).map_err(|_| format!("provider {}: client_secret_sealed is not base64", p.slug))?;
        let row = ProviderRow {
            id: p.id,
            scopes: serde_json::to_string(&p.scopes).unwrap_or_else(|_| "[]".into()),
            slug: p.slug,
            name: p.name,
            kind: p.kind,
            issuer: p.issuer,
            client_id: p.client_id,
            client_secret_sealed: sealed,
            allow_signup: p.allow_signup,
            link_by_email: p.link_by_email,
            trust_upstream_mfa: p.trust_upstream_mfa,
            authorization_endpoint: p.authorization_endpoint,
            token_endpoint: p.token_endpoint,
            api_base: p.api_base,
            created_at: p.created_at,
        };
        Ok(ProviderCopyRow { row, updated_at: p.updated_at })
    }
}

impl From<WebhookEndpointRow> for WebhookRecord {
    fn from(w: WebhookEndpointRow) -> Self {
        Self {
            id: w.id,
            events: serde_json::from_str(&w.events).unwrap_or_default(),
            url: w.url,
            description: w.description,
            enabled: w.enabled,
            secret: w.secret,
            previous_secret: w.previous_secret,
            previous_secret_until: w.previous_secret_until,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

impl From<WebhookRecord> for WebhookEndpointRow {
    fn from(w: WebhookRecord) -> Self {
        Self {
            id: w.id,
            events: serde_json::to_string(&w.events).unwrap_or_else(|_| "[]".into()),
            url: w.url,
            description: w.description,
            enabled: w.enabled,
            secret: w.secret,
            previous_secret: w.previous_secret,
            previous_secret_until: w.previous_secret_until,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}
