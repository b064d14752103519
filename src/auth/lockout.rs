//! The failed-login limit, per login name and per account: every check of a secret is
//! reserved in the database first (atomically, see
//! [`crate::store::Store::reserve_login_attempt`]), so that parallel guesses, on any number
//! of instances, never get more than the limit through.
//!
//! A login is counted under the name typed (known or not) and, when the name resolves to an
//! account, under the account too: a lock earned by the username holds for the email and
//! the other way round, while an unknown name is locked on its own exactly like a known one.
//! Checks made for a signed-in account (current password, TOTP codes) count toward the
//! account. The rule itself ([`crate::domain::lockout`]) is pure; the store runs it between its
//! reads and writes of the counts.

use std::time::Duration;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::login_key;
use crate::store::{DynStore, LoginAttempt, StoreResult, User};

/// The key a login string is counted under: SHA-256 of its [`login_key`], the key the
/// lookup compares. Known and unknown names are keyed alike, so a lock tells nothing
/// about whether the name exists.
pub fn attempt_key(login: &str) -> String {
    let digest = Sha256::digest(login_key(login).as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key an account's failures are counted under, whichever identifier was typed. Never
/// 64 hex digits, so no typed name can share it.
pub fn account_key(user_id: Uuid) -> String {
    format!("account:{user_id}")
}

/// Whole seconds to wait, rounded up and at least one: what `Retry-After` says.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

/// The limit (GATEHOUSE_LOGIN_MAX_FAILURES within GATEHOUSE_LOGIN_LOCKOUT) over the store
/// that counts.
#[derive(Clone)]
pub struct Lockout {
    store: DynStore,
    max_failures: u32,
    period: Duration,
}

impl Lockout {
    pub fn new(store: DynStore, max_failures: u32, period: Duration) -> Self {
        Self { store, max_failures, period }
    }

    /// Reserves one password check for the name typed at a login, and for `account` when
    /// the name resolves to one; `Locked` when either is. One transaction whether the name
    /// is known or not, so both take the same time.
    pub async fn reserve_login(&self, login: &str, account: Option<Uuid>) -> StoreResult<LoginAttempt> {
        let keys: Vec<String> = std::iter::once(attempt_key(login)).chain(account.map(account_key)).collect();
        self.reserve_keys(&keys).await
    }

    /// Reserves one check of a signed-in account's secret (its current password, a TOTP code).
    pub async fn reserve_account(&self, account: Uuid) -> StoreResult<LoginAttempt> {
        self.reserve_keys(&[account_key(account)]).await
    }

    async fn reserve_keys(&self, keys: &[String]) -> StoreResult<LoginAttempt> {
        let attempt = self.store.reserve_login_attempt(keys, self.max_failures, self.period).await?;
        if let LoginAttempt::Locked { .. } = attempt {
            tracing::warn!("login refused: too many failures for this name or account");
        }
        Ok(attempt)
    }

    /// The account proved its secret (a completed login, the right current password, a
    /// reset link): its count, and those of its username, its email and `typed` (the key of
    /// the name typed, when there was one), start over.
    pub async fn clear(&self, user: &User, typed: Option<String>) -> StoreResult<()> {
        let keys: Vec<String> =
            [Some(account_key(user.id)), Some(attempt_key(&user.username)), user.email.as_deref().map(attempt_key), typed]
                .into_iter()
                .flatten()
                .collect();
        self.store.clear_login_failures(&keys).await
    }
}
