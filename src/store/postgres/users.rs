//! Users and their roles.

use sqlx::Row;
use sqlx::postgres::PgRow;

use super::{PgStore, classify, now};
use crate::store::{Credentials, NewUser, StoreError, StoreResult, User};
use uuid::Uuid;

pub(super) fn user_from_row(row: &PgRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        email: row.try_get("email")?,
        email_verified: row.try_get("email_verified")?,
        pending_email: row.try_get("pending_email")?,
        roles: row.try_get("roles")?,
        disabled: row.try_get("disabled")?,
        mfa_enabled: row.try_get("mfa_enabled")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

fn credentials(row: &PgRow) -> Result<Credentials, sqlx::Error> {
    Ok(Credentials {
        user: user_from_row(row)?,
        password_hash: row.try_get("password_hash")?,
        email_ever_verified: row.try_get("email_ever_verified")?,
    })
}

impl PgStore {
    pub(super) async fn fetch_user(&self, id: Uuid) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref().map(user_from_row).transpose().map_err(classify)
    }

    pub(super) async fn insert_user(&self, user: NewUser) -> StoreResult<User> {
        let now = now();
        let mut tx = self.pool.begin().await.map_err(classify)?;
        sqlx::query(
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(user.id)
        .bind(&user.username)
        .bind(&user.username_key)
        .bind(&user.email)
        .bind(&user.email_key)
        .bind(&user.password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
        sqlx::query("INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING")
            .bind(user.id)
            .bind(&user.roles)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        self.fetch_user(user.id).await?.ok_or(StoreError::NotFound)
    }

    pub(super) async fn fetch_credentials_by_login(&self, login_key: &str) -> StoreResult<Option<Credentials>> {
        // A username never holds '@' and an email always does, so at most one row matches.
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", u.password_hash, u.email_ever_verified FROM users u WHERE u.username_key = $1 OR u.email_key = $1"
        ))
        .bind(login_key)
        .fetch_optional(&self.pool)
        .await
        .map_err(classify)?;
        row.as_ref().map(credentials).transpose().map_err(classify)
    }

    pub(super) async fn fetch_credentials_by_id(&self, id: Uuid) -> StoreResult<Option<Credentials>> {
        let row = sqlx::query(concat!("SELECT ", user_columns!(), ", u.password_hash, u.email_ever_verified FROM users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref().map(credentials).transpose().map_err(classify)
    }

    pub(super) async fn update_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(hash)
            .bind(now())
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
