//! Users and their roles: creation (one or a batch), lookups for login, email and password.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{Roles, Time};
use super::db::{classify, on_db};
use super::{EventType, Store, StoreError, StoreResult};
use crate::domain::{Email, Role, Username};

/// A user as the API shows it: never a password hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    #[schema(example = "alice")]
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// An address change waiting for the link mailed to it; `email` stays as it is until then.
    #[schema(example = json!(null))]
    pub pending_email: Option<String>,
    /// Always holds `user`; `admin` and custom roles besides.
    #[sqlx(try_from = "Roles")]
    pub roles: Vec<String>,
    pub disabled: bool,
    pub mfa_enabled: bool,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == crate::domain::Role::ADMIN)
    }
}

/// The columns of a [`User`] `u`, for a select list.
macro_rules! user_columns {
    () => {
        concat!(
            "u.id, u.username, u.email, u.email_verified, u.pending_email, u.disabled, u.mfa_enabled, u.created_at, u.updated_at, ",
            $crate::store::codec::roles_column!()
        )
    };
}
pub(super) use user_columns;

/// A user with its password hash, for the login path only.
#[derive(sqlx::FromRow)]
pub struct Credentials {
    #[sqlx(flatten)]
    pub user: User,
    pub password_hash: String,
    /// Whether any address of the account was ever verified.
    pub email_ever_verified: bool,
}

/// A user to create, from parsed values only; the store derives the lookup keys.
pub struct NewUser {
    pub id: Uuid,
    pub username: Username,
    pub email: Option<Email>,
    pub password_hash: String,
    /// Normalised: sorted, with `user`.
    pub roles: Vec<Role>,
}

/// An email change: `None` clears the address.
pub struct EmailChange {
    pub email: Option<Email>,
}

/// A new address is unverified; the same address (any case) keeps its state; a pending
/// change is dropped.
pub(super) const SET_EMAIL: &str = "UPDATE users SET email = $2, email_key = $3, \
     email_verified = CASE WHEN email_key IS NOT DISTINCT FROM $3 THEN email_verified ELSE false END, \
     pending_email = NULL, pending_email_key = NULL, updated_at = $4 WHERE id = $1";

impl Store {
    pub async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.insert_user(&user, now).await?;
            tx.queue_user_event(EventType::UserCreated, user.id).await?;
            tx.commit().await?;
        });
        self.user_by_id(user.id).await?.ok_or(StoreError::NotFound)
    }

    /// Creates every user or none (one transaction); a conflict on any of them fails the
    /// whole batch. Returns how many were created.
    pub async fn create_users(&self, users: Vec<NewUser>) -> StoreResult<usize> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.insert_users(&users, now).await?;
            if !tx.webhook_targets(EventType::UserCreated).await?.is_empty() {
                for user in &users {
                    tx.queue_user_event(EventType::UserCreated, user.id).await?;
                }
            }
            tx.commit().await?;
        });
        Ok(users.len())
    }

    pub async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
        on_db!(&self.db, c => sqlx::query_as(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
            .bind(id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// Matches the username or the email, without regard to case.
    pub async fn credentials_by_login(&self, login_key: &str) -> StoreResult<Option<Credentials>> {
        // A username never holds '@' and an email always does, so at most one row matches.
        on_db!(&self.db, c => sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", u.password_hash, u.email_ever_verified FROM users u WHERE u.username_key = $1 OR u.email_key = $1"
        ))
        .bind(login_key)
        .fetch_optional(&c.pool)
        .await
        .map_err(classify))
    }

    pub async fn credentials_by_id(&self, id: Uuid) -> StoreResult<Option<Credentials>> {
        on_db!(&self.db, c => sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            ", u.password_hash, u.email_ever_verified FROM users u WHERE u.id = $1"
        ))
            .bind(id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// Sets (or clears) the address at once: a new one is unverified; a pending change is dropped.
    pub async fn set_email(&self, id: Uuid, change: EmailChange) -> StoreResult<User> {
        self.update_email(SET_EMAIL, id, Some(change)).await
    }

    /// Records an address change that waits for its link (`None` drops it); `email` stays.
    /// The pending address reserves nothing: its uniqueness is checked when it is confirmed.
    pub async fn set_pending_email(&self, id: Uuid, change: Option<EmailChange>) -> StoreResult<User> {
        const SET_PENDING: &str = "UPDATE users SET pending_email = $2, pending_email_key = $3, updated_at = $4 WHERE id = $1";
        self.update_email(SET_PENDING, id, change).await
    }

    async fn update_email(&self, sql: &'static str, id: Uuid, change: Option<EmailChange>) -> StoreResult<User> {
        let email = change.and_then(|c| c.email);
        let key = email.as_ref().map(Email::key);
        let email = email.as_ref().map(Email::as_str);
        let done = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let done = sqlx::query(sql).bind(id).bind(email).bind(&key).bind(Time::now()).execute(&mut *tx).await.map_err(classify)?.rows_affected();
            tx.queue_user_event(EventType::UserUpdated, id).await?;
            tx.commit().await?;
            done
        });
        self.live.forget(id);
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        self.user_by_id(id).await?.ok_or(StoreError::NotFound)
    }

    /// Replaces the hash of the same password (a rehash to current parameters): no event,
    /// since the password did not change.
    pub async fn set_password_hash(&self, id: Uuid, hash: &str) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query(SET_PASSWORD).bind(id).bind(hash).bind(Time::now()).execute(&c.pool).await.map_err(classify)?;
        });
        self.live.forget(id);
        Ok(())
    }

    /// A new password: sets its hash and revokes every session of the user but `keep`, in
    /// one transaction with their events (`password.changed`, `session.revoked`).
    pub async fn change_password(&self, id: Uuid, hash: &str, keep: Option<Uuid>) -> StoreResult<()> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query(SET_NEW_PASSWORD).bind(id).bind(hash).bind(now).execute(&mut *tx).await.map_err(classify)?;
            let ended: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 RETURNING id, user_id",
            )
            .bind(id)
            .bind(keep)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
            tx.queue_user_event(EventType::PasswordChanged, id).await?;
            tx.queue_sessions_revoked(&ended).await?;
            tx.commit().await?;
        });
        self.live.forget(id);
        Ok(())
    }
}

const SET_PASSWORD: &str = "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";
/// A new password is not (yet) known breached.
const SET_NEW_PASSWORD: &str = "UPDATE users SET password_hash = $2, password_breached = false, updated_at = $3 WHERE id = $1";
