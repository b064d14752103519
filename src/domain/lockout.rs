//! The failed-login rule, pure: given the stored counts of every key of one attempt, refuse
//! or count. The store runs it between its reads and writes of the counts, in one
//! transaction (see [`crate::store::Store::reserve_login_attempt`]).

use std::time::Duration;

/// One key's count, as stored. Times are unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    pub failures: i64,
    pub window_start: i64,
    pub locked_until: Option<i64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Refused, nothing to write.
    Locked { retry_after: Duration },
    /// Refused, and the keys at these positions lock again until `locked_until`: a count
    /// past the limit whose lock was cleared by hand.
    Relock { retry_after: Duration, positions: Vec<usize>, locked_until: i64 },
    /// Counted: the new count of every key, in the order given.
    Allowed(Vec<Count>),
}

/// The rules of [`crate::store::Store::reserve_login_attempt`], over every key at once: a lock on
/// any key refuses the attempt; otherwise each key's count goes up by one.
pub fn decide(current: &[Option<Count>], now: i64, max_failures: u32, lockout: Duration) -> Decision {
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
pub fn ordered(keys: &[String]) -> Vec<&str> {
    let mut keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
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
