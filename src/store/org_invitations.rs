//! Invitations to an organization: by email, single use, revocable, with an end. The token
//! mailed with one is stored as its SHA-256 only, in the transaction that queues its mail.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{MaybeTime, Roles, Time};
use super::db::{classify, on_db};
use super::orgs::{Membership, Org};
use super::recovery::QUEUE_MAIL;
use super::{NewMail, Page, Store, StoreError, StoreResult};

/// Where an invitation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
}

/// An invitation as the API shows it: never its token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub id: Uuid,
    #[schema(example = "bob@example.com")]
    pub email: String,
    /// The org roles the invitee gets (always `member`).
    #[schema(example = json!(["member"]))]
    pub roles: Vec<String>,
    pub expires_at: DateTime<Utc>,
    /// The id of the member who sent it (`null` once that account is gone).
    pub invited_by: Option<Uuid>,
    pub status: InvitationStatus,
}

/// An invitation with its org, as a presented token finds it.
#[derive(Debug, Clone)]
pub struct InvitationRecord {
    pub invitation: Invitation,
    pub email_key: String,
    pub org: Org,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    email: String,
    email_key: String,
    #[sqlx(try_from = "Roles")]
    roles: Vec<String>,
    #[sqlx(try_from = "Time")]
    expires_at: DateTime<Utc>,
    invited_by: Option<Uuid>,
    #[sqlx(try_from = "MaybeTime")]
    accepted_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "MaybeTime")]
    revoked_at: Option<DateTime<Utc>>,
}

impl Row {
    fn invitation(self, now: DateTime<Utc>) -> (Invitation, String) {
        let status = if self.accepted_at.is_some() {
            InvitationStatus::Accepted
        } else if self.revoked_at.is_some() {
            InvitationStatus::Revoked
        } else if self.expires_at <= now {
            InvitationStatus::Expired
        } else {
            InvitationStatus::Pending
        };
        let invitation = Invitation {
            id: self.id,
            email: self.email,
            roles: self.roles,
            expires_at: self.expires_at,
            invited_by: self.invited_by,
            status,
        };
        (invitation, self.email_key)
    }
}

#[derive(sqlx::FromRow)]
struct RowWithOrg {
    #[sqlx(flatten)]
    row: Row,
    org_id: Uuid,
    org_slug: String,
    org_name: String,
    #[sqlx(try_from = "Time")]
    org_created_at: DateTime<Utc>,
}

impl RowWithOrg {
    fn record(self, now: DateTime<Utc>) -> InvitationRecord {
        let org = Org { id: self.org_id, slug: self.org_slug, name: self.org_name, created_at: self.org_created_at };
        let (invitation, email_key) = self.row.invitation(now);
        InvitationRecord { invitation, email_key, org }
    }
}

macro_rules! columns {
    () => {
        "i.id, i.email, i.email_key, i.roles, i.expires_at, i.invited_by, i.accepted_at, i.revoked_at"
    };
}

macro_rules! with_org {
    () => {
        concat!(
            "SELECT ",
            columns!(),
            ", o.id AS org_id, o.slug AS org_slug, o.name AS org_name, o.created_at AS org_created_at \
             FROM org_invitations i JOIN organizations o ON o.id = i.org_id"
        )
    };
}

pub struct NewInvitation {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub email_key: String,
    /// Normalised org roles.
    pub roles: Vec<String>,
    pub token_hash: Vec<u8>,
    pub invited_by: Uuid,
    pub expires_at: DateTime<Utc>,
}

impl Store {
    /// Stores the invitation and queues its mail in one transaction; a pending invitation
    /// of the same address to the same org is revoked (the newest wins).
    pub async fn create_invitation(&self, new: NewInvitation, mail: NewMail) -> StoreResult<Invitation> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query(
                "UPDATE org_invitations SET revoked_at = $3 WHERE org_id = $1 AND email_key = $2 \
                 AND accepted_at IS NULL AND revoked_at IS NULL",
            )
            .bind(new.org_id)
            .bind(&new.email_key)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            sqlx::query(
                "INSERT INTO org_invitations (id, org_id, email, email_key, roles, token_hash, invited_by, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(new.id)
            .bind(new.org_id)
            .bind(&new.email)
            .bind(&new.email_key)
            .bind(new.roles.join(","))
            .bind(&new.token_hash)
            .bind(new.invited_by)
            .bind(now)
            .bind(Time(new.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            sqlx::query(QUEUE_MAIL).bind(mail.id).bind(&mail.sender).bind(&mail.recipient).bind(&mail.message).bind(now)
                .execute(&mut *tx).await.map_err(classify)?;
            tx.commit().await?;
        });
        Ok(Invitation {
            id: new.id,
            email: new.email,
            roles: new.roles,
            expires_at: new.expires_at,
            invited_by: Some(new.invited_by),
            status: InvitationStatus::Pending,
        })
    }

    /// The org's invitations, newest first (expired ones stay until pruned).
    pub async fn list_invitations(&self, org_id: Uuid, page: u32, per_page: u32) -> StoreResult<Page<Invitation>> {
        let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
        let (rows, total): (Vec<Row>, i64) = on_db!(&self.db, c => {
            let rows = sqlx::query_as(concat!("SELECT ", columns!(), " FROM org_invitations i WHERE i.org_id = $1 ORDER BY i.created_at DESC, i.id DESC LIMIT $2 OFFSET $3"))
                .bind(org_id)
                .bind(i64::from(per_page))
                .bind(offset)
                .fetch_all(&c.pool)
                .await
                .map_err(classify)?;
            let total = sqlx::query_scalar("SELECT count(*) FROM org_invitations WHERE org_id = $1").bind(org_id).fetch_one(&c.pool).await.map_err(classify)?;
            (rows, total)
        });
        let now = Utc::now();
        Ok(Page { items: rows.into_iter().map(|r| r.invitation(now).0).collect(), total: u64::try_from(total).unwrap_or_default() })
    }

    /// Pending invitations to this address (a lookup key), with their orgs.
    pub async fn pending_invitations_for(&self, email_key: &str) -> StoreResult<Vec<InvitationRecord>> {
        let now = Time::now();
        let rows: Vec<RowWithOrg> = on_db!(&self.db, c => sqlx::query_as(concat!(with_org!(),
                " WHERE i.email_key = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > $2 ORDER BY i.created_at"))
            .bind(email_key)
            .bind(now)
            .fetch_all(&c.pool)
            .await
            .map_err(classify)?);
        Ok(rows.into_iter().map(|r| r.record(now.0)).collect())
    }

    /// The invitation a token was mailed with, in whatever state.
    pub async fn invitation_by_token(&self, token_hash: &[u8]) -> StoreResult<Option<InvitationRecord>> {
        let row: Option<RowWithOrg> = on_db!(&self.db, c => sqlx::query_as(concat!(with_org!(), " WHERE i.token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify)?);
        Ok(row.map(|r| r.record(Utc::now())))
    }

    /// Revokes a pending invitation of the org; false when there is none.
    pub async fn revoke_invitation(&self, org_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => sqlx::query(
            "UPDATE org_invitations SET revoked_at = $3 WHERE id = $1 AND org_id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(id)
        .bind(org_id)
        .bind(Time::now())
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        Ok(done > 0)
    }

    /// Spends a pending invitation for the user and makes them a member with its roles, in
    /// one transaction. `None` when it is no longer pending; `Conflict(AlreadyMember)` (and
    /// the invitation stays unspent) when the user is one.
    pub async fn accept_invitation(&self, id: Uuid, org_id: Uuid, user_id: Uuid, roles: &[String]) -> StoreResult<Option<Membership>> {
        let now = Time::now();
        let accepted = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let spent = sqlx::query(
                "UPDATE org_invitations SET accepted_at = $3, accepted_by = $2 WHERE id = $1 \
                 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $3",
            )
            .bind(id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?
            .rows_affected();
            if spent == 0 {
                return Ok(None);
            }
            sqlx::query("INSERT INTO org_members (org_id, user_id, roles, created_at) VALUES ($1, $2, $3, $4)")
                .bind(org_id).bind(user_id).bind(roles.join(",")).bind(now).execute(&mut *tx).await.map_err(classify)?;
            tx.commit().await?;
            true
        });
        if !accepted {
            return Ok(None);
        }
        self.membership(org_id, user_id).await?.ok_or(StoreError::NotFound).map(Some)
    }
}
