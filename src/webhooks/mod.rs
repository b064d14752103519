//! Webhooks (Standard Webhooks): apps learn what happens to their users. Admins register
//! endpoints here (the API, the console and `gatehouse webhook` run these flows); the
//! events are queued by the store in the transaction of each change ([`crate::store`]'s
//! `events`), and the [`worker`] delivers them, signed ([`sign`]), only to public addresses
//! ([`address`]), at least once, with the same `webhook-id` on every attempt.

pub mod address;
pub mod sign;
pub mod worker;

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use crate::accounts::AccountError;
use crate::audit::Audit;
use crate::config::webhooks::WebhookSettings;
use crate::error::FieldError;
use crate::store::{AuditType, Delivery, DynStore, EventType, NewWebhook, StoreError, Webhook, WebhookPatch};

/// After a rotation the old secret signs too for this long, so receivers can switch over.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// How often finished deliveries are pruned (and once at start).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Longest description.
pub const DESCRIPTION_MAX: usize = 500;

/// The flows over one store, with the address rule in force.
#[derive(Clone)]
pub struct Webhooks {
    store: DynStore,
    allow_private: bool,
}

/// What a registration asks for, as received.
pub struct WebhookRequest {
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
}

/// A change, as received; `None` leaves a field as it is.
#[derive(Default)]
pub struct WebhookChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

impl Webhooks {
    pub fn new(store: DynStore, settings: &WebhookSettings) -> Self {
        Self { store, allow_private: settings.webhooks_allow_private }
    }

    /// Registers an endpoint; its secret is returned this once.
    pub async fn register(&self, audit: &Audit, actor: Option<Uuid>, req: WebhookRequest) -> Result<(Webhook, String), AccountError> {
        let mut errors = Vec::new();
        let url = self.url(&req.url, &mut errors).await;
        let events = events(&req.events, &mut errors);
        let description = description(req.description.as_deref().unwrap_or(""), &mut errors);
        let (Some(url), Some(events), Some(description)) = (url, events, description) else { return Err(AccountError::Invalid(errors)) };
        let secret = sign::new_secret();
        let webhook =
            self.store.create_webhook(NewWebhook { id: Uuid::now_v7(), url, events, description, secret: secret.clone() }).await?;
        audit.record(AuditType::WebhookCreated, actor, None, json!({ "webhook_id": webhook.id, "url": webhook.url })).await;
        Ok((webhook, secret))
    }

    pub async fn change(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid, change: WebhookChange) -> Result<Webhook, AccountError> {
        let mut errors = Vec::new();
        let patch = WebhookPatch {
            url: match &change.url {
                Some(raw) => self.url(raw, &mut errors).await,
                None => None,
            },
            events: change.events.as_deref().and_then(|e| events(e, &mut errors)),
            description: change.description.as_deref().and_then(|d| description(d, &mut errors)),
            enabled: change.enabled,
        };
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let webhook = self.store.update_webhook(id, patch).await.map_err(not_found)?;
        let detail = json!({ "webhook_id": id, "url": webhook.url, "enabled": webhook.enabled });
        audit.record(AuditType::WebhookUpdated, actor, None, detail).await;
        Ok(webhook)
    }

    pub async fn remove(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid) -> Result<Webhook, AccountError> {
        let webhook = self.store.webhook(id).await?.ok_or(AccountError::NotFound)?;
        if !self.store.delete_webhook(id).await? {
            return Err(AccountError::NotFound);
        }
        audit.record(AuditType::WebhookDeleted, actor, None, json!({ "webhook_id": id, "url": webhook.url })).await;
        Ok(webhook)
    }

    /// A new secret, returned this once; the old one signs too for [`ROTATION_OVERLAP`].
    pub async fn rotate_secret(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid) -> Result<(Webhook, String), AccountError> {
        let secret = sign::new_secret();
        let overlap = chrono::Duration::from_std(ROTATION_OVERLAP).unwrap_or(chrono::Duration::hours(24));
        let webhook = self.store.rotate_webhook_secret(id, &secret, chrono::Utc::now() + overlap).await.map_err(not_found)?;
        audit.record(AuditType::WebhookSecretRotated, actor, None, json!({ "webhook_id": id })).await;
        Ok((webhook, secret))
    }

    /// Queues a `webhook.test` event to this endpoint.
    pub async fn send_test(&self, id: Uuid) -> Result<Delivery, AccountError> {
        self.store.queue_webhook_test(id).await.map_err(not_found)
    }

    /// Sends the event of one delivery again, now.
    pub async fn retry(&self, id: Uuid, delivery: Uuid) -> Result<Delivery, AccountError> {
        self.store.retry_delivery(id, delivery).await.map_err(not_found)
    }

    async fn url(&self, raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
        address::check_registration(raw, self.allow_private).await.map_err(|m| errors.push(FieldError::new("url", m))).ok()
    }
}

/// The subscribed types: `["*"]`, or known types (not `webhook.test`, sent on request only).
fn events(raw: &[String], errors: &mut Vec<FieldError>) -> Option<Vec<String>> {
    if raw.is_empty() {
        errors.push(FieldError::new("events", "must name at least one event type, or \"*\""));
        return None;
    }
    if raw.iter().any(|e| e == "*") {
        return Some(vec!["*".into()]);
    }
    let mut kinds: Vec<String> = Vec::new();
    let before = errors.len();
    for (i, name) in raw.iter().enumerate() {
        match EventType::parse(name) {
            Some(EventType::WebhookTest) | None => errors.push(FieldError::new(format!("events[{i}]"), "is not an event type")),
            Some(kind) if !kinds.iter().any(|k| k == kind.as_str()) => kinds.push(kind.as_str().into()),
            Some(_) => {}
        }
    }
    (errors.len() == before).then_some(kinds)
}

fn description(raw: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let text = raw.trim();
    if text.chars().count() > DESCRIPTION_MAX {
        errors.push(FieldError::new("description", format!("must be at most {DESCRIPTION_MAX} characters")));
        return None;
    }
    if text.chars().any(char::is_control) {
        errors.push(FieldError::new("description", "must not hold control characters"));
        return None;
    }
    Some(text.to_string())
}

fn not_found(err: StoreError) -> AccountError {
    match err {
        StoreError::NotFound => AccountError::NotFound,
        other => other.into(),
    }
}

/// Deletes finished deliveries older than `retention_days`; answers how many went.
pub async fn prune(store: &DynStore, retention_days: u32) -> anyhow::Result<u64> {
    let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(retention_days));
    Ok(store.prune_deliveries(cutoff).await?)
}

/// Prunes at once, then every [`PRUNE_EVERY`], until the task is aborted.
pub async fn prune_forever(store: DynStore, retention_days: u32) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    loop {
        every.tick().await;
        match prune(&store, retention_days).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, retention_days, "old webhook deliveries pruned"),
            Err(err) => tracing::warn!(error = %err, "could not prune webhook deliveries"),
        }
    }
}
