//! The schema's version, and the SQLite file as a whole: the migrations this binary carries
//! and those a database applied (read for [`SchemaStatus`], whose rule refuses a schema
//! newer than the binary), online backups, and the checks a copy passes before
//! `gatehouse restore` puts it in place.

use std::path::Path;

use anyhow::{Context, bail};
use sqlx::migrate::Migrator;

use super::Store;
use super::db::{Db, classify, on_db};
use crate::domain::schema::{Migration, SchemaStatus};

static SQLITE: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/postgres");

fn migrator(db: &Db) -> &'static Migrator {
    match db {
        Db::Sqlite(_) => &SQLITE,
        Db::Postgres(_) => &POSTGRES,
    }
}

fn list(migrator: &Migrator) -> Vec<Migration> {
    migrator.iter().map(|m| Migration { version: m.version, description: m.description.to_string() }).collect()
}

/// The migrations this binary carries for the database the URL names.
pub fn known_migrations(url: &str) -> Vec<Migration> {
    list(if url.starts_with("sqlite:") { &SQLITE } else { &POSTGRES })
}

async fn status_of(db: &Db) -> anyhow::Result<SchemaStatus> {
    let known = list(migrator(db));
    let exists = db.pick(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        "SELECT count(*) FROM information_schema.tables WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()",
    );
    let applied_sql = "SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version";
    let applied: Vec<(i64, String)> = on_db!(db, c => {
        let count: i64 = sqlx::query_scalar(exists).fetch_one(&c.pool).await.map_err(classify)?;
        if count == 0 { Vec::new() } else { sqlx::query_as(applied_sql).fetch_all(&c.pool).await.map_err(classify)? }
    });
    let applied = applied.into_iter().map(|(version, description)| Migration { version, description }).collect();
    Ok(SchemaStatus { known, applied })
}

/// Brings the schema up to date, after refusing one newer than this binary.
pub(crate) async fn migrate(db: &Db) -> anyhow::Result<()> {
    status_of(db).await?.check_known()?;
    on_db!(db, c => migrator(db).run(&c.pool).await.context("cannot bring the schema up to date")?);
    Ok(())
}

/// The schema status of the database at `url`, changing nothing. `None` for a SQLite file
/// that does not exist yet.
pub async fn inspect(url: &str) -> anyhow::Result<Option<SchemaStatus>> {
    if let Some(path) = crate::files::sqlite_path(url)
        && !path.exists()
    {
        return Ok(None);
    }
    let db = Db::connect(url, Default::default()).await?;
    let status = status_of(&db).await;
    on_db!(&db, c => c.pool.close().await);
    status.map(Some)
}

impl Store {
    /// This database's schema status.
    pub async fn schema_status(&self) -> anyhow::Result<SchemaStatus> {
        status_of(&self.db).await
    }

    /// The bytes of the SQLite database (pages in use and free), for a backup's progress;
    /// `None` on PostgreSQL.
    pub async fn sqlite_size(&self) -> anyhow::Result<Option<u64>> {
        let sql = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";
        match &self.db {
            Db::Sqlite(c) => Ok(Some(sqlx::query_scalar::<_, i64>(sql).fetch_one(&c.pool).await.map_err(classify)? as u64)),
            Db::Postgres(_) => Ok(None),
        }
    }

    /// A consistent copy of the running SQLite database into `target`, which must be absent
    /// or empty (created beforehand with the mode it should have). Writers go on meanwhile.
    pub async fn backup_sqlite(&self, target: &Path) -> anyhow::Result<()> {
        let Db::Sqlite(c) = &self.db else { bail!("backups of PostgreSQL are made with pg_dump") };
        let target = target.to_str().context("the backup's path is not UTF-8")?;
        sqlx::query("VACUUM INTO $1").bind(target).execute(&c.pool).await.context("the backup failed")?;
        Ok(())
    }
}

/// What a copy of a SQLite database showed before it may replace the live one.
#[derive(Debug)]
pub struct CopyCheck {
    pub schema: SchemaStatus,
    pub users: i64,
}

/// Opens the SQLite file at `path` without migrating it, and checks it: `PRAGMA
/// integrity_check` must answer ok and the schema must be one this binary knows.
pub async fn check_sqlite_copy(path: &Path) -> anyhow::Result<CopyCheck> {
    let url = format!("sqlite://{}", path.display());
    let db = Db::connect(&url, Default::default()).await?;
    let checked = async {
        let Db::Sqlite(c) = &db else { unreachable!("a sqlite:// URL opens SQLite") };
        let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&c.pool).await.map_err(classify)?;
        if problems != ["ok"] {
            bail!("{} fails SQLite's integrity check: {}", path.display(), problems.join("; "));
        }
        let schema = status_of(&db).await?;
        if schema.applied.is_empty() {
            bail!("{} holds no Gatehouse schema", path.display());
        }
        schema.check_known()?;
        let users = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&c.pool).await.map_err(classify)?;
        Ok(CopyCheck { schema, users })
    }
    .await;
    on_db!(&db, c => c.pool.close().await);
    checked
}
