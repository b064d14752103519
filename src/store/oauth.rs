//! OpenID Connect grants: authorization codes (single use, bound to their client, redirect
//! URI and PKCE challenge), the consents users gave, and the sessions clients hold.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{MaybeTime, Time};
use super::db::{classify, on_db};
use super::{Store, StoreResult};

/// An authorization code to store; `code_hash` is the SHA-256 of what the client gets.
pub struct NewCode {
    pub code_hash: Vec<u8>,
    pub client: Uuid,
    pub user_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge, when the request carried one.
    pub code_challenge: Option<String>,
    pub auth_time: DateTime<Utc>,
    pub amr: String,
    pub expires_at: DateTime<Utc>,
    /// The org picked for the session (scope `organization`).
    pub org: Option<Uuid>,
}

/// A code as it was issued.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRecord {
    #[sqlx(rename = "client_id")]
    pub client: Uuid,
    pub user_id: Uuid,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    #[sqlx(try_from = "Time")]
    pub auth_time: DateTime<Utc>,
    pub amr: String,
    #[sqlx(try_from = "Time")]
    pub expires_at: DateTime<Utc>,
    pub org_id: Option<Uuid>,
}

/// What presenting a code found.
pub enum CodeClaim {
    /// Its first use: the code is spent now, and `session` is the id its tokens get.
    First(CodeRecord),
    /// It was used before: the session its first use started (now to be revoked).
    Replayed {
        session: Option<Uuid>,
        user_id: Uuid,
    },
    Unknown,
}

#[derive(sqlx::FromRow)]
struct SpentCode {
    session_id: Option<Uuid>,
    user_id: Uuid,
}

/// What a session's client was granted, read with its refresh token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionGrant {
    /// The client's row id.
    pub client: Uuid,
    /// The client's `client_id`.
    pub client_id: String,
    pub scope: String,
    pub amr: String,
    #[sqlx(try_from = "Time")]
    pub auth_time: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct MaybeGrant {
    grant_client: Option<Uuid>,
    grant_client_id: Option<String>,
    grant_scope: Option<String>,
    amr: String,
    #[sqlx(try_from = "MaybeTime")]
    auth_time: Option<DateTime<Utc>>,
}

/// Unspent codes one user may hold for one client; a new one past it drops the oldest.
const OUTSTANDING_CODES_PER_CLIENT: i64 = 10;

impl Store {
    pub async fn create_code(&self, code: NewCode) -> StoreResult<()> {
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query(
                "INSERT INTO oauth_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, amr, \
                 created_at, expires_at, org_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&code.code_hash)
            .bind(code.client)
            .bind(code.user_id)
            .bind(&code.redirect_uri)
            .bind(&code.scope)
            .bind(&code.nonce)
            .bind(&code.code_challenge)
            .bind(Time(code.auth_time))
            .bind(&code.amr)
            .bind(Time::now())
            .bind(Time(code.expires_at))
            .bind(code.org)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            sqlx::query(
                "DELETE FROM oauth_codes WHERE user_id = $1 AND client_id = $2 AND used_at IS NULL AND code_hash NOT IN \
                 (SELECT code_hash FROM oauth_codes WHERE user_id = $1 AND client_id = $2 AND used_at IS NULL \
                 ORDER BY created_at DESC, expires_at DESC LIMIT $3)",
            )
            .bind(code.user_id)
            .bind(code.client)
            .bind(OUTSTANDING_CODES_PER_CLIENT)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Ends a user's live sessions with a client past the newest `keep`.
    pub async fn end_excess_client_sessions(&self, user_id: Uuid, client: Uuid, keep: u32) -> StoreResult<()> {
        let now = Time::now();
        let ended = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let ended: Vec<(Uuid, Uuid)> = sqlx::query_as(
                "UPDATE sessions SET revoked_at = $4 WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL AND expires_at > $4 \
                 AND id NOT IN (SELECT id FROM sessions WHERE user_id = $1 AND client_id = $2 AND revoked_at IS NULL \
                 AND expires_at > $4 ORDER BY created_at DESC, id DESC LIMIT $3) RETURNING id, user_id",
            )
            .bind(user_id)
            .bind(client)
            .bind(i64::from(keep))
            .bind(now)
            .fetch_all(&mut *tx)
            .await
            .map_err(classify)?;
            tx.queue_sessions_revoked(&ended).await?;
            tx.commit().await?;
            ended.len()
        });
        if ended > 0 {
            self.live.forget(user_id);
        }
        Ok(())
    }

    /// Spends a code in one statement, naming `session` as what its tokens will belong to;
    /// a second presentation finds it spent and learns that session.
    pub async fn claim_code(&self, code_hash: &[u8], session: Uuid) -> StoreResult<CodeClaim> {
        let claimed: Option<CodeRecord> = on_db!(&self.db, c => sqlx::query_as(
            "UPDATE oauth_codes SET used_at = $2, session_id = $3 WHERE code_hash = $1 AND used_at IS NULL \
             RETURNING client_id, user_id, redirect_uri, scope, nonce, code_challenge, auth_time, amr, expires_at, org_id",
        )
        .bind(code_hash)
        .bind(Time::now())
        .bind(session)
        .fetch_optional(&c.pool)
        .await
        .map_err(classify)?);
        if let Some(record) = claimed {
            return Ok(CodeClaim::First(record));
        }
        let spent: Option<SpentCode> = on_db!(&self.db, c => sqlx::query_as("SELECT session_id, user_id FROM oauth_codes WHERE code_hash = $1")
            .bind(code_hash)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify)?);
        Ok(match spent {
            Some(spent) => CodeClaim::Replayed { session: spent.session_id, user_id: spent.user_id },
            None => CodeClaim::Unknown,
        })
    }

    /// The scope a user allowed a client, if any.
    pub async fn consent(&self, user_id: Uuid, client: Uuid) -> StoreResult<Option<String>> {
        on_db!(&self.db, c => sqlx::query_scalar("SELECT scope FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id)
            .bind(client)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// Remembers what a user allowed a client (replacing what was allowed before).
    pub async fn grant_consent(&self, user_id: Uuid, client: Uuid, scope: &str) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query(
                "INSERT INTO oauth_consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
            )
            .bind(user_id)
            .bind(client)
            .bind(scope)
            .bind(Time::now())
            .execute(&c.pool)
            .await
            .map_err(classify)?;
        });
        Ok(())
    }

    /// The client a session was issued to, and what it was granted; `None` for a session
    /// of the API or the pages (or no such session).
    pub async fn session_grant(&self, session_id: Uuid) -> StoreResult<Option<SessionGrant>> {
        let found: Option<MaybeGrant> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT s.client_id AS grant_client, oc.client_id AS grant_client_id, s.scope AS grant_scope, s.amr, \
             COALESCE(s.auth_time, s.created_at) AS auth_time \
             FROM sessions s LEFT JOIN oauth_clients oc ON oc.id = s.client_id WHERE s.id = $1",
        )
        .bind(session_id)
        .fetch_optional(&c.pool)
        .await
        .map_err(classify)?);
        Ok(found.and_then(|g| {
            Some(SessionGrant {
                client: g.grant_client?,
                client_id: g.grant_client_id?,
                scope: g.grant_scope.unwrap_or_default(),
                amr: g.amr,
                auth_time: g.auth_time?,
            })
        }))
    }

    /// Forgets every session the live view holds: a client's deletion ended its sessions
    /// (by cascade) for users the view cannot name.
    pub(super) fn forget_all_live(&self) {
        self.live.forget_all();
    }
}
