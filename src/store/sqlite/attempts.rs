//! Failed-login counting on SQLite. Mirrors `store/postgres/attempts.rs`.

use super::*;

impl SqliteStore {
    /// See [`Store::reserve_login_attempt`]: BEGIN IMMEDIATE makes the read-decide-write atomic.
    pub(super) async fn reserve_attempt(&self, login_key: &str, max_failures: u32, lockout: Duration) -> StoreResult<LoginAttempt> {
        let now = now_ms();
        let lockout_ms = i64::try_from(lockout.as_millis()).unwrap_or(i64::MAX / 2);
        // BEGIN IMMEDIATE: the whole read-decide-write below holds SQLite's one write lock.
        let (_writer, mut tx) = self.write().await?;
        let row: Option<(i64, i64, Option<i64>)> =
            sqlx::query_as("SELECT failures, window_start, locked_until FROM login_attempts WHERE login_key = $1")
                .bind(login_key)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
        if let Some((_, _, Some(until))) = row
            && until > now
        {
            return Ok(LoginAttempt::Locked { retry_after: Duration::from_millis((until - now).unsigned_abs()) });
        }
        let (failures, window_start) = match row {
            Some((failures, start, None)) if now - start <= lockout_ms => (failures, start),
            _ => (0, now),
        };
        let failures = failures + 1;
        let max = i64::from(max_failures);
        if failures > max {
            // Only reachable when a lock was cleared by hand; lock again from now.
            let until = now + lockout_ms;
            sqlx::query("UPDATE login_attempts SET locked_until = $2 WHERE login_key = $1")
                .bind(login_key)
                .bind(until)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.commit().await.map_err(classify)?;
            return Ok(LoginAttempt::Locked { retry_after: lockout });
        }
        let locked_until = (failures == max).then_some(now + lockout_ms);
        sqlx::query(
            "INSERT INTO login_attempts (login_key, failures, window_start, locked_until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (login_key) DO UPDATE SET failures = $2, window_start = $3, locked_until = $4",
        )
        .bind(login_key)
        .bind(failures)
        .bind(window_start)
        .bind(locked_until)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(LoginAttempt::Allowed)
    }
}
