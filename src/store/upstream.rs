//! Upstream identity providers ("Sign in with ..."). The client secret is stored sealed
//! (see `auth::sealing`); the store never sees it in the clear and never returns it to the API.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::Time;
use super::db::{classify, on_db};
use super::{Store, StoreError, StoreResult};

/// A provider as the admin API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Provider {
    #[serde(skip)]
    pub id: Uuid,
    /// Names it in URLs: `/login/{slug}`.
    #[schema(example = "google")]
    pub slug: String,
    /// What the button says: "Continue with {name}".
    #[schema(example = "Google")]
    pub name: String,
    /// `oidc` or `github`.
    #[schema(example = "oidc")]
    pub kind: String,
    /// The OpenID issuer (kind `oidc`); null for `github`.
    #[schema(example = "https://accounts.google.com")]
    pub issuer: Option<String>,
    pub client_id: String,
    pub scopes: Vec<String>,
    /// An unknown identity may make a new account.
    pub allow_signup: bool,
    /// An unknown identity with a verified address may be linked to the account holding
    /// it, once the person proves that account.
    pub link_by_email: bool,
    /// The upstream's `amr` saying MFA was done stands in for this server's TOTP step.
    pub trust_upstream_mfa: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// GitHub's API root (GitHub Enterprise: `https://HOST/api/v3`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_base: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// A provider row as stored (the secret sealed, the scopes a JSON array).
#[derive(Clone, sqlx::FromRow)]
pub struct ProviderRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret_sealed: Vec<u8>,
    pub scopes: String,
    pub allow_signup: bool,
    pub link_by_email: bool,
    pub trust_upstream_mfa: bool,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub api_base: Option<String>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
}

/// A provider row as `gatehouse copy` carries it.
#[derive(Clone, sqlx::FromRow)]
pub struct ProviderCopyRow {
    #[sqlx(flatten)]
    pub row: ProviderRow,
    #[sqlx(try_from = "Time")]
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for ProviderCopyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderCopyRow").field("slug", &self.row.slug).finish_non_exhaustive()
    }
}

impl ProviderRow {
    fn split(self) -> (Provider, Vec<u8>) {
        let provider = Provider {
            id: self.id,
            slug: self.slug,
            name: self.name,
            kind: self.kind,
            issuer: self.issuer,
            client_id: self.client_id,
            scopes: serde_json::from_str(&self.scopes).unwrap_or_default(),
            allow_signup: self.allow_signup,
            link_by_email: self.link_by_email,
            trust_upstream_mfa: self.trust_upstream_mfa,
            authorization_endpoint: self.authorization_endpoint,
            token_endpoint: self.token_endpoint,
            api_base: self.api_base,
            created_at: self.created_at,
        };
        (provider, self.client_secret_sealed)
    }
}

/// A provider to add (or one `gatehouse copy` carries), with its sealed secret.
#[derive(Debug, Clone)]
pub struct NewProvider {
    pub provider: Provider,
    pub client_secret_sealed: Vec<u8>,
}

/// A change to a provider; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProviderPatch {
    pub name: Option<String>,
    pub client_id: Option<String>,
    pub client_secret_sealed: Option<Vec<u8>>,
    pub scopes: Option<Vec<String>>,
    pub allow_signup: Option<bool>,
    pub link_by_email: Option<bool>,
    pub trust_upstream_mfa: Option<bool>,
}

macro_rules! provider_columns {
    () => {
        "id, slug, name, kind, issuer, client_id, client_secret_sealed, scopes, allow_signup, link_by_email, \
         trust_upstream_mfa, authorization_endpoint, token_endpoint, api_base, created_at"
    };
}
pub(super) use provider_columns;

/// Adds a provider row with its own `updated_at` (what `gatehouse copy` carries).
pub(super) const INSERT_WITH_UPDATED: &str = concat!(
    "INSERT INTO upstream_providers (",
    provider_columns!(),
    ", updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
);

pub(super) const INSERT: &str = concat!(
    "INSERT INTO upstream_providers (",
    provider_columns!(),
    ", updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)"
);

impl Store {
    /// Adds a provider; `Conflict(SlugTaken)` when its slug is in use.
    pub async fn create_provider(&self, new: NewProvider) -> StoreResult<Provider> {
        let p = &new.provider;
        let scopes = serde_json::to_string(&p.scopes).map_err(anyhow::Error::from)?;
        on_db!(&self.db, c => {
            sqlx::query(INSERT)
                .bind(p.id)
                .bind(&p.slug)
                .bind(&p.name)
                .bind(&p.kind)
                .bind(&p.issuer)
                .bind(&p.client_id)
                .bind(&new.client_secret_sealed)
                .bind(&scopes)
                .bind(p.allow_signup)
                .bind(p.link_by_email)
                .bind(p.trust_upstream_mfa)
                .bind(&p.authorization_endpoint)
                .bind(&p.token_endpoint)
                .bind(&p.api_base)
                .bind(Time(p.created_at))
                .execute(&c.pool)
                .await
                .map_err(classify)?;
        });
        Ok(new.provider)
    }

    /// Every provider, oldest first (a deployment has a handful).
    pub async fn providers(&self) -> StoreResult<Vec<Provider>> {
        Ok(self.providers_sealed().await?.into_iter().map(|n| n.provider).collect())
    }

    /// Every provider with its sealed secret (for `gatehouse copy` and export).
    pub async fn providers_sealed(&self) -> StoreResult<Vec<NewProvider>> {
        let sql = concat!("SELECT ", provider_columns!(), " FROM upstream_providers ORDER BY created_at, id");
        let rows: Vec<ProviderRow> = on_db!(&self.db, c => sqlx::query_as(sql).fetch_all(&c.pool).await.map_err(classify)?);
        Ok(rows
            .into_iter()
            .map(|row| {
                let (provider, client_secret_sealed) = row.split();
                NewProvider { provider, client_secret_sealed }
            })
            .collect())
    }

    /// A provider by its slug, with its sealed secret.
    pub async fn provider_by_slug(&self, slug: &str) -> StoreResult<Option<(Provider, Vec<u8>)>> {
        let sql = concat!("SELECT ", provider_columns!(), " FROM upstream_providers WHERE slug = $1");
        let row: Option<ProviderRow> =
            on_db!(&self.db, c => sqlx::query_as(sql).bind(slug).fetch_optional(&c.pool).await.map_err(classify)?);
        Ok(row.map(ProviderRow::split))
    }

    pub async fn provider_by_id(&self, id: Uuid) -> StoreResult<Option<Provider>> {
        let sql = concat!("SELECT ", provider_columns!(), " FROM upstream_providers WHERE id = $1");
        let row: Option<ProviderRow> = on_db!(&self.db, c => sqlx::query_as(sql).bind(id).fetch_optional(&c.pool).await.map_err(classify)?);
        Ok(row.map(|r| r.split().0))
    }

    pub async fn update_provider(&self, slug: &str, patch: ProviderPatch) -> StoreResult<Provider> {
        let scopes = patch.scopes.as_ref().map(serde_json::to_string).transpose().map_err(anyhow::Error::from)?;
        let done = on_db!(&self.db, c => sqlx::query(
            "UPDATE upstream_providers SET name = COALESCE($2, name), client_id = COALESCE($3, client_id), \
             client_secret_sealed = COALESCE($4, client_secret_sealed), scopes = COALESCE($5, scopes), \
             allow_signup = COALESCE($6, allow_signup), link_by_email = COALESCE($7, link_by_email), \
             trust_upstream_mfa = COALESCE($8, trust_upstream_mfa), updated_at = $9 WHERE slug = $1",
        )
        .bind(slug)
        .bind(&patch.name)
        .bind(&patch.client_id)
        .bind(&patch.client_secret_sealed)
        .bind(&scopes)
        .bind(patch.allow_signup)
        .bind(patch.link_by_email)
        .bind(patch.trust_upstream_mfa)
        .bind(Time::now())
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        self.provider_by_slug(slug).await?.map(|(p, _)| p).ok_or(StoreError::NotFound)
    }

    /// Deletes a provider and, by cascade, every identity linked through it.
    /// Deletes a provider with the identities linked through it, queuing `identity.unlinked`
    /// for each.
    pub async fn delete_provider(&self, slug: &str) -> StoreResult<()> {
        let done = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let linked: Vec<(Uuid, Uuid, String, Option<String>, Time)> = sqlx::query_as(
                "SELECT i.id, i.user_id, i.subject, i.email, i.created_at FROM user_identities i \
                 JOIN upstream_providers p ON p.id = i.provider_id WHERE p.slug = $1 ORDER BY i.id",
            )
            .bind(slug)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
            let done = sqlx::query("DELETE FROM upstream_providers WHERE slug = $1").bind(slug).execute(&mut *tx).await.map_err(classify)?;
            for (id, user_id, subject, email, created_at) in linked {
                let identity = super::Identity { id, provider: slug.to_string(), subject, email, created_at: created_at.0, last_used_at: None };
                tx.queue_event(super::EventType::IdentityUnlinked, &super::identities::identity_event(&identity, user_id)).await?;
            }
            tx.commit().await?;
            done.rows_affected()
        });
        if done == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
