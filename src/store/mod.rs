//! Every SQL statement of the service lives under this module, behind the [`Store`] trait:
//! handlers speak to `dyn Store` and never know which database is underneath.

pub mod copy;
mod postgres;
mod sqlite;
mod sqlite_copy;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Conflict;
pub use copy::{Rows, Table};
pub use postgres::PgStore;
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

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>>;
    /// Adds a signing key; with `retire_active` the current one is retired first, otherwise
    /// the key is added only when no key is active (first start of several instances).
    async fn add_signing_key(&self, key: SigningKeyRecord, retire_active: bool) -> StoreResult<()>;
    /// Returns the named server secret, storing `candidate` when there is none yet.
    async fn server_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>>;

    /// `gatehouse copy`: up to `limit` rows of one table from `offset`, in primary-key order,
    /// every column as stored.
    async fn export_rows(&self, table: Table, offset: u64, limit: u32) -> StoreResult<Rows>;
    /// `gatehouse copy`: inserts rows exported from another store, in one transaction.
    async fn import_rows(&self, rows: Rows) -> StoreResult<()>;
    async fn count_rows(&self, table: Table) -> StoreResult<u64>;
    /// Deletes every row of the table, for `gatehouse copy --force`.
    async fn clear_rows(&self, table: Table) -> StoreResult<()>;
}

/// Opens the store that the URL names and brings its schema up to date.
pub async fn connect(database_url: &str) -> anyhow::Result<DynStore> {
    if database_url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(database_url).await?))
    } else if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(database_url).await?))
    } else {
        anyhow::bail!("GATEHOUSE_DATABASE_URL must start with sqlite:// or postgres://")
    }
}

pub(crate) fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
