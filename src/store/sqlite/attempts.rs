//! Failed-login counting on SQLite. Mirrors `store/postgres/attempts.rs`; the rules are
//! `store::attempts::decide`.

use super::*;
use crate::store::attempts::{Count, Decision, decide, ordered};

impl SqliteStore {
    /// See [`Store::reserve_login_attempt`]: BEGIN IMMEDIATE makes the read-decide-write of
    /// every key one atomic step.
    pub(super) async fn reserve_attempt(&self, keys: &[String], max_failures: u32, lockout: Duration) -> StoreResult<LoginAttempt> {
        let now = now_ms();
        let keys = ordered(keys);
        // BEGIN IMMEDIATE: the whole read-decide-write below holds SQLite's one write lock.
        let (_writer, mut tx) = self.write().await?;
        let mut current = Vec::with_capacity(keys.len());
        for key in &keys {
            let row: Option<(i64, i64, Option<i64>)> =
                sqlx::query_as("SELECT failures, window_start, locked_until FROM login_attempts WHERE login_key = $1")
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(classify)?;
            current.push(row.map(|(failures, window_start, locked_until)| Count { failures, window_start, locked_until }));
        }
        match decide(&current, now, max_failures, lockout) {
            Decision::Locked { retry_after } => Ok(LoginAttempt::Locked { retry_after }),
            Decision::Relock { retry_after, positions, locked_until } => {
                for position in positions {
                    sqlx::query("UPDATE login_attempts SET locked_until = $2 WHERE login_key = $1")
                        .bind(keys[position])
                        .bind(locked_until)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                }
                tx.commit().await.map_err(classify)?;
                Ok(LoginAttempt::Locked { retry_after })
            }
            Decision::Allowed(next) => {
                for (key, count) in keys.iter().zip(next) {
                    sqlx::query(
                        "INSERT INTO login_attempts (login_key, failures, window_start, locked_until) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (login_key) DO UPDATE SET failures = $2, window_start = $3, locked_until = $4",
                    )
                    .bind(key)
                    .bind(count.failures)
                    .bind(count.window_start)
                    .bind(count.locked_until)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                }
                tx.commit().await.map_err(classify)?;
                Ok(LoginAttempt::Allowed)
            }
        }
    }

    pub(super) async fn clear_attempts(&self, keys: &[String]) -> StoreResult<()> {
        for key in ordered(keys) {
            sqlx::query("DELETE FROM login_attempts WHERE login_key = $1").bind(key).execute(&self.pool).await.map_err(classify)?;
        }
        Ok(())
    }
}
