//! Browser sessions: sessions that a cookie names (the pages' sign-in), found by the
//! SHA-256 of the cookie's secret. Everything else about them (listing, revoking,
//! expiry) is what [`super::sessions`] does for every session.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::Time;
use super::db::{classify, on_db};
use super::users::user_columns;
use super::{Store, StoreResult, User};

/// A live browser session and its user.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BrowserSession {
    pub session_id: Uuid,
    #[sqlx(try_from = "Time")]
    pub last_used_at: DateTime<Utc>,
    /// When the user signed in, and with what (RFC 8176 values, space-separated).
    #[sqlx(try_from = "Time")]
    pub auth_time: DateTime<Utc>,
    pub amr: String,
    #[sqlx(flatten)]
    pub user: User,
}

impl Store {
    /// Makes a session a browser session: the cookie's hash names it, and it ends by
    /// `ends_at` at the latest.
    pub async fn attach_cookie(&self, session_id: Uuid, cookie_hash: &[u8], ends_at: DateTime<Utc>) -> StoreResult<()> {
        let ends_at = Time(ends_at);
        on_db!(&self.db, c => {
            sqlx::query(
                "UPDATE sessions SET cookie_hash = $2, expires_at = CASE WHEN expires_at > $3 THEN $3 ELSE expires_at END WHERE id = $1",
            )
            .bind(session_id)
            .bind(cookie_hash)
            .bind(ends_at)
            .execute(&c.pool)
            .await
            .map_err(classify)?;
        });
        Ok(())
    }

    /// The browser session a cookie names, while it is live: not revoked, not expired, not
    /// idle since `idle_since`, and its user enabled.
    pub async fn browser_session(&self, cookie_hash: &[u8], idle_since: DateTime<Utc>) -> StoreResult<Option<BrowserSession>> {
        on_db!(&self.db, c => sqlx::query_as(concat!(
            "SELECT s.id AS session_id, s.last_used_at, COALESCE(s.auth_time, s.created_at) AS auth_time, s.amr, ",
            user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.cookie_hash = $1 AND s.revoked_at IS NULL \
             AND s.expires_at > $2 AND s.last_used_at > $3 AND NOT u.disabled"
        ))
        .bind(cookie_hash)
        .bind(Time::now())
        .bind(Time(idle_since))
        .fetch_optional(&c.pool)
        .await
        .map_err(classify))
    }

    /// Records that a session was used now (what the idle timeout counts from).
    pub async fn touch_session(&self, session_id: Uuid) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("UPDATE sessions SET last_used_at = $2 WHERE id = $1").bind(session_id).bind(Time::now()).execute(&c.pool).await.map_err(classify)?;
        });
        Ok(())
    }
}
