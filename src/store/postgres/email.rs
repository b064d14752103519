//! Address changes on PostgreSQL: set at once, or pending until the mailed link is
//! followed; and the hourly count of the verification mails an account causes.

use std::time::Duration;

use uuid::Uuid;

use super::{PgStore, classify, now};
use crate::store::{EmailChange, MailQuota, StoreError, StoreResult, User};

impl PgStore {
    pub(super) async fn update_email(&self, id: Uuid, change: EmailChange) -> StoreResult<User> {
        // A new address is unverified; the same address (any case) keeps its state.
        let done = sqlx::query(
            "UPDATE users SET email = $2, email_key = $3, \
             email_verified = CASE WHEN email_key IS NOT DISTINCT FROM $3 THEN email_verified ELSE false END, \
             pending_email = NULL, pending_email_key = NULL, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(&change.email)
        .bind(&change.email_key)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(classify)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.fetch_user(id).await?.ok_or(StoreError::NotFound)
    }

    pub(super) async fn store_pending_email(&self, id: Uuid, change: Option<EmailChange>) -> StoreResult<User> {
        let (email, key) = change.map(|c| (c.email, c.email_key)).unwrap_or_default();
        let done = sqlx::query("UPDATE users SET pending_email = $2, pending_email_key = $3, updated_at = $4 WHERE id = $1")
            .bind(id)
            .bind(email)
            .bind(key)
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.fetch_user(id).await?.ok_or(StoreError::NotFound)
    }

    /// One upsert: the row lock of ON CONFLICT orders parallel requests of any instance, and
    /// its WHERE refuses the count past `max` (then no row comes back).
    pub(super) async fn count_verify_mail(&self, user_id: Uuid, max: u32, window: Duration) -> StoreResult<MailQuota> {
        let now = now();
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(1));
        let counted: Option<i32> = sqlx::query_scalar(
            "INSERT INTO verify_mail_windows AS w (user_id, window_start, sent) VALUES ($1, $2, 1) \
             ON CONFLICT (user_id) DO UPDATE SET \
             window_start = CASE WHEN w.window_start <= $3 THEN $2 ELSE w.window_start END, \
             sent = CASE WHEN w.window_start <= $3 THEN 1 ELSE w.sent + 1 END \
             WHERE w.window_start <= $3 OR w.sent < $4 RETURNING sent",
        )
        .bind(user_id)
        .bind(now)
        .bind(now - window)
        .bind(i32::try_from(max).unwrap_or(i32::MAX))
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        if counted.is_some() {
            return Ok(MailQuota::Allowed);
        }
        let start: Option<chrono::DateTime<chrono::Utc>> =
            sqlx::query_scalar("SELECT window_start FROM verify_mail_windows WHERE user_id = $1")
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        let left = start.map(|s| (s + window - now).to_std().unwrap_or_default()).unwrap_or_default();
        Ok(MailQuota::Spent { retry_after: left })
    }
}
