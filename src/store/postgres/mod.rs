//! The PostgreSQL implementation of [`Store`]: for several Gatehouse instances on one
//! database. Each statement mirrors its SQLite twin in `store/sqlite.rs`; uniqueness and
//! "one live token / one active key" live in constraints, so races between instances
//! cannot break them.

/// The columns of a [`User`], roles gathered into one sorted array.
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.email, u.email_verified, u.pending_email, u.disabled, u.mfa_enabled, u.created_at, u.updated_at, \
         ARRAY(SELECT r.role FROM user_roles r WHERE r.user_id = u.id ORDER BY r.role) AS roles"
    };
}

mod attempts;
mod audit;
mod copy;
mod email;
mod keys;
mod mfa;
mod prune;
mod recovery;
mod sessions;
mod templates;
mod users;
mod users_admin;

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::*;

/// A request waits at most this long for a connection: an outage answers 503 quickly.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// No statement runs longer than this (milliseconds), so a stuck query cannot hold a request.
const STATEMENT_TIMEOUT_MS: &str = "10000";

pub struct PgStore {
    pool: PgPool,
    totals: super::totals::Totals,
}

/// Now, to the millisecond: the precision SQLite keeps, so both stores answer alike.
fn now() -> DateTime<Utc> {
    millis_to_time(Utc::now().timestamp_millis())
}

fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => {
            return StoreError::Unavailable(err.to_string());
        }
        sqlx::Error::Database(db) => {
            if db.is_unique_violation() {
                match db.constraint() {
                    Some("users_username_key") => return StoreError::Conflict(Conflict::UsernameTaken),
                    Some("users_email_key") => return StoreError::Conflict(Conflict::EmailTaken),
                    Some("templates_owner_name_key") => return StoreError::Conflict(Conflict::NameTaken),
                    _ => {}
                }
            }
            // 08: connection exception; 53: insufficient resources (too many connections,
            // disk full); 57P0x: the server is shutting down or starting; 25006: read-only
            // transaction (a standby); 40001/40P01: serialization failure or deadlock.
            let code = db.code().unwrap_or_default();
            if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") || matches!(&*code, "25006" | "40001" | "40P01")
            {
                return StoreError::Unavailable(db.message().to_string());
            }
        }
        _ => {}
    }
    StoreError::Other(anyhow::Error::new(err))
}

impl PgStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options: PgConnectOptions = url
            .parse::<PgConnectOptions>()
            .with_context(|| format!("GATEHOUSE_DATABASE_URL: cannot parse {:?}", crate::config::redact_url(url)))?
            .application_name("gatehouse")
            .options([("statement_timeout", STATEMENT_TIMEOUT_MS)]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .idle_timeout(Duration::from_secs(300))
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .with_context(|| format!("cannot connect to PostgreSQL at {}", crate::config::redact_url(url)))?;
        sqlx::migrate!("migrations/postgres").run(&pool).await.context("cannot bring the PostgreSQL schema up to date")?;
        Ok(Self { pool, totals: Default::default() })
    }
}

#[async_trait]
impl Store for PgStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(classify)?;
        Ok(())
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        self.insert_user(user).await
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.fetch_user(id).await
    }

    async fn credentials_by_login(&self, login_key: &str) -> StoreResult<Option<Credentials>> {
        self.fetch_credentials_by_login(login_key).await
    }

    async fn credentials_by_id(&self, id: Uuid) -> StoreResult<Option<Credentials>> {
        self.fetch_credentials_by_id(id).await
    }

    async fn set_email(&self, id: Uuid, change: EmailChange) -> StoreResult<User> {
        self.update_email(id, change).await
    }

    async fn set_pending_email(&self, id: Uuid, change: Option<EmailChange>) -> StoreResult<User> {
        self.store_pending_email(id, change).await
    }

    async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()> {
        self.update_password_hash(id, hash).await
    }

    async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<User>> {
        self.list_users_page(query).await
    }

    async fn update_user(&self, id: Uuid, patch: UserPatch) -> StoreResult<User> {
        self.update_user_checked(id, patch).await
    }

    async fn delete_user(&self, id: Uuid) -> StoreResult<()> {
        self.delete_user_checked(id).await
    }

    async fn create_session(&self, session: NewSession) -> StoreResult<Session> {
        self.insert_session(session).await
    }

    async fn session_is_live(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        self.check_session_live(session_id, user_id).await
    }

    async fn live_session_user(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<Option<User>> {
        self.fetch_live_session_user(session_id, user_id).await
    }

    async fn live_sessions(&self, user_id: Uuid) -> StoreResult<Vec<Session>> {
        self.fetch_live_sessions(user_id).await
    }

    async fn revoke_session(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        self.revoke_one_session(session_id, user_id).await
    }

    async fn revoke_user_sessions(&self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<()> {
        self.revoke_sessions_of(user_id, keep).await
    }

    async fn refresh_record(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        self.fetch_refresh_record(token_hash).await
    }

    async fn rotate_refresh(&self, session_id: Uuid, old_hash: &[u8], new_hash: &[u8]) -> StoreResult<bool> {
        self.rotate_refresh_token(session_id, old_hash, new_hash).await
    }

    async fn live_refresh_hash(&self, session_id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        self.fetch_live_refresh_hash(session_id).await
    }

    async fn list_templates(&self, owner_id: Uuid, page: u32, per_page: u32) -> StoreResult<Page<Template>> {
        self.templates_page(owner_id, page, per_page).await
    }

    async fn create_template(&self, template: NewTemplate, quota: TemplateQuota) -> StoreResult<Template> {
        self.insert_template(template, quota).await
    }

    async fn template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<Option<Template>> {
        self.owned_template(owner_id, id).await
    }

    async fn update_template(&self, owner_id: Uuid, id: Uuid, patch: TemplatePatch, quota: TemplateQuota) -> StoreResult<Template> {
        self.patch_template(owner_id, id, patch, quota).await
    }

    async fn delete_template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<bool> {
        self.remove_template(owner_id, id).await
    }

    async fn create_users(&self, users: Vec<NewUser>) -> StoreResult<usize> {
        self.insert_users(users).await
    }

    async fn reserve_login_attempt(&self, keys: &[String], max_failures: u32, lockout: std::time::Duration) -> StoreResult<LoginAttempt> {
        self.reserve_attempt(keys, max_failures, lockout).await
    }

    async fn clear_login_failures(&self, keys: &[String]) -> StoreResult<()> {
        self.clear_attempts(keys).await
    }

    fn pool_status(&self) -> PoolStatus {
        PoolStatus { size: self.pool.size(), idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX) }
    }

    async fn record_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        self.insert_audit(event).await
    }

    async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditEvent>> {
        self.audit_page(query).await
    }

    async fn prune_audit(&self, older_than: DateTime<Utc>) -> StoreResult<u64> {
        self.delete_audit_before(older_than).await
    }

    async fn prune_spent(&self, cutoffs: &PruneCutoffs) -> StoreResult<Pruned> {
        self.delete_spent(cutoffs).await
    }

    async fn totp(&self, user_id: Uuid) -> StoreResult<Option<TotpRecord>> {
        self.fetch_totp(user_id).await
    }

    async fn set_pending_totp(&self, user_id: Uuid, secret: &[u8]) -> StoreResult<()> {
        self.store_pending_totp(user_id, secret).await
    }

    async fn enable_totp(&self, user_id: Uuid, secret: &[u8], step: i64, recovery_hashes: &[Vec<u8>]) -> StoreResult<bool> {
        self.turn_totp_on(user_id, secret, step, recovery_hashes).await
    }

    async fn claim_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        self.claim_step(user_id, step).await
    }

    async fn use_recovery_code(&self, user_id: Uuid, code_hash: &[u8]) -> StoreResult<bool> {
        self.take_recovery_code(user_id, code_hash).await
    }

    async fn disable_totp(&self, user_id: Uuid) -> StoreResult<bool> {
        self.turn_totp_off(user_id).await
    }

    async fn create_mfa_challenge(&self, challenge: NewMfaChallenge) -> StoreResult<()> {
        self.insert_mfa_challenge(challenge).await
    }

    async fn mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<Option<MfaChallenge>> {
        self.live_mfa_challenge(token_hash).await
    }

    async fn consume_mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<bool> {
        self.use_mfa_challenge(token_hash).await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.fetch_signing_keys().await
    }

    async fn add_signing_key(&self, key: SigningKeyRecord, retire_active: bool) -> StoreResult<()> {
        self.insert_signing_key(key, retire_active).await
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        self.fetch_or_store_secret(name, candidate).await
    }

    async fn export_rows(&self, table: Table, offset: u64, limit: u32) -> StoreResult<Rows> {
        self.export(table, offset, limit).await
    }

    async fn import_rows(&self, rows: Rows) -> StoreResult<()> {
        self.import(rows).await
    }

    async fn count_rows(&self, table: Table) -> StoreResult<u64> {
        let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {}", table.name())))
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
        Ok(count.max(0) as u64)
    }

    async fn clear_rows(&self, table: Table) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {}", table.name()))).execute(&self.pool).await.map_err(classify)?;
        Ok(())
    }
    async fn create_email_token(&self, token: NewEmailToken, mail: NewMail) -> StoreResult<()> {
        self.insert_email_token(token, mail).await
    }

    async fn email_token_user(&self, purpose: TokenPurpose, token_hash: &[u8]) -> StoreResult<Option<User>> {
        self.live_token_user(purpose, token_hash).await
    }

    async fn verify_email(&self, token_hash: &[u8]) -> StoreResult<Option<User>> {
        self.use_verification(token_hash).await
    }

    async fn reset_password(&self, token_hash: &[u8], password_hash: &str) -> StoreResult<Option<User>> {
        self.use_reset(token_hash, password_hash).await
    }

    async fn queue_mail(&self, mail: NewMail) -> StoreResult<()> {
        self.insert_notice(mail).await
    }

    async fn reserve_verify_mail(&self, user_id: Uuid, max: u32, window: Duration) -> StoreResult<MailQuota> {
        self.count_verify_mail(user_id, max, window).await
    }

    async fn claim_mail(&self, limit: u32, lease: Duration) -> StoreResult<Vec<QueuedMail>> {
        self.claim_due_mail(limit, lease).await
    }

    async fn mail_sent(&self, id: Uuid) -> StoreResult<()> {
        self.delete_mail(id).await
    }

    async fn mail_failed(&self, id: Uuid, retry_at: Option<DateTime<Utc>>, error: &str) -> StoreResult<()> {
        match retry_at {
            Some(at) => self.retry_mail(id, at, error).await,
            None => self.delete_mail(id).await,
        }
    }
}
