//! Admin user management: the filtered list, and changes that keep an enabled admin.

use sqlx::{Database, Encode, QueryBuilder, Type};
use uuid::Uuid;

use crate::domain::Email;

use super::Conflict;
use super::codec::Time;
use super::db::{Lock, classify, on_db};
use super::totals::{Position, anchor_offset};
use super::users::{SET_EMAIL, user_columns};
use super::{EmailChange, EventType, Page, Store, StoreError, StoreResult, User, like_pattern};

/// An admin's change to a user; `None` leaves a field as it is.
#[derive(Default)]
pub struct UserPatch {
    /// The whole new set of roles (already normalised: sorted, with `user`).
    pub roles: Option<Vec<String>>,
    pub disabled: Option<bool>,
    pub email: Option<EmailChange>,
}

/// A filtered page of users, oldest first.
#[derive(Debug, Clone)]
pub struct UserQuery {
    /// From 1.
    pub page: u32,
    pub per_page: u32,
    /// Substring of the username or email, in lower case, matched literally (`%` and `_` too).
    pub q: Option<String>,
    /// Only users holding this role.
    pub role: Option<String>,
}

impl UserQuery {
    pub fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

/// How the role filter is written for each of the two statements.
#[derive(Clone, Copy)]
enum RoleFilter {
    /// For the page: walk users_by_created in order and check each user's roles by primary
    /// key, stopping once the page is full.
    Exists,
    /// For the count: driven by user_roles_by_role, so a rare role counts quickly.
    In,
}

/// The WHERE clause shared by the page and the count.
fn push_filters<DB: Database>(sql: &mut QueryBuilder<DB>, query: &UserQuery, role_filter: RoleFilter)
where
    String: for<'t> Encode<'t, DB> + Type<DB>,
{
    sql.push(" WHERE true");
    if let Some(q) = &query.q {
        // The keys hold the username and email in lower case, so the match ignores case
        // on every database; a substring cannot use an index and scans the table.
        let pattern = like_pattern(q);
        sql.push(" AND (u.username_key LIKE ").push_bind(pattern.clone()).push(" ESCAPE '\\'");
        sql.push(" OR u.email_key LIKE ").push_bind(pattern).push(" ESCAPE '\\')");
    }
    if let Some(role) = &query.role {
        match role_filter {
            RoleFilter::Exists => sql.push(" AND EXISTS (SELECT 1 FROM user_roles f WHERE f.user_id = u.id AND f.role = "),
            RoleFilter::In => sql.push(" AND u.id IN (SELECT f.user_id FROM user_roles f WHERE f.role = "),
        };
        sql.push_bind(role.clone()).push(")");
    }
}

const USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1");

const ANY_ENABLED_ADMIN: &str =
    "SELECT EXISTS (SELECT 1 FROM user_roles r JOIN users u ON u.id = r.user_id WHERE r.role = $1 AND NOT u.disabled)";

/// The events an admin's change makes: `user.updated` for the address, and one for each of
/// disabled and roles that changed.
fn changes(before: &User, after: &User) -> Vec<EventType> {
    let mut kinds = Vec::new();
    if (&before.email, &before.pending_email, before.email_verified) != (&after.email, &after.pending_email, after.email_verified) {
        kinds.push(EventType::UserUpdated);
    }
    match (before.disabled, after.disabled) {
        (false, true) => kinds.push(EventType::UserDisabled),
        (true, false) => kinds.push(EventType::UserEnabled),
        _ => {}
    }
    if before.roles != after.roles {
        kinds.push(EventType::UserRolesChanged);
    }
    kinds
}

fn is_enabled_admin(user: &User) -> bool {
    user.is_admin() && !user.disabled
}

impl Store {
    /// One page of users matching the query, oldest first (`created_at`, then `id`), and
    /// the number of matching users: one page fetch plus one count (see `totals`).
    /// Deferred join: the OFFSET walk reads only users_by_created (created_at, id), which
    /// covers it, and only the page's rows (and their roles) are read from the table.
    pub async fn list_users(&self, query: &UserQuery) -> StoreResult<Page<User>> {
        let start = self.page_start(query).await?;
        let mut offset = query.offset();
        let items: Vec<User> = on_db!(&self.db, c => {
            let mut page = QueryBuilder::new(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id IN (SELECT u.id FROM users u"));
            push_filters(&mut page, query, RoleFilter::Exists);
            if let Some((at, (created_at, id))) = start {
                page.push(" AND (u.created_at, u.id) >= (").push_bind(Time(created_at)).push(", ").push_bind(id).push(")");
                offset -= i64::try_from(at).unwrap_or_default();
            }
            // `+ 0`: SQLite plans a bare bound LIMIT/OFFSET with its value, which makes each new
            // binding recompile the cached statement (callgrind: 28% of GET /v1/templates).
            // PostgreSQL folds the `+ 0` away.
            page.push(" ORDER BY u.created_at, u.id LIMIT ")
                .push_bind(i64::from(query.per_page))
                .push(" + 0 OFFSET ")
                .push_bind(offset)
                .push(" + 0) ORDER BY u.created_at, u.id");
            page.build_query_as().fetch_all(&c.pool).await.map_err(classify)?
        });
        if let Some(total) = self.totals.recent(query) {
            return Ok(Page { items, total });
        }
        let total: i64 = on_db!(&self.db, c => {
            let mut count = QueryBuilder::new("SELECT count(*) FROM users u");
            push_filters(&mut count, query, RoleFilter::In);
            count.build_query_scalar().fetch_one(&c.pool).await.map_err(classify)?
        });
        let total = u64::try_from(total).unwrap_or_default();
        self.totals.counted(query, total);
        Ok(Page { items, total })
    }

    /// Where a deep page starts: the remembered position at its stride, found by one
    /// OFFSET walk when none is recent (see [`super::totals`]).
    async fn page_start(&self, query: &UserQuery) -> StoreResult<Option<(u64, Position)>> {
        let Some(at) = anchor_offset(query.offset()) else { return Ok(None) };
        if let Some(position) = self.totals.position(query, at) {
            return Ok(Some((at, position)));
        }
        let row: Option<(Time, Uuid)> = on_db!(&self.db, c => {
            let mut find = QueryBuilder::new("SELECT u.created_at, u.id FROM users u");
            push_filters(&mut find, query, RoleFilter::Exists);
            find.push(" ORDER BY u.created_at, u.id LIMIT 1 OFFSET ").push_bind(i64::try_from(at).unwrap_or(i64::MAX)).push(" + 0");
            find.build_query_as().fetch_optional(&c.pool).await.map_err(classify)?
        });
        Ok(row.map(|(created_at, id)| {
            let position = (created_at.0, id);
            self.totals.found(query, at, position);
            (at, position)
        }))
    }

    /// Applies an admin's change to a user and returns the user as it now is; `NotFound`
    /// for an unknown id, `Conflict(EmailTaken)` for an address in use. Disabling revokes
    /// every session of the user in the same transaction.
    ///
    /// Answers `Conflict(LastAdmin)` and changes nothing when the user was an enabled admin
    /// and the change would leave no enabled admin. The check is atomic with the change, so
    /// that two admins demoting each other at the same moment cannot both succeed: SQLite
    /// serialises writers (`BEGIN IMMEDIATE`), PostgreSQL takes a transaction-level advisory
    /// lock before it counts (a concurrent change, from any instance, waits and then sees
    /// this one committed).
    pub async fn update_user(&self, id: Uuid, patch: UserPatch) -> StoreResult<User> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.lock(Lock::AdminChanges).await?;
            let before: User = sqlx::query_as(USER_BY_ID).bind(id).fetch_optional(&mut *tx).await.map_err(classify)?.ok_or(StoreError::NotFound)?;
            if let Some(change) = &patch.email {
                sqlx::query(SET_EMAIL)
                    .bind(id)
                    .bind(change.email.as_ref().map(Email::as_str))
                    .bind(change.email.as_ref().map(Email::key))
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
            if let Some(disabled) = patch.disabled {
                sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1").bind(id).bind(disabled).execute(&mut *tx).await.map_err(classify)?;
                if disabled {
                    let ended: Vec<(Uuid, Uuid)> =
                        sqlx::query_as("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL RETURNING id, user_id")
                            .bind(id)
                            .bind(now)
                            .fetch_all(&mut *tx)
                            .await
                            .map_err(classify)?;
                    tx.queue_sessions_revoked(&ended).await?;
                }
            }
            if let Some(roles) = &patch.roles {
                sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(id).execute(&mut *tx).await.map_err(classify)?;
                tx.insert_roles(id, roles).await?;
            }
            sqlx::query("UPDATE users SET updated_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut *tx).await.map_err(classify)?;
            if is_enabled_admin(&before) {
                let any_admin: bool = sqlx::query_scalar(ANY_ENABLED_ADMIN).bind(crate::domain::Role::ADMIN).fetch_one(&mut *tx).await.map_err(classify)?;
                if !any_admin {
                    // Dropping the transaction rolls every statement above back.
                    return Err(StoreError::Conflict(Conflict::LastAdmin));
                }
            }
            let after: User = sqlx::query_as(USER_BY_ID).bind(id).fetch_optional(&mut *tx).await.map_err(classify)?.ok_or(StoreError::NotFound)?;
            for kind in changes(&before, &after) {
                tx.queue_event(kind, &after).await?;
            }
            tx.commit().await?;
            self.live.forget(id);
            Ok(after)
        })
    }

    /// Deletes a user with its roles, sessions, refresh tokens and templates, freeing its
    /// username and email; `NotFound` for an unknown id; `Conflict(LastAdmin)` when it is
    /// the last enabled admin, checked atomically as in [`Store::update_user`].
    pub async fn delete_user(&self, id: Uuid) -> StoreResult<()> {
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.lock(Lock::AdminChanges).await?;
            let before: User = sqlx::query_as(USER_BY_ID).bind(id).fetch_optional(&mut *tx).await.map_err(classify)?.ok_or(StoreError::NotFound)?;
            // Roles, sessions, refresh tokens and templates go with it (ON DELETE CASCADE).
            sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(classify)?;
            tx.queue_event(EventType::UserDeleted, &before).await?;
            if is_enabled_admin(&before) {
                let any_admin: bool = sqlx::query_scalar(ANY_ENABLED_ADMIN).bind(crate::domain::Role::ADMIN).fetch_one(&mut *tx).await.map_err(classify)?;
                if !any_admin {
                    return Err(StoreError::Conflict(Conflict::LastAdmin));
                }
            }
            tx.commit().await?;
            self.live.forget(id);
            Ok(())
        })
    }
}
