//! The audit trail: appended in the request path, read newest first, pruned by age.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use sqlx::{Database, Encode, QueryBuilder, Type};
use utoipa::ToSchema;
use uuid::Uuid;

use super::codec::Time;
use super::db::{classify, on_db};
use super::{Page, Store, StoreResult};

/// What happened: the contract's event types ("Audit events" in the API contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditType {
    UserRegistered,
    LoginSucceeded,
    LoginFailed,
    /// A login refused because the account is locked after too many failures.
    LoginLocked,
    Logout,
    SessionRevoked,
    RefreshReused,
    PasswordChanged,
    PasswordResetRequested,
    PasswordReset,
    EmailChanged,
    EmailVerified,
    MfaEnabled,
    MfaDisabled,
    UserRolesChanged,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    KeysRotated,
    /// `gatehouse import` created accounts.
    UsersImported,
    ClientCreated,
    ClientUpdated,
    ClientDeleted,
    ClientSecretRotated,
    /// An authorization code was exchanged: a client holds tokens for the user.
    OAuthGranted,
    /// An authorization code came back a second time: what it gave was revoked.
    OAuthCodeReplayed,
    PasskeyAdded,
    PasskeyRemoved,
    WebhookCreated,
    WebhookUpdated,
    WebhookDeleted,
    WebhookSecretRotated,
    /// A sign-in code was mailed (or, past the hourly cap, refused).
    EmailCodeRequested,
    /// Upstream sign-in: an identity linked to an account, or unlinked; a provider added,
    /// changed or removed.
    IdentityLinked,
    IdentityUnlinked,
    ProviderCreated,
    ProviderUpdated,
    ProviderDeleted,
    /// An admin invited an address to sign up; an invitation revoked before it was taken.
    UserInvited,
    InvitationRevoked,
    OrgCreated,
    OrgUpdated,
    OrgDeleted,
    OrgMemberAdded,
    OrgMemberRolesChanged,
    OrgMemberRemoved,
    OrgInvitationSent,
    OrgInvitationRevoked,
    OrgInvitationAccepted,
}

impl AuditType {
    pub const ALL: [AuditType; 49] = [
        Self::UserRegistered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::LoginLocked,
        Self::Logout,
        Self::SessionRevoked,
        Self::RefreshReused,
        Self::PasswordChanged,
        Self::PasswordResetRequested,
        Self::PasswordReset,
        Self::EmailChanged,
        Self::EmailVerified,
        Self::MfaEnabled,
        Self::MfaDisabled,
        Self::UserRolesChanged,
        Self::UserDisabled,
        Self::UserEnabled,
        Self::UserDeleted,
        Self::KeysRotated,
        Self::UsersImported,
        Self::ClientCreated,
        Self::ClientUpdated,
        Self::ClientDeleted,
        Self::ClientSecretRotated,
        Self::OAuthGranted,
        Self::OAuthCodeReplayed,
        Self::PasskeyAdded,
        Self::PasskeyRemoved,
        Self::WebhookCreated,
        Self::WebhookUpdated,
        Self::WebhookDeleted,
        Self::WebhookSecretRotated,
        Self::EmailCodeRequested,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::ProviderCreated,
        Self::ProviderUpdated,
        Self::ProviderDeleted,
        Self::UserInvited,
        Self::InvitationRevoked,
        Self::OrgCreated,
        Self::OrgUpdated,
        Self::OrgDeleted,
        Self::OrgMemberAdded,
        Self::OrgMemberRolesChanged,
        Self::OrgMemberRemoved,
        Self::OrgInvitationSent,
        Self::OrgInvitationRevoked,
        Self::OrgInvitationAccepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::LoginLocked => "login.locked",
            Self::Logout => "logout",
            Self::SessionRevoked => "session.revoked",
            Self::RefreshReused => "refresh.reused",
            Self::PasswordChanged => "password.changed",
            Self::PasswordResetRequested => "password.reset_requested",
            Self::PasswordReset => "password.reset",
            Self::EmailChanged => "email.changed",
            Self::EmailVerified => "email.verified",
            Self::MfaEnabled => "mfa.enabled",
            Self::MfaDisabled => "mfa.disabled",
            Self::UserRolesChanged => "user.roles_changed",
            Self::UserDisabled => "user.disabled",
            Self::UserEnabled => "user.enabled",
            Self::UserDeleted => "user.deleted",
            Self::KeysRotated => "keys.rotated",
            Self::UsersImported => "users.imported",
            Self::ClientCreated => "client.created",
            Self::ClientUpdated => "client.updated",
            Self::ClientDeleted => "client.deleted",
            Self::ClientSecretRotated => "client.secret_rotated",
            Self::OAuthGranted => "oauth.granted",
            Self::OAuthCodeReplayed => "oauth.code_replayed",
            Self::PasskeyAdded => "passkey.added",
            Self::PasskeyRemoved => "passkey.removed",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookUpdated => "webhook.updated",
            Self::WebhookDeleted => "webhook.deleted",
            Self::WebhookSecretRotated => "webhook.secret_rotated",
            Self::EmailCodeRequested => "login.email_code_requested",
            Self::IdentityLinked => "identity.linked",
            Self::IdentityUnlinked => "identity.unlinked",
            Self::ProviderCreated => "provider.created",
            Self::ProviderUpdated => "provider.updated",
            Self::ProviderDeleted => "provider.deleted",
            Self::UserInvited => "user.invited",
            Self::InvitationRevoked => "invitation.revoked",
            Self::OrgCreated => "org.created",
            Self::OrgUpdated => "org.updated",
            Self::OrgDeleted => "org.deleted",
            Self::OrgMemberAdded => "org.member_added",
            Self::OrgMemberRolesChanged => "org.member_roles_changed",
            Self::OrgMemberRemoved => "org.member_removed",
            Self::OrgInvitationSent => "org.invitation_sent",
            Self::OrgInvitationRevoked => "org.invitation_revoked",
            Self::OrgInvitationAccepted => "org.invitation_accepted",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == raw)
    }
}

/// An event to record. `detail` is a small JSON object that never holds a secret.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    pub id: Uuid,
    pub time: DateTime<Utc>,
    pub kind: AuditType,
    /// Who acted; `None` when anonymous (or the command line).
    pub actor_id: Option<Uuid>,
    /// Whom it concerns.
    pub user_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub detail: serde_json::Value,
}

impl NewAuditEvent {
    /// An event happening now, with no request context.
    pub fn now(kind: AuditType, actor_id: Option<Uuid>, user_id: Option<Uuid>, detail: serde_json::Value) -> Self {
        Self { id: Uuid::now_v7(), time: Utc::now(), kind, actor_id, user_id, ip: None, user_agent: None, request_id: None, detail }
    }
}

/// A recorded event, as GET /v1/audit shows it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEvent {
    pub id: Uuid,
    #[sqlx(try_from = "Time")]
    pub time: DateTime<Utc>,
    /// One of the contract's event types, such as `login.failed`.
    #[serde(rename = "type")]
    #[sqlx(rename = "type")]
    #[schema(example = "login.failed")]
    pub kind: String,
    /// Who acted; null when anonymous.
    pub actor_id: Option<Uuid>,
    /// Whom the event concerns.
    pub user_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The `x-request-id` of the request that caused it.
    pub request_id: Option<String>,
    /// A small JSON object; never a secret.
    #[schema(value_type = Object, example = json!({"reason": "invalid_credentials"}))]
    #[sqlx(json)]
    pub detail: serde_json::Value,
}

/// A filtered page of audit events, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// From 1.
    pub page: u32,
    pub per_page: u32,
    /// Only events about this user.
    pub user_id: Option<Uuid>,
    pub kind: Option<AuditType>,
    /// Only events at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub until: Option<DateTime<Utc>>,
}

impl AuditQuery {
    pub fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.per_page)
    }
}

/// The database connection pool right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStatus {
    /// Open connections, in use or idle.
    pub size: u32,
    pub idle: u32,
}

/// The WHERE clause shared by the page and the count: each filter has an index that
/// ends in (time, id), so the newest-first page walks it in order.
fn push_filters<DB: Database>(sql: &mut QueryBuilder<DB>, query: &AuditQuery)
where
    Uuid: for<'t> Encode<'t, DB> + Type<DB>,
    &'static str: for<'t> Encode<'t, DB> + Type<DB>,
    Time: for<'t> Encode<'t, DB> + Type<DB>,
{
    sql.push(" WHERE true");
    if let Some(user_id) = query.user_id {
        sql.push(" AND user_id = ").push_bind(user_id);
    }
    if let Some(kind) = query.kind {
        sql.push(" AND type = ").push_bind(kind.as_str());
    }
    if let Some(since) = query.since {
        sql.push(" AND time >= ").push_bind(Time(since));
    }
    if let Some(until) = query.until {
        sql.push(" AND time < ").push_bind(Time(until));
    }
}

impl Store {
    /// Appends one event to the audit trail. The trail has no foreign keys: events outlive
    /// the users they name.
    pub async fn record_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query(
            "INSERT INTO audit_events (id, time, type, actor_id, user_id, ip, user_agent, request_id, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(event.id)
        // Milliseconds, as SQLite keeps them, so both stores answer alike.
        .bind(Time::millis(event.time))
        .bind(event.kind.as_str())
        .bind(event.actor_id)
        .bind(event.user_id)
        .bind(&event.ip)
        .bind(&event.user_agent)
        .bind(&event.request_id)
        .bind(Json(&event.detail))
        .execute(&c.pool)
        .await
        .map_err(classify)?;
        });
        Ok(())
    }

    /// One page of events matching the query, newest first (`time`, then `id`, descending),
    /// and the number of matching events.
    pub async fn list_audit(&self, query: &AuditQuery) -> StoreResult<Page<AuditEvent>> {
        let (items, total): (Vec<AuditEvent>, i64) = on_db!(&self.db, c => {
            let mut page = QueryBuilder::new("SELECT id, time, type, actor_id, user_id, ip, user_agent, request_id, detail FROM audit_events");
            push_filters(&mut page, query);
            // `+ 0`: SQLite plans a bare bound LIMIT/OFFSET with its value, which makes each new
            // binding recompile the cached statement. PostgreSQL folds the `+ 0` away.
            page.push(" ORDER BY time DESC, id DESC LIMIT ")
                .push_bind(i64::from(query.per_page))
                .push(" + 0 OFFSET ")
                .push_bind(query.offset())
                .push(" + 0");
            let items = page.build_query_as().fetch_all(&c.pool).await.map_err(classify)?;
            let mut count = QueryBuilder::new("SELECT count(*) FROM audit_events");
            push_filters(&mut count, query);
            (items, count.build_query_scalar().fetch_one(&c.pool).await.map_err(classify)?)
        });
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }

    /// Deletes the events older than `older_than`; answers how many went.
    pub async fn prune_audit(&self, older_than: DateTime<Utc>) -> StoreResult<u64> {
        on_db!(&self.db, c => Ok(sqlx::query("DELETE FROM audit_events WHERE time < $1")
            .bind(Time(older_than))
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected()))
    }
}
