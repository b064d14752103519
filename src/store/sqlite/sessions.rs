//! Sessions and their rotated refresh tokens on SQLite. Mirrors `store/postgres/sessions.rs`.

use super::*;

fn session_from_row(row: &SqliteRow) -> Result<Session, sqlx::Error> {
    Ok(Session {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        created_at: millis_to_time(row.try_get("created_at")?),
        last_used_at: millis_to_time(row.try_get("last_used_at")?),
        expires_at: millis_to_time(row.try_get("expires_at")?),
        user_agent: row.try_get("user_agent")?,
        ip: row.try_get("ip")?,
    })
}

/// The first write of a rotation: marks the session used, only while it is live (see
/// [`crate::store::sessions::LIVE_SESSION_TOUCH`]); false when it is not.
async fn touch_live_session(tx: &mut Transaction<'static, Sqlite>, session_id: Uuid, now: i64) -> StoreResult<bool> {
    let done =
        sqlx::query(crate::store::sessions::LIVE_SESSION_TOUCH).bind(session_id).bind(now).execute(&mut **tx).await.map_err(classify)?;
    Ok(done.rows_affected() == 1)
}

impl SqliteStore {
    pub(super) async fn insert_session(&self, session: NewSession) -> StoreResult<Session> {
        let now = now_ms();
        let (_writer, mut tx) = self.write().await?;
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip) \
             VALUES ($1, $2, $3, $3, $4, $5, $6)",
        )
        .bind(session.id)
        .bind(session.user_id)
        .bind(now)
        .bind(session.expires_at.timestamp_millis())
        .bind(&session.user_agent)
        .bind(&session.ip)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
            .bind(&session.refresh_hash)
            .bind(session.id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(Session {
            id: session.id,
            user_id: session.user_id,
            created_at: millis_to_time(now),
            last_used_at: millis_to_time(now),
            expires_at: session.expires_at,
            user_agent: session.user_agent,
            ip: session.ip,
        })
    }

    pub(super) async fn check_session_live(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        let row = sqlx::query(
            "SELECT 1 FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.disabled = 0",
        )
        .bind(session_id)
        .bind(user_id)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        Ok(row.is_some())
    }

    pub(super) async fn fetch_live_session_user(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.disabled = 0"
        ))
        .bind(session_id)
        .bind(user_id)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(user_from_row).transpose().map_err(classify)
    }

    pub(super) async fn fetch_live_sessions(&self, user_id: Uuid) -> StoreResult<Vec<Session>> {
        let rows = sqlx::query(
            "SELECT id, user_id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at, id",
        )
        .bind(user_id)
        .bind(now_ms())
        .fetch_all(&self.pool)
        .await
        .map_err(classify)?;
        rows.iter().map(session_from_row).collect::<Result<_, _>>().map_err(classify)
    }

    pub(super) async fn revoke_one_session(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        let now = now_ms();
        let done =
            sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3")
                .bind(session_id)
                .bind(user_id)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    pub(super) async fn revoke_sessions_of(&self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL AND id IS NOT $2")
            .bind(user_id)
            .bind(keep)
            .bind(now_ms())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub(super) async fn fetch_refresh_record(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        let row = sqlx::query(concat!(
            "SELECT t.token_hash, t.session_id, t.rotated_at, s.user_id, s.expires_at, s.revoked_at, ",
            user_columns!(),
            " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id \
                 WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        let Some(row) = row else { return Ok(None) };
        let record = (|| -> Result<RefreshRecord, sqlx::Error> {
            Ok(RefreshRecord {
                token_hash: row.try_get("token_hash")?,
                session_id: row.try_get("session_id")?,
                user_id: row.try_get("user_id")?,
                rotated_at: time_or_none(row.try_get("rotated_at")?),
                session_expires_at: millis_to_time(row.try_get("expires_at")?),
                session_revoked: row.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
                user: user_from_row(&row)?,
            })
        })()
        .map_err(classify)?;
        Ok(Some(record))
    }

    pub(super) async fn rotate_refresh_token(&self, session_id: Uuid, old_hash: &[u8], new_hash: &[u8]) -> StoreResult<bool> {
        let now = now_ms();
        // BEGIN IMMEDIATE: a revocation committed after the token was read is seen here.
        let (_writer, mut tx) = self.write().await?;
        if !touch_live_session(&mut tx, session_id, now).await? {
            return Ok(false);
        }
        let rotated =
            sqlx::query("UPDATE refresh_tokens SET rotated_at = $3 WHERE token_hash = $1 AND session_id = $2 AND rotated_at IS NULL")
                .bind(old_hash)
                .bind(session_id)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        if rotated.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
            .bind(new_hash)
            .bind(session_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(true)
    }

    pub(super) async fn fetch_live_refresh_hash(&self, session_id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT token_hash FROM refresh_tokens WHERE session_id = $1 AND rotated_at IS NULL")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)
    }
}
