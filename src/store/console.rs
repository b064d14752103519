//! What the admin console reads besides the users themselves: the counts on its home page,
//! the roles in use (its role choices) and the usernames behind a page of audit events.

use std::collections::HashMap;

use sqlx::QueryBuilder;
use uuid::Uuid;

use super::codec::Time;
use super::db::{classify, on_db};
use super::{Store, StoreResult};

/// The service's state at a glance.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ConsoleCounts {
    pub users: i64,
    pub disabled_users: i64,
    /// Sessions not revoked and not expired (API and browser alike).
    pub active_sessions: i64,
    /// Since the time asked for: `login.succeeded` and `login.failed` events.
    pub sign_ins: i64,
    pub failed_sign_ins: i64,
}

impl Store {
    /// The console home's counts; sign-ins are counted from the audit trail since `since`.
    pub async fn console_counts(&self, since: chrono::DateTime<chrono::Utc>) -> StoreResult<ConsoleCounts> {
        let row: (i64, i64, i64, i64, i64) = on_db!(&self.db, c => sqlx::query_as(
            "SELECT (SELECT count(*) FROM users), \
                    (SELECT count(*) FROM users WHERE disabled), \
                    (SELECT count(*) FROM sessions WHERE revoked_at IS NULL AND expires_at > $1), \
                    (SELECT count(*) FROM audit_events WHERE type = 'login.succeeded' AND time >= $2), \
                    (SELECT count(*) FROM audit_events WHERE type = 'login.failed' AND time >= $2)",
        )
        .bind(Time::now())
        .bind(Time(since))
        .fetch_one(&c.pool)
        .await
        .map_err(classify)?);
        let (users, disabled_users, active_sessions, sign_ins, failed_sign_ins) = row;
        Ok(ConsoleCounts { users, disabled_users, active_sessions, sign_ins, failed_sign_ins })
    }

    /// Every role some user holds, sorted.
    pub async fn roles_in_use(&self) -> StoreResult<Vec<String>> {
        on_db!(&self.db, c => sqlx::query_scalar("SELECT DISTINCT role FROM user_roles ORDER BY role")
            .fetch_all(&c.pool)
            .await
            .map_err(classify))
    }

    /// The usernames of those of `ids` that still exist.
    pub async fn usernames(&self, ids: &[Uuid]) -> StoreResult<HashMap<Uuid, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows: Vec<(Uuid, String)> = on_db!(&self.db, c => {
            let mut sql = QueryBuilder::new("SELECT id, username FROM users WHERE id IN (");
            let mut list = sql.separated(", ");
            for id in ids {
                list.push_bind(*id);
            }
            sql.push(")");
            sql.build_query_as().fetch_all(&c.pool).await.map_err(classify)?
        });
        Ok(rows.into_iter().collect())
    }
}
