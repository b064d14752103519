//! The second factor of a login and of TOTP changes: the mfa_token challenge and the check
//! of a code against a user's TOTP.
//!
//! The mfa_token is an opaque random string stored only as its SHA-256 (like refresh
//! tokens), not a JWT: using it up is one `DELETE` whose row count says who won, it works
//! across instances on one database, and turning TOTP off deletes the pending ones. It can
//! never be mistaken for an access token, and no access or refresh token is ever one.

use chrono::Utc;

use super::{lockout, refresh, totp};
use crate::error::MfaToken;
use crate::store::{DynStore, NewMfaChallenge, StoreResult};

/// Which second factor passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Factor {
    Totp,
    RecoveryCode,
    Passkey,
}

impl Factor {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::RecoveryCode => "recovery_code",
            Self::Passkey => "passkey",
        }
    }
}

/// A correct password of a user with TOTP on: stores a challenge, valid for `ttl`, and
/// answers its token. `login` is the name typed at this step (or the address a code went
/// to); `first_factor` the step's amr value (`pwd`, or `mca` for an email code).
pub async fn challenge(
    store: &DynStore,
    ttl: std::time::Duration,
    user_id: uuid::Uuid,
    login: &str,
    first_factor: &'static str,
) -> StoreResult<MfaToken> {
    let token = refresh::new_token();
    let ttl = chrono::Duration::from_std(ttl).map_err(anyhow::Error::from)?;
    store
        .create_mfa_challenge(NewMfaChallenge {
            token_hash: refresh::hash(&token),
            user_id,
            login_key: lockout::attempt_key(login),
            first_factor,
            expires_at: Utc::now() + ttl,
        })
        .await?;
    Ok(MfaToken(token))
}

/// Checks `code` against the user's enabled TOTP: a current code (its time step then
/// taken, so it works once) or an unused recovery code (then used up). `None` when it is
/// neither, or when TOTP is not on.
pub async fn verify_code(store: &DynStore, user_id: uuid::Uuid, code: &str) -> StoreResult<Option<Factor>> {
    let Some(record) = store.totp(user_id).await? else { return Ok(None) };
    if !record.enabled {
        return Ok(None);
    }
    if totp::normalize_code(code).is_some() {
        let Some(step) = totp::matching_step(&record.secret, code, totp::unix_now()) else { return Ok(None) };
        return Ok(store.claim_totp_step(user_id, step).await?.then_some(Factor::Totp));
    }
    match totp::recovery_hash(code) {
        Some(hash) => Ok(store.use_recovery_code(user_id, &hash).await?.then_some(Factor::RecoveryCode)),
        None => Ok(None),
    }
}
