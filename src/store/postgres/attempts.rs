//! Failed-login counting and bulk user creation on PostgreSQL. Mirrors the SQLite versions
//! in `store/sqlite/`; the lockout rules are `store::attempts::decide`.

use std::time::Duration;

use chrono::Utc;

use super::{PgStore, classify, now};
use crate::store::attempts::{Count, Decision, decide, ordered};
use crate::store::{LoginAttempt, NewUser, StoreResult};

impl PgStore {
    /// Each key's row is created if missing, or locked by the upsert, for the
    /// read-decide-write: parallel reservations on any instance queue on those row locks
    /// (taken in one order, see `ordered`) and see distinct counts.
    pub(super) async fn reserve_attempt(&self, keys: &[String], max_failures: u32, lockout: Duration) -> StoreResult<LoginAttempt> {
        let now = Utc::now().timestamp_millis();
        let keys = ordered(keys);
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let mut current = Vec::with_capacity(keys.len());
        for key in &keys {
            // One statement creates or locks the row and reads it: with an INSERT then a
            // SELECT, a completed login deleting the row in between left the SELECT with
            // nothing (a 500). A row created here is a count of zero.
            let (failures, window_start, locked_until): (i32, i64, Option<i64>) = sqlx::query_as(
                "INSERT INTO login_attempts (login_key, failures, window_start) VALUES ($1, 0, $2) \
                 ON CONFLICT (login_key) DO UPDATE SET login_key = EXCLUDED.login_key \
                 RETURNING failures, window_start, locked_until",
            )
            .bind(key)
            .bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
            current.push(Some(Count { failures: i64::from(failures), window_start, locked_until }));
        }
        match decide(&current, now, max_failures, lockout) {
            // Dropped without commit: rows created above for the check go with it.
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
                    sqlx::query("UPDATE login_attempts SET failures = $2, window_start = $3, locked_until = $4 WHERE login_key = $1")
                        .bind(key)
                        .bind(i32::try_from(count.failures).unwrap_or(i32::MAX))
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

    /// One statement, one row lock per key: never a lock held while waiting for another.
    pub(super) async fn clear_attempts(&self, keys: &[String]) -> StoreResult<()> {
        for key in ordered(keys) {
            sqlx::query("DELETE FROM login_attempts WHERE login_key = $1").bind(key).execute(&self.pool).await.map_err(classify)?;
        }
        Ok(())
    }

    /// Every user or none, in one transaction, with two array-bound statements (UNNEST)
    /// instead of one round trip per row.
    pub(super) async fn insert_users(&self, users: Vec<NewUser>) -> StoreResult<usize> {
        let now = now();
        let count = users.len();
        let (mut ids, mut names, mut name_keys, mut emails, mut email_keys, mut hashes) =
            (Vec::with_capacity(count), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut role_users, mut roles) = (Vec::new(), Vec::new());
        for user in users {
            for role in user.roles {
                role_users.push(user.id);
                roles.push(role);
            }
            ids.push(user.id);
            names.push(user.username);
            name_keys.push(user.username_key);
            emails.push(user.email);
            email_keys.push(user.email_key);
            hashes.push(user.password_hash);
        }
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query(
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) \
             SELECT u.*, $7, $7 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u",
        )
        .bind(&ids)
        .bind(&names)
        .bind(&name_keys)
        .bind(&emails)
        .bind(&email_keys)
        .bind(&hashes)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        sqlx::query("INSERT INTO user_roles (user_id, role) SELECT * FROM UNNEST($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING")
            .bind(&role_users)
            .bind(&roles)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(count)
    }
}
