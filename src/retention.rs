//! Pruning what the database no longer needs, at start and then every hour (like the audit
//! trail, see [`crate::audit`]). Every row that goes already answers exactly like a missing
//! one, so pruning never changes what a client is told:
//!
//! - A session past its absolute end goes at once, with its refresh tokens: each of them
//!   already answers `invalid_token`, and an access token of the session is refused by its
//!   session check either way (its `exp` is never past the session's end).
//! - A revoked session goes GATEHOUSE_ACCESS_TTL after its revocation, with its refresh
//!   tokens. A revoked session's tokens, rotated or not, answer `invalid_token` (reuse
//!   detection only matters while a session is live: it revokes it), and so does a token
//!   whose session is gone. The wait lets the last access tokens of the session expire and
//!   requests that read the session before the revocation finish against the same row.
//! - The rotated tokens of a live session stay as long as the session: presenting one after
//!   the grace window is how reuse is detected.
//! - A login-attempt count goes once its window has passed without a lock, or its lock has
//!   ended: the next attempt would start over from zero anyway.
//! - Email tokens go once used or expired, MFA challenges once expired: neither can be
//!   used again.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::store::{DynStore, PruneCutoffs, Pruned};

/// How often pruning runs (and once at start).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// What may go at `now` under these settings.
pub fn cutoffs(config: &Config, now: DateTime<Utc>) -> PruneCutoffs {
    let access_ttl = chrono::Duration::from_std(config.access_ttl()).unwrap_or(chrono::Duration::MAX);
    let lockout = chrono::Duration::from_std(config.login_lockout()).unwrap_or(chrono::Duration::MAX);
    PruneCutoffs {
        expired_before: now,
        revoked_before: now.checked_sub_signed(access_ttl).unwrap_or(DateTime::<Utc>::MIN_UTC),
        window_before: now.checked_sub_signed(lockout).unwrap_or(DateTime::<Utc>::MIN_UTC),
        now,
    }
}

/// Prunes once, now; answers how many rows of each kind went.
pub async fn prune(store: &DynStore, config: &Config) -> anyhow::Result<Pruned> {
    // Upstream sign-ins begun and never finished (they live 10 minutes).
    store.prune_upstream_flows().await?;
    Ok(store.prune_spent(&cutoffs(config, Utc::now())).await?)
}

/// Prunes at once, then every [`PRUNE_EVERY`], until the task is aborted.
pub async fn prune_forever(store: DynStore, config: std::sync::Arc<Config>) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        every.tick().await;
        match prune(&store, &config).await {
            Ok(pruned) if pruned.total() == 0 => {}
            Ok(pruned) => tracing::info!(
                sessions = pruned.sessions,
                login_attempts = pruned.login_attempts,
                email_tokens = pruned.email_tokens,
                mfa_challenges = pruned.mfa_challenges,
                "spent sessions, counts, tokens and challenges pruned"
            ),
            Err(err) => tracing::warn!(error = %err, "could not prune spent sessions and tokens"),
        }
    }
}
