//! The SQLite implementation of [`Store`]: an embedded file, WAL, foreign keys on.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, Sqlite, Transaction};
use tokio::sync::OwnedMutexGuard;
use uuid::Uuid;

use super::*;

pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    totals: super::totals::Totals,
    /// Writers of this process queue here, in order, instead of polling SQLite's write
    /// lock in its busy handler (sleeps of 1 to 100 ms that stretched the p99 of writes).
    writer: Arc<tokio::sync::Mutex<()>>,
}

/// The columns of a [`User`], roles folded into one comma-separated string.
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.email, u.email_verified, u.pending_email, u.disabled, u.mfa_enabled, u.created_at, u.updated_at, \
         (SELECT group_concat(r.role, ',') FROM user_roles r WHERE r.user_id = u.id) AS roles"
    };
}

mod attempts;
mod audit;
mod email;
mod mfa;
mod prune;
mod recovery;
mod sessions;
mod templates;
mod users;

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

pub(super) fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            return StoreError::Unavailable(err.to_string());
        }
        sqlx::Error::Database(db) => {
            let message = db.message();
            if db.is_unique_violation() {
                if message.contains("users.username_key") {
                    return StoreError::Conflict(Conflict::UsernameTaken);
                }
                if message.contains("users.email_key") {
                    return StoreError::Conflict(Conflict::EmailTaken);
                }
                // templates_owner_name_key: SQLite names the columns, not the constraint.
                if message.contains("templates.owner_id, templates.name") {
                    return StoreError::Conflict(Conflict::NameTaken);
                }
            }
            // Busy, read-only, I/O, full disk, cannot open: the file is in trouble, not the request.
            let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
            if matches!(primary, Some(5 | 6 | 8 | 10 | 13 | 14 | 26)) {
                return StoreError::Unavailable(message.to_string());
            }
        }
        _ => {}
    }
    StoreError::Other(anyhow::Error::new(err))
}

fn user_from_row(row: &SqliteRow) -> Result<User, sqlx::Error> {
    let mut roles: Vec<String> =
        row.try_get::<Option<String>, _>("roles")?.map(|r| r.split(',').map(str::to_string).collect()).unwrap_or_default();
    roles.sort();
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        email_verified: row.try_get("email_verified")?,
        pending_email: row.try_get("pending_email")?,
        roles,
        disabled: row.try_get("disabled")?,
        mfa_enabled: row.try_get("mfa_enabled")?,
        created_at: millis_to_time(row.try_get("created_at")?),
        updated_at: millis_to_time(row.try_get("updated_at")?),
    })
}

fn time_or_none(ms: Option<i64>) -> Option<DateTime<Utc>> {
    ms.map(millis_to_time)
}

impl SqliteStore {
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, crate::config::SqliteSynchronous::default()).await
    }

    /// Opens (creating if missing) and migrates the database, with the given synchronous mode.
    pub async fn connect_with(url: &str, synchronous: crate::config::SqliteSynchronous) -> anyhow::Result<Self> {
        let synchronous = match synchronous {
            // FULL: a commit that answered 2xx survives a power loss, not only a process crash.
            crate::config::SqliteSynchronous::Full => SqliteSynchronous::Full,
            // NORMAL under WAL: survives a process crash; a power loss may drop the last commits.
            crate::config::SqliteSynchronous::Normal => SqliteSynchronous::Normal,
        };
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("GATEHOUSE_DATABASE_URL: cannot parse {url:?}"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        if !crate::files::sqlite_in_memory(url) {
            let path = options.get_filename();
            crate::files::prepare_sqlite_file(path).with_context(|| format!("cannot create the SQLite database {}", path.display()))?;
        }
        // Readers run in parallel under WAL; writers queue on SQLite's one write lock.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let pool = SqlitePoolOptions::new()
            .max_connections((cores * 4).clamp(4, 32) as u32)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options)
            .await
            .with_context(|| format!("cannot open the SQLite database {url:?}"))?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await.context("cannot bring the SQLite schema up to date")?;
        Ok(Self { pool, totals: Default::default(), writer: Default::default() })
    }

    /// A write transaction that takes SQLite's write lock at once, so that two writers
    /// never deadlock upgrading from a read; keep the guard until the transaction ends.
    /// Other processes on the file (the CLI) still meet the busy timeout.
    async fn write(&self) -> StoreResult<(OwnedMutexGuard<()>, Transaction<'static, Sqlite>)> {
        let guard = self.writer.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(classify)?;
        Ok((guard, tx))
    }

    async fn fetch_user(&self, id: Uuid) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref().map(user_from_row).transpose().map_err(classify)
    }

    fn credentials(row: &SqliteRow) -> Result<Credentials, sqlx::Error> {
        Ok(Credentials {
            user: user_from_row(row)?,
            password_hash: row.try_get("password_hash")?,
            email_ever_verified: row.try_get("email_ever_verified")?,
        })
    }
}

/// One user row and its roles, inside the caller's write transaction.
async fn insert_user(tx: &mut Transaction<'static, Sqlite>, user: &NewUser, now: i64) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(user.id)
    .bind(&user.username)
    .bind(&user.username_key)
    .bind(&user.email)
    .bind(&user.email_key)
    .bind(&user.password_hash)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(classify)?;
    for role in &user.roles {
        sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(user.id)
            .bind(role)
            .execute(&mut **tx)
            .await
            .map_err(classify)?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(classify)?;
        Ok(())
    }

    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let now = now_ms();
        let (_writer, mut tx) = self.write().await?;
        insert_user(&mut tx, &user, now).await?;
        tx.commit().await.map_err(classify)?;
        self.fetch_user(user.id).await?.ok_or(StoreError::NotFound)
    }

    async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        self.fetch_user(id).await
    }

    async fn credentials_by_login(&self, login_key: &str) -> StoreResult<Option<Credentials>> {
        // A username never holds '@' and an email always does, so at most one row matches.
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", u.password_hash, u.email_ever_verified FROM users u WHERE u.username_key = $1 OR u.email_key = $1"
        ))
        .bind(login_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(Self::credentials).transpose().map_err(classify)
    }

    async fn credentials_by_id(&self, id: Uuid) -> StoreResult<Option<Credentials>> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), ", u.password_hash, u.email_ever_verified FROM users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref().map(Self::credentials).transpose().map_err(classify)
    }

    async fn set_email(&self, id: Uuid, change: EmailChange) -> StoreResult<User> {
        self.replace_email(id, change).await
    }

    async fn set_pending_email(&self, id: Uuid, change: Option<EmailChange>) -> StoreResult<User> {
        self.store_pending_email(id, change).await
    }

    async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
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

    async fn create_users(&self, users: Vec<NewUser>) -> StoreResult<usize> {
        let now = now_ms();
        let (_writer, mut tx) = self.write().await?;
        for user in &users {
            insert_user(&mut tx, user, now).await?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(users.len())
    }

    async fn reserve_login_attempt(&self, keys: &[String], max_failures: u32, lockout: Duration) -> StoreResult<LoginAttempt> {
        self.reserve_attempt(keys, max_failures, lockout).await
    }

    async fn clear_login_failures(&self, keys: &[String]) -> StoreResult<()> {
        self.clear_attempts(keys).await
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

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        let rows = sqlx::query(
            "SELECT kid, algorithm, private_key, public_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter()
            .map(|row| {
                Ok(SigningKeyRecord {
                    kid: row.try_get("kid")?,
                    algorithm: row.try_get("algorithm")?,
                    private_key: row.try_get("private_key")?,
                    public_key: row.try_get("public_key")?,
                    created_at: millis_to_time(row.try_get("created_at")?),
                    retired_at: time_or_none(row.try_get("retired_at")?),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(classify)
    }

    async fn add_signing_key(&self, key: SigningKeyRecord, retire_active: bool) -> StoreResult<()> {
        let (_writer, mut tx) = self.write().await?;
        if retire_active {
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(key.created_at.timestamp_millis())
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.algorithm)
        .bind(&key.private_key)
        .bind(&key.public_key)
        .bind(key.created_at.timestamp_millis())
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(())
    }

    async fn server_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1").bind(name).fetch_one(&self.pool).await.map_err(classify)
    }

    async fn export_rows(&self, table: Table, offset: u64, limit: u32) -> StoreResult<Rows> {
        super::sqlite_copy::export(&self.pool, table, offset, limit).await
    }

    async fn import_rows(&self, rows: Rows) -> StoreResult<()> {
        let (_writer, mut tx) = self.write().await?;
        super::sqlite_copy::import(&mut tx, rows).await?;
        tx.commit().await.map_err(classify)
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
}
