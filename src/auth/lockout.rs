//! Per-account failed-login limit: every password check is reserved in the database first
//! (atomically, see [`crate::store::Store::reserve_login_attempt`]), so that parallel
//! guesses, on any number of instances, never get more than the limit through.

use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::error::{ApiError, Result};
use crate::store::LoginAttempt;

/// The key a login string is counted under: SHA-256 of its normalised form (the lookup
/// compares without regard to case). Known and unknown names are keyed alike, so a lock
/// tells nothing about whether the account exists.
pub fn attempt_key(login: &str) -> String {
    let digest = Sha256::digest(login.to_lowercase().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reserves one password check for `login`; 429 `rate_limited` with `Retry-After` when the
/// name is locked.
pub async fn reserve(state: &AppState, login: &str) -> Result<()> {
    let key = attempt_key(login);
    let attempt = state.store.reserve_login_attempt(&key, state.config.login_max_failures, state.config.login_lockout()).await?;
    match attempt {
        LoginAttempt::Allowed => Ok(()),
        LoginAttempt::Locked { retry_after } => {
            tracing::warn!("login refused: too many failures for this name");
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            Err(ApiError::RateLimited { retry_after_secs: secs.max(1) })
        }
    }
}

/// A completed login: the count of `login` starts over.
pub async fn clear(state: &AppState, login: &str) -> Result<()> {
    state.store.clear_login_failures(&attempt_key(login)).await?;
    Ok(())
}
