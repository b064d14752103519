//! Sessions and their token pairs: login starts one, refresh rotates its token with a grace
//! window and reuse detection, logout and password changes revoke.

use chrono::{Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use std::sync::Arc;

use super::tokens::Grant;
use super::{TokenService, refresh};
use crate::audit::Audit;
use crate::domain::org::OrgClaim;
use crate::error::{ApiError, Result};
use crate::store::{AuditType, DynStore, NewSession, RefreshRecord, StoreResult, User};

/// How many rotations past a grace-window parent we look for the session's live token.
const MAX_SUCCESSOR_WALK: usize = 8;

/// Who is on the other end, as recorded on a session.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The answer to login and refresh. `Debug` hides both tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires: GATEHOUSE_ACCESS_TTL, or less near the
    /// session's end, which no access token outlives.
    #[schema(example = 900)]
    pub expires_in: u64,
    pub refresh_token: String,
    /// Seconds left in the session's absolute lifetime.
    #[schema(example = 2592000)]
    pub refresh_expires_in: i64,
    pub user: User,
    /// Present (and true) only after a password login whose password is now found in a
    /// breach corpus: the session works; the client should ask for a new password.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[schema(example = json!(null))]
    pub password_breached: bool,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"***")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &"***")
            .field("refresh_expires_in", &self.refresh_expires_in)
            .field("user", &self.user)
            .finish()
    }
}

/// What sessions need: the store, the token service, the successor secret and two lifetimes.
#[derive(Clone)]
pub struct Sessions {
    pub store: DynStore,
    pub tokens: Arc<TokenService>,
    /// Server secret that derives a refresh token's successor (see `auth::refresh`).
    pub refresh_secret: Arc<Vec<u8>>,
    /// GATEHOUSE_REFRESH_TTL: a session's absolute lifetime.
    pub refresh_ttl: std::time::Duration,
    /// GATEHOUSE_REFRESH_REUSE_GRACE.
    pub reuse_grace: std::time::Duration,
    /// GATEHOUSE_OAUTH_SESSIONS_PER_CLIENT: a user's live sessions with one client.
    pub sessions_per_client: u32,
}

fn pair(
    state: &Sessions,
    user: User,
    session_id: Uuid,
    refresh_token: String,
    expires_at: chrono::DateTime<Utc>,
    grant: Option<Grant<'_>>,
    org: Option<&OrgClaim>,
) -> anyhow::Result<TokenPair> {
    let (access_token, expires_in) =
        state.tokens.issue_granted(user.id, session_id, &user.username, &user.roles, expires_at, grant, org)?;
    Ok(TokenPair {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
        // Rounded up: right after login this is the full GATEHOUSE_REFRESH_TTL.
        refresh_expires_in: ((expires_at - Utc::now()).num_milliseconds().max(0) + 999) / 1000,
        user,
        password_breached: false,
    })
}

/// Starts a session for a user whose credentials were just checked; `amr` names the
/// factors (RFC 8176: `pwd`, and `otp mfa` after a TOTP code).
pub async fn start(state: &Sessions, user: User, client: ClientInfo, amr: &str) -> StoreResult<TokenPair> {
    let refresh_token = refresh::new_token();
    let lifetime = Duration::from_std(state.refresh_ttl).map_err(anyhow::Error::from)?;
    let session = state
        .store
        .create_session(NewSession {
            id: Uuid::now_v7(),
            user_id: user.id,
            expires_at: Utc::now() + lifetime,
            user_agent: client.user_agent,
            ip: client.ip,
            refresh_hash: refresh::hash(&refresh_token),
            amr: amr.to_string(),
            auth_time: None,
            grant: None,
            org: None,
        })
        .await?;
    Ok(pair(state, user, session.id, refresh_token, session.expires_at, None, None)?)
}

/// A session an OpenID Connect client holds for a user, from an authorization code.
pub struct GrantedSession<'a> {
    /// Decided when the code was spent, so that a replay of the code can name it.
    pub id: Uuid,
    pub client: Uuid,
    pub grant: Grant<'a>,
    pub amr: &'a str,
    pub auth_time: chrono::DateTime<Utc>,
    /// With `offline_access` the session lives GATEHOUSE_REFRESH_TTL and its refresh token
    /// is given out; without, it ends with its first access token.
    pub offline: bool,
    /// The org the authorization picked (scope `organization`).
    pub org: Option<OrgClaim>,
}

/// Starts a client's session; the pair's refresh token is only for an `offline` session.
pub async fn start_granted(state: &Sessions, user: User, client: ClientInfo, granted: GrantedSession<'_>) -> StoreResult<TokenPair> {
    let refresh_token = refresh::new_token();
    let lifetime = if granted.offline { state.refresh_ttl } else { state.tokens.access_ttl() };
    let lifetime = Duration::from_std(lifetime).map_err(anyhow::Error::from)?;
    let session = state
        .store
        .create_session(NewSession {
            id: granted.id,
            user_id: user.id,
            expires_at: Utc::now() + lifetime,
            user_agent: client.user_agent,
            ip: client.ip,
            refresh_hash: refresh::hash(&refresh_token),
            amr: granted.amr.to_string(),
            auth_time: Some(granted.auth_time),
            grant: Some((granted.client, granted.grant.scope.to_string())),
            org: granted.org.as_ref().map(|o| o.id),
        })
        .await?;
    // A client that starts sessions in a loop ends its own oldest ones, not the server.
    state.store.end_excess_client_sessions(user.id, granted.client, state.sessions_per_client).await?;
    Ok(pair(state, user, session.id, refresh_token, session.expires_at, Some(granted.grant), granted.org.as_ref())?)
}

/// Exchanges a refresh token for a new pair (see the contract's "Refresh tokens").
/// Counts each outcome (rotated, grace reuse, reuse detected); a detected reuse is audited.
/// `holder` is the client presenting it (its row id) and the resource its new access
/// token is for, `None` for the API: a session's token is taken only from its own holder,
/// and refused before anything changes otherwise.
pub async fn rotate(state: &Sessions, presented: &str, audit: &Audit, holder: Option<(Uuid, Option<&str>)>) -> Result<TokenPair> {
    let resource = holder.and_then(|(_, resource)| resource);
    let holder = holder.map(|(client, _)| client);
    let invalid = ApiError::InvalidToken { sent: true };
    if !refresh::looks_valid(presented) {
        return Err(invalid);
    }
    let presented_hash = refresh::hash(presented);
    let mut record = state.store.refresh_record(&presented_hash).await?.ok_or(ApiError::InvalidToken { sent: true })?;
    if !refresh::same_hash(&record.token_hash, &presented_hash) || !is_live(&record) || record.grant_client != holder {
        return Err(invalid);
    }
    let successor = refresh::successor(&state.refresh_secret, presented);
    if record.rotated_at.is_none() {
        if state.store.rotate_refresh(record.session_id, &presented_hash, &refresh::hash(&successor)).await? {
            crate::metrics::refresh("rotated");
            return finish(state, &record, successor, resource).await;
        }
        // Another request rotated it a moment ago (answer as for a grace-window reuse), or
        // the session stopped being live since it was read (answer as if it was then).
        record = state.store.refresh_record(&presented_hash).await?.ok_or(ApiError::InvalidToken { sent: true })?;
        if record.rotated_at.is_none() || !is_live(&record) {
            return Err(ApiError::InvalidToken { sent: true });
        }
    }
    let rotated_at = record.rotated_at.unwrap_or_else(Utc::now);
    let grace = Duration::from_std(state.reuse_grace).map_err(anyhow::Error::from)?;
    if !grace.is_zero()
        && Utc::now() - rotated_at <= grace
        && let Some(current) = current_token(state, &record, successor).await?
    {
        crate::metrics::refresh("grace_reuse");
        return finish(state, &record, current, resource).await;
    }
    tracing::warn!(session_id = %record.session_id, user_id = %record.user_id, "refresh token reused; session revoked");
    state.store.revoke_session(record.session_id, record.user_id).await?;
    crate::metrics::refresh("reuse_detected");
    audit.record(AuditType::RefreshReused, None, Some(record.user_id), serde_json::json!({ "session_id": record.session_id })).await;
    Err(ApiError::TokenReused)
}

fn is_live(record: &RefreshRecord) -> bool {
    !record.session_revoked && !record.user.disabled && record.session_expires_at > Utc::now()
}

/// Walks the chain of successors from the presented token to the session's live token.
async fn current_token(state: &Sessions, record: &RefreshRecord, mut candidate: String) -> Result<Option<String>> {
    let Some(live) = state.store.live_refresh_hash(record.session_id).await? else { return Ok(None) };
    for _ in 0..MAX_SUCCESSOR_WALK {
        if refresh::same_hash(&refresh::hash(&candidate), &live) {
            return Ok(Some(candidate));
        }
        candidate = refresh::successor(&state.refresh_secret, &candidate);
    }
    Ok(None)
}

async fn finish(state: &Sessions, record: &RefreshRecord, refresh_token: String, resource: Option<&str>) -> Result<TokenPair> {
    // The user was read with the token; disabling it revokes the session, which the next
    // use of this pair sees.
    let grant = match (&record.grant_client_id, &record.grant_scope) {
        (Some(client_id), Some(scope)) => Some(Grant { client_id, scope, resource }),
        _ => None,
    };
    // The session's active org as it stands now: none once the user left it.
    let org = record.org();
    Ok(pair(state, record.user.clone(), record.session_id, refresh_token, record.session_expires_at, grant, org.as_ref())?)
}

/// An access token for the session as it is now (its active org changed), without touching
/// its refresh token: the pair's `refresh_token` is empty and not to be shown.
pub fn reissue(
    state: &Sessions,
    user: User,
    session_id: Uuid,
    session_end: chrono::DateTime<Utc>,
    org: Option<&OrgClaim>,
) -> anyhow::Result<TokenPair> {
    pair(state, user, session_id, String::new(), session_end, None, org)
}
