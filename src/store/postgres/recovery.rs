//! Email verification and password reset tokens, and the mail queue, on PostgreSQL.
//! Several instances share the queue: a claim locks its rows with `FOR UPDATE SKIP LOCKED`
//! and leases them, so no message is sent twice by two workers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::{PgStore, classify, now};
use crate::store::{NewEmailToken, NewMail, QueuedMail, StoreResult, TokenPurpose, User};

fn mail_from_row(row: &PgRow) -> Result<QueuedMail, sqlx::Error> {
    Ok(QueuedMail {
        id: row.try_get("id")?,
        sender: row.try_get("sender")?,
        recipient: row.try_get("recipient")?,
        message: row.try_get("message")?,
        attempts: u32::try_from(row.try_get::<i32, _>("attempts")?).unwrap_or(0),
    })
}

/// The user a live token names, while the user still has the address it was mailed to
/// (for a verification link, as its address or its pending one).
const LIVE_TOKEN: &str = "SELECT t.user_id FROM email_tokens t JOIN users u ON u.id = t.user_id \
     WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3 \
     AND (t.email_key = u.email_key OR (t.purpose = 'verify_email' AND t.email_key = u.pending_email_key))";

impl PgStore {
    pub(super) async fn insert_email_token(&self, token: NewEmailToken, mail: NewMail) -> StoreResult<()> {
        let now = now();
        let mut tx = self.pool.begin().await.map_err(classify)?;
        // Spent and expired tokens of this user go; so do unused reset tokens: the newest wins.
        sqlx::query(
            "DELETE FROM email_tokens WHERE user_id = $1 AND (used_at IS NOT NULL OR expires_at <= $2 \
             OR (purpose = 'reset_password' AND $3 = 'reset_password'))",
        )
        .bind(token.user_id)
        .bind(now)
        .bind(token.purpose.as_str())
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        sqlx::query(
            "INSERT INTO email_tokens (token_hash, user_id, purpose, email_key, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&token.token_hash)
        .bind(token.user_id)
        .bind(token.purpose.as_str())
        .bind(&token.email_key)
        .bind(now)
        .bind(token.expires_at)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        insert_mail(&mut *tx, &mail, now).await?;
        tx.commit().await.map_err(classify)
    }

    pub(super) async fn insert_notice(&self, mail: NewMail) -> StoreResult<()> {
        insert_mail(&self.pool, &mail, now()).await
    }

    pub(super) async fn live_token_user(&self, purpose: TokenPurpose, token_hash: &[u8]) -> StoreResult<Option<User>> {
        let user_id: Option<Uuid> = sqlx::query_scalar(LIVE_TOKEN)
            .bind(token_hash)
            .bind(purpose.as_str())
            .bind(now())
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        match user_id {
            Some(id) => self.fetch_user(id).await,
            None => Ok(None),
        }
    }

    /// Marks a live token used inside `tx` (its row locked, so two requests cannot both
    /// use it); the user it named, if it was live.
    async fn use_token(tx: &mut Transaction<'static, Postgres>, purpose: TokenPurpose, token_hash: &[u8]) -> StoreResult<Option<Uuid>> {
        let now = now();
        let locked = format!("{LIVE_TOKEN} FOR UPDATE");
        let user_id: Option<Uuid> = sqlx::query_scalar(sqlx::AssertSqlSafe(locked))
            .bind(token_hash)
            .bind(purpose.as_str())
            .bind(now)
            .fetch_optional(&mut **tx)
            .await
            .map_err(classify)?;
        if user_id.is_some() {
            sqlx::query("UPDATE email_tokens SET used_at = $2 WHERE token_hash = $1")
                .bind(token_hash)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
        }
        Ok(user_id)
    }

    pub(super) async fn use_verification(&self, token_hash: &[u8]) -> StoreResult<Option<User>> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let Some(user_id) = Self::use_token(&mut tx, TokenPurpose::VerifyEmail, token_hash).await? else { return Ok(None) };
        // A link to the pending address makes it the address; users_email_key refuses it
        // (and the rollback keeps the token) when another account took it meanwhile.
        sqlx::query(
            "UPDATE users SET email = pending_email, email_key = pending_email_key, pending_email = NULL, pending_email_key = NULL \
             WHERE id = $1 AND pending_email_key = (SELECT email_key FROM email_tokens WHERE token_hash = $2)",
        )
        .bind(user_id)
        .bind(token_hash)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        sqlx::query("UPDATE users SET email_verified = true, email_ever_verified = true, updated_at = $2 WHERE id = $1")
            .bind(user_id)
            .bind(now())
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        self.fetch_user(user_id).await
    }

    pub(super) async fn use_reset(&self, token_hash: &[u8], password_hash: &str) -> StoreResult<Option<User>> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let Some(user_id) = Self::use_token(&mut tx, TokenPurpose::ResetPassword, token_hash).await? else { return Ok(None) };
        let now = now();
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(user_id)
            .bind(password_hash)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        self.fetch_user(user_id).await
    }

    pub(super) async fn claim_due_mail(&self, limit: u32, lease: Duration) -> StoreResult<Vec<QueuedMail>> {
        let now = now();
        let until = now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5));
        let rows = sqlx::query(
            "UPDATE mail_queue SET leased_until = $2 WHERE id IN (SELECT id FROM mail_queue \
             WHERE next_attempt_at <= $1 AND (leased_until IS NULL OR leased_until <= $1) ORDER BY next_attempt_at, id LIMIT $3 \
             FOR UPDATE SKIP LOCKED) RETURNING id, sender, recipient, message, attempts",
        )
        .bind(now)
        .bind(until)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(mail_from_row).collect::<Result<_, _>>().map_err(classify)
    }

    pub(super) async fn delete_mail(&self, id: Uuid) -> StoreResult<()> {
        sqlx::query("DELETE FROM mail_queue WHERE id = $1").bind(id).execute(&self.pool).await.map_err(classify)?;
        Ok(())
    }

    pub(super) async fn retry_mail(&self, id: Uuid, retry_at: DateTime<Utc>, error: &str) -> StoreResult<()> {
        sqlx::query(
            "UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = $2, leased_until = NULL, last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(retry_at)
        .bind(error)
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        Ok(())
    }
}

async fn insert_mail<'e>(conn: impl sqlx::PgExecutor<'e>, mail: &NewMail, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query("INSERT INTO mail_queue (id, sender, recipient, message, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)")
        .bind(mail.id)
        .bind(&mail.sender)
        .bind(&mail.recipient)
        .bind(&mail.message)
        .bind(now)
        .execute(conn)
        .await
        .map_err(classify)?;
    Ok(())
}
