//! `gatehouse copy`: moves every table from one store into another, in pages, parents first.
//!
//! Adding a table to the copy is one [`Table`] variant, one row type in [`Rows`], and one
//! arm in `export_rows` / `import_rows` (`copy_rows`); the command is `commands::copy`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::SigningKeyRecord;
use super::codec::{MaybeTime, Roles, Time};
pub use super::upstream::{ProviderCopyRow, ProviderRow};

/// The copied tables, in an order where every row's parent is already copied.
///
/// `login_attempts` is left out on purpose: failed-login counts are transient (a window of
/// `GATEHOUSE_LOGIN_LOCKOUT` seconds) and start over on the target, like after a restart.
/// So is `mfa_challenges`: an mfa_token lives minutes, and a login simply starts again;
/// and `verify_mail_windows`, the hourly count of verification mails.
/// The `user_roles` rows travel with their user ([`UserRow::roles`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Users,
    /// TOTP secrets (pending or on) with their last accepted step, so a used code stays used.
    TotpSecrets,
    RecoveryCodes,
    Templates,
    /// OpenID Connect clients, with their secrets' hashes (before the sessions they hold).
    OauthClients,
    /// What users allowed OpenID Connect clients. (Authorization codes live a minute and
    /// stay behind: a sign-in in flight simply starts again.)
    OauthConsents,
    /// Passkeys, with their counters and backup flags. (Ceremonies live minutes and stay
    /// behind, like authorization codes.)
    Passkeys,
    /// Upstream sign-in providers, their client secrets as sealed (the target needs the
    /// same GATEHOUSE_SECRETS_KEY to open them), then people's identities at them.
    UpstreamProviders,
    UserIdentities,
    /// Organizations, their members, and their invitations (with the tokens' hashes), before
    /// the sessions that may have one active.
    Organizations,
    OrgMembers,
    OrgInvitations,
    Sessions,
    RefreshTokens,
    SigningKeys,
    ServerSecrets,
    /// The audit trail; no foreign keys, so events of deleted users come along too.
    AuditEvents,
    /// Webhook endpoints with their signing secrets (and a rotated one still signing), as
    /// stored. Their deliveries (the queue and its history) stay behind.
    WebhookEndpoints,
}

impl Table {
    pub const ALL: [Table; 18] = [
        Table::Users,
        Table::TotpSecrets,
        Table::RecoveryCodes,
        Table::Templates,
        Table::OauthClients,
        Table::OauthConsents,
        Table::Passkeys,
        Table::UpstreamProviders,
        Table::UserIdentities,
        Table::Organizations,
        Table::OrgMembers,
        Table::OrgInvitations,
        Table::Sessions,
        Table::RefreshTokens,
        Table::SigningKeys,
        Table::ServerSecrets,
        Table::AuditEvents,
        Table::WebhookEndpoints,
    ];

    /// The SQL table name, the same in every store.
    pub fn name(self) -> &'static str {
        match self {
            Table::Users => "users",
            Table::TotpSecrets => "totp_secrets",
            Table::RecoveryCodes => "recovery_codes",
            Table::Templates => "templates",
            Table::Sessions => "sessions",
            Table::RefreshTokens => "refresh_tokens",
            Table::SigningKeys => "signing_keys",
            Table::ServerSecrets => "server_secrets",
            Table::OauthClients => "oauth_clients",
            Table::OauthConsents => "oauth_consents",
            Table::Passkeys => "passkeys",
            Table::UpstreamProviders => "upstream_providers",
            Table::UserIdentities => "user_identities",
            Table::Organizations => "organizations",
            Table::OrgMembers => "org_members",
            Table::OrgInvitations => "org_invitations",
            Table::AuditEvents => "audit_events",
            Table::WebhookEndpoints => "webhook_endpoints",
        }
    }
}

/// A user row with its password hash and roles.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub username: String,
    pub username_key: String,
    pub email: Option<String>,
    pub email_key: Option<String>,
    pub email_verified: bool,
    /// An address change waiting for its link, and its key.
    pub pending_email: Option<String>,
    pub pending_email_key: Option<String>,
    pub email_ever_verified: bool,
    pub password_hash: String,
    pub disabled: bool,
    pub mfa_enabled: bool,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub updated_at: DateTime<Utc>,
    #[sqlx(try_from = "Roles")]
    pub roles: Vec<String>,
}

/// A TOTP secret as stored; `Debug` hides the secret.
#[derive(Clone, sqlx::FromRow)]
pub struct TotpSecretRow {
    pub user_id: Uuid,
    pub secret: Vec<u8>,
    pub last_step: Option<i64>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for TotpSecretRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSecretRow")
            .field("user_id", &self.user_id)
            .field("secret", &"***")
            .field("last_step", &self.last_step)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// An unused recovery code, as its hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecoveryCodeRow {
    pub user_id: Uuid,
    pub code_hash: Vec<u8>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TemplateRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub name: String,
    pub content: String,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionRow {
    pub id: Uuid,
    pub user_id: Uuid,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub last_used_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub expires_at: DateTime<Utc>,
    #[sqlx(try_from = "MaybeTime")]
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub amr: String,
    #[sqlx(try_from = "MaybeTime")]
    pub auth_time: Option<DateTime<Utc>>,
    /// The OpenID Connect client holding the session, and its scope.
    pub client_id: Option<Uuid>,
    pub scope: Option<String>,
    /// The session's active organization.
    pub org_id: Option<Uuid>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgRow {
    pub id: Uuid,
    pub slug: String,
    pub name: String,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
}

/// A membership; `roles` as stored (comma-separated).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgMemberRow {
    pub org_id: Uuid,
    pub user_id: Uuid,
    pub roles: String,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
}

/// An invitation, with its token's hash.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrgInvitationRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub email: String,
    pub email_key: String,
    pub roles: String,
    pub token_hash: Vec<u8>,
    pub invited_by: Option<Uuid>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub expires_at: DateTime<Utc>,
    #[sqlx(try_from = "MaybeTime")]
    pub accepted_at: Option<DateTime<Utc>>,
    pub accepted_by: Option<Uuid>,
    #[sqlx(try_from = "MaybeTime")]
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshTokenRow {
    pub token_hash: Vec<u8>,
    pub session_id: Uuid,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "MaybeTime")]
    pub rotated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ServerSecretRow {
    pub name: String,
    pub value: Vec<u8>,
}

/// An OpenID Connect client as stored (its lists as JSON text).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OauthClientRow {
    pub id: Uuid,
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<Vec<u8>>,
    pub public: bool,
    pub first_party: bool,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub scopes: String,
    pub resources: String,
    pub id_token_alg: String,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OauthConsentRow {
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub scope: String,
    #[sqlx(try_from = "Time")]
    pub granted_at: DateTime<Utc>,
}

/// An audit event as stored; `detail` is its JSON object as text.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditEventRow {
    pub id: Uuid,
    #[sqlx(try_from = "Time")]
    pub time: DateTime<Utc>,
    #[sqlx(rename = "type")]
    pub kind: String,
    pub actor_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub detail: String,
}

/// A webhook endpoint as stored (its events as JSON text); `Debug` hides the secrets.
#[derive(Clone, sqlx::FromRow)]
pub struct WebhookEndpointRow {
    pub id: Uuid,
    pub url: String,
    pub events: String,
    pub description: String,
    pub enabled: bool,
    pub secret: String,
    pub previous_secret: Option<String>,
    #[sqlx(try_from = "MaybeTime")]
    pub previous_secret_until: Option<DateTime<Utc>>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "Time")]
    pub updated_at: DateTime<Utc>,
}

impl std::fmt::Debug for WebhookEndpointRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpointRow").field("id", &self.id).field("url", &self.url).finish_non_exhaustive()
    }
}

/// One page of one table.
#[derive(Debug, Clone)]
pub enum Rows {
    Users(Vec<UserRow>),
    TotpSecrets(Vec<TotpSecretRow>),
    RecoveryCodes(Vec<RecoveryCodeRow>),
    Templates(Vec<TemplateRow>),
    Sessions(Vec<SessionRow>),
    RefreshTokens(Vec<RefreshTokenRow>),
    SigningKeys(Vec<SigningKeyRecord>),
    ServerSecrets(Vec<ServerSecretRow>),
    OauthClients(Vec<OauthClientRow>),
    OauthConsents(Vec<OauthConsentRow>),
    Passkeys(Vec<super::PasskeyRecord>),
    UpstreamProviders(Vec<super::upstream::ProviderCopyRow>),
    UserIdentities(Vec<super::IdentityRecord>),
    Organizations(Vec<OrgRow>),
    OrgMembers(Vec<OrgMemberRow>),
    OrgInvitations(Vec<OrgInvitationRow>),
    AuditEvents(Vec<AuditEventRow>),
    WebhookEndpoints(Vec<WebhookEndpointRow>),
}

impl Rows {
    pub fn len(&self) -> usize {
        match self {
            Rows::Users(rows) => rows.len(),
            Rows::TotpSecrets(rows) => rows.len(),
            Rows::RecoveryCodes(rows) => rows.len(),
            Rows::Templates(rows) => rows.len(),
            Rows::Sessions(rows) => rows.len(),
            Rows::RefreshTokens(rows) => rows.len(),
            Rows::SigningKeys(rows) => rows.len(),
            Rows::ServerSecrets(rows) => rows.len(),
            Rows::OauthClients(rows) => rows.len(),
            Rows::OauthConsents(rows) => rows.len(),
            Rows::Passkeys(rows) => rows.len(),
            Rows::UpstreamProviders(rows) => rows.len(),
            Rows::UserIdentities(rows) => rows.len(),
            Rows::Organizations(rows) => rows.len(),
            Rows::OrgMembers(rows) => rows.len(),
            Rows::OrgInvitations(rows) => rows.len(),
            Rows::AuditEvents(rows) => rows.len(),
            Rows::WebhookEndpoints(rows) => rows.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
