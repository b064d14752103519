//! The audit trail's records, as every store keeps them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

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
}

impl AuditType {
    pub const ALL: [AuditType; 20] = [
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
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditEvent {
    pub id: Uuid,
    pub time: DateTime<Utc>,
    /// One of the contract's event types, such as `login.failed`.
    #[serde(rename = "type")]
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
