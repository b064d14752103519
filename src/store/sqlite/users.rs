//! Admin user management on SQLite: the filtered list, and changes that keep an enabled admin.

use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::*;
use crate::store::totals::{Position, anchor_offset};

/// How the role filter is written for each of the two statements.
#[derive(Clone, Copy)]
enum RoleFilter {
    /// For the page: SQLite keeps walking users_by_created in order and checks each user's
    /// roles by primary key, stopping once the page is full.
    Exists,
    /// For the count: driven by user_roles_by_role, so a rare role counts quickly.
    In,
}

/// The WHERE clause shared by the page and the count.
fn push_filters(sql: &mut QueryBuilder<Sqlite>, query: &UserQuery, role_filter: RoleFilter) {
    sql.push(" WHERE 1 = 1");
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

async fn user_in(conn: &mut SqliteConnection, id: Uuid) -> StoreResult<Option<User>> {
    let row = sqlx::query(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(classify)?;
    row.as_ref().map(user_from_row).transpose().map_err(classify)
}

async fn any_enabled_admin(conn: &mut SqliteConnection) -> StoreResult<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM user_roles r JOIN users u ON u.id = r.user_id \
         WHERE r.role = $1 AND u.disabled = 0)",
    )
    .bind(crate::domain::Role::ADMIN)
    .fetch_one(&mut *conn)
    .await
    .map_err(classify)
}

fn is_enabled_admin(user: &User) -> bool {
    user.is_admin() && !user.disabled
}

impl SqliteStore {
    /// One page by LIMIT/OFFSET, plus the total of the same filter (see `totals`).
    /// Deferred join: the OFFSET walk reads only users_by_created (created_at, id), which
    /// covers it, and only the page's rows (and their roles) are read from the table.
    pub(super) async fn list_users_page(&self, query: &UserQuery) -> StoreResult<Page<User>> {
        let start = self.page_start(query).await?;
        let mut page =
            QueryBuilder::<Sqlite>::new(concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id IN (SELECT u.id FROM users u"));
        push_filters(&mut page, query, RoleFilter::Exists);
        let mut offset = query.offset();
        if let Some((at, (created_at, id))) = start {
            page.push(" AND (u.created_at, u.id) >= (").push_bind(created_at.timestamp_millis()).push(", ").push_bind(id).push(")");
            offset -= i64::try_from(at).unwrap_or_default();
        }
        // `+ 0`: SQLite plans a bare bound LIMIT/OFFSET with its value, which makes each new
        // binding recompile the cached statement (callgrind: 28% of GET /v1/templates).
        page.push(" ORDER BY u.created_at, u.id LIMIT ")
            .push_bind(i64::from(query.per_page))
            .push(" + 0 OFFSET ")
            .push_bind(offset)
            .push(" + 0");
        page.push(") ORDER BY u.created_at, u.id");
        let rows = page.build().fetch_all(&self.pool).await.map_err(classify)?;
        let items = rows.iter().map(user_from_row).collect::<Result<Vec<_>, _>>().map_err(classify)?;

        if let Some(total) = self.totals.recent(query) {
            return Ok(Page { items, total });
        }
        let mut count = QueryBuilder::<Sqlite>::new("SELECT count(*) FROM users u");
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
        let mut find = QueryBuilder::<Sqlite>::new("SELECT u.created_at, u.id FROM users u");
        push_filters(&mut find, query, RoleFilter::Exists);
        find.push(" ORDER BY u.created_at, u.id LIMIT 1 OFFSET ").push_bind(i64::try_from(at).unwrap_or(i64::MAX)).push(" + 0");
        let row: Option<(i64, Uuid)> = find.build_query_as().fetch_optional(&self.pool).await.map_err(classify)?;
        Ok(row.map(|(created_at, id)| {
            let position = (millis_to_time(created_at), id);
            self.totals.found(query, at, position);
            (at, position)
        }))
    }

    /// The change and the last-admin check in one write transaction: BEGIN IMMEDIATE takes
    /// SQLite's write lock first, so a concurrent change waits and then sees this one.
    pub(super) async fn update_user_checked(&self, id: Uuid, patch: UserPatch) -> StoreResult<User> {
        let now = now_ms();
        let (_writer, mut tx) = self.write().await?;
        let before = user_in(&mut tx, id).await?.ok_or(StoreError::NotFound)?;
        if let Some(change) = &patch.email {
            sqlx::query(
                "UPDATE users SET email = $2, email_key = $3, \
                 email_verified = CASE WHEN email_key IS $3 THEN email_verified ELSE 0 END, \
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
            for role in roles {
                sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(id)
                    .bind(role)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
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
        let (_writer, mut tx) = self.write().await?;
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
