//! The live view: what the store last read of a live session and its user, kept in memory
//! so that an authenticated request needs no database round trip.
//!
//! It may answer only while it is sure to hear of every change that could make it wrong.
//! Two paths tell it, both here:
//! - the store's own writes: each operation that revokes a session or changes a user calls
//!   [`LiveView::forget`] once it has written, so this instance answers right at once;
//! - the watcher ([`Store::watch_changes`]), for writers elsewhere (another instance, the
//!   CLI, an operator's `psql` or `sqlite3`): on PostgreSQL, triggers send `NOTIFY` in the
//!   writing transaction (migration 0009) and the watcher LISTENs; on SQLite it polls
//!   `PRAGMA data_version`, which moves with every commit made on another connection.
//!
//! While the watcher cannot be sure (before it listens, once its connection is lost or
//! stops answering its own pings) the view is off and every request asks the database.
//! A read races a change by an epoch: what a read finds goes into the view only when no
//! change was heard between its start and its end.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Connection;
use uuid::Uuid;

use super::User;
use super::db::Db;

/// At most this many users are held; past it the view starts over (it refills as requests come).
const MAX_USERS: usize = 100_000;
/// At most this many sessions of one user are held; past it that user's list starts over.
const MAX_SESSIONS_PER_USER: usize = 32;
/// How often the SQLite watcher looks for commits of other connections, and how often the
/// PostgreSQL watcher pings itself through the database.
const WATCH_EVERY: Duration = Duration::from_millis(250);
/// A PostgreSQL listener that hears nothing (not even its own pings) this long is taken as lost.
const SILENCE_LIMIT: Duration = Duration::from_secs(1);
/// Waiting time before a watcher that failed to start tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);
/// The PostgreSQL channel the triggers of migration 0009 notify, with a user id as payload.
pub(super) const CHANNEL: &str = "gatehouse_live";
const PING: &str = "ping";

#[derive(Default)]
pub(super) struct LiveView {
    state: RwLock<ViewState>,
}

#[derive(Default)]
struct ViewState {
    /// Whether a watcher is listening (or, for an in-memory SQLite database, no one else can write).
    sure: bool,
    /// Moves on every change heard; a read started under an older epoch is not kept.
    epoch: u64,
    users: HashMap<Uuid, Known>,
}

struct Known {
    user: User,
    /// Live sessions of the user, with their end and their active org.
    sessions: Vec<(Uuid, DateTime<Utc>, Option<Uuid>)>,
}

impl LiveView {
    /// The user of a live session, when the view holds it, with the session's active org.
    pub(super) fn lookup(&self, session_id: Uuid, user_id: Uuid, now: DateTime<Utc>) -> Option<(User, Option<Uuid>)> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        if !state.sure {
            return None;
        }
        let known = state.users.get(&user_id)?;
        let &(_, _, org) = known.sessions.iter().find(|&&(id, ends, _)| id == session_id && ends > now)?;
        Some((known.user.clone(), org))
    }

    /// Call before reading a live session from the database; `None` when what is read may not be kept.
    pub(super) fn begin_read(&self) -> Option<u64> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state.sure.then_some(state.epoch)
    }

    /// Keeps what a read begun at `epoch` found, unless a change was heard since.
    pub(super) fn remember(&self, epoch: u64, session_id: Uuid, session_ends: DateTime<Utc>, org: Option<Uuid>, user: &User) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if !state.sure || state.epoch != epoch {
            return;
        }
        if state.users.len() >= MAX_USERS && !state.users.contains_key(&user.id) {
            state.users.clear();
        }
        let known = state.users.entry(user.id).or_insert_with(|| Known { user: user.clone(), sessions: Vec::new() });
        known.user = user.clone();
        if known.sessions.len() >= MAX_SESSIONS_PER_USER {
            known.sessions.clear();
        }
        known.sessions.retain(|&(id, _, _)| id != session_id);
        known.sessions.push((session_id, session_ends, org));
    }

    /// A change to the user or one of its sessions was written (or may have been).
    pub(super) fn forget(&self, user_id: Uuid) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.epoch += 1;
        state.users.remove(&user_id);
    }

    /// Anything may have changed.
    pub(super) fn forget_all(&self) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.epoch += 1;
        state.users.clear();
    }

    /// Turns the view on or off; either way it starts empty.
    pub(super) fn set_sure(&self, sure: bool) {
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        state.sure = sure;
        state.epoch += 1;
        state.users.clear();
    }

    /// A notification's payload: a user id, or anything else (then everyone is forgotten).
    fn heard(&self, payload: &str) {
        match payload.parse::<Uuid>() {
            Ok(user_id) => self.forget(user_id),
            Err(_) if payload == PING => {}
            Err(_) => self.forget_all(),
        }
    }
}

impl super::Store {
    /// Keeps the live view sure of what other writers do, for as long as the server runs;
    /// without it (the CLI) the view stays off. Never returns.
    pub async fn watch_changes(&self) {
        match &self.db {
            Db::Sqlite(_) if self.in_memory => {
                // No other connection or process can write this database.
                self.live.set_sure(true);
                std::future::pending::<()>().await;
            }
            Db::Sqlite(c) => loop {
                if let Err(err) = self.watch_sqlite(c).await {
                    tracing::warn!(error = %err, "the session view is off until it can watch the database again");
                }
                self.live.set_sure(false);
                tokio::time::sleep(RETRY_AFTER).await;
            },
            Db::Postgres(c) => loop {
                if let Err(err) = self.watch_postgres(&c.pool).await {
                    tracing::warn!(error = %err, "the session view is off until it can listen to the database again");
                }
                self.live.set_sure(false);
                tokio::time::sleep(RETRY_AFTER).await;
            },
        }
    }

    /// Polls `data_version` on a connection of its own: it moves when any other connection,
    /// of this process or another, commits.
    async fn watch_sqlite(&self, c: &super::db::Conn<sqlx::Sqlite>) -> anyhow::Result<()> {
        let mut conn = sqlx::SqliteConnection::connect_with(&c.pool.connect_options()).await?;
        let mut seen: i64 = sqlx::query_scalar("PRAGMA data_version").fetch_one(&mut conn).await?;
        self.live.set_sure(true);
        let mut every = tokio::time::interval(WATCH_EVERY);
        loop {
            every.tick().await;
            let now: i64 = sqlx::query_scalar("PRAGMA data_version").fetch_one(&mut conn).await?;
            if now != seen {
                seen = now;
                self.live.forget_all();
            }
        }
    }

    /// Listens to the triggers' notifications; a ping sent through the pool every
    /// [`WATCH_EVERY`] proves the listening connection alive, and [`SILENCE_LIMIT`] without
    /// any message ends the watch (the view goes off, then starts over).
    async fn watch_postgres(&self, pool: &sqlx::PgPool) -> anyhow::Result<()> {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await?;
        let pinger = pool.clone();
        let pings = tokio::spawn(async move {
            let mut every = tokio::time::interval(WATCH_EVERY);
            loop {
                every.tick().await;
                // A ping that cannot be sent shows as silence below.
                let _ = sqlx::query("SELECT pg_notify($1, $2)").bind(CHANNEL).bind(PING).execute(&pinger).await;
            }
        });
        let _stop_pings = AbortOnDrop(pings);
        self.live.set_sure(true);
        loop {
            match tokio::time::timeout(SILENCE_LIMIT, listener.try_recv()).await {
                Ok(Ok(Some(notification))) => self.live.heard(notification.payload()),
                Ok(Ok(None)) => anyhow::bail!("the listening connection was lost"),
                Ok(Err(err)) => return Err(err.into()),
                Err(_) => anyhow::bail!("the listening connection was silent for {SILENCE_LIMIT:?}"),
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
