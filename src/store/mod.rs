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

/// `Debug` shows everything but the private key.
#[derive(Clone)]
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

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"***")
            .field("public_key", &self.public_key)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

/// The answer to [`Store::reserve_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// One password check may run; it is already counted as a failure until
    /// [`Store::clear_login_failures`] says otherwise.
    Allowed,
    /// Over the limit: refuse without checking the password, for this long.
    Locked { retry_after: std::time::Duration },
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
    /// Creates every user or none (one transaction); a conflict on any of them fails the
    /// whole batch. Returns how many were created.
    async fn create_users(&self, users: Vec<NewUser>) -> StoreResult<usize>;

    /// Reserves one password check for `login_key` (an opaque key of the login string),
    /// counting it as a failure in advance. ATOMIC in every implementation: the read,
    /// the increment and the lock decision happen in one statement or one serialisable
    /// write transaction, so that N parallel callers see N distinct counts and at most
    /// `max_failures` of them are `Allowed` per lockout window, across all instances.
    ///
    /// Rules: while `locked_until` is in the future the answer is `Locked` with the time
    /// left. Otherwise, when the window began more than `lockout` ago (or the lock just
    /// ended) the count starts over at zero. The count is then incremented; the
    /// `max_failures`-th reservation also sets `locked_until = now + lockout` (it is still
    /// `Allowed`: a completed login clears the lock), and a reservation beyond
    /// `max_failures` answers `Locked` without touching the lock.
    async fn reserve_login_attempt(&self, login_key: &str, max_failures: u32, lockout: std::time::Duration) -> StoreResult<LoginAttempt>;
    /// Forgets the count and any lock of `login_key`: a completed login.
    async fn clear_login_failures(&self, login_key: &str) -> StoreResult<()>;

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

pub(crate) fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_debug_form_of_a_signing_key_hides_the_private_key() {
        let key = crate::auth::keys::generate_key();
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.kid));
        assert!(!shown.contains(&format!("{:?}", key.private_key)), "{shown}");
        assert!(shown.contains("***"));
    }
}
