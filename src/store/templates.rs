//! User-owned templates. The owner is in every WHERE clause, so another user's template is
//! simply not found, and never read or written.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::Time;
use super::db::{classify, on_db};
use super::{Page, Store, StoreError, StoreResult};

/// A user-owned text template.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Template {
    pub id: Uuid,
    #[schema(example = "welcome mail")]
    pub name: String,
    /// `""` when none was given.
    pub content: String,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub updated_at: DateTime<Utc>,
}

pub struct NewTemplate {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub content: String,
}

/// A change to a template; `None` leaves a field as it is.
#[derive(Default)]
pub struct TemplatePatch {
    pub name: Option<String>,
    pub content: Option<String>,
}

macro_rules! columns {
    () => {
        "id, name, content, created_at, updated_at"
    };
}

impl Store {
    /// One page of the owner's templates, oldest first, and how many the owner has.
    /// Served by templates_by_owner (owner_id, created_at, id); deep pages are OFFSET scans.
    pub async fn list_templates(&self, owner_id: Uuid, page: u32, per_page: u32) -> StoreResult<Page<Template>> {
        let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
        // `+ 0`: SQLite plans a bare bound LIMIT/OFFSET with its value, which makes each new
        // binding recompile the cached statement (callgrind: 28% of GET /v1/templates).
        // PostgreSQL folds the `+ 0` away.
        let (items, total): (Vec<Template>, i64) = on_db!(&self.db, c => {
            let items = sqlx::query_as(concat!(
                "SELECT ",
                columns!(),
                " FROM templates WHERE owner_id = $1 ORDER BY created_at, id LIMIT $2 + 0 OFFSET $3 + 0"
            ))
            .bind(owner_id)
            .bind(i64::from(per_page))
            .bind(offset)
            .fetch_all(&c.pool)
            .await
            .map_err(classify)?;
            let total = sqlx::query_scalar("SELECT count(*) FROM templates WHERE owner_id = $1")
                .bind(owner_id)
                .fetch_one(&c.pool)
                .await
                .map_err(classify)?;
            (items, total)
        });
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }

    /// `Conflict(NameTaken)` when the owner has a template of that name (a unique constraint).
    pub async fn create_template(&self, template: NewTemplate) -> StoreResult<Template> {
        on_db!(&self.db, c => sqlx::query_as(concat!(
            "INSERT INTO templates (id, owner_id, name, content, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
            columns!()
        ))
        .bind(template.id)
        .bind(template.owner_id)
        .bind(&template.name)
        .bind(&template.content)
        .bind(Time::now())
        .fetch_one(&c.pool)
        .await
        .map_err(classify))
    }

    /// The owner is part of the query: another user's template is `None`.
    pub async fn template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<Option<Template>> {
        on_db!(&self.db, c => sqlx::query_as(concat!("SELECT ", columns!(), " FROM templates WHERE id = $1 AND owner_id = $2"))
            .bind(id)
            .bind(owner_id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// `NotFound` when the owner has no such template (another user's stays unchanged);
    /// `Conflict(NameTaken)` when the new name is taken by another of the owner's templates.
    pub async fn update_template(&self, owner_id: Uuid, id: Uuid, patch: TemplatePatch) -> StoreResult<Template> {
        let row: Option<Template> = on_db!(&self.db, c => sqlx::query_as(concat!(
            "UPDATE templates SET name = COALESCE($3, name), content = COALESCE($4, content), updated_at = $5 \
             WHERE id = $1 AND owner_id = $2 RETURNING ",
            columns!()
        ))
        .bind(id)
        .bind(owner_id)
        .bind(&patch.name)
        .bind(&patch.content)
        .bind(Time::now())
        .fetch_optional(&c.pool)
        .await
        .map_err(classify)?);
        row.ok_or(StoreError::NotFound)
    }

    /// False when the owner has no such template.
    pub async fn delete_template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => sqlx::query("DELETE FROM templates WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner_id)
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected());
        Ok(done > 0)
    }
}
