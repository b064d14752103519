//! Sessions and their refresh tokens, as the store hands them out.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::User;

#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub last_used_at: DateTime<Utc>,
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
}

/// What the store knows about a presented refresh token.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub token_hash: Vec<u8>,
    pub session_id: Uuid,
    pub user_id: Uuid,
    /// Set once the token was exchanged for its successor.
    pub rotated_at: Option<DateTime<Utc>>,
    pub session_expires_at: DateTime<Utc>,
    pub session_revoked: bool,
    /// The session's user as it was read with the token: a refresh needs no second query.
    pub user: User,
}

/// The first statement of a rotation, the same on both stores (`$1` the session, `$2` now):
/// it marks the session used only while it is live, and holds its row until the rotation
/// commits, so that a revocation either comes first (and this changes nothing) or waits.
pub(crate) const LIVE_SESSION_TOUCH: &str = "UPDATE sessions SET last_used_at = $2 WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2 \
     AND EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id AND NOT u.disabled)";
