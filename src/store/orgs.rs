//! Organizations and their members. A member's org roles are one comma-separated text
//! (sorted, always `member`); the last owner is kept by a check inside the write, under the
//! org's row lock (SQLite's writers take turns). A member who leaves takes the org off their
//! sessions, and the live view forgets them, so a token naming the org is refused at once.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{Roles, Time};
use super::db::{Lock, classify, on_db};
use super::users::user_columns;
use super::{Conflict, Page, Store, StoreError, StoreResult, User};
use crate::domain::org::{OWNER, OrgClaim};

/// An organization as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Org {
    pub id: Uuid,
    #[schema(example = "acme")]
    pub slug: String,
    #[schema(example = "Acme Corporation")]
    pub name: String,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
}

/// An org with the roles one user holds in it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MyOrg {
    #[sqlx(flatten)]
    pub org: Org,
    #[sqlx(try_from = "Roles", rename = "member_roles")]
    pub roles: Vec<String>,
}

/// A member of an org and their org roles.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Membership {
    #[sqlx(flatten)]
    pub user: User,
    /// Always holds `member`; `owner`, `admin` and custom roles besides.
    #[sqlx(try_from = "Roles", rename = "member_roles")]
    #[schema(example = json!(["member", "owner"]))]
    pub roles: Vec<String>,
    #[sqlx(try_from = "Time", rename = "member_since")]
    pub created_at: DateTime<Utc>,
}

pub struct NewOrg {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    /// The first owner.
    pub owner: Uuid,
}

macro_rules! org_columns {
    () => {
        "o.id, o.slug, o.name, o.created_at"
    };
}

macro_rules! membership_select {
    () => {
        concat!(
            "SELECT m.roles AS member_roles, m.created_at AS member_since, ",
            user_columns!(),
            " FROM org_members m JOIN users u ON u.id = m.user_id"
        )
    };
}

const INSERT_MEMBER: &str = "INSERT INTO org_members (org_id, user_id, roles, created_at) VALUES ($1, $2, $3, $4)";
/// Owners of the org other than the user: `,owner,` inside `,roles,`.
const OTHER_OWNERS: &str =
    "SELECT count(*) FROM org_members WHERE org_id = $1 AND user_id <> $2 AND (',' || roles || ',') LIKE '%,owner,%'";
/// The user's sessions that have the org active lose it.
const DROP_SESSION_ORG: &str = "UPDATE sessions SET org_id = NULL WHERE user_id = $1 AND org_id = $2";

impl Store {
    /// Creates the org with its first owner; `Conflict(SlugTaken)` when the slug is in use.
    pub async fn create_org(&self, org: NewOrg) -> StoreResult<Org> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query("INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
                .bind(org.id)
                .bind(&org.slug)
                .bind(&org.name)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            sqlx::query(INSERT_MEMBER).bind(org.id).bind(org.owner).bind("member,owner").bind(now).execute(&mut *tx).await.map_err(classify)?;
            tx.commit().await?;
        });
        Ok(Org { id: org.id, slug: org.slug, name: org.name, created_at: now.0 })
    }

    pub async fn org_by_id(&self, id: Uuid) -> StoreResult<Option<Org>> {
        on_db!(&self.db, c => sqlx::query_as(concat!("SELECT ", org_columns!(), " FROM organizations o WHERE o.id = $1"))
            .bind(id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    pub async fn org_by_slug(&self, slug: &str) -> StoreResult<Option<Org>> {
        on_db!(&self.db, c => sqlx::query_as(concat!("SELECT ", org_columns!(), " FROM organizations o WHERE o.slug = $1"))
            .bind(slug)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// Every org, oldest first.
    pub async fn list_orgs(&self, page: u32, per_page: u32) -> StoreResult<Page<Org>> {
        let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
        let (items, total): (Vec<Org>, i64) = on_db!(&self.db, c => {
            let items = sqlx::query_as(concat!("SELECT ", org_columns!(), " FROM organizations o ORDER BY o.created_at, o.id LIMIT $1 OFFSET $2"))
                .bind(i64::from(per_page))
                .bind(offset)
                .fetch_all(&c.pool)
                .await
                .map_err(classify)?;
            let total = sqlx::query_scalar("SELECT count(*) FROM organizations").fetch_one(&c.pool).await.map_err(classify)?;
            (items, total)
        });
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }

    /// The orgs the user belongs to, with their roles there, oldest membership first.
    pub async fn user_orgs(&self, user_id: Uuid, page: u32, per_page: u32) -> StoreResult<Page<MyOrg>> {
        let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
        let (items, total): (Vec<MyOrg>, i64) = on_db!(&self.db, c => {
            let items = sqlx::query_as(concat!(
                "SELECT ", org_columns!(), ", m.roles AS member_roles FROM org_members m JOIN organizations o ON o.id = m.org_id \
                 WHERE m.user_id = $1 ORDER BY m.created_at, o.id LIMIT $2 OFFSET $3"
            ))
            .bind(user_id)
            .bind(i64::from(per_page))
            .bind(offset)
            .fetch_all(&c.pool)
            .await
            .map_err(classify)?;
            let total = sqlx::query_scalar("SELECT count(*) FROM org_members WHERE user_id = $1").bind(user_id).fetch_one(&c.pool).await.map_err(classify)?;
            (items, total)
        });
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }

    /// Renames the org or changes its slug; `NotFound` when it is gone.
    pub async fn update_org(&self, id: Uuid, slug: Option<&str>, name: Option<&str>) -> StoreResult<Org> {
        on_db!(&self.db, c => sqlx::query_as(
            "UPDATE organizations SET slug = COALESCE($2, slug), name = COALESCE($3, name) WHERE id = $1 RETURNING id, slug, name, created_at",
        )
        .bind(id)
        .bind(slug)
        .bind(name)
        .fetch_optional(&c.pool)
        .await
        .map_err(classify)?
        .ok_or(StoreError::NotFound))
    }

    /// Deletes the org, its memberships and invitations; sessions that had it active lose
    /// it. False when there was no such org.
    pub async fn delete_org(&self, id: Uuid) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query("UPDATE sessions SET org_id = NULL WHERE org_id = $1").bind(id).execute(&mut *tx).await.map_err(classify)?;
            let done = sqlx::query("DELETE FROM organizations WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(classify)?.rows_affected();
            tx.commit().await?;
            done
        });
        // Every member's sessions may have changed.
        self.live.forget_all();
        Ok(done > 0)
    }

    /// The user's roles in the org; `None` for a non-member.
    pub async fn org_roles_of(&self, org_id: Uuid, user_id: Uuid) -> StoreResult<Option<Vec<String>>> {
        let roles: Option<Roles> = on_db!(&self.db, c => sqlx::query_scalar("SELECT roles FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify)?);
        Ok(roles.map(Vec::from))
    }

    pub async fn membership(&self, org_id: Uuid, user_id: Uuid) -> StoreResult<Option<Membership>> {
        on_db!(&self.db, c => sqlx::query_as(concat!(membership_select!(), " WHERE m.org_id = $1 AND m.user_id = $2"))
            .bind(org_id)
            .bind(user_id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// The org's members, oldest membership first.
    pub async fn list_members(&self, org_id: Uuid, page: u32, per_page: u32) -> StoreResult<Page<Membership>> {
        let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
        let (items, total): (Vec<Membership>, i64) = on_db!(&self.db, c => {
            let items = sqlx::query_as(concat!(membership_select!(), " WHERE m.org_id = $1 ORDER BY m.created_at, u.id LIMIT $2 OFFSET $3"))
                .bind(org_id)
                .bind(i64::from(per_page))
                .bind(offset)
                .fetch_all(&c.pool)
                .await
                .map_err(classify)?;
            let total = sqlx::query_scalar("SELECT count(*) FROM org_members WHERE org_id = $1").bind(org_id).fetch_one(&c.pool).await.map_err(classify)?;
            (items, total)
        });
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }

    /// Adds a member with these (normalised) roles; `Conflict(AlreadyMember)` when they are one.
    pub async fn add_member(&self, org_id: Uuid, user_id: Uuid, roles: &[String]) -> StoreResult<Membership> {
        on_db!(&self.db, c => {
            sqlx::query(INSERT_MEMBER).bind(org_id).bind(user_id).bind(roles.join(",")).bind(Time::now()).execute(&c.pool).await.map_err(classify)?;
        });
        self.membership(org_id, user_id).await?.ok_or(StoreError::NotFound)
    }

    /// Replaces a member's roles; `Conflict(LastOwner)` when it would leave the org without
    /// an owner, `NotFound` for a non-member.
    pub async fn set_member_roles(&self, org_id: Uuid, user_id: Uuid, roles: &[String]) -> StoreResult<Membership> {
        let keeps_owner = roles.iter().any(|r| r == OWNER);
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.lock(Lock::Org(org_id)).await?;
            if !keeps_owner {
                let others: i64 = sqlx::query_scalar(OTHER_OWNERS).bind(org_id).bind(user_id).fetch_one(&mut *tx).await.map_err(classify)?;
                let current: Option<Roles> = sqlx::query_scalar("SELECT roles FROM org_members WHERE org_id = $1 AND user_id = $2")
                    .bind(org_id).bind(user_id).fetch_optional(&mut *tx).await.map_err(classify)?;
                let is_owner = current.map(Vec::from).is_some_and(|r| r.iter().any(|r| r == OWNER));
                if is_owner && others == 0 {
                    return Err(StoreError::Conflict(Conflict::LastOwner));
                }
            }
            let done = sqlx::query("UPDATE org_members SET roles = $3 WHERE org_id = $1 AND user_id = $2")
                .bind(org_id).bind(user_id).bind(roles.join(",")).execute(&mut *tx).await.map_err(classify)?.rows_affected();
            if done == 0 {
                return Err(StoreError::NotFound);
            }
            tx.commit().await?;
        });
        self.membership(org_id, user_id).await?.ok_or(StoreError::NotFound)
    }

    /// Removes a member; `Conflict(LastOwner)` for the last owner; false for a non-member.
    /// Their sessions with the org active lose it in the same transaction.
    pub async fn remove_member(&self, org_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.lock(Lock::Org(org_id)).await?;
            let others: i64 = sqlx::query_scalar(OTHER_OWNERS).bind(org_id).bind(user_id).fetch_one(&mut *tx).await.map_err(classify)?;
            let current: Option<Roles> = sqlx::query_scalar("SELECT roles FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(org_id).bind(user_id).fetch_optional(&mut *tx).await.map_err(classify)?;
            let Some(current) = current.map(Vec::from) else { return Ok(false) };
            if current.iter().any(|r| r == OWNER) && others == 0 {
                return Err(StoreError::Conflict(Conflict::LastOwner));
            }
            sqlx::query(DROP_SESSION_ORG).bind(user_id).bind(org_id).execute(&mut *tx).await.map_err(classify)?;
            sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2").bind(org_id).bind(user_id).execute(&mut *tx).await.map_err(classify)?;
            tx.commit().await?;
            true
        });
        self.live.forget(user_id);
        Ok(done)
    }

    /// Makes `org` (or none) the session's active org, while the session is live and the
    /// user a member; answers the session's end and the org claim, or `None` when the
    /// session is not live or the user not a member.
    pub async fn set_session_org(
        &self,
        session_id: Uuid,
        user_id: Uuid,
        org: Option<Uuid>,
    ) -> StoreResult<Option<(DateTime<Utc>, Option<OrgClaim>)>> {
        let now = Time::now();
        let ends: Option<Time> = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let ends = sqlx::query_scalar(
                "UPDATE sessions SET org_id = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $4 \
                 AND ($3 IS NULL OR EXISTS (SELECT 1 FROM org_members m WHERE m.org_id = $3 AND m.user_id = $2)) RETURNING expires_at",
            )
            .bind(session_id)
            .bind(user_id)
            .bind(org)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?;
            tx.commit().await?;
            ends
        });
        self.live.forget(user_id);
        let Some(ends) = ends else { return Ok(None) };
        let claim = match org {
            Some(_) => self.session_org(session_id).await?,
            None => None,
        };
        Ok(Some((ends.0, claim)))
    }

    /// The session's active org as its tokens carry it, with the member's roles now.
    pub async fn session_org(&self, session_id: Uuid) -> StoreResult<Option<OrgClaim>> {
        let found: Option<(Uuid, String, Roles)> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT o.id, o.slug, m.roles FROM sessions s JOIN org_members m ON m.org_id = s.org_id AND m.user_id = s.user_id \
             JOIN organizations o ON o.id = m.org_id WHERE s.id = $1",
        )
        .bind(session_id)
        .fetch_optional(&c.pool)
        .await
        .map_err(classify)?);
        Ok(found.map(|(id, slug, roles)| OrgClaim { id, slug, roles: roles.into() }))
    }
}
