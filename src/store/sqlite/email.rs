//! Address changes on SQLite: set at once, or pending until the mailed link is followed;
//! and the hourly count of the verification mails an account causes.

use super::*;
use crate::store::MailQuota;

impl SqliteStore {
    pub(super) async fn replace_email(&self, id: Uuid, change: EmailChange) -> StoreResult<User> {
        // A new address is unverified; the same address (any case) keeps its state.
        let done = sqlx::query(
            "UPDATE users SET email = $2, email_key = $3, \
             email_verified = CASE WHEN email_key IS $3 THEN email_verified ELSE 0 END, \
             pending_email = NULL, pending_email_key = NULL, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(&change.email)
        .bind(&change.email_key)
        .bind(now_ms())
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
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.fetch_user(id).await?.ok_or(StoreError::NotFound)
    }

    /// Read and count under SQLite's write lock: parallel requests see each other's counts.
    pub(super) async fn count_verify_mail(&self, user_id: Uuid, max: u32, window: Duration) -> StoreResult<MailQuota> {
        let now = now_ms();
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2);
        let (_writer, mut tx) = self.write().await?;
        let current: Option<(i64, i64)> = sqlx::query_as("SELECT window_start, sent FROM verify_mail_windows WHERE user_id = $1")
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
        match current {
            Some((start, sent)) if start > now - window_ms && sent >= i64::from(max) => {
                let left = u64::try_from(start + window_ms - now).unwrap_or(0);
                return Ok(MailQuota::Spent { retry_after: Duration::from_millis(left) });
            }
            Some((start, _)) if start > now - window_ms => {
                sqlx::query("UPDATE verify_mail_windows SET sent = sent + 1 WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
            _ => {
                sqlx::query("INSERT OR REPLACE INTO verify_mail_windows (user_id, window_start, sent) VALUES ($1, $2, 1)")
                    .bind(user_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
        }
        tx.commit().await.map_err(classify)?;
        Ok(MailQuota::Allowed)
    }
}
