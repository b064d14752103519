//! Sessions and their rotated refresh tokens.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{MaybeTime, Roles, Time};
use super::db::{classify, on_db};
use super::users::user_columns;
use super::{EventType, Store, StoreResult, User};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub last_used_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub refresh_hash: Vec<u8>,
    /// How the user signed in (RFC 8176 values, space-separated).
    pub amr: String,
    /// When the user signed in, if before now (a client's session from a browser session).
    pub auth_time: Option<DateTime<Utc>>,
    /// The OpenID Connect client (its row id) holding the session, and its scope.
    pub grant: Option<(Uuid, String)>,
    /// The active org the session starts with (an OpenID Connect authorization's pick).
    pub org: Option<Uuid>,
}

/// What the store knows about a presented refresh token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRecord {
    pub token_hash: Vec<u8>,
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// Set once the token was exchanged for its successor.
    #[sqlx(try_from = "MaybeTime")]
    pub rotated_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "Time")]
    pub session_expires_at: DateTime<Utc>,
    pub session_revoked: bool,
    /// For a client's session: the client's row id, its `client_id` and the scope granted.
    pub grant_client: Option<Uuid>,
    pub grant_client_id: Option<String>,
    pub grant_scope: Option<String>,
    /// The session's active org, while the user is a member: its id, slug and their roles.
    pub org_id: Option<Uuid>,
    pub org_slug: Option<String>,
    #[sqlx(try_from = "Roles")]
    pub org_roles: Vec<String>,
    /// The session's user as it was read with the token: a refresh needs no second query.
    #[sqlx(flatten)]
    pub user: User,
}

/// A live session's user, and when the session ends.
#[derive(sqlx::FromRow)]
struct LiveSession {
    #[sqlx(try_from = "Time")]
    session_expires_at: DateTime<Utc>,
    session_org: Option<Uuid>,
    #[sqlx(flatten)]
    user: User,
}

impl RefreshRecord {
    /// The `org` claim of the session's next access token.
    pub fn org(&self) -> Option<crate::domain::org::OrgClaim> {
        let (id, slug) = (self.org_id?, self.org_slug.clone()?);
        Some(crate::domain::org::OrgClaim { id, slug, roles: self.org_roles.clone() })
    }
}

/// A live session `s` of a live user `u`, with the id, user and now as $1, $2 and $3.
macro_rules! live_session {
    () => {
        " FROM sessions s JOIN users u ON u.id = s.user_id \
         WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND NOT u.disabled"
    };
}

const INSERT_REFRESH: &str = "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)";

impl Store {
    /// Creates a session with its first refresh token.
    pub async fn create_session(&self, session: NewSession) -> StoreResult<Session> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query(
                "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, user_agent, ip, amr, auth_time, client_id, scope, org_id) \
                 VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(session.id)
            .bind(session.user_id)
            .bind(now)
            .bind(Time(session.expires_at))
            .bind(&session.user_agent)
            .bind(&session.ip)
            .bind(&session.amr)
            .bind(Time(session.auth_time.unwrap_or(now.0)))
            .bind(session.grant.as_ref().map(|g| g.0))
            .bind(session.grant.as_ref().map(|g| g.1.as_str()))
            .bind(session.org)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            sqlx::query(INSERT_REFRESH).bind(&session.refresh_hash).bind(session.id).bind(now).execute(&mut *tx).await.map_err(classify)?;
            tx.queue_event(EventType::SessionCreated, &created_event(&session, now)).await?;
            tx.commit().await?;
        });
        Ok(Session {
            id: session.id,
            user_id: session.user_id,
            created_at: now.0,
            last_used_at: now.0,
            expires_at: session.expires_at,
            user_agent: session.user_agent,
            ip: session.ip,
        })
    }

    /// True while the session is not revoked, not expired, and its user is enabled; and,
    /// for a token that names an org, while that org is still the session's active org
    /// (leaving the org or its deletion clears it).
    pub async fn session_is_live(&self, session_id: Uuid, user_id: Uuid, org: Option<Uuid>) -> StoreResult<bool> {
        Ok(self.live_session_user(session_id, user_id, org).await?.is_some())
    }

    /// The user of a session that [`Store::session_is_live`] would call live: from the live
    /// view when it holds them, else in one query whose answer the view keeps.
    pub async fn live_session_user(&self, session_id: Uuid, user_id: Uuid, org: Option<Uuid>) -> StoreResult<Option<User>> {
        let now = Time::now();
        let org_holds = |active: Option<Uuid>| org.is_none() || org == active;
        if let Some((user, active)) = self.live.lookup(session_id, user_id, now.0) {
            return Ok(org_holds(active).then_some(user));
        }
        let epoch = self.live.begin_read();
        let found: Option<LiveSession> = on_db!(&self.db, c => sqlx::query_as(concat!("SELECT s.expires_at AS session_expires_at, s.org_id AS session_org, ", user_columns!(), live_session!()))
                .bind(session_id)
                .bind(user_id)
                .bind(now)
                .fetch_optional(&c.pool)
                .await
                .map_err(classify)?);
        Ok(found.and_then(|found| {
            if let Some(epoch) = epoch {
                self.live.remember(epoch, session_id, found.session_expires_at, found.session_org, &found.user);
            }
            org_holds(found.session_org).then_some(found.user)
        }))
    }

    /// Whether an authenticated request of this session would be answered from memory, with
    /// no database read (for tests and diagnostics).
    pub fn live_view_holds(&self, session_id: Uuid, user_id: Uuid) -> bool {
        self.live.lookup(session_id, user_id, Utc::now()).is_some()
    }

    pub async fn live_sessions(&self, user_id: Uuid) -> StoreResult<Vec<Session>> {
        on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, user_id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions \
             WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at, id",
        )
        .bind(user_id)
        .bind(Time::now())
        .fetch_all(&c.pool)
        .await
        .map_err(classify))
    }

    /// Revokes one session of this user; false when there is no such live session.
    pub async fn revoke_session(&self, session_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
        let now = Time::now();
        let done = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let ended: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE sessions SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL AND expires_at > $3 \
                 RETURNING id, user_id",
            )
            .bind(session_id)
            .bind(user_id)
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
            tx.queue_sessions_revoked(&ended).await?;
            tx.commit().await?;
            ended.len()
        });
        self.live.forget(user_id);
        Ok(done > 0)
    }

    /// Revokes every session of the user except `keep`.
    pub async fn revoke_user_sessions(&self, user_id: Uuid, keep: Option<Uuid>) -> StoreResult<()> {
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let ended: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE sessions SET revoked_at = $3 WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2 RETURNING id, user_id",
            )
            .bind(user_id)
            .bind(keep)
            .bind(Time::now())
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
            tx.queue_sessions_revoked(&ended).await?;
            tx.commit().await?;
        });
        self.live.forget(user_id);
        Ok(())
    }

    pub async fn refresh_record(&self, token_hash: &[u8]) -> StoreResult<Option<RefreshRecord>> {
        on_db!(&self.db, c => sqlx::query_as(concat!(
            "SELECT t.token_hash, t.session_id, t.rotated_at, s.user_id, s.expires_at AS session_expires_at, \
             s.revoked_at IS NOT NULL AS session_revoked, s.client_id AS grant_client, oc.client_id AS grant_client_id, \
             s.scope AS grant_scope, o.id AS org_id, o.slug AS org_slug, m.roles AS org_roles, ",
            user_columns!(),
            " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id JOIN users u ON u.id = s.user_id \
             LEFT JOIN oauth_clients oc ON oc.id = s.client_id \
             LEFT JOIN org_members m ON m.org_id = s.org_id AND m.user_id = s.user_id LEFT JOIN organizations o ON o.id = m.org_id \
             WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&c.pool)
        .await
        .map_err(classify))
    }

    /// Marks `old_hash` rotated and makes `new_hash` the session's live token, atomically,
    /// and only while the session is live (not revoked, not expired, its user enabled) at
    /// the moment of the write: a revocation between the read of the token and this write
    /// wins. False when the session is no longer live or `old_hash` was no longer the live
    /// token (another request rotated it).
    pub async fn rotate_refresh(&self, session_id: Uuid, old_hash: &[u8], new_hash: &[u8]) -> StoreResult<bool> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            // First the session row, held until commit and checked live after any revocation
            // in flight has committed (on PostgreSQL an UPDATE waits for the row, then rechecks
            // its WHERE; SQLite's writers take turns): a revoked session is never rotated, a
            // later revocation waits, and parallel rotations of one token queue here.
            let live = sqlx::query(
                "UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 \
                 AND EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id AND NOT u.disabled)",
            )
            .bind(session_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            if live.rows_affected() == 0 {
                return Ok(false);
            }
            let rotated = sqlx::query(
                "UPDATE refresh_tokens SET rotated_at = $3 WHERE token_hash = $1 AND session_id = $2 AND rotated_at IS NULL",
            )
            .bind(old_hash)
            .bind(session_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            if rotated.rows_affected() == 0 {
                return Ok(false);
            }
            sqlx::query(INSERT_REFRESH).bind(new_hash).bind(session_id).bind(now).execute(&mut *tx).await.map_err(classify)?;
            tx.commit().await?;
        });
        Ok(true)
    }

    pub async fn live_refresh_hash(&self, session_id: Uuid) -> StoreResult<Option<Vec<u8>>> {
        on_db!(&self.db, c => sqlx::query_scalar("SELECT token_hash FROM refresh_tokens WHERE session_id = $1 AND rotated_at IS NULL")
            .bind(session_id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }
}

/// `session.created`'s data: the session as its owner's list shows it, and the client
/// holding it (its row id) for a client's session.
fn created_event(session: &NewSession, now: Time) -> serde_json::Value {
    serde_json::json!({
        "id": session.id,
        "user_id": session.user_id,
        "created_at": now.0,
        "expires_at": session.expires_at,
        "user_agent": session.user_agent,
        "ip": session.ip,
        "amr": session.amr.split(' ').filter(|m| !m.is_empty()).collect::<Vec<_>>(),
        "client": session.grant.as_ref().map(|g| g.0),
    })
}
