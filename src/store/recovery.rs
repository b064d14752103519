//! Email verification and password reset tokens, and the mail queue. Several instances
//! share the queue on PostgreSQL: a claim locks its rows with `FOR UPDATE SKIP LOCKED` and
//! leases them, so no message is sent twice by two workers; on SQLite the claim is one
//! statement under the write lock.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::Time;
use super::db::{classify, on_db};
use super::{Store, StoreResult, User};

/// What a one-time token emailed to a user is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// A token to store (its SHA-256 only) with the mail that carries it.
pub struct NewEmailToken {
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    pub purpose: TokenPurpose,
    /// The key of the address it was mailed to: the token dies when the address changes.
    pub email_key: String,
    pub expires_at: DateTime<Utc>,
}

/// A rendered message to queue.
pub struct NewMail {
    pub id: Uuid,
    pub sender: String,
    pub recipient: String,
    /// The whole RFC 5322 message, as it goes over the wire.
    pub message: Vec<u8>,
}

/// A queued message claimed by a worker for one delivery attempt.
#[derive(sqlx::FromRow)]
pub struct QueuedMail {
    pub id: Uuid,
    pub sender: String,
    pub recipient: String,
    pub message: Vec<u8>,
    /// Attempts made before this one.
    #[sqlx(try_from = "i32")]
    pub attempts: u32,
}

/// The user a live token names, while the user still has the address it was mailed to;
/// `$lock` locks the token's row on PostgreSQL, so that two requests cannot both use it.
macro_rules! live_token {
    ($lock:literal) => {
        concat!(
            "SELECT t.user_id FROM email_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3 \
             AND t.email_key = u.email_key",
            $lock
        )
    };
}

/// Oldest due messages first, up to $3; `$lock` makes other instances skip them on PostgreSQL.
macro_rules! claim_mail {
    ($lock:literal) => {
        concat!(
            "UPDATE mail_queue SET leased_until = $2 WHERE id IN (SELECT id FROM mail_queue \
             WHERE next_attempt_at <= $1 AND (leased_until IS NULL OR leased_until <= $1) ORDER BY next_attempt_at, id LIMIT $3",
            $lock,
            ") RETURNING id, sender, recipient, message, attempts"
        )
    };
}

impl Store {
    /// Stores a one-time token and queues the mail that carries it, in one transaction.
    /// A new reset token replaces the user's unused older ones.
    pub async fn create_email_token(&self, token: NewEmailToken, mail: NewMail) -> StoreResult<()> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
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
            .bind(Time(token.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            sqlx::query("INSERT INTO mail_queue (id, sender, recipient, message, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)")
                .bind(mail.id)
                .bind(&mail.sender)
                .bind(&mail.recipient)
                .bind(&mail.message)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.commit().await
        })
    }

    /// The user of a live token (unused, unexpired, and the user still has the address it
    /// was mailed to), without using it up.
    pub async fn email_token_user(&self, purpose: TokenPurpose, token_hash: &[u8]) -> StoreResult<Option<User>> {
        let user_id: Option<Uuid> = on_db!(&self.db, c => sqlx::query_scalar(live_token!(""))
            .bind(token_hash)
            .bind(purpose.as_str())
            .bind(Time::now())
            .fetch_optional(&c.pool)
            .await
            .map_err(classify)?);
        match user_id {
            Some(id) => self.user_by_id(id).await,
            None => Ok(None),
        }
    }

    /// Uses up a live verification token and marks the address it was sent to verified,
    /// atomically; `None` when the token is not live.
    pub async fn verify_email(&self, token_hash: &[u8]) -> StoreResult<Option<User>> {
        self.use_email_token(TokenPurpose::VerifyEmail, token_hash, None).await
    }

    /// Uses up a live reset token, sets the new password hash and revokes every session of
    /// the user, atomically; `None` when the token is not live.
    pub async fn reset_password(&self, token_hash: &[u8], password_hash: &str) -> StoreResult<Option<User>> {
        self.use_email_token(TokenPurpose::ResetPassword, token_hash, Some(password_hash)).await
    }

    async fn use_email_token(&self, purpose: TokenPurpose, token_hash: &[u8], password_hash: Option<&str>) -> StoreResult<Option<User>> {
        let now = Time::now();
        let find = self.db.pick(live_token!(""), live_token!(" FOR UPDATE"));
        let user_id: Option<Uuid> = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let user_id: Option<Uuid> =
                sqlx::query_scalar(find).bind(token_hash).bind(purpose.as_str()).bind(now).fetch_optional(&mut *tx).await.map_err(classify)?;
            let Some(user_id) = user_id else { return Ok(None) };
            sqlx::query("UPDATE email_tokens SET used_at = $2 WHERE token_hash = $1").bind(token_hash).bind(now).execute(&mut *tx).await.map_err(classify)?;
            match password_hash {
                None => {
                    sqlx::query("UPDATE users SET email_verified = true, updated_at = $2 WHERE id = $1")
                        .bind(user_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                Some(hash) => {
                    sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                        .bind(user_id)
                        .bind(hash)
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
                }
            }
            tx.commit().await?;
            Some(user_id)
        });
        match user_id {
            Some(id) => self.user_by_id(id).await,
            None => Ok(None),
        }
    }

    /// Claims up to `limit` due messages for `lease` (others skip them meanwhile), oldest
    /// first. Safe with several instances on one database.
    pub async fn claim_mail(&self, limit: u32, lease: Duration) -> StoreResult<Vec<QueuedMail>> {
        let now = Time::now();
        let until = Time(now.0 + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(5)));
        let claim = self.db.pick(claim_mail!(""), claim_mail!(" FOR UPDATE SKIP LOCKED"));
        on_db!(&self.db, c => sqlx::query_as(claim)
            .bind(now)
            .bind(until)
            .bind(i64::from(limit))
            .fetch_all(&c.pool)
            .await
            .map_err(classify))
    }

    /// A message was delivered: it leaves the queue with its secret link.
    pub async fn mail_sent(&self, id: Uuid) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("DELETE FROM mail_queue WHERE id = $1").bind(id).execute(&c.pool).await.map_err(classify)?;
        });
        Ok(())
    }

    /// A delivery failed: retry at `retry_at`, or drop the message when `None` (given up).
    pub async fn mail_failed(&self, id: Uuid, retry_at: Option<DateTime<Utc>>, error: &str) -> StoreResult<()> {
        let Some(at) = retry_at else { return self.mail_sent(id).await };
        on_db!(&self.db, c => {
            sqlx::query(
            "UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = $2, leased_until = NULL, last_error = $3 WHERE id = $1",
        )
        .bind(id)
        .bind(Time(at))
        .bind(error)
        .execute(&c.pool)
        .await
        .map_err(classify)?;
        });
        Ok(())
    }
}
