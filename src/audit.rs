//! The audit trail: who did what to which account, and when. Flows take an [`Audit`] (a
//! request's client and id, or the command line's mark) and record as they go; a failure
//! to record is logged, never the flow's failure. Old events are pruned by [`prune_forever`].

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use crate::store::{AuditType, DynStore, NewAuditEvent};

/// How often old events are pruned (and once at start).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Records audit events with the request's IP, user agent and request id (the HTTP
/// extractor is in `http::extract`), or marked as done by the command line.
#[derive(Clone)]
pub struct Audit {
    store: DynStore,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    /// Set on every event's detail as `via` (overriding the flow's own), when set.
    via: Option<&'static str>,
}

impl Audit {
    /// A recorder for one request.
    pub fn for_request(store: DynStore, ip: Option<String>, user_agent: Option<String>, request_id: Option<String>) -> Self {
        Self { store, ip, user_agent, request_id, via: None }
    }

    /// A recorder without a request, for the command line: no actor, `"via": "cli"`.
    pub fn offline(store: DynStore) -> Self {
        Self { store, ip: None, user_agent: None, request_id: None, via: Some("cli") }
    }

    /// Appends an event: `actor` acted (`None` when anonymous), `user` is whom it concerns.
    /// `detail` is a small JSON object and must never hold a secret.
    pub async fn record(&self, kind: AuditType, actor: Option<Uuid>, user: Option<Uuid>, mut detail: Value) {
        if let (Some(via), Value::Object(fields)) = (self.via, &mut detail) {
            fields.insert("via".into(), via.into());
        }
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
