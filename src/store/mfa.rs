//! The records of the TOTP second factor, as every store keeps them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// A user's TOTP secret. While `enabled` is false it is pending: set up, not yet confirmed
/// by a first code. `Debug` hides the secret.
#[derive(Clone)]
pub struct TotpRecord {
    pub secret: Vec<u8>,
    pub enabled: bool,
    /// The last time step whose code was accepted.
    pub last_step: Option<i64>,
}

impl std::fmt::Debug for TotpRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpRecord").field("secret", &"***").field("enabled", &self.enabled).field("last_step", &self.last_step).finish()
    }
}

/// A login that passed its password and waits for the second factor.
#[derive(Debug, Clone)]
pub struct NewMfaChallenge {
    /// SHA-256 of the mfa_token; the token itself is never stored.
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    /// The lockout key of the login name of the first step.
    pub login_key: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct MfaChallenge {
    pub user_id: Uuid,
    pub login_key: String,
}
