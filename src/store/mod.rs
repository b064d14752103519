//! Every SQL statement of the service lives under this module, behind the [`Store`] trait:
//! handlers speak to `dyn Store` and never know which database is underneath.

mod audit;
pub mod copy;
mod keys;
mod mfa;
mod postgres;
mod recovery;
mod sqlite;
mod sqlite_copy;
mod templates;
mod totals;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Conflict;
pub use audit::{AuditEvent, AuditQuery, AuditType, NewAuditEvent, PoolStatus};
pub use copy::{Rows, Table};
pub use keys::SigningKeyRecord;
pub use mfa::{MfaChallenge, NewMfaChallenge, TotpRecord};
pub use postgres::PgStore;
pub use recovery::{NewEmailToken, NewMail, QueuedMail, TokenPurpose};
pub use sqlite::SqliteStore;
pub use templates::{NewTemplate, Template, TemplatePatch, TemplateQuota};

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
    /// The session's user as it was read with the token: a refresh needs no second query.
    pub user: User,
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
    /// The user of a session that [`Store::session_is_live`] would call live, in one query.
    async fn live_session_user(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<Option<User>>;
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
    /// `Conflict(NameTaken)` when the owner has a template of that name (a unique constraint);
    /// `Conflict(TemplateCountQuota | TemplateBytesQuota)` when it would pass the quota.
    /// The quota check is atomic with the insert: SQLite serialises writers, PostgreSQL
    /// locks the owner's user row first, so parallel creates cannot pass the limits.
    async fn create_template(&self, template: NewTemplate, quota: TemplateQuota) -> StoreResult<Template>;
    /// The owner is part of the query: another user's template is `None`.
    async fn template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<Option<Template>>;
    /// `NotFound` when the owner has no such template (another user's stays unchanged);
    /// `Conflict(NameTaken)` when the new name is taken by another of the owner's templates;
    /// a change that makes the template larger is held to the byte quota, as atomically as
    /// [`Store::create_template`] (one that keeps or cuts its size always passes).
    async fn update_template(&self, owner_id: Uuid, id: Uuid, patch: TemplatePatch, quota: TemplateQuota) -> StoreResult<Template>;
    /// False when the owner has no such template.
    async fn delete_template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<bool>;

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
    /// Connections of the pool (open, and idle among them), for the metrics; no round trip.
    fn pool_status(&self) -> PoolStatus;

    /// Appends one event to the audit trail. The trail has no foreign keys: events outlive
    /// the users they name.
    async fn record_audit(&self, event: NewAuditEvent) -> StoreResult<()>;
    /// One page of events matching the query, newest first (`time`, then `id`, descending),
    /// and the number of matching events.
    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditEvent>>;
    /// Deletes the events older than `older_than`; answers how many went.
    async fn prune_audit(&self, older_than: DateTime<Utc>) -> StoreResult<u64>;
    /// Stores a one-time token and queues the mail that carries it, in one transaction.
    /// A new reset token replaces the user's unused older ones.
    async fn create_email_token(&self, token: NewEmailToken, mail: NewMail) -> StoreResult<()>;
    /// The user of a live token (unused, unexpired, and the user still has the address it
    /// was mailed to), without using it up.
    async fn email_token_user(&self, purpose: TokenPurpose, token_hash: &[u8]) -> StoreResult<Option<User>>;
    /// Uses up a live verification token and marks the address it was sent to verified,
    /// atomically; `None` when the token is not live.
    async fn verify_email(&self, token_hash: &[u8]) -> StoreResult<Option<User>>;
    /// Uses up a live reset token, sets the new password hash and revokes every session of
    /// the user, atomically; `None` when the token is not live.
    async fn reset_password(&self, token_hash: &[u8], password_hash: &str) -> StoreResult<Option<User>>;
    /// Claims up to `limit` due messages for `lease` (others skip them meanwhile), oldest
    /// first. Safe with several instances on one database.
    async fn claim_mail(&self, limit: u32, lease: std::time::Duration) -> StoreResult<Vec<QueuedMail>>;
    /// A message was delivered: it leaves the queue with its secret link.
    async fn mail_sent(&self, id: Uuid) -> StoreResult<()>;
    /// A delivery failed: retry at `retry_at`, or drop the message when `None` (given up).
    async fn mail_failed(&self, id: Uuid, retry_at: Option<DateTime<Utc>>, error: &str) -> StoreResult<()>;

    /// The user's TOTP secret, pending or enabled (see [`TotpRecord`]); `None` when there is none.
    async fn totp(&self, user_id: Uuid) -> StoreResult<Option<TotpRecord>>;
    /// Stores a pending secret, replacing any earlier pending one; `Conflict(MfaAlreadyEnabled)`
    /// when TOTP is on, `NotFound` for an unknown user. Atomic with [`Store::enable_totp`].
    async fn set_pending_totp(&self, user_id: Uuid, secret: &[u8]) -> StoreResult<()>;
    /// Turns TOTP on with the pending `secret` (the one a code was just checked against),
    /// `step` as its last accepted step, and these recovery code hashes, in one transaction.
    /// False, changing nothing, when TOTP is already on or the pending secret is another.
    async fn enable_totp(&self, user_id: Uuid, secret: &[u8], step: i64, recovery_hashes: &[Vec<u8>]) -> StoreResult<bool>;
    /// Records `step` as the last accepted step when it is later than the last one, in one
    /// statement: of two parallel uses of one code, exactly one gets `true`.
    async fn claim_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool>;
    /// Consumes one unused recovery code of an enabled TOTP; false when there is none such.
    async fn use_recovery_code(&self, user_id: Uuid, code_hash: &[u8]) -> StoreResult<bool>;
    /// Turns TOTP off: the secret, the recovery codes and the pending login challenges go.
    /// True when it was on.
    async fn disable_totp(&self, user_id: Uuid) -> StoreResult<bool>;
    /// Stores the challenge of a login waiting for its second factor (and drops expired ones).
    async fn create_mfa_challenge(&self, challenge: NewMfaChallenge) -> StoreResult<()>;
    /// The live (unexpired, unused) challenge with this token hash.
    async fn mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<Option<MfaChallenge>>;
    /// Uses up a live challenge; false when it is gone (used by a parallel request, or expired).
    async fn consume_mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<bool>;
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

/// A `LIKE` pattern (with `ESCAPE '\'`) matching `needle` anywhere: `%` and `_` (and the
/// escape character itself) match literally. Both stores build the `q` filter with it.
pub(crate) fn like_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_the_wildcards_and_the_escape_character() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(like_pattern("alice"), "%alice%");
    }
}
