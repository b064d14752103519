//! Pruning on PostgreSQL: each batch skips the rows a request holds (see `Statements`).

use chrono::{DateTime, Utc};

use super::{PgStore, classify};
use crate::store::StoreResult;
use crate::store::prune::{BATCH, PruneCutoffs, Pruned, Statements};

/// A bound value of a pruning statement.
#[derive(Clone, Copy)]
enum Bind {
    Time(DateTime<Utc>),
    Millis(i64),
}

impl PgStore {
    pub(super) async fn delete_spent(&self, cutoffs: &PruneCutoffs) -> StoreResult<Pruned> {
        let sql = Statements::new("FOR UPDATE SKIP LOCKED");
        let now = Bind::Time(cutoffs.now);
        let window = Bind::Millis(cutoffs.window_before.timestamp_millis());
        Ok(Pruned {
            sessions: self.in_batches(&sql.sessions, &[Bind::Time(cutoffs.expired_before), Bind::Time(cutoffs.revoked_before)]).await?,
            login_attempts: self.in_batches(&sql.login_attempts, &[window, Bind::Millis(cutoffs.now.timestamp_millis())]).await?,
            email_tokens: self.in_batches(&sql.email_tokens, &[now]).await?,
            mfa_challenges: self.in_batches(&sql.mfa_challenges, &[now]).await?,
        })
    }

    /// Runs `sql` with `binds` then [`BATCH`] until a run deletes fewer than a batch.
    async fn in_batches(&self, sql: &str, binds: &[Bind]) -> StoreResult<u64> {
        let mut deleted = 0;
        loop {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                query = match *bind {
                    Bind::Time(at) => query.bind(at),
                    Bind::Millis(ms) => query.bind(ms),
                };
            }
            let done = query.bind(BATCH).execute(&self.pool).await.map_err(classify)?;
            deleted += done.rows_affected();
            if done.rows_affected() < BATCH.unsigned_abs() {
                return Ok(deleted);
            }
        }
    }
}
