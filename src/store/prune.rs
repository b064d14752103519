//! Pruning: what each table may lose, as the cutoffs `crate::retention` computes, and the
//! statements both stores run, in batches so that no delete holds a table for long.

use chrono::{DateTime, Utc};

/// Rows deleted per statement; a store repeats a statement until it deletes fewer.
pub(crate) const BATCH: i64 = 1000;

/// What goes. Every row named here already answers exactly like a missing one.
#[derive(Debug, Clone, Copy)]
pub struct PruneCutoffs {
    /// Sessions that ended at or before this (their absolute end), with their refresh tokens.
    pub expired_before: DateTime<Utc>,
    /// Sessions revoked at or before this, with their refresh tokens.
    pub revoked_before: DateTime<Utc>,
    /// Login-attempt counts without a lock whose window began before this.
    pub window_before: DateTime<Utc>,
    /// Now: locks that ended, email tokens used or expired, MFA challenges expired.
    pub now: DateTime<Utc>,
}

/// How many rows each pruning deleted (refresh tokens go with their sessions).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub login_attempts: u64,
    pub email_tokens: u64,
    pub mfa_challenges: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.sessions + self.login_attempts + self.email_tokens + self.mfa_challenges
    }
}

/// One batch of each pruning. `lock` ends the inner SELECT: PostgreSQL passes
/// `FOR UPDATE SKIP LOCKED`, so that a row a request holds (a rotation's session, a login's
/// count) is left for the next run instead of waited for (no deadlock with a request that
/// holds one row and wants another); SQLite, whose writers take turns, passes "".
pub(crate) struct Statements {
    /// `$1` expired_before, `$2` revoked_before, `$3` BATCH. Refresh tokens cascade.
    pub sessions: String,
    /// `$1` window_before and `$2` now, both unix milliseconds; `$3` BATCH.
    pub login_attempts: String,
    /// `$1` now, `$2` BATCH.
    pub email_tokens: String,
    /// `$1` now, `$2` BATCH.
    pub mfa_challenges: String,
}

impl Statements {
    pub fn new(lock: &str) -> Self {
        Self {
            sessions: format!(
                "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions \
                 WHERE expires_at <= $1 OR revoked_at <= $2 LIMIT $3 {lock})"
            ),
            login_attempts: format!(
                "DELETE FROM login_attempts WHERE login_key IN (SELECT login_key FROM login_attempts \
                 WHERE (locked_until IS NULL AND window_start < $1) OR locked_until <= $2 LIMIT $3 {lock})"
            ),
            email_tokens: format!(
                "DELETE FROM email_tokens WHERE token_hash IN (SELECT token_hash FROM email_tokens \
                 WHERE used_at IS NOT NULL OR expires_at <= $1 LIMIT $2 {lock})"
            ),
            mfa_challenges: format!(
                "DELETE FROM mfa_challenges WHERE token_hash IN (SELECT token_hash FROM mfa_challenges \
                 WHERE expires_at <= $1 LIMIT $2 {lock})"
            ),
        }
    }
}
