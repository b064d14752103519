//! Failed-login counting: the lockout rule, once for both databases.

use std::time::Duration;

use chrono::Utc;

use super::db::{classify, on_db};
use super::{Store, StoreResult};

/// The answer to [`Store::reserve_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// One password check may run; it is already counted as a failure until
    /// [`Store::clear_login_failures`] says otherwise.
    Allowed,
    /// Over the limit: refuse without checking the password, for this long.
    Locked { retry_after: Duration },
}

/// What the reservation does with the row it read.
enum Decision {
    Answer(LoginAttempt),
    /// Lock again from now: only reachable when a lock was cleared by hand.
    Relock(i64),
    Count {
        failures: i32,
        window_start: i64,
        locked_until: Option<i64>,
    },
}

/// The rule, given the row as read (`failures, window_start, locked_until`, unix ms).
fn decide(row: (i32, i64, Option<i64>), now: i64, max_failures: u32, lockout: Duration) -> Decision {
    let lockout_ms = i64::try_from(lockout.as_millis()).unwrap_or(i64::MAX / 2);
    let (failures, window_start, locked_until) = row;
    if let Some(until) = locked_until
        && until > now
    {
        return Decision::Answer(LoginAttempt::Locked { retry_after: Duration::from_millis((until - now).unsigned_abs()) });
    }
    let (failures, window_start) =
        if locked_until.is_none() && now - window_start <= lockout_ms { (i64::from(failures), window_start) } else { (0, now) };
    let failures = failures + 1;
    let max = i64::from(max_failures);
    if failures > max {
        return Decision::Relock(now + lockout_ms);
    }
    let locked_until = (failures == max).then_some(now + lockout_ms);
    Decision::Count { failures: i32::try_from(failures).unwrap_or(i32::MAX), window_start, locked_until }
}

impl Store {
    /// Reserves one password check for `login_key` (an opaque key of the login string),
    /// counting it as a failure in advance. ATOMIC: the read, the increment and the lock
    /// decision happen in one write transaction whose first statement creates or locks the
    /// row (SQLite: `BEGIN IMMEDIATE` holds the one write lock; PostgreSQL: the upsert's row
    /// lock), so that N parallel callers see N distinct counts and at most `max_failures` of
    /// them are `Allowed` per lockout window, across all instances.
    ///
    /// Rules: while `locked_until` is in the future the answer is `Locked` with the time
    /// left. Otherwise, when the window began more than `lockout` ago (or the lock just
    /// ended) the count starts over at zero. The count is then incremented; the
    /// `max_failures`-th reservation also sets `locked_until = now + lockout` (it is still
    /// `Allowed`: a completed login clears the lock), and a reservation beyond
    /// `max_failures` answers `Locked` without touching the lock.
    pub async fn reserve_login_attempt(&self, login_key: &str, max_failures: u32, lockout: Duration) -> StoreResult<LoginAttempt> {
        let now = Utc::now().timestamp_millis();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            // One statement creates or locks the row and reads it: with an INSERT then a SELECT,
            // a completed login deleting the row in between left the SELECT with nothing (a 500).
            let row = sqlx::query_as(
                "INSERT INTO login_attempts (login_key, failures, window_start) VALUES ($1, 0, $2) \
                 ON CONFLICT (login_key) DO UPDATE SET login_key = excluded.login_key \
                 RETURNING failures, window_start, locked_until",
            )
            .bind(login_key)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
            let answer = match decide(row, now, max_failures, lockout) {
                // Dropping the transaction leaves the row as it was.
                Decision::Answer(answer) => return Ok(answer),
                Decision::Relock(until) => {
                    sqlx::query("UPDATE login_attempts SET locked_until = $2 WHERE login_key = $1")
                        .bind(login_key)
                        .bind(until)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    LoginAttempt::Locked { retry_after: lockout }
                }
                Decision::Count { failures, window_start, locked_until } => {
                    sqlx::query("UPDATE login_attempts SET failures = $2, window_start = $3, locked_until = $4 WHERE login_key = $1")
                        .bind(login_key)
                        .bind(failures)
                        .bind(window_start)
                        .bind(locked_until)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    LoginAttempt::Allowed
                }
            };
            tx.commit().await?;
            Ok(answer)
        })
    }

    /// Forgets the count and any lock of `login_key`: a completed login.
    pub async fn clear_login_failures(&self, login_key: &str) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("DELETE FROM login_attempts WHERE login_key = $1")
            .bind(login_key)
            .execute(&c.pool)
            .await
            .map_err(classify)?;
        });
        Ok(())
    }
}
