//! Pruning on SQLite: each batch is one write transaction, queued with the requests' writes.

use super::*;
use crate::store::prune::{BATCH, PruneCutoffs, Pruned, Statements};

impl SqliteStore {
    pub(super) async fn delete_spent(&self, cutoffs: &PruneCutoffs) -> StoreResult<Pruned> {
        let sql = Statements::new("");
        let now = cutoffs.now.timestamp_millis();
        Ok(Pruned {
            sessions: self
                .in_batches(&sql.sessions, &[cutoffs.expired_before.timestamp_millis(), cutoffs.revoked_before.timestamp_millis()])
                .await?,
            login_attempts: self.in_batches(&sql.login_attempts, &[cutoffs.window_before.timestamp_millis(), now]).await?,
            email_tokens: self.in_batches(&sql.email_tokens, &[now]).await?,
            mfa_challenges: self.in_batches(&sql.mfa_challenges, &[now]).await?,
        })
    }

    /// Runs `sql` with `binds` then [`BATCH`] until a run deletes fewer than a batch.
    async fn in_batches(&self, sql: &str, binds: &[i64]) -> StoreResult<u64> {
        let mut deleted = 0;
        loop {
            let (_writer, mut tx) = self.write().await?;
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for bind in binds {
                query = query.bind(*bind);
            }
            let done = query.bind(BATCH).execute(&mut *tx).await.map_err(classify)?;
            tx.commit().await.map_err(classify)?;
            deleted += done.rows_affected();
            if done.rows_affected() < BATCH.unsigned_abs() {
                return Ok(deleted);
            }
        }
    }
}
