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

/// The answer to [`Store::reserve_verify_mail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailQuota {
    /// Counted: the mail may go.
    Allowed,
    /// The account caused its hourly share already; the window ends in `retry_after`.
    Spent { retry_after: Duration },
}

/// The user a live token names, while the user still has the address it was mailed to
/// (for a verification link, as its address or its pending one); `$lock` locks the token's
/// row on PostgreSQL, so that two requests cannot both use it.
macro_rules! live_token {
    ($lock:literal) => {
        concat!(
            "SELECT t.user_id FROM email_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.token_hash = $1 AND t.purpose = $2 AND t.used_at IS NULL AND t.expires_at > $3 \
             AND (t.email_key = u.email_key OR (t.purpose = 'verify_email' AND t.email_key = u.pending_email_key))",
            $lock
        )
    };
}

pub(super) const QUEUE_MAIL: &str =
    "INSERT INTO mail_queue (id, sender, recipient, message, created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $5)";

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
            sqlx::query(QUEUE_MAIL)
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
    /// atomically; when that is the pending address, it becomes `email`, or
    /// `Conflict(EmailTaken)` (nothing used up) when another account has it by now.
    /// `None` when the token is not live.
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
                    // A link to the pending address makes it the address; users_email_key
                    // refuses it (and the rollback keeps the token) when another account took it.
                    sqlx::query(
                        "UPDATE users SET email = pending_email, email_key = pending_email_key, pending_email = NULL, \
                         pending_email_key = NULL WHERE id = $1 AND pending_email_key = (SELECT email_key FROM email_tokens WHERE token_hash = $2)",
                    )
                    .bind(user_id)
                    .bind(token_hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                    sqlx::query("UPDATE users SET email_verified = true, email_ever_verified = true, updated_at = $2 WHERE id = $1")
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
            self.live.forget(user_id);
            Some(user_id)
        });
        match user_id {
            Some(id) => self.user_by_id(id).await,
            None => Ok(None),
        }
    }

    /// Queues a mail that carries no token (a notice).
    pub async fn queue_mail(&self, mail: NewMail) -> StoreResult<()> {
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query(QUEUE_MAIL)
                .bind(mail.id)
                .bind(&mail.sender)
                .bind(&mail.recipient)
                .bind(&mail.message)
                .bind(Time::now())
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.commit().await
        })
    }

    /// Counts one verification mail caused by the user, unless `max` were already counted in
    /// the user's current window of `window` (which starts at its first mail). Atomic: one
    /// upsert, whose WHERE refuses the count past `max` (then no row comes back), inside a
    /// write transaction (SQLite's write lock; PostgreSQL's row lock of ON CONFLICT orders
    /// parallel requests of any instance).
    pub async fn reserve_verify_mail(&self, user_id: Uuid, max: u32, window: Duration) -> StoreResult<MailQuota> {
        let now = Time::now();
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(1));
        // `None` when counted; else the start of the window that is spent.
        let spent: Option<Option<Time>> = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let counted: Option<i32> = sqlx::query_scalar(
                "INSERT INTO verify_mail_windows AS w (user_id, window_start, sent) VALUES ($1, $2, 1) \
                 ON CONFLICT (user_id) DO UPDATE SET \
                 window_start = CASE WHEN w.window_start <= $3 THEN $2 ELSE w.window_start END, \
                 sent = CASE WHEN w.window_start <= $3 THEN 1 ELSE w.sent + 1 END \
                 WHERE w.window_start <= $3 OR w.sent < $4 RETURNING sent",
            )
            .bind(user_id)
            .bind(now)
            .bind(Time(now.0 - window))
            .bind(i32::try_from(max).unwrap_or(i32::MAX))
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
            let spent = match counted {
                Some(_) => None,
                None => Some(
                    sqlx::query_scalar("SELECT window_start FROM verify_mail_windows WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(classify)?,
                ),
            };
            tx.commit().await?;
            spent
        });
        Ok(match spent {
            None => MailQuota::Allowed,
            Some(start) => {
                let left = start.map(|s: Time| (s.0 + window - now.0).to_std().unwrap_or_default());
                MailQuota::Spent { retry_after: left.unwrap_or_default() }
            }
        })
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
