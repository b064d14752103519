//! Adding, changing and removing providers, and people's identities: the one code path of
//! the admin API, the console and `gatehouse provider`.

use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

use super::{Upstream, UpstreamError};
use crate::accounts::AccountError;
use crate::audit::Audit;
use crate::domain::provider as rules;
use crate::error::FieldError;
use crate::store::{AuditType, Identity, NewProvider, Provider, ProviderPatch};

/// A provider to add, as an admin typed it.
#[derive(Debug, Default, Clone)]
pub struct ProviderRequest {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Option<Vec<String>>,
    pub allow_signup: Option<bool>,
    pub link_by_email: Option<bool>,
    pub trust_upstream_mfa: Option<bool>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub api_base: Option<String>,
}

/// A change to a provider; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ProviderChange {
    pub name: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub allow_signup: Option<bool>,
    pub link_by_email: Option<bool>,
    pub trust_upstream_mfa: Option<bool>,
}

fn client_field(field: &str, raw: &str, errors: &mut Vec<FieldError>) -> String {
    if raw.is_empty() || raw.chars().count() > 500 || raw.chars().any(char::is_control) {
        errors.push(FieldError::new(field, "must be 1 to 500 characters without control characters"));
    }
    raw.to_string()
}

fn check<T>(field: &str, result: Result<T, String>, errors: &mut Vec<FieldError>) -> Option<T> {
    result.map_err(|message| errors.push(FieldError::new(field, message))).ok()
}

impl Upstream {
    /// Adds a provider after checking every field (all errors at once) and, for `oidc`,
    /// reading its issuer's discovery document: a provider that cannot be read is refused.
    pub async fn add_provider(&self, audit: &Audit, actor: Option<Uuid>, req: ProviderRequest) -> Result<Provider, AccountError> {
        let mut errors = Vec::new();
        let slug = check("slug", rules::slug(&req.slug), &mut errors);
        let name = check("name", rules::name(&req.name), &mut errors);
        let kind = check("kind", rules::kind(&req.kind), &mut errors);
        let client_id = client_field("client_id", &req.client_id, &mut errors);
        let secret = client_field("client_secret", &req.client_secret, &mut errors);
        let scopes = req.scopes.as_deref().map(rules::scopes).and_then(|r| check("scopes", r, &mut errors));
        let url = |field: &str, value: &Option<String>, errors: &mut Vec<FieldError>| {
            value.as_deref().and_then(|v| check(field, rules::endpoint(v), errors))
        };
        let issuer = url("issuer", &req.issuer, &mut errors);
        let authorization_endpoint = url("authorization_endpoint", &req.authorization_endpoint, &mut errors);
        let token_endpoint = url("token_endpoint", &req.token_endpoint, &mut errors);
        let api_base = url("api_base", &req.api_base, &mut errors);
        match kind.as_deref() {
            Some("oidc") if req.issuer.is_none() => errors.push(FieldError::new("issuer", "is required for kind oidc")),
            Some("oidc") if req.api_base.is_some() => errors.push(FieldError::new("api_base", "is for kind github only")),
            Some("github") if req.issuer.is_some() => errors.push(FieldError::new("issuer", "is for kind oidc only")),
            _ => {}
        }
        let (Some(slug), Some(name), Some(kind), true) = (slug, name, kind, errors.is_empty()) else {
            return Err(AccountError::Invalid(errors));
        };
        if let Some(issuer) = &issuer
            && let Err(err) = super::discovery::fetch_discovery(&self.http, issuer).await
        {
            let why = match err {
                UpstreamError::Refused { reason, .. } => reason,
                other => other.to_string(),
            };
            return Err(AccountError::Invalid(vec![FieldError::new("issuer", format!("its discovery document cannot be read ({why})"))]));
        }
        let defaults: &[&str] = if kind == "github" { &rules::GITHUB_DEFAULT_SCOPES } else { &rules::OIDC_DEFAULT_SCOPES };
        let id = Uuid::now_v7();
        let provider = Provider {
            id,
            slug,
            name,
            kind,
            issuer,
            client_id,
            scopes: scopes.unwrap_or_else(|| defaults.iter().map(|s| s.to_string()).collect()),
            allow_signup: req.allow_signup.unwrap_or(true),
            link_by_email: req.link_by_email.unwrap_or(true),
            trust_upstream_mfa: req.trust_upstream_mfa.unwrap_or(false),
            authorization_endpoint,
            token_endpoint,
            api_base,
            created_at: crate::store::now_millis(Utc::now()),
        };
        let client_secret_sealed = self.sealer.seal(&super::secret_purpose(id), &secret)?;
        let provider = self.store.create_provider(NewProvider { provider, client_secret_sealed }).await?;
        audit.record(AuditType::ProviderCreated, actor, None, json!({ "slug": provider.slug, "kind": provider.kind })).await;
        Ok(provider)
    }

    pub async fn change_provider(
        &self,
        audit: &Audit,
        actor: Option<Uuid>,
        slug: &str,
        change: ProviderChange,
    ) -> Result<Provider, AccountError> {
        let (current, _) = self.store.provider_by_slug(slug).await?.ok_or(AccountError::NotFound)?;
        let mut errors = Vec::new();
        let name = change.name.as_deref().and_then(|n| check("name", rules::name(n), &mut errors));
        let client_id = change.client_id.as_deref().map(|c| client_field("client_id", c, &mut errors));
        let secret = change.client_secret.as_deref().map(|c| client_field("client_secret", c, &mut errors));
        let scopes = change.scopes.as_deref().map(rules::scopes).and_then(|r| check("scopes", r, &mut errors));
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let client_secret_sealed = secret.map(|s| self.sealer.seal(&super::secret_purpose(current.id), &s)).transpose()?;
        let patch = ProviderPatch {
            name,
            client_id,
            client_secret_sealed,
            scopes,
            allow_signup: change.allow_signup,
            link_by_email: change.link_by_email,
            trust_upstream_mfa: change.trust_upstream_mfa,
        };
        let provider = self.store.update_provider(slug, patch).await?;
        audit.record(AuditType::ProviderUpdated, actor, None, json!({ "slug": slug })).await;
        Ok(provider)
    }

    /// Removes a provider and every identity linked through it.
    pub async fn remove_provider(&self, audit: &Audit, actor: Option<Uuid>, slug: &str) -> Result<(), AccountError> {
        self.store.delete_provider(slug).await.map_err(|e| match e {
            crate::store::StoreError::NotFound => AccountError::NotFound,
            other => other.into(),
        })?;
        audit.record(AuditType::ProviderDeleted, actor, None, json!({ "slug": slug })).await;
        Ok(())
    }

    /// Unlinks one of `user_id`'s identities (the person, or an admin as `actor`); 409
    /// `last_sign_in_method` when nothing else would sign the account in.
    pub async fn unlink(&self, audit: &Audit, actor: Option<Uuid>, user_id: Uuid, id: Uuid) -> Result<Identity, AccountError> {
        let removed = self.store.unlink_identity(user_id, id).await.map_err(|e| match e {
            crate::store::StoreError::NotFound => AccountError::NotFound,
            other => other.into(),
        })?;
        let detail = json!({ "provider": removed.provider, "identity_id": removed.id });
        audit.record(AuditType::IdentityUnlinked, actor, Some(user_id), detail).await;
        Ok(removed)
    }
}
