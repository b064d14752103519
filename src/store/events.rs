//! Webhook events, queued inside the write transaction of the change they report: a change
//! that commits has its event queued with it, a change that rolls back has none, and a
//! crash can do neither (see [`crate::webhooks`] for their delivery).
//!
//! How a feature emits an event (the `identity.*` and `org.*` types included): in its store
//! write, after the change and before `commit`, call on the transaction
//!
//! ```text
//! tx.queue_event(EventType::OrgCreated, &org).await?;          // data: the object named
//! tx.queue_user_event(EventType::UserUpdated, user_id).await?; // data: the user as it now is
//! ```
//!
//! The data is the object in its API shape and never holds a secret (no hash, token or
//! key). An event goes to every enabled endpoint subscribed to its type (or to `*`), one
//! `pending` delivery each, all with the same event id (the `webhook-id` header).

use chrono::SecondsFormat;
use serde::Serialize;
use sqlx::{Postgres, Sqlite};
use uuid::Uuid;

use super::codec::Time;
use super::db::{Write, classify, on_both_writes};
use super::users::user_columns;
use super::{StoreError, StoreResult, User};

/// The contract's event types ("Webhooks" in the API contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeleted,
    UserDisabled,
    UserEnabled,
    UserEmailVerified,
    UserRolesChanged,
    SessionCreated,
    SessionRevoked,
    PasswordChanged,
    MfaEnabled,
    MfaDisabled,
    PasskeyAdded,
    PasskeyRemoved,
    IdentityLinked,
    IdentityUnlinked,
    OrgCreated,
    OrgDeleted,
    OrgMemberAdded,
    OrgMemberRemoved,
    OrgMemberUpdated,
    /// Sent to one endpoint on an admin's request; nobody subscribes to it.
    WebhookTest,
}

impl EventType {
    pub const ALL: [EventType; 22] = [
        Self::UserCreated,
        Self::UserUpdated,
        Self::UserDeleted,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::UserEmailVerified,
        Self::UserRolesChanged,
        Self::SessionCreated,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::OrgCreated,
        Self::OrgDeleted,
        Self::OrgMemberAdded,
        Self::OrgMemberRemoved,
        Self::OrgMemberUpdated,
        Self::WebhookTest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
            Self::UserDisabled => "user.disabled",
            Self::UserEnabled => "user.enabled",
            Self::UserEmailVerified => "user.email_verified",
            Self::UserRolesChanged => "user.roles_changed",
            Self::SessionCreated => "session.created",
            Self::SessionRevoked => "session.revoked",
            Self::PasswordChanged => "password.changed",
            Self::MfaEnabled => "mfa.enabled",
            Self::MfaDisabled => "mfa.disabled",
            Self::PasskeyAdded => "passkey.added",
            Self::PasskeyRemoved => "passkey.removed",
            Self::IdentityLinked => "identity.linked",
            Self::IdentityUnlinked => "identity.unlinked",
            Self::OrgCreated => "org.created",
            Self::OrgDeleted => "org.deleted",
            Self::OrgMemberAdded => "org.member_added",
            Self::OrgMemberRemoved => "org.member_removed",
            Self::OrgMemberUpdated => "org.member_updated",
            Self::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// Whether an endpoint's `events` column (a JSON array of types, or `["*"]`) takes `kind`.
fn subscribes(events: &str, kind: EventType) -> bool {
    let events: Vec<String> = serde_json::from_str(events).unwrap_or_default();
    events.iter().any(|e| e == kind.as_str() || (e == "*" && kind != EventType::WebhookTest))
}

/// The body of a delivery, exactly as signed and sent: `{type, timestamp, data}`.
#[derive(Serialize)]
struct Body<'a, T: Serialize> {
    r#type: &'static str,
    timestamp: String,
    data: &'a T,
}

pub(crate) fn event_body(kind: EventType, at: Time, data: &impl Serialize) -> StoreResult<String> {
    let body = Body { r#type: kind.as_str(), timestamp: at.0.to_rfc3339_opts(SecondsFormat::Millis, true), data };
    serde_json::to_string(&body).map_err(|e| StoreError::Other(e.into()))
}

/// A new event id, the `webhook-id` of every attempt of the event.
pub(crate) fn new_event_id() -> String {
    format!("msg_{}", Uuid::now_v7().simple())
}

/// One pending first attempt of an event to one endpoint, due at once.
pub(super) const QUEUE: &str = "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, attempt, status, \
     created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 1, 'pending', $6, $6)";

const USER_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1");

on_both_writes! {
    /// The enabled endpoints subscribed to `kind`, as the transaction sees them.
    pub(crate) async fn webhook_targets(&mut self, kind: EventType) -> StoreResult<Vec<Uuid>> {
        let rows: Vec<(Uuid, String)> =
            sqlx::query_as("SELECT id, events FROM webhook_endpoints WHERE enabled").fetch_all(&mut **self).await.map_err(classify)?;
        Ok(rows.into_iter().filter(|(_, events)| subscribes(events, kind)).map(|(id, _)| id).collect())
    }

    /// Queues one event to these endpoints (from [`Self::webhook_targets`]); nothing when none.
    pub(crate) async fn queue_event_to(&mut self, targets: &[Uuid], kind: EventType, data: &(impl Serialize + Sync)) -> StoreResult<()> {
        if targets.is_empty() {
            return Ok(());
        }
        let now = Time::now();
        let body = event_body(kind, now, data)?;
        let event_id = new_event_id();
        for endpoint in targets {
            sqlx::query(QUEUE)
                .bind(Uuid::now_v7())
                .bind(endpoint)
                .bind(&event_id)
                .bind(kind.as_str())
                .bind(&body)
                .bind(now)
                .execute(&mut **self)
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    /// Queues one event to every endpoint subscribed to its type.
    pub(crate) async fn queue_event(&mut self, kind: EventType, data: &(impl Serialize + Sync)) -> StoreResult<()> {
        let targets = self.webhook_targets(kind).await?;
        self.queue_event_to(&targets, kind, data).await
    }

    /// Queues an event whose data is the user as this transaction now sees it; nothing when
    /// the user is gone or nobody subscribes.
    pub(crate) async fn queue_user_event(&mut self, kind: EventType, user_id: Uuid) -> StoreResult<()> {
        let targets = self.webhook_targets(kind).await?;
        if targets.is_empty() {
            return Ok(());
        }
        let user: Option<User> = sqlx::query_as(USER_BY_ID).bind(user_id).fetch_optional(&mut **self).await.map_err(classify)?;
        match user {
            Some(user) => self.queue_event_to(&targets, kind, &user).await,
            None => Ok(()),
        }
    }

    /// Queues `session.revoked` for each session a statement ended (its `RETURNING id, user_id`).
    pub(crate) async fn queue_sessions_revoked(&mut self, ended: &[(Uuid, Uuid)]) -> StoreResult<()> {
        if ended.is_empty() {
            return Ok(());
        }
        let targets = self.webhook_targets(EventType::SessionRevoked).await?;
        let revoked_at = Time::now().0;
        for (id, user_id) in ended {
            let data = serde_json::json!({ "id": id, "user_id": user_id, "revoked_at": revoked_at });
            self.queue_event_to(&targets, EventType::SessionRevoked, &data).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_parses_back_and_a_star_takes_all_but_the_test_event() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(kind));
        }
        assert!(subscribes(r#"["*"]"#, EventType::UserDeleted));
        assert!(!subscribes(r#"["*"]"#, EventType::WebhookTest));
        assert!(subscribes(r#"["user.deleted"]"#, EventType::UserDeleted));
        assert!(!subscribes(r#"["user.created"]"#, EventType::UserDeleted));
    }
}
