//! Invitations to sign up: made by an admin with their mail in one transaction, listed,
//! revoked, and taken once by the sign-up that follows the mailed link.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::codec::{MaybeTime, Roles, Time};
use super::db::{classify, on_db};
use super::recovery::QUEUE_MAIL;
use super::{EventType, NewMail, NewUser, Store, StoreError, StoreResult, User};

/// An invitation as the admin API shows it; never its token.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SignUpInvitation {
    pub id: Uuid,
    #[schema(example = "bob@example.com")]
    pub email: String,
    /// The roles the account gets; always holds `user`.
    pub roles: Vec<String>,
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: DateTime<Utc>,
    /// The admin who invited; null when made from the command line or that admin is gone.
    pub invited_by: Option<Uuid>,
    /// `pending`, `accepted`, `revoked` or `expired`.
    #[schema(example = "pending")]
    pub status: &'static str,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// An invitation to store, with its token's hash.
pub struct NewSignUpInvitation {
    pub id: Uuid,
    pub email: String,
    pub email_key: String,
    pub roles: Vec<String>,
    pub token_hash: Vec<u8>,
    pub invited_by: Option<Uuid>,
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    email: String,
    #[sqlx(try_from = "Roles")]
    roles: Vec<String>,
    invited_by: Option<Uuid>,
    #[sqlx(try_from = "Time")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    expires_at: DateTime<Utc>,
    #[sqlx(try_from = "MaybeTime")]
    accepted_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "MaybeTime")]
    revoked_at: Option<DateTime<Utc>>,
}

impl From<Row> for SignUpInvitation {
    fn from(row: Row) -> Self {
        let status = match (row.accepted_at, row.revoked_at) {
            (Some(_), _) => "accepted",
            (None, Some(_)) => "revoked",
            (None, None) if row.expires_at <= Utc::now() => "expired",
            (None, None) => "pending",
        };
        Self {
            id: row.id,
            email: row.email,
            roles: row.roles,
            expires_at: row.expires_at,
            invited_by: row.invited_by,
            status,
            created_at: row.created_at,
        }
    }
}

macro_rules! columns {
    () => {
        "id, email, roles, invited_by, created_at, expires_at, accepted_at, revoked_at"
    };
}

impl Store {
    /// Stores an invitation and queues its mail, in one transaction.
    pub async fn create_sign_up_invitation(&self, invitation: NewSignUpInvitation, mail: NewMail) -> StoreResult<SignUpInvitation> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query(
                "INSERT INTO user_invitations (id, email, email_key, roles, token_hash, invited_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(invitation.id)
            .bind(&invitation.email)
            .bind(&invitation.email_key)
            .bind(invitation.roles.join(","))
            .bind(&invitation.token_hash)
            .bind(invitation.invited_by)
            .bind(now)
            .bind(Time(invitation.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            sqlx::query(QUEUE_MAIL)
                .bind(mail.id)
                .bind(&mail.sender)
                .bind(&mail.recipient)
                .bind(&mail.message)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.commit().await?;
        });
        self.sign_up_invitation(invitation.id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn sign_up_invitation(&self, id: Uuid) -> StoreResult<Option<SignUpInvitation>> {
        let sql = concat!("SELECT ", columns!(), " FROM user_invitations WHERE id = $1");
        let row: Option<Row> = on_db!(&self.db, c => sqlx::query_as(sql).bind(id).fetch_optional(&c.pool).await.map_err(classify)?);
        Ok(row.map(SignUpInvitation::from))
    }

    /// The 100 newest invitations, newest first.
    pub async fn sign_up_invitations(&self) -> StoreResult<Vec<SignUpInvitation>> {
        let sql = concat!("SELECT ", columns!(), " FROM user_invitations ORDER BY created_at DESC, id DESC LIMIT 100");
        let rows: Vec<Row> = on_db!(&self.db, c => sqlx::query_as(sql).fetch_all(&c.pool).await.map_err(classify)?);
        Ok(rows.into_iter().map(SignUpInvitation::from).collect())
    }

    /// The pending invitation a link's token names, if it still is one.
    pub async fn live_sign_up_invitation(&self, token_hash: &[u8]) -> StoreResult<Option<SignUpInvitation>> {
        let sql = concat!(
            "SELECT ",
            columns!(),
            " FROM user_invitations WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2"
        );
        let row: Option<Row> =
            on_db!(&self.db, c => sqlx::query_as(sql).bind(token_hash).bind(Time::now()).fetch_optional(&c.pool).await.map_err(classify)?);
        Ok(row.map(SignUpInvitation::from))
    }

    /// Revokes a pending invitation; false when there is none by that id still pending.
    pub async fn revoke_sign_up_invitation(&self, id: Uuid) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => sqlx::query(
            "UPDATE user_invitations SET revoked_at = $2 WHERE id = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(Time::now())
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        Ok(done == 1)
    }

    /// Takes the invitation and creates its account, address verified, in one transaction:
    /// `NotFound` (nothing made) when the token names no pending invitation any more.
    pub async fn accept_sign_up_invitation(&self, token_hash: &[u8], user: NewUser) -> StoreResult<User> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let taken = sqlx::query(
                "UPDATE user_invitations SET accepted_at = $2 \
                 WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2",
            )
            .bind(token_hash)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
            if taken != 1 {
                return Err(StoreError::NotFound);
            }
            tx.insert_user(&user, now).await?;
            sqlx::query("UPDATE users SET email_verified = true, email_ever_verified = true WHERE id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.queue_user_event(EventType::UserCreated, user.id).await?;
            tx.commit().await?;
        });
        self.user_by_id(user.id).await?.ok_or(StoreError::NotFound)
    }
}
