//! Every SQL statement of the service lives under this module, behind the [`Store`] trait:
//! handlers speak to `dyn Store` and never know which database is underneath.

mod attempts;
mod audit;
pub mod copy;
mod keys;
mod mfa;
mod postgres;
mod prune;
mod recovery;
mod sessions;
mod sql;
mod sqlite;
mod sqlite_copy;
mod templates;
mod totals;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::error::Conflict;
pub use attempts::LoginAttempt;
pub use audit::{AuditEvent, AuditQuery, AuditType, NewAuditEvent, PoolStatus};
pub use copy::{Rows, Table};
pub use keys::SigningKeyRecord;
pub use mfa::{MfaChallenge, NewMfaChallenge, TotpRecord};
pub use postgres::PgStore;
pub use prune::{PruneCutoffs, Pruned};
pub use recovery::{MailQuota, NewEmailToken, NewMail, QueuedMail, TokenPurpose};
pub use sessions::{NewSession, RefreshRecord, Session};
pub(crate) use sql::{like_pattern, millis_to_time};
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
    /// An address change waiting for the link mailed to it; `email` stays as it is until then.
    #[schema(example = json!(null))]
    pub pending_email: Option<String>,
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
    /// Whether any address of the account was ever verified.
    pub email_ever_verified: bool,
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
    /// Sets (or clears) the address at once: a new one is unverified; a pending change is dropped.
    async fn set_email(&self, id: Uuid, change: EmailChange) -> StoreResult<User>;
    /// Records an address change that waits for its link (`None` drops it); `email` stays.
    async fn set_pending_email(&self, id: Uuid, change: Option<EmailChange>) -> StoreResult<User>;
    async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()>;
    /// Creates every user or none (one transaction); a conflict on any of them fails the
    /// whole batch. Returns how many were created.
    async fn create_users(&self, users: Vec<NewUser>) -> StoreResult<usize>;

    /// Reserves one password check counted under every one of `keys` (opaque keys: the
    /// typed login name, and the account it names), counting it as a failure in advance.
    /// ATOMIC in every implementation: the reads, the increments and the lock decision of
    /// all the keys happen in one serialisable write transaction, so that N parallel callers
    /// see N distinct counts and at most `max_failures` of them are `Allowed` per lockout
    /// window on any key, across all instances.
    ///
    /// Rules, per key: while `locked_until` is in the future the answer is `Locked` with the
    /// time left (the longest over the keys), and nothing is counted. Otherwise, when the
    /// window began more than `lockout` ago (or the lock just ended) the count starts over at
    /// zero. Each count is then incremented; the `max_failures`-th reservation on a key also
    /// sets its `locked_until = now + lockout` (it is still `Allowed`: a completed login
    /// clears the lock), and a reservation beyond `max_failures` answers `Locked`.
    async fn reserve_login_attempt(&self, keys: &[String], max_failures: u32, lockout: std::time::Duration) -> StoreResult<LoginAttempt>;
    /// Forgets the counts and any locks of `keys`: a completed login.
    async fn clear_login_failures(&self, keys: &[String]) -> StoreResult<()>;

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
    /// Marks `old_hash` rotated and makes `new_hash` the session's live token, atomically,
    /// and only while the session is live (not revoked, not expired, its user enabled) at
    /// the moment of the write: a revocation between the read of the token and this write
    /// wins. False when the session is no longer live or `old_hash` was no longer the live
    /// token (another request rotated it).
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
    /// Deletes the sessions (with their refresh tokens), login-attempt counts, email tokens
    /// and MFA challenges past the cutoffs, in batches; see [`crate::retention`].
    async fn prune_spent(&self, cutoffs: &PruneCutoffs) -> StoreResult<Pruned>;
    /// Stores a one-time token and queues the mail that carries it, in one transaction.
    /// A new reset token replaces the user's unused older ones.
    async fn create_email_token(&self, token: NewEmailToken, mail: NewMail) -> StoreResult<()>;
    /// The user of a live token (unused, unexpired, and the user still has the address it
    /// was mailed to), without using it up.
    async fn email_token_user(&self, purpose: TokenPurpose, token_hash: &[u8]) -> StoreResult<Option<User>>;
    /// Uses up a live verification token and marks the address it was sent to verified,
    /// atomically; when that is the pending address, it becomes `email`, or
    /// `Conflict(EmailTaken)` (nothing used up) when another account has it by now.
    /// `None` when the token is not live.
    async fn verify_email(&self, token_hash: &[u8]) -> StoreResult<Option<User>>;
    /// Queues a mail that carries no token (a notice).
    async fn queue_mail(&self, mail: NewMail) -> StoreResult<()>;
    /// Counts one verification mail caused by the user, unless `max` were already counted in
    /// the user's current window of `window` (which starts at its first mail); atomic.
    async fn reserve_verify_mail(&self, user_id: Uuid, max: u32, window: std::time::Duration) -> StoreResult<MailQuota>;
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
