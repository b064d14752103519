//! Failed-login counting: the rows of the keys one attempt is counted under, read and
//! written in one atomic transaction; the rule is `crate::domain::lockout::decide`.

use std::time::Duration;

use chrono::Utc;

use super::db::{classify, on_db};
use super::{Store, StoreResult};
use crate::domain::lockout::{Count, Decision, decide, ordered};

/// The answer to [`Store::reserve_login_attempt`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginAttempt {
    /// One password check may run; it is already counted as a failure until
    /// [`Store::clear_login_failures`] says otherwise.
    Allowed,
    /// Over the limit: refuse without checking the password, for this long.
    Locked { retry_after: Duration },
}

impl Store {
    /// Reserves one password check counted under every one of `keys` (opaque keys: the
    /// typed login name, and the account it names), counting it as a failure in advance.
    /// ATOMIC: the reads, the increments and the lock decision of all the keys happen in one
    /// write transaction (SQLite: `BEGIN IMMEDIATE` holds the one write lock; PostgreSQL: the
    /// upserts' row locks, taken in [`ordered`] order), so that N parallel callers see N
    /// distinct counts and at most `max_failures` of them are `Allowed` per lockout window
    /// on any key, across all instances.
    ///
    /// Rules, per key: while `locked_until` is in the future the answer is `Locked` with the
    /// time left (the longest over the keys), and nothing is counted. Otherwise, when the
    /// window began more than `lockout` ago (or the lock just ended) the count starts over at
    /// zero. Each count is then incremented; the `max_failures`-th reservation on a key also
    /// sets its `locked_until = now + lockout` (it is still `Allowed`: a completed login
    /// clears the lock), and a reservation beyond `max_failures` answers `Locked`.
    pub async fn reserve_login_attempt(&self, keys: &[String], max_failures: u32, lockout: Duration) -> StoreResult<LoginAttempt> {
        let now = Utc::now().timestamp_millis();
        let keys = ordered(keys);
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let mut rows = Vec::with_capacity(keys.len());
            for key in &keys {
                // One statement creates or locks the row and reads it: with an INSERT then a
                // SELECT, a completed login deleting the row in between left the SELECT with
                // nothing (a 500). A row created here is a count of zero.
                let (failures, window_start, locked_until): (i32, i64, Option<i64>) = sqlx::query_as(
                    "INSERT INTO login_attempts (login_key, failures, window_start) VALUES ($1, 0, $2) \
                     ON CONFLICT (login_key) DO UPDATE SET login_key = excluded.login_key \
                     RETURNING failures, window_start, locked_until",
                )
                .bind(key)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(classify)?;
                rows.push(Count { failures: i64::from(failures), window_start, locked_until });
            }
            let current: Vec<Option<Count>> = rows.iter().copied().map(Some).collect();
            let (answer, next): (_, Vec<(&str, Count)>) = match decide(&current, now, max_failures, lockout) {
                // Dropped without commit: rows created above for the check go with it.
                Decision::Locked { retry_after } => return Ok(LoginAttempt::Locked { retry_after }),
                Decision::Relock { retry_after, positions, locked_until } => {
                    let relocked = positions.into_iter().map(|p| (keys[p], Count { locked_until: Some(locked_until), ..rows[p] }));
                    (LoginAttempt::Locked { retry_after }, relocked.collect())
                }
                Decision::Allowed(next) => (LoginAttempt::Allowed, keys.iter().copied().zip(next).collect()),
            };
            for (key, count) in next {
                sqlx::query("UPDATE login_attempts SET failures = $2, window_start = $3, locked_until = $4 WHERE login_key = $1")
                    .bind(key)
                    .bind(i32::try_from(count.failures).unwrap_or(i32::MAX))
                    .bind(count.window_start)
                    .bind(count.locked_until)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
            tx.commit().await?;
            Ok(answer)
        })
    }

    /// Forgets the counts and any locks of `keys`: a completed login. One statement, one row
    /// lock per key: never a lock held while waiting for another.
    pub async fn clear_login_failures(&self, keys: &[String]) -> StoreResult<()> {
        for key in ordered(keys) {
            on_db!(&self.db, c => {
                sqlx::query("DELETE FROM login_attempts WHERE login_key = $1").bind(key).execute(&c.pool).await.map_err(classify)?;
            });
        }
        Ok(())
    }
}
