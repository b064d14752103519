//! The audit trail: who did what to which account, and when. Handlers take an [`Audit`]
//! (the request's client and id) and record in the request path; a failure to record is
//! logged, never the request's failure. Old events are pruned by [`prune_forever`].

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde_json::Value;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::sessions::ClientInfo;
use crate::store::{AuditType, DynStore, NewAuditEvent};

/// How often old events are pruned (and once at start).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Records audit events with the request's IP, user agent and request id.
#[derive(Clone)]
pub struct Audit {
    store: DynStore,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
}

impl FromRequestParts<AppState> for Audit {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let ClientInfo { ip, user_agent } = ClientInfo::from_request_parts(parts, state).await?;
        // Set by SetRequestIdLayer before any handler runs.
        let request_id = parts.headers.get(crate::app::REQUEST_ID).and_then(|v| v.to_str().ok()).map(|v| v.chars().take(128).collect());
        Ok(Self { store: state.store.clone(), ip, user_agent, request_id })
    }
}

impl Audit {
    /// A recorder without a request, for the command line.
    pub fn offline(store: DynStore) -> Self {
        Self { store, ip: None, user_agent: None, request_id: None }
    }

    /// Appends an event: `actor` acted (`None` when anonymous), `user` is whom it concerns.
    /// `detail` is a small JSON object and must never hold a secret.
    pub async fn record(&self, kind: AuditType, actor: Option<Uuid>, user: Option<Uuid>, detail: Value) {
        let mut event = NewAuditEvent::now(kind, actor, user, detail);
        event.ip.clone_from(&self.ip);
        event.user_agent.clone_from(&self.user_agent);
        event.request_id.clone_from(&self.request_id);
        if let Err(err) = self.store.record_audit(event).await {
            tracing::warn!(error = %err, event = kind.as_str(), "could not record an audit event");
        }
    }
}

/// Deletes the events older than `retention_days`; answers how many went.
pub async fn prune(store: &DynStore, retention_days: u32) -> anyhow::Result<u64> {
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
    Ok(store.prune_audit(cutoff).await?)
}

/// Prunes at once, then every [`PRUNE_EVERY`], until the task is aborted.
pub async fn prune_forever(store: DynStore, retention_days: u32) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        every.tick().await;
        match prune(&store, retention_days).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, retention_days, "old audit events pruned"),
            Err(err) => tracing::warn!(error = %err, "could not prune audit events"),
        }
    }
}

/// A login refused because the account is locked: counts it (`locked` login, `login_lockout`
/// 429) and records `login.locked`. One call where the lockout answers 429.
pub async fn login_locked(audit: &Audit, user: Option<Uuid>, retry_after_secs: u64) {
    crate::metrics::login("locked");
    crate::metrics::rate_limited("login_lockout");
    audit.record(AuditType::LoginLocked, None, user, serde_json::json!({ "retry_after": retry_after_secs })).await;
}

/// `gatehouse import` created `imported` accounts (and skipped `skipped`): records `users.imported`.
pub async fn users_imported(audit: &Audit, imported: u64, skipped: u64, format: &str) {
    audit
        .record(AuditType::UsersImported, None, None, serde_json::json!({ "imported": imported, "skipped": skipped, "format": format }))
        .await;
}
