//! Admin user management on PostgreSQL: the filtered list, and changes that keep an enabled
//! admin. Mirrors `store/sqlite/users.rs`.

use sqlx::{PgConnection, Postgres, QueryBuilder};

use super::users::user_from_row;
use super::{PgStore, classify, now};
use crate::error::Conflict;
use crate::store::totals::{Position, anchor_offset};
use crate::store::{Page, StoreError, StoreResult, User, UserPatch, UserQuery, like_pattern};
use uuid::Uuid;

/// The key of the transaction-level advisory lock that every change able to remove an
/// enabled admin takes first ("gateadmn"). READ COMMITTED alone would let two admins demote
/// each other at the same moment (each sees the other still enabled); with the lock the
/// second waits for the first to commit, then counts what it left, on every instance.
const ADMIN_CHANGE_LOCK: i64 = 0x6761_7465_6164_6d6e;

/// How the role filter is written for each of the two statements.
#[derive(Clone, Copy)]
enum RoleFilter {
    /// For the page: walk users_by_created in order, checking each user's roles.
    Exists,
    /// For the count: driven by user_roles_by_role.
    In,
}

/// The WHERE clause shared by the page and the count.
fn push_filters(sql: &mut QueryBuilder<Postgres>, query: &UserQuery, role_filter: RoleFilter) {
    sql.push(" WHERE true");
    if let Some(q) = &query.q {
        // The keys hold the username and email in lower case, so the match ignores case.
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

async fn user_in(conn: &mut PgConnection, id: Uuid) -> StoreResult<Option<User>> {
    let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(classify)?;
    row.as_ref().map(user_from_row).transpose().map_err(classify)
}

async fn lock_admin_changes(conn: &mut PgConnection) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(ADMIN_CHANGE_LOCK).execute(&mut *conn).await.map_err(classify)?;
    Ok(())
}

async fn any_enabled_admin(conn: &mut PgConnection) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM user_roles r JOIN users u ON u.id = r.user_id \
         WHERE r.role = $1 AND NOT u.disabled)",
    )
    .bind(crate::domain::Role::ADMIN)
    .fetch_one(&mut *conn)
    .await
    .map_err(classify)
}

fn is_enabled_admin(user: &User) -> bool {
    user.is_admin() && !user.disabled
}

impl PgStore {
    /// One page by LIMIT/OFFSET, plus the total of the same filter (see `totals`).
    /// Deferred join: the OFFSET walk is an index-only scan of users_by_created, and only
    /// the page's rows (and their roles) are read from the table.
    pub(super) async fn list_users_page(&self, query: &UserQuery) -> StoreResult<Page<User>> {
        let start = self.page_start(query).await?;
        let mut page =
            QueryBuilder::<Postgres>::new(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id IN (SELECT u.id FROM users u"));
        push_filters(&mut page, query, RoleFilter::Exists);
        let mut offset = query.offset();
        if let Some((at, (created_at, id))) = start {
            page.push(" AND (u.created_at, u.id) >= (").push_bind(created_at).push(", ").push_bind(id).push(")");
            offset -= i64::try_from(at).unwrap_or_default();
        }
        page.push(" ORDER BY u.created_at, u.id LIMIT ").push_bind(i64::from(query.per_page)).push(" OFFSET ").push_bind(offset);
        page.push(") ORDER BY u.created_at, u.id");
        let rows = page.build().fetch_all(&self.pool).await.map_err(classify)?;
        let items = rows.iter().map(user_from_row).collect::<Result<Vec<_>, _>>().map_err(classify)?;

        if let Some(total) = self.totals.recent(query) {
            return Ok(Page { items, total });
        }
        let mut count = QueryBuilder::<Postgres>::new("SELECT count(*) FROM users u");
        push_filters(&mut count, query, RoleFilter::In);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await.map_err(classify)?;
        let total = u64::try_from(total).unwrap_or_default();
        self.totals.counted(query, total);
        Ok(Page { items, total })
    }

    /// Where a deep page starts: the remembered position at its stride, found by one
    /// OFFSET walk when none is recent (see [`super::super::totals`]).
    async fn page_start(&self, query: &UserQuery) -> StoreResult<Option<(u64, Position)>> {
        let Some(at) = anchor_offset(query.offset()) else { return Ok(None) };
        if let Some(position) = self.totals.position(query, at) {
            return Ok(Some((at, position)));
        }
        let mut find = QueryBuilder::<Postgres>::new("SELECT u.created_at, u.id FROM users u");
        push_filters(&mut find, query, RoleFilter::Exists);
        find.push(" ORDER BY u.created_at, u.id LIMIT 1 OFFSET ").push_bind(i64::try_from(at).unwrap_or(i64::MAX));
        let row: Option<Position> = find.build_query_as().fetch_optional(&self.pool).await.map_err(classify)?;
        Ok(row.inspect(|position| self.totals.found(query, at, *position)).map(|position| (at, position)))
    }

    /// The change and the last-admin check in one transaction, behind the advisory lock:
    /// a concurrent change (from any instance) waits, then sees this one committed.
    pub(super) async fn update_user_checked(&self, id: Uuid, patch: UserPatch) -> StoreResult<User> {
        let now = now();
        let mut tx = self.pool.begin().await.map_err(classify)?;
        lock_admin_changes(&mut tx).await?;
        let before = user_in(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        if let Some(change) = &patch.email {
            sqlx::query(
                "UPDATE users SET email = $2, email_key = $3, \
                 email_verified = CASE WHEN email_key IS NOT DISTINCT FROM $3 THEN email_verified ELSE false END, \
                 pending_email = NULL, pending_email_key = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(&change.email)
            .bind(&change.email_key)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
        }
        if let Some(disabled) = patch.disabled {
            sqlx::query("UPDATE users SET disabled = $2 WHERE id = $1")
                .bind(id)
                .bind(disabled)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            if disabled {
                sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
        }
        if let Some(roles) = &patch.roles {
            sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(id).execute(&mut *tx).await.map_err(classify)?;
            sqlx::query("INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING")
                .bind(id)
                .bind(roles)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
        }
        sqlx::query("UPDATE users SET updated_at = $2 WHERE id = $1").bind(id).bind(now).execute(&mut *tx).await.map_err(classify)?;
        if is_enabled_admin(&before) && !any_enabled_admin(&mut tx).await? {
            // Dropping the transaction rolls every statement above back.
            return Err(StoreError::Conflict(Conflict::LastAdmin));
        }
        let after = user_in(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        tx.commit().await.map_err(classify)?;
        Ok(after)
    }

    pub(super) async fn delete_user_checked(&self, id: Uuid) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        lock_admin_changes(&mut tx).await?;
        let before = user_in(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        // Roles, sessions, refresh tokens and templates go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(classify)?;
        if is_enabled_admin(&before) && !any_enabled_admin(&mut tx).await? {
            return Err(StoreError::Conflict(Conflict::LastAdmin));
        }
        tx.commit().await.map_err(classify)?;
        Ok(())
    }
}
