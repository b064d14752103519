//! Failed-login counting: given the counts of the keys one attempt is counted under (the
//! typed name, and the account it names), refuse or count it, once for both databases.

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

/// One key's count, as stored. Times are unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count {
    pub failures: i64,
    pub window_start: i64,
    pub locked_until: Option<i64>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Refused, nothing to write.
    Locked { retry_after: Duration },
    /// Refused, and the keys at these positions lock again until `locked_until`: a count
    /// past the limit whose lock was cleared by hand.
    Relock { retry_after: Duration, positions: Vec<usize>, locked_until: i64 },
    /// Counted: the new count of every key, in the order given.
    Allowed(Vec<Count>),
}

/// The rules of [`Store::reserve_login_attempt`], over every key at once: a lock on
/// any key refuses the attempt; otherwise each key's count goes up by one.
pub(crate) fn decide(current: &[Option<Count>], now: i64, max_failures: u32, lockout: Duration) -> Decision {
    let lockout_ms = i64::try_from(lockout.as_millis()).unwrap_or(i64::MAX / 2);
    let locked_for = current.iter().flatten().filter_map(|c| c.locked_until).filter(|until| *until > now).map(|until| until - now).max();
    if let Some(left) = locked_for {
        return Decision::Locked { retry_after: Duration::from_millis(left.unsigned_abs()) };
    }
    let max = i64::from(max_failures);
    let next: Vec<Count> = current
        .iter()
        .map(|count| {
            let (failures, window_start) = match count {
                Some(c) if c.locked_until.is_none() && now - c.window_start <= lockout_ms => (c.failures, c.window_start),
                _ => (0, now),
            };
            let failures = failures + 1;
            Count { failures, window_start, locked_until: (failures == max).then_some(now + lockout_ms) }
        })
        .collect();
    let positions: Vec<usize> = next.iter().enumerate().filter(|(_, c)| c.failures > max).map(|(i, _)| i).collect();
    if !positions.is_empty() {
        return Decision::Relock { retry_after: lockout, positions, locked_until: now + lockout_ms };
    }
    Decision::Allowed(next)
}

/// The keys in one fixed order, without repeats: every transaction locks rows in that
/// order, so two attempts on overlapping keys queue instead of deadlocking.
pub(crate) fn ordered(keys: &[String]) -> Vec<&str> {
    let mut keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
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

#[cfg(test)]
mod tests {
    use super::*;

    const LOCKOUT: Duration = Duration::from_secs(900);

    fn count(failures: i64, window_start: i64, locked_until: Option<i64>) -> Option<Count> {
        Some(Count { failures, window_start, locked_until })
    }

    #[test]
    fn a_lock_on_any_key_refuses_with_the_longest_time_left() {
        let decision = decide(&[count(1, 0, None), count(3, 0, Some(5_000)), count(3, 0, Some(9_000))], 1_000, 3, LOCKOUT);

        assert_eq!(decision, Decision::Locked { retry_after: Duration::from_secs(8) });
    }

    #[test]
    fn every_key_counts_and_the_one_reaching_the_limit_locks() {
        let Decision::Allowed(next) = decide(&[None, count(2, 500, None)], 1_000, 3, LOCKOUT) else { panic!("allowed") };

        assert_eq!(next[0], Count { failures: 1, window_start: 1_000, locked_until: None });
        assert_eq!(next[1], Count { failures: 3, window_start: 500, locked_until: Some(901_000) });
    }

    #[test]
    fn an_old_window_or_an_ended_lock_starts_over() {
        let Decision::Allowed(next) = decide(&[count(2, 0, None), count(3, 0, Some(500))], 1_000_000, 3, LOCKOUT) else {
            panic!("allowed")
        };

        assert!(next.iter().all(|c| c.failures == 1 && c.window_start == 1_000_000));
    }

    #[test]
    fn a_count_past_the_limit_without_a_lock_locks_again() {
        let decision = decide(&[count(1, 900, None), count(3, 900, None)], 1_000, 3, LOCKOUT);

        assert_eq!(decision, Decision::Relock { retry_after: LOCKOUT, positions: vec![1], locked_until: 901_000 });
    }

    #[test]
    fn keys_are_ordered_once_each() {
        let keys = ["b".to_string(), "a".to_string(), "b".to_string()];

        assert_eq!(ordered(&keys), ["a", "b"]);
    }
}
