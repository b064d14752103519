//! The TOTP second factor on PostgreSQL. Mirrors `store/sqlite/mfa.rs`; the user's row is
//! locked (`FOR UPDATE`) where setup and confirmation must not interleave.

use uuid::Uuid;

use super::{PgStore, classify, now};
use crate::error::Conflict;
use crate::store::{MfaChallenge, NewMfaChallenge, StoreError, StoreResult, TotpRecord};

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

/// Locks the user's row and answers whether TOTP is on; `None` for an unknown user.
async fn lock_user(tx: &mut Tx, user_id: Uuid) -> StoreResult<Option<bool>> {
    sqlx::query_scalar("SELECT mfa_enabled FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(classify)
}

impl PgStore {
    pub(super) async fn fetch_totp(&self, user_id: Uuid) -> StoreResult<Option<TotpRecord>> {
        let row: Option<(Vec<u8>, bool, Option<i64>)> = sqlx::query_as(
            "SELECT t.secret, u.mfa_enabled, t.last_step FROM totp_secrets t JOIN users u ON u.id = t.user_id WHERE t.user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        Ok(row.map(|(secret, enabled, last_step)| TotpRecord { secret, enabled, last_step }))
    }

    pub(super) async fn store_pending_totp(&self, user_id: Uuid, secret: &[u8]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        match lock_user(&mut tx, user_id).await? {
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
        .bind(now())
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    pub(super) async fn turn_totp_on(&self, user_id: Uuid, secret: &[u8], step: i64, recovery_hashes: &[Vec<u8>]) -> StoreResult<bool> {
        let now = now();
        let mut tx = self.pool.begin().await.map_err(classify)?;
        if lock_user(&mut tx, user_id).await? != Some(false) {
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
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) SELECT $1, unnest($2::bytea[]), $3")
            .bind(user_id)
            .bind(recovery_hashes)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }

    pub(super) async fn claim_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        // The row lock of the UPDATE serialises parallel claims; the loser re-reads last_step.
        let done = sqlx::query(
            "UPDATE totp_secrets SET last_step = $2 WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2) \
             AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND mfa_enabled)",
        )
        .bind(user_id)
        .bind(step)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn take_recovery_code(&self, user_id: Uuid, code_hash: &[u8]) -> StoreResult<bool> {
        let done = sqlx::query(
            "DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2 \
             AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND mfa_enabled)",
        )
        .bind(user_id)
        .bind(code_hash)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn turn_totp_off(&self, user_id: Uuid) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let was_on = lock_user(&mut tx, user_id).await? == Some(true);
        sqlx::query("UPDATE users SET mfa_enabled = false, updated_at = $2 WHERE id = $1 AND mfa_enabled")
            .bind(user_id)
            .bind(now())
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
        tx.commit().await.map_err(classify)?;
        Ok(was_on)
    }

    pub(super) async fn insert_mfa_challenge(&self, challenge: NewMfaChallenge) -> StoreResult<()> {
        let now = now();
        sqlx::query("DELETE FROM mfa_challenges WHERE expires_at <= $1").bind(now).execute(&self.pool).await.map_err(classify)?;
        sqlx::query("INSERT INTO mfa_challenges (token_hash, user_id, login_key, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&challenge.token_hash)
            .bind(challenge.user_id)
            .bind(&challenge.login_key)
            .bind(now)
            .bind(challenge.expires_at)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub(super) async fn live_mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<Option<MfaChallenge>> {
        let row: Option<(Uuid, String)> =
            sqlx::query_as("SELECT user_id, login_key FROM mfa_challenges WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash)
                .bind(now())
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        Ok(row.map(|(user_id, login_key)| MfaChallenge { user_id, login_key }))
    }

    pub(super) async fn use_mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }
}
