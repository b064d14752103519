//! The TOTP second factor. Setup and confirmation must not interleave: they run in a write
//! transaction that first reads the user's row, locked (`FOR UPDATE`) on PostgreSQL, under
//! the one write lock on SQLite.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Conflict;
use super::codec::Time;
use super::db::{classify, on_db};
use super::{EventType, Store, StoreError, StoreResult};

/// A user's TOTP secret. While `enabled` is false it is pending: set up, not yet confirmed
/// by a first code. `Debug` hides the secret.
#[derive(Clone, sqlx::FromRow)]
pub struct TotpRecord {
    pub secret: Vec<u8>,
    pub enabled: bool,
    /// The last time step whose code was accepted.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord").field("secret", &"***").field("enabled", &self.enabled).field("last_step", &self.last_step).finish()
    }
}

/// A login that passed its password and waits for the second factor.
#[derive(Debug, Clone)]
pub struct NewMfaChallenge {
    /// SHA-256 of the mfa_token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    /// The lockout key of the login name of the first step.
    pub login_key: String,
    /// The first step's amr value: `pwd`, or `mca` for an email code.
    pub first_factor: &'static str,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MfaChallenge {
    pub user_id: Uuid,
    pub login_key: String,
    pub first_factor: String,
}

impl Store {
    /// Whether TOTP is on for the user (`None`: no such user), its row locked on PostgreSQL.
    fn lock_user_sql(&self) -> &'static str {
        self.db.pick("SELECT mfa_enabled FROM users WHERE id = $1", "SELECT mfa_enabled FROM users WHERE id = $1 FOR UPDATE")
    }

    /// The user's TOTP secret, pending or enabled (see [`TotpRecord`]); `None` when there is none.
    pub async fn totp(&self, user_id: Uuid) -> StoreResult<Option<TotpRecord>> {
        on_db!(&self.db, c => sqlx::query_as(
            "SELECT t.secret, u.mfa_enabled AS enabled, t.last_step FROM totp_secrets t JOIN users u ON u.id = t.user_id WHERE t.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&c.pool)
        .await
        .map_err(classify))
    }

    /// Stores a pending secret, replacing any earlier pending one; `Conflict(MfaAlreadyEnabled)`
    /// when TOTP is on, `NotFound` for an unknown user. Atomic with [`Store::enable_totp`].
    pub async fn set_pending_totp(&self, user_id: Uuid, secret: &[u8]) -> StoreResult<()> {
        let lock_user = self.lock_user_sql();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let enabled: Option<bool> = sqlx::query_scalar(lock_user).bind(user_id).fetch_optional(&mut *tx).await.map_err(classify)?;
            match enabled {
                None => return Err(StoreError::NotFound),
                Some(true) => return Err(StoreError::Conflict(Conflict::MfaAlreadyEnabled)),
                Some(false) => {}
            }
            sqlx::query(
                "INSERT INTO totp_secrets (user_id, secret, last_step, created_at) VALUES ($1, $2, NULL, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET secret = $2, last_step = NULL, created_at = $3",
            )
            .bind(user_id)
            .bind(secret)
            .bind(Time::now())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            tx.commit().await
        })
    }

    /// Turns TOTP on with the pending `secret` (the one a code was just checked against),
    /// `step` as its last accepted step, and these recovery code hashes, in one transaction.
    /// False, changing nothing, when TOTP is already on or the pending secret is another.
    pub async fn enable_totp(&self, user_id: Uuid, secret: &[u8], step: i64, recovery_hashes: &[Vec<u8>]) -> StoreResult<bool> {
        let now = Time::now();
        let lock_user = self.lock_user_sql();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let enabled: Option<bool> = sqlx::query_scalar(lock_user).bind(user_id).fetch_optional(&mut *tx).await.map_err(classify)?;
            if enabled != Some(false) {
                return Ok(false);
            }
            // A fresh statement after the lock: it sees a setup that committed meanwhile.
            let done = sqlx::query("UPDATE totp_secrets SET last_step = $3 WHERE user_id = $1 AND secret = $2")
                .bind(user_id)
                .bind(secret)
                .bind(step)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query("UPDATE users SET mfa_enabled = true, updated_at = $2 WHERE id = $1")
                .bind(user_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await.map_err(classify)?;
            tx.insert_recovery_codes(user_id, recovery_hashes, now).await?;
            tx.queue_user_event(EventType::MfaEnabled, user_id).await?;
            tx.commit().await?;
            self.live.forget(user_id);
            Ok(true)
        })
    }

    /// Records `step` as the last accepted step when it is later than the last one, in one
    /// statement: of two parallel uses of one code, exactly one gets `true` (the row lock of
    /// the UPDATE serialises them; the loser re-reads last_step).
    pub async fn claim_totp_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => sqlx::query(
            "UPDATE totp_secrets SET last_step = $2 WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2) \
             AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND mfa_enabled)",
        )
        .bind(user_id)
        .bind(step)
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        Ok(done == 1)
    }

    /// Consumes one unused recovery code of an enabled TOTP; false when there is none such.
    pub async fn use_recovery_code(&self, user_id: Uuid, code_hash: &[u8]) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 \
             AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND mfa_enabled)",
        )
        .bind(user_id)
        .bind(code_hash)
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        Ok(done == 1)
    }

    /// Turns TOTP off: the secret, the recovery codes and the pending login challenges go.
    /// True when it was on.
    pub async fn disable_totp(&self, user_id: Uuid) -> StoreResult<bool> {
        let lock_user = self.lock_user_sql();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let enabled: Option<bool> = sqlx::query_scalar(lock_user).bind(user_id).fetch_optional(&mut *tx).await.map_err(classify)?;
            sqlx::query("UPDATE users SET mfa_enabled = false, updated_at = $2 WHERE id = $1 AND mfa_enabled")
                .bind(user_id)
                .bind(Time::now())
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            for sql in [
                "DELETE FROM totp_secrets WHERE user_id = $1",
                "DELETE FROM recovery_codes WHERE user_id = $1",
                "DELETE FROM mfa_challenges WHERE user_id = $1",
            ] {
                sqlx::query(sql).bind(user_id).execute(&mut *tx).await.map_err(classify)?;
            }
            if enabled == Some(true) {
                tx.queue_user_event(EventType::MfaDisabled, user_id).await?;
            }
            tx.commit().await?;
            self.live.forget(user_id);
            Ok(enabled == Some(true))
        })
    }

    /// Stores the challenge of a login waiting for its second factor (and drops expired ones).
    pub async fn create_mfa_challenge(&self, challenge: NewMfaChallenge) -> StoreResult<()> {
        let now = Time::now();
        on_db!(&self.db, c => {
            sqlx::query("DELETE FROM mfa_challenges WHERE expires_at <= $1").bind(now).execute(&c.pool).await.map_err(classify)?;
            sqlx::query("INSERT INTO mfa_challenges (token_hash, user_id, login_key, created_at, expires_at, first_factor) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&challenge.token_hash)
                .bind(challenge.user_id)
                .bind(&challenge.login_key)
                .bind(now)
                .bind(Time(challenge.expires_at))
                .bind(challenge.first_factor)
                .execute(&c.pool)
                .await
                .map_err(classify)?;
        });
        Ok(())
    }

    /// The live (unexpired, unused) challenge with this token hash.
    pub async fn mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<Option<MfaChallenge>> {
        on_db!(&self.db, c => sqlx::query_as("SELECT user_id, login_key, first_factor FROM mfa_challenges WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(Time::now())
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// Uses up a live challenge; false when it is gone (used by a parallel request, or expired).
    pub async fn consume_mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(Time::now())
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected());
        Ok(done == 1)
    }
}
