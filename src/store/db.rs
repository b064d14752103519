//! The dialect module: the one place that knows there are two databases. [`Db`] holds a
//! SQLite or a PostgreSQL pool; every store operation is written once and run through
//! [`on_db!`], which expands its body into both arms of a `match`, so each copy is
//! type-checked against its own database. What really differs lives below: opening the pool,
//! beginning a write (SQLite's `BEGIN IMMEDIATE` behind the in-process writer queue,
//! PostgreSQL's `BEGIN`), PostgreSQL's locks, bulk inserts, SQL fragments ([`Db::pick`]), errors.

use std::ops::{Deref, DerefMut};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgDatabaseError, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Database, Pool, Postgres, Sqlite, Transaction};

use crate::domain::Email;
use tokio::sync::{Mutex, OwnedMutexGuard};
use uuid::Uuid;

use super::Conflict;
use super::codec::Time;
use super::{NewUser, StoreError, StoreResult};

/// Runs one body against whichever database `$db` holds; `$conn` is its [`Conn`].
macro_rules! on_db {
    ($db:expr, $conn:ident => $body:expr) => {
        match $db {
            $crate::store::db::Db::Sqlite($conn) => $body,
            $crate::store::db::Db::Postgres($conn) => $body,
        }
    };
}
pub(crate) use on_db;

pub(crate) enum Db {
    Sqlite(Conn<Sqlite>),
    Postgres(Conn<Postgres>),
}

/// A pool, and on SQLite the queue its writers wait in.
pub(crate) struct Conn<DB: Database> {
    pub(crate) pool: Pool<DB>,
    /// Writers of this process queue here, in order, instead of polling SQLite's write
    /// lock in its busy handler (sleeps of 1 to 100 ms that stretched the p99 of writes).
    writer: Arc<Mutex<()>>,
}

/// A write transaction; derefs to its connection. On SQLite it holds this process's
/// place in the writer queue until it ends. Dropping it rolls back.
pub(crate) struct Write<DB: Database> {
    tx: Transaction<'static, DB>,
    _queued: Option<OwnedMutexGuard<()>>,
}

impl<DB: Database> Deref for Write<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl<DB: Database> DerefMut for Write<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

impl<DB: Database> Write<DB> {
    pub(crate) async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await.map_err(classify)
    }
}

/// A request waits at most this long for a PostgreSQL connection: an outage answers 503 quickly.
const PG_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// No PostgreSQL statement runs longer than this (milliseconds), so a stuck query cannot hold a request.
const PG_STATEMENT_TIMEOUT_MS: &str = "10000";

/// What a PostgreSQL write takes first, where READ COMMITTED alone would let two writers
/// decide on the same stale read. SQLite takes none: its writers hold the one write lock.
#[derive(Clone, Copy)]
pub(crate) enum Lock {
    /// Every change able to remove an enabled admin (an advisory lock, "gateadmn"): two
    /// admins demoting each other at once would each see the other still enabled; with the
    /// lock the second waits for the first to commit, then counts what it left.
    AdminChanges,
    /// Two rotations at once (two instances, or the CLI twice) queue instead of one of them
    /// losing its key to the one-active-key index.
    SigningKeys,
    /// The owner's user row, before a template quota is counted: parallel creates at the
    /// limit cannot both pass it. `NO KEY UPDATE` leaves the row free for the foreign-key
    /// checks of other inserts (sessions). `NotFound` when the owner is gone.
    TemplateOwner(Uuid),
    /// One address's email codes, before the codes of its last hour are counted: parallel
    /// requests at the cap cannot both pass it. The key is the address key's hash.
    EmailAddress(i64),
    /// The org's row, before its owners are counted (two owners demoting each other at once
    /// cannot both pass the last-owner check); `NotFound` when the org is gone.
    Org(Uuid),
}

impl Db {
    /// Opens the database that the URL names, leaving its schema as it is.
    pub(crate) async fn connect(url: &str, synchronous: crate::config::SqliteSynchronous) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Db::Sqlite(Conn::new(open_sqlite(url, synchronous).await?)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Db::Postgres(Conn::new(open_postgres(url).await?)))
        } else {
            anyhow::bail!("GATEHOUSE_DATABASE_URL must start with sqlite:// or postgres://")
        }
    }

    /// The SQL text for this database, where the two differ by a fragment.
    pub(crate) fn pick(&self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Db::Sqlite(_) => sqlite,
            Db::Postgres(_) => postgres,
        }
    }
}

async fn open_sqlite(url: &str, synchronous: crate::config::SqliteSynchronous) -> anyhow::Result<Pool<Sqlite>> {
    let synchronous = match synchronous {
        // FULL: a commit that answered 2xx survives a power loss, not only a process crash.
        crate::config::SqliteSynchronous::Full => SqliteSynchronous::Full,
        // NORMAL under WAL: survives a process crash; a power loss may drop the last commits.
        crate::config::SqliteSynchronous::Normal => SqliteSynchronous::Normal,
    };
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("GATEHOUSE_DATABASE_URL: cannot parse {url:?}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(5));
    if !crate::files::sqlite_in_memory(url) {
        let path = options.get_filename();
        crate::files::prepare_sqlite_file(path).with_context(|| format!("cannot create the SQLite database {}", path.display()))?;
        crate::files::hold_in_use(path).with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
    }
    // Readers run in parallel under WAL; writers queue on SQLite's one write lock.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let pool = SqlitePoolOptions::new()
        .max_connections((cores * 4).clamp(4, 32) as u32)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open the SQLite database {url:?}"))?;
    Ok(pool)
}

/// For several Gatehouse instances on one database: uniqueness and "one live token / one
/// active key" live in constraints, so races between instances cannot break them.
async fn open_postgres(url: &str) -> anyhow::Result<Pool<Postgres>> {
    let options: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .with_context(|| format!("GATEHOUSE_DATABASE_URL: cannot parse {:?}", crate::config::redact_url(url)))?
        .application_name("gatehouse")
        .options([("statement_timeout", PG_STATEMENT_TIMEOUT_MS)]);
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .min_connections(1)
        .acquire_timeout(PG_ACQUIRE_TIMEOUT)
        .idle_timeout(Duration::from_secs(300))
        .test_before_acquire(true)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {}", crate::config::redact_url(url)))?;
    Ok(pool)
}

impl<DB: Database> Conn<DB> {
    fn new(pool: Pool<DB>) -> Self {
        Self { pool, writer: Arc::default() }
    }
}

impl Conn<Sqlite> {
    /// A write transaction that takes SQLite's write lock at once, so that two writers
    /// never deadlock upgrading from a read, and that makes every read-decide-write inside
    /// it atomic. Other processes on the file (the CLI) still meet the busy timeout.
    pub(crate) async fn write(&self) -> StoreResult<Write<Sqlite>> {
        let queued = self.writer.clone().lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await.map_err(classify)?;
        Ok(Write { tx, _queued: Some(queued) })
    }
}

impl Conn<Postgres> {
    /// A plain READ COMMITTED transaction: what must not interleave takes a row lock
    /// (`FOR UPDATE`, an upsert) or one of the locks below.
    pub(crate) async fn write(&self) -> StoreResult<Write<Postgres>> {
        let tx = self.pool.begin().await.map_err(classify)?;
        Ok(Write { tx, _queued: None })
    }
}

/// Items written once and implemented for both databases' write transactions.
macro_rules! on_both_writes {
    ($($item:item)*) => {
        impl Write<Sqlite> { $($item)* }
        impl Write<Postgres> { $($item)* }
    };
}
pub(crate) use on_both_writes;

on_both_writes! {
    /// One user row and its roles.
    pub(crate) async fn insert_user(&mut self, user: &NewUser, now: Time) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(user.id)
        .bind(user.username.as_str())
        .bind(user.username.key())
        .bind(user.email.as_ref().map(Email::as_str))
        .bind(user.email.as_ref().map(Email::key))
        .bind(&user.password_hash)
        .bind(now)
        .execute(&mut **self)
        .await
        .map_err(classify)?;
        self.insert_roles(user.id, &user.roles.iter().map(|r| r.as_str().to_string()).collect::<Vec<_>>()).await
    }
}

impl Write<Sqlite> {
    /// Nothing to take: the transaction already holds SQLite's one write lock.
    pub(crate) async fn lock(&mut self, _: Lock) -> StoreResult<()> {
        Ok(())
    }

    /// SQLite has no arrays, and runs in process: one statement per row costs no round trip.
    pub(crate) async fn insert_users(&mut self, users: &[NewUser], now: Time) -> StoreResult<()> {
        for user in users {
            self.insert_user(user, now).await?;
        }
        Ok(())
    }

    pub(crate) async fn insert_roles(&mut self, user_id: Uuid, roles: &[String]) -> StoreResult<()> {
        for role in roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(user_id)
                .bind(role)
                .execute(&mut **self)
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    pub(crate) async fn insert_recovery_codes(&mut self, user_id: Uuid, hashes: &[Vec<u8>], now: Time) -> StoreResult<()> {
        for hash in hashes {
            sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                .bind(user_id)
                .bind(hash)
                .bind(now)
                .execute(&mut **self)
                .await
                .map_err(classify)?;
        }
        Ok(())
    }
}

impl Write<Postgres> {
    pub(crate) async fn lock(&mut self, lock: Lock) -> StoreResult<()> {
        let taken = match lock {
            Lock::AdminChanges => sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(0x6761_7465_6164_6d6e_i64).execute(&mut **self),
            Lock::SigningKeys => sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE").execute(&mut **self),
            Lock::TemplateOwner(owner) => {
                sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE").bind(owner).execute(&mut **self)
            }
            Lock::EmailAddress(key) => sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(key).execute(&mut **self),
            Lock::Org(org) => sqlx::query("SELECT 1 FROM organizations WHERE id = $1 FOR NO KEY UPDATE").bind(org).execute(&mut **self),
        };
        let taken = taken.await.map_err(classify)?;
        if matches!(lock, Lock::TemplateOwner(_) | Lock::Org(_)) && taken.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// A batch in two array-bound statements (UNNEST) instead of one round trip per row.
    pub(crate) async fn insert_users(&mut self, users: &[NewUser], now: Time) -> StoreResult<()> {
        if let [user] = users {
            return self.insert_user(user, now).await;
        }
        let ids: Vec<Uuid> = users.iter().map(|u| u.id).collect();
        let names: Vec<&str> = users.iter().map(|u| u.username.as_str()).collect();
        let name_keys: Vec<String> = users.iter().map(|u| u.username.key()).collect();
        let emails: Vec<Option<&str>> = users.iter().map(|u| u.email.as_ref().map(Email::as_str)).collect();
        let email_keys: Vec<Option<String>> = users.iter().map(|u| u.email.as_ref().map(Email::key)).collect();
        let hashes: Vec<&str> = users.iter().map(|u| u.password_hash.as_str()).collect();
        let (role_users, roles): (Vec<Uuid>, Vec<&str>) = users.iter().flat_map(|u| u.roles.iter().map(|r| (u.id, r.as_str()))).unzip();
        sqlx::query(
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash, created_at, updated_at) \
             SELECT u.*, $7, $7 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u",
        )
        .bind(&ids)
        .bind(&names)
        .bind(&name_keys)
        .bind(&emails)
        .bind(&email_keys)
        .bind(&hashes)
        .bind(now)
        .execute(&mut **self)
        .await
        .map_err(classify)?;
        sqlx::query("INSERT INTO user_roles (user_id, role) SELECT * FROM UNNEST($1::uuid[], $2::text[]) ON CONFLICT DO NOTHING")
            .bind(&role_users)
            .bind(&roles)
            .execute(&mut **self)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub(crate) async fn insert_roles(&mut self, user_id: Uuid, roles: &[String]) -> StoreResult<()> {
        sqlx::query("INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING")
            .bind(user_id)
            .bind(roles)
            .execute(&mut **self)
            .await
            .map_err(classify)?;
        Ok(())
    }

    pub(crate) async fn insert_recovery_codes(&mut self, user_id: Uuid, hashes: &[Vec<u8>], now: Time) -> StoreResult<()> {
        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) SELECT $1, unnest($2::bytea[]), $3")
            .bind(user_id)
            .bind(hashes)
            .bind(now)
            .execute(&mut **self)
            .await
            .map_err(classify)?;
        Ok(())
    }
}

/// The unique constraints a request can run into: by name in PostgreSQL, by columns in SQLite's message.
const UNIQUE: [(&str, &str, Conflict); 8] = [
    ("users_username_key", "users.username_key", Conflict::UsernameTaken),
    ("users_email_key", "users.email_key", Conflict::EmailTaken),
    ("templates_owner_name_key", "templates.owner_id, templates.name", Conflict::NameTaken),
    ("passkeys_credential_id_key", "passkeys.credential_id", Conflict::PasskeyTaken),
    ("upstream_providers_slug_key", "upstream_providers.slug", Conflict::SlugTaken),
    ("user_identities_provider_subject_key", "user_identities.provider_id, user_identities.subject", Conflict::IdentityTaken),
    ("organizations_slug_key", "organizations.slug", Conflict::SlugTaken),
    ("org_members_pkey", "org_members.org_id, org_members.user_id", Conflict::AlreadyMember),
];

/// Sorts a database error into what the service answers: a named conflict, an outage
/// (503), or anything else (500).
pub(crate) fn classify(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => return StoreError::Unavailable(err.to_string()),
        sqlx::Error::Database(db) => {
            let message = db.message();
            if db.is_unique_violation() {
                let found = UNIQUE.iter().find(|(name, columns, _)| db.constraint().map_or(message.contains(columns), |c| c == *name));
                if let Some((_, _, conflict)) = found {
                    return StoreError::Conflict(*conflict);
                }
            }
            let unavailable = match db.try_downcast_ref::<PgDatabaseError>() {
                // 08: connection exception; 53: insufficient resources (too many connections,
                // disk full); 57P0x: the server is shutting down or starting; 25006: read-only
                // transaction (a standby); 40001/40P01: serialization failure or deadlock.
                Some(pg) => {
                    let code = pg.code();
                    ["08", "53", "57P"].iter().any(|p| code.starts_with(p)) || matches!(code, "25006" | "40001" | "40P01")
                }
                // SQLite's primary codes busy, locked, I/O, full, cannot open, read-only and
                // not a database: the file is in trouble, not the request.
                None => {
                    let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
                    matches!(primary, Some(5 | 6 | 8 | 10 | 13 | 14 | 26))
                }
            };
            if unavailable {
                return StoreError::Unavailable(message.to_string());
            }
        }
        _ => {}
    }
    StoreError::Other(anyhow::Error::new(err))
}
