//! Every SQL statement of the service lives under this module, behind the [`Store`] trait:
//! handlers speak to `dyn Store` and never know which database is underneath.

mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Conflict;
pub use sqlite::SqliteStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("not found")]
    NotFound,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A user as the API shows it: never a password hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct User {
    pub id: Uuid,
    #[schema(example = "alice")]
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// Always holds `user`; `admin` and custom roles besides.
    pub roles: Vec<String>,
    pub disabled: bool,
    pub mfa_enabled: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == crate::domain::Role::ADMIN)
    }
}

/// A user with its password hash, for the login path only.
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    pub email_key: Option<String>,
    pub password_hash: String,
    pub roles: Vec<String>,
}

/// An email change: `None` clears the address.
pub struct EmailChange {
    pub email: Option<String>,
    pub email_key: Option<String>,
}

/// An admin's change to a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserPatch {
    /// The whole new set of roles (already normalised: sorted, with `user`).
    pub roles: Option<Vec<String>>,
    pub disabled: Option<bool>,
    pub email: Option<EmailChange>,
}

/// A filtered page of users, oldest first.
#[derive(Debug, Clone)]
pub struct UserQuery {
    /// From 1.
    pub page: u32,
    pub per_page: u32,
    /// Substring of the username or email, in lower case, matched literally (`%` and `_` too).
    pub q: Option<String>,
    /// Only users holding this role.
    pub role: Option<String>,
}

impl UserQuery {
    pub fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

/// One page of a list and the number of items over all pages.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// A user-owned text template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Template {
    pub id: Uuid,
    #[schema(example = "welcome mail")]
    pub name: String,
    /// `""` when none was given.
    pub content: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub struct NewTemplate {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub content: String,
}

/// A change to a template; `None` leaves a field as it is.
#[derive(Default)]
pub struct TemplatePatch {
    pub name: Option<String>,
    pub content: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub refresh_hash: Vec<u8>,
}

/// What the store knows about a presented refresh token.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub token_hash: Vec<u8>,
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// Set once the token was exchanged for its successor.
    pub rotated_at: Option<DateTime<Utc>>,
    pub session_expires_at: DateTime<Utc>,
    pub session_revoked: bool,
    pub user_disabled: bool,
}

#[derive(Debug, Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    /// The Ed25519 seed: never leaves the store except to sign.
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// When a newer key took over signing; `None` for the active key.
    pub retired_at: Option<DateTime<Utc>>,
}

pub type DynStore = Arc<dyn Store>;

/// The one seam between the service and its database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A round trip to the database, for /health.
    async fn ping(&self) -> StoreResult<()>;

    async fn create_user(&self, user: NewUser) -> StoreResult<User>;
    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>>;
    /// Matches the username or the email, without regard to case.
    async fn credentials_by_login(&self, login_key: &str) -> StoreResult<Option<Credentials>>;
    async fn credentials_by_id(&self, id: Uuid) -> StoreResult<Option<Credentials>>;
    async fn set_email(&self, id: Uuid, change: EmailChange) -> StoreResult<User>;
    async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()>;

    /// One page of users matching the query, oldest first (`created_at`, then `id`), and
    /// the number of matching users. One page fetch plus one count.
    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<User>>;
    /// Applies an admin's change to a user and returns the user as it now is; `NotFound`
    /// for an unknown id, `Conflict(EmailTaken)` for an address in use. Disabling revokes
    /// every session of the user in the same transaction.
    ///
    /// Answers `Conflict(LastAdmin)` and changes nothing when the user was an enabled admin
    /// and the change would leave no enabled admin. Every implementation must make that
    /// check atomic with the change, so that two admins demoting each other at the same
    /// moment cannot both succeed: SQLite serialises writers (`BEGIN IMMEDIATE`),
    /// PostgreSQL must lock (e.g. `SELECT ... FOR UPDATE` on the enabled admins' rows, or
    /// a transaction-level advisory lock) before it counts.
    async fn update_user(&self, id: Uuid, patch: UserPatch) -> StoreResult<User>;
    /// Deletes a user with its roles, sessions, refresh tokens and templates, freeing its
    /// username and email; `NotFound` for an unknown id; `Conflict(LastAdmin)` when it is
    /// the last enabled admin, checked atomically as in [`Store::update_user`].
    async fn delete_user(&self, id: Uuid) -> StoreResult<()>;

    /// Creates a session with its first refresh token.
    async fn create_session(&self, session: NewSession) -> StoreResult<Session>;
    /// True while the session is not revoked, not expired, and its user is enabled.
    async fn session_is_live(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<bool>;
    async fn live_sessions(&self, user_id: Uuid) -> StoreResult<Vec<Session>>;
    /// Revokes one session of this user; false when there is no such live session.
    async fn revoke_session(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<bool>;
    /// Revokes every session of the user except `keep`.
    async fn revoke_user_sessions(&self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<()>;

    async fn refresh_record(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>>;
    /// Marks `old_hash` rotated and makes `new_hash` the session's live token, atomically;
    /// false when `old_hash` was no longer the live token (another request rotated it).
    async fn rotate_refresh(&self, session_id: Uuid, old_hash: &[u8], new_hash: &[u8]) -> StoreResult<bool>;
    async fn live_refresh_hash(&self, session_id: Uuid) -> StoreResult<Option<Vec<u8>>>;

    /// One page of the owner's templates, oldest first, and how many the owner has.
    async fn list_templates(&self, owner_id: Uuid, page: u32, per_page: u32) -> StoreResult<Page<Template>>;
    /// `Conflict(NameTaken)` when the owner has a template of that name (a unique constraint).
    async fn create_template(&self, template: NewTemplate) -> StoreResult<Template>;
    /// The owner is part of the query: another user's template is `None`.
    async fn template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<Option<Template>>;
    /// `NotFound` when the owner has no such template (another user's stays unchanged);
    /// `Conflict(NameTaken)` when the new name is taken by another of the owner's templates.
    async fn update_template(&self, owner_id: Uuid, id: Uuid, patch: TemplatePatch) -> StoreResult<Template>;
    /// False when the owner has no such template.
    async fn delete_template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<bool>;

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Adds a signing key; with `retire_active` the current one is retired first, otherwise
    /// the key is added only when no key is active (first start of several instances).
    async fn add_signing_key(&self, key: SigningKeyRecord, retire_active: bool) -> StoreResult<()>;
    /// Returns the named server secret, storing `candidate` when there is none yet.
    async fn server_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>>;
}

/// Opens the store that the URL names and brings its schema up to date.
pub async fn connect(database_url: &str) -> anyhow::Result<DynStore> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url).await?))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        anyhow::bail!("GATEHOUSE_DATABASE_URL: PostgreSQL is not supported by this build yet")
    } else {
        anyhow::bail!("GATEHOUSE_DATABASE_URL must start with sqlite:// or postgres://")
    }
}

/// Like [`connect`], with the settings that tune a store (SQLite's synchronous mode).
pub async fn connect_configured(config: &crate::config::Config) -> anyhow::Result<DynStore> {
    if config.database_url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::connect_with(&config.database_url, config.sqlite_synchronous).await?));
    }
    connect(&config.database_url).await
}

pub(crate) fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
