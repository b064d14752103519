//! User-owned templates on PostgreSQL. The owner is in every WHERE clause, so another user's
//! template is simply not found, and never read or written. Mirrors `store/sqlite/templates.rs`.

use sqlx::Row;
use sqlx::postgres::PgRow;

use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{PgStore, classify, now};
use crate::store::templates::{SIZE_SQL, USAGE_SQL, Usage};
use crate::store::{NewTemplate, Page, StoreError, StoreResult, Template, TemplatePatch, TemplateQuota};

/// Locks the owner's user row, then reads the owner's usage: two writers of one owner's
/// templates take turns, so parallel creates at the limit cannot both pass it. `NO KEY
/// UPDATE` leaves the row free for the foreign-key checks of other inserts (sessions).
async fn locked_usage(tx: &mut Transaction<'static, Postgres>, owner_id: Uuid) -> StoreResult<Usage> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE")
        .bind(owner_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(classify)?
        .ok_or(StoreError::NotFound)?;
    let (count, bytes): (i64, i64) = sqlx::query_as(USAGE_SQL).bind(owner_id).fetch_one(&mut **tx).await.map_err(classify)?;
    Ok(Usage { count, bytes })
}

macro_rules! columns {
    () => {
        "id, name, content, created_at, updated_at"
    };
}

fn template_from_row(row: &PgRow) -> Result<Template, sqlx::Error> {
    Ok(Template {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        content: row.try_get("content")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

impl PgStore {
    /// Served by templates_by_owner (owner_id, created_at, id); deep pages are OFFSET scans.
    pub(super) async fn templates_page(&self, owner_id: Uuid, page: u32, per_page: u32) -> StoreResult<Page<Template>> {
        let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
        let rows =
            sqlx::query(concat!("SELECT ", columns!(), " FROM templates WHERE owner_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3"))
                .bind(owner_id)
                .bind(i64::from(per_page))
                .bind(offset)
                .fetch_all(&self.pool)
                .await
                .map_err(classify)?;
        let items = rows.iter().map(template_from_row).collect::<Result<Vec<_>, _>>().map_err(classify)?;
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM templates WHERE owner_id = $1")
            .bind(owner_id)
            .fetch_one(&self.pool)
            .await
            .map_err(classify)?;
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }

    pub(super) async fn insert_template(&self, template: NewTemplate, quota: TemplateQuota) -> StoreResult<Template> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        quota.admit_new(&locked_usage(&mut tx, template.owner_id).await?, template.size())?;
        let row = sqlx::query(concat!(
            "INSERT INTO templates (id, owner_id, name, content, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5) RETURNING ",
            columns!()
        ))
        .bind(template.id)
        .bind(template.owner_id)
        .bind(&template.name)
        .bind(&template.content)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(classify)?;
        let template = template_from_row(&row).map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(template)
    }

    pub(super) async fn owned_template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<Option<Template>> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM templates WHERE id = $1 AND owner_id = $2"))
            .bind(id)
            .bind(owner_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(classify)?;
        row.as_ref().map(template_from_row).transpose().map_err(classify)
    }

    pub(super) async fn patch_template(
        &self,
        owner_id: Uuid,
        id: Uuid,
        patch: TemplatePatch,
        quota: TemplateQuota,
    ) -> StoreResult<Template> {
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let usage = locked_usage(&mut tx, owner_id).await?;
        let (name_bytes, content_bytes): (i32, i32) = sqlx::query_as(SIZE_SQL)
            .bind(id)
            .bind(owner_id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(classify)?
            .ok_or(StoreError::NotFound)?;
        let (name_bytes, content_bytes) = (i64::from(name_bytes), i64::from(content_bytes));
        let (old, new) = (name_bytes + content_bytes, patch.size_after(name_bytes, content_bytes));
        if new > old {
            quota.admit_growth(&usage, old, new)?;
        }
        let row = sqlx::query(concat!(
            "UPDATE templates SET name = COALESCE($3, name), content = COALESCE($4, content), updated_at = $5 \
             WHERE id = $1 AND owner_id = $2 RETURNING ",
            columns!()
        ))
        .bind(id)
        .bind(owner_id)
        .bind(&patch.name)
        .bind(&patch.content)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(classify)?;
        let template = template_from_row(&row).map_err(classify)?;
        tx.commit().await.map_err(classify)?;
        Ok(template)
    }

    pub(super) async fn remove_template(&self, owner_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM templates WHERE id = $1 AND owner_id = $2")
            .bind(id)
            .bind(owner_id)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }
}
