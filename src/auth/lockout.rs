//! The failed-login limit, per login name and per account: every check of a secret is
//! reserved in the database first (atomically, see
//! [`crate::store::Store::reserve_login_attempt`]), so that parallel guesses, on any number
//! of instances, never get more than the limit through.
//!
//! A login is counted under the name typed (known or not) and, when the name resolves to an
//! account, under the account too: a lock earned by the username holds for the email and
//! the other way round, while an unknown name is locked on its own exactly like a known one.
//! Checks made for a signed-in account (current password, TOTP codes) count toward the
//! account.

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::app::AppState;
use crate::error::{ApiError, Result};
use crate::store::{LoginAttempt, User};

/// The key a login string is counted under: SHA-256 of its normalised form (the lookup
/// compares without regard to case). Known and unknown names are keyed alike, so a lock
/// tells nothing about whether the name exists.
pub fn attempt_key(login: &str) -> String {
    let digest = Sha256::digest(login.to_lowercase().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key an account's failures are counted under, whichever identifier was typed. Never
/// 64 hex digits, so no typed name can share it.
pub fn account_key(user_id: Uuid) -> String {
    format!("account:{user_id}")
}

/// Reserves one password check for the name typed at a login, and for `account` when the
/// name resolves to one; 429 `rate_limited` with `Retry-After` when either is locked. One
/// transaction whether the name is known or not, so both take the same time.
pub async fn reserve_login(state: &AppState, login: &str, account: Option<Uuid>) -> Result<()> {
    let keys: Vec<String> = std::iter::once(attempt_key(login)).chain(account.map(account_key)).collect();
    reserve_keys(state, &keys).await
}

/// Reserves one check of a signed-in account's secret (its current password, a TOTP code).
pub async fn reserve_account(state: &AppState, account: Uuid) -> Result<()> {
    reserve_keys(state, &[account_key(account)]).await
}

async fn reserve_keys(state: &AppState, keys: &[String]) -> Result<()> {
    let attempt = state.store.reserve_login_attempt(keys, state.config.login_max_failures, state.config.login_lockout()).await?;
    match attempt {
        LoginAttempt::Allowed => Ok(()),
        LoginAttempt::Locked { retry_after } => {
            tracing::warn!("login refused: too many failures for this name or account");
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            Err(ApiError::RateLimited { retry_after_secs: secs.max(1) })
        }
    }
}

/// The account proved its secret (a completed login, the right current password, a reset
/// link): its count, and those of its username, its email and `typed` (the key of the
/// name typed, when there was one), start over.
pub async fn clear(state: &AppState, user: &User, typed: Option<String>) -> Result<()> {
    let keys: Vec<String> = [Some(account_key(user.id)), Some(attempt_key(&user.username)), user.email.as_deref().map(attempt_key), typed]
        .into_iter()
        .flatten()
        .collect();
    state.store.clear_login_failures(&keys).await?;
    Ok(())
}
