//! Failed-login counting and bulk user creation on PostgreSQL. Mirrors the SQLite versions
//! in `store/sqlite.rs`.

use std::time::Duration;

use chrono::Utc;

use super::{PgStore, classify, now};
use crate::store::{LoginAttempt, NewUser, StoreResult};

impl PgStore {
    /// The row is created if missing, or locked (the upsert's row lock), for the read-decide-write:
    /// parallel reservations on any instance queue on that row lock and see distinct counts.
    pub(super) async fn reserve_attempt(&self, login_key: &str, max_failures: u32, lockout: Duration) -> StoreResult<LoginAttempt> {
        let now = Utc::now().timestamp_millis();
        let lockout_ms = i64::try_from(lockout.as_millis()).unwrap_or(i64::MAX / 2);
        let mut tx = self.pool.begin().await.map_err(classify)?;
        // One statement creates or locks the row and reads it: with a separate insert and
        // `SELECT ... FOR UPDATE`, a completed login's DELETE in between left nothing to read.
        let (failures, window_start, locked_until): (i32, i64, Option<i64>) = sqlx::query_as(
            "INSERT INTO login_attempts (login_key, failures, window_start) VALUES ($1, 0, $2) \
             ON CONFLICT (login_key) DO UPDATE SET login_key = excluded.login_key \
             RETURNING failures, window_start, locked_until",
        )
        .bind(login_key)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(classify)?;
        if let Some(until) = locked_until
            && until > now
        {
            return Ok(LoginAttempt::Locked { retry_after: Duration::from_millis((until - now).unsigned_abs()) });
        }
        let (failures, window_start) =
            if locked_until.is_none() && now - window_start <= lockout_ms { (i64::from(failures), window_start) } else { (0, now) };
        let failures = failures + 1;
        let max = i64::from(max_failures);
        if failures > max {
            sqlx::query("UPDATE login_attempts SET locked_until = $2 WHERE login_key = $1")
                .bind(login_key)
                .bind(now + lockout_ms)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.commit().await.map_err(classify)?;
            return Ok(LoginAttempt::Locked { retry_after: lockout });
        }
        let locked_until = (failures == max).then_some(now + lockout_ms);
        sqlx::query("UPDATE login_attempts SET failures = $2, window_start = $3, locked_until = $4 WHERE login_key = $1")
            .bind(login_key)
            .bind(i32::try_from(failures).unwrap_or(i32::MAX))
            .bind(window_start)
            .bind(locked_until)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(LoginAttempt::Allowed)
    }

    pub(super) async fn clear_attempts(&self, login_key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_attempts WHERE login_key = $1").bind(login_key).execute(&self.pool).await.map_err(classify)?;
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
