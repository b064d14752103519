//! Pruning: what each table may lose, as the cutoffs `crate::retention` computes, deleted
//! in batches so that no delete holds a table for long.

use chrono::{DateTime, Utc};

use super::codec::Time;
use super::db::{classify, on_db};
use super::{Store, StoreResult};

/// Rows deleted per statement; a statement is repeated until it deletes fewer.
const BATCH: i64 = 1000;

/// What goes. Every row named here already answers exactly like a missing one.
#[derive(Debug, Clone, Copy)]
pub struct PruneCutoffs {
    /// Sessions that ended at or before this (their absolute end), with their refresh tokens.
    pub expired_before: DateTime<Utc>,
    /// Sessions revoked at or before this, with their refresh tokens.
    pub revoked_before: DateTime<Utc>,
    /// Login-attempt counts without a lock whose window began before this.
    pub window_before: DateTime<Utc>,
    /// Now: locks that ended, email tokens used or expired, MFA challenges,
    /// authorization codes and passkey ceremonies expired.
    pub now: DateTime<Utc>,
}

/// How many rows each pruning deleted (refresh tokens go with their sessions).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub sessions: u64,
    pub login_attempts: u64,
    pub email_tokens: u64,
    pub mfa_challenges: u64,
    pub authorization_codes: u64,
    pub passkey_ceremonies: u64,
    /// Org invitations past their end, whatever became of them.
    pub org_invitations: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.sessions
            + self.login_attempts
            + self.email_tokens
            + self.mfa_challenges
            + self.authorization_codes
            + self.passkey_ceremonies
            + self.org_invitations
    }
}

/// A bound value of a pruning statement.
#[derive(Clone, Copy)]
enum Bind {
    Time(Time),
    Millis(i64),
}

impl Store {
    /// Deletes the sessions (with their refresh tokens, which cascade), login-attempt
    /// counts, email tokens and MFA challenges past the cutoffs; see [`crate::retention`].
    pub async fn prune_spent(&self, cutoffs: &PruneCutoffs) -> StoreResult<Pruned> {
        let (now, now_ms) = (Bind::Time(cutoffs.now.into()), Bind::Millis(cutoffs.now.timestamp_millis()));
        let (expired, revoked) = (Bind::Time(cutoffs.expired_before.into()), Bind::Time(cutoffs.revoked_before.into()));
        let window = Bind::Millis(cutoffs.window_before.timestamp_millis());
        let unlocked_old = "(locked_until IS NULL AND window_start < $1) OR locked_until <= $2";
        Ok(Pruned {
            sessions: self.in_batches("sessions", "id", "expires_at <= $1 OR revoked_at <= $2", &[expired, revoked]).await?,
            login_attempts: self.in_batches("login_attempts", "login_key", unlocked_old, &[window, now_ms]).await?,
            email_tokens: self.in_batches("email_tokens", "token_hash", "used_at IS NOT NULL OR expires_at <= $1", &[now]).await?,
            mfa_challenges: self.in_batches("mfa_challenges", "token_hash", "expires_at <= $1", &[now]).await?,
            authorization_codes: self.in_batches("oauth_codes", "code_hash", "expires_at <= $1", &[now]).await?,
            passkey_ceremonies: self.in_batches("webauthn_ceremonies", "id", "expires_at <= $1", &[now]).await?,
            org_invitations: self.in_batches("org_invitations", "id", "expires_at <= $1", &[now]).await?,
        })
    }

    /// Deletes the rows of `table` (found by their `key`) where `spent` holds for `binds`,
    /// [`BATCH`] at a time, each batch one write transaction (on SQLite queued with the
    /// requests' writes), until a batch deletes fewer. PostgreSQL skips the rows a request
    /// holds (a rotation's session, a login's count): they are left for the next run instead
    /// of waited for, so no deadlock with a request that holds one row and wants another.
    async fn in_batches(&self, table: &str, key: &str, spent: &str, binds: &[Bind]) -> StoreResult<u64> {
        let (limit, lock) = (binds.len() + 1, self.db.pick("", " FOR UPDATE SKIP LOCKED"));
        let sql = format!("DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM {table} WHERE {spent} LIMIT ${limit}{lock})");
        let mut deleted = 0;
        loop {
            let done = on_db!(&self.db, c => {
                let mut tx = c.write().await?;
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                for bind in binds {
                    query = match *bind {
                        Bind::Time(at) => query.bind(at),
                        Bind::Millis(ms) => query.bind(ms),
                    };
                }
                let done = query.bind(BATCH).execute(&mut *tx).await.map_err(classify)?.rows_affected();
                tx.commit().await?;
                done
            });
            deleted += done;
            if done < BATCH.unsigned_abs() {
                return Ok(deleted);
            }
        }
    }
}
