//! The TOTP second factor on SQLite. Mirrors `store/postgres/mfa.rs`.

use super::*;

impl SqliteStore {
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
        // BEGIN IMMEDIATE: the check and the write cannot interleave with a confirmation.
        let (_writer, mut tx) = self.write().await?;
        let enabled: Option<bool> = sqlx::query_scalar("SELECT mfa_enabled FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
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
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)
    }

    pub(super) async fn turn_totp_on(&self, user_id: Uuid, secret: &[u8], step: i64, recovery_hashes: &[Vec<u8>]) -> StoreResult<bool> {
        let now = now_ms();
        let (_writer, mut tx) = self.write().await?;
        let done = sqlx::query(
            "UPDATE users SET mfa_enabled = 1, updated_at = $3 WHERE id = $1 AND mfa_enabled = 0 \
             AND EXISTS (SELECT 1 FROM totp_secrets WHERE user_id = $1 AND secret = $2)",
        )
        .bind(user_id)
        .bind(secret)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE totp_secrets SET last_step = $2 WHERE user_id = $1")
            .bind(user_id)
            .bind(step)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await.map_err(classify)?;
        for hash in recovery_hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }

    pub(super) async fn claim_step(&self, user_id: Uuid, step: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE totp_secrets SET last_step = $2 WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2) \
             AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND mfa_enabled = 1)",
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
             AND EXISTS (SELECT 1 FROM users WHERE id = $1 AND mfa_enabled = 1)",
        )
        .bind(user_id)
        .bind(code_hash)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn turn_totp_off(&self, user_id: Uuid) -> StoreResult<bool> {
        let (_writer, mut tx) = self.write().await?;
        let done = sqlx::query("UPDATE users SET mfa_enabled = 0, updated_at = $2 WHERE id = $1 AND mfa_enabled = 1")
            .bind(user_id)
            .bind(now_ms())
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
        Ok(done.rows_affected() == 1)
    }

    pub(super) async fn insert_mfa_challenge(&self, challenge: NewMfaChallenge) -> StoreResult<()> {
        let now = now_ms();
        sqlx::query("DELETE FROM mfa_challenges WHERE expires_at <= $1").bind(now).execute(&self.pool).await.map_err(classify)?;
        sqlx::query("INSERT INTO mfa_challenges (token_hash, user_id, login_key, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&challenge.token_hash)
            .bind(challenge.user_id)
            .bind(&challenge.login_key)
            .bind(now)
            .bind(challenge.expires_at.timestamp_millis())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub(super) async fn live_mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<Option<MfaChallenge>> {
        let row: Option<(Uuid, String)> =
            sqlx::query_as("SELECT user_id, login_key FROM mfa_challenges WHERE token_hash = $1 AND expires_at > $2")
                .bind(token_hash)
                .bind(now_ms())
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        Ok(row.map(|(user_id, login_key)| MfaChallenge { user_id, login_key }))
    }

    pub(super) async fn use_mfa_challenge(&self, token_hash: &[u8]) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM mfa_challenges WHERE token_hash = $1 AND expires_at > $2")
            .bind(token_hash)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() == 1)
    }
}
