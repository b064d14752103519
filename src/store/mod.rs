//! Every SQL statement of the service lives under this module, in one [`Store`]: each
//! operation has one name, one SQL text and one body for both SQLite and PostgreSQL.
//! Handlers call `store.NAME(...)` and never know which database is underneath; the few
//! real differences between the two live in [`db`] (the dialect) and [`codec`] (types).
//!
//! The operations, by resource: [`users`] (accounts, login lookups, bulk creation),
//! [`users_admin`] (the admin list and changes that keep an enabled admin), [`attempts`]
//! (the lockout rule), [`sessions`] (sessions and rotated refresh tokens), [`templates`],
//! [`keys`] (signing keys, server secrets), [`audit`], [`recovery`] (email tokens and the
//! mail queue), [`mfa`] (TOTP), [`email_codes`] (codes mailed for a sign-in by email), [`passkeys`] (passkeys and their ceremonies), [`oauth`] (OpenID Connect codes, consents and clients' sessions), [`orgs`] and [`org_invitations`] (organizations, members, invitations), [`copy`] and [`copy_rows`] (`gatehouse copy`), [`live`]
//! (live sessions held in memory, and what keeps them true), and [`totals`] (remembered
//! totals and page positions of large user lists); [`events`] (webhook events, queued in the
//! transaction of the change they report) and [`webhooks`] (endpoints and the delivery queue).

mod attempts;
mod audit;
mod browser;
mod clients;
mod codec;
mod console;
pub mod copy;
mod copy_rows;
mod db;
mod email_codes;
mod events;
mod export;
mod keys;
mod live;
mod mfa;
mod oauth;
mod org_events;
mod org_invitations;
mod orgs;
mod passkeys;
mod prune;
mod recovery;
pub mod schema;
mod sessions;
mod templates;
mod totals;
mod users;
mod users_admin;
mod webhook_queue;
mod webhooks;
// Upstream sign-in: providers, identities and flows in progress.
mod identities;
mod invitations;
mod upstream;

use std::sync::Arc;

pub use crate::domain::TemplateQuota;
pub use attempts::LoginAttempt;
pub use audit::{AuditEvent, AuditQuery, AuditType, NewAuditEvent, PoolStatus};
pub use browser::BrowserSession;
pub use clients::{Client, ClientPatch, NewClient};
pub use console::ConsoleCounts;
pub use copy::{Rows, Table};
pub use email_codes::{CodePurpose, EMAIL_CODE_MAX_FAILURES, EmailCodeRecord, NewEmailCode};
pub use events::EventType;
pub use export::AccountBatch;
pub use identities::{Identity, IdentityRecord, NO_PASSWORD, SignInMethods, has_password};
pub use invitations::{NewSignUpInvitation, SignUpInvitation};
pub use keys::SigningKeyRecord;
pub use mfa::{MfaChallenge, NewMfaChallenge, TotpRecord};
pub use oauth::{CodeClaim, CodeRecord, NewCode, SessionGrant};
pub use org_invitations::{Invitation, InvitationRecord, InvitationStatus, NewInvitation};
pub use orgs::{Membership, MyOrg, NewOrg, Org};
pub use passkeys::{PasskeyRecord, PasskeyUse};
pub use prune::{PruneCutoffs, Pruned};
pub use recovery::{MailQuota, NewEmailToken, NewMail, QueuedMail, TokenPurpose};
pub use sessions::{NewSession, RefreshRecord, Session};
pub use templates::{NewTemplate, Template, TemplatePatch};
pub use upstream::{NewProvider, Provider, ProviderPatch};
pub use users::{Credentials, EmailChange, NewUser, User};
pub use users_admin::{UserPatch, UserQuery};
pub use webhook_queue::{AttemptOutcome, ClaimedDelivery, QueueStats};
pub use webhooks::{Delivery, NewWebhook, Webhook, WebhookPatch};

use db::{Db, classify, on_db};

/// Conflicts the contract names, each with its own stable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    UsernameTaken,
    EmailTaken,
    NameTaken,
    LastAdmin,
    /// The owner already holds GATEHOUSE_TEMPLATES_MAX_COUNT templates.
    TemplateCountQuota,
    /// The owner's templates would pass GATEHOUSE_TEMPLATES_MAX_BYTES together.
    TemplateBytesQuota,
    /// TOTP setup or confirmation while TOTP is already on.
    MfaAlreadyEnabled,
    /// TOTP confirmation without a pending setup.
    MfaSetupRequired,
    /// Turning TOTP off while it is off.
    MfaNotEnabled,
    /// A new secret for a public client, which has none.
    PublicClient,
    /// A passkey whose credential is registered already (to this or another account).
    PasskeyTaken,
    /// A provider's or an organization's slug in use already.
    SlugTaken,
    /// An upstream identity linked to an account already.
    IdentityTaken,
    /// Removing an account's last way to sign in.
    LastSignInMethod,
    /// The user is a member of the org already.
    AlreadyMember,
    /// The change would leave the org without an owner.
    LastOwner,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("not found")]
    NotFound,
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// One page of a list and the number of items over all pages.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// The one seam between the service and its database, SQLite or PostgreSQL.
pub struct Store {
    db: Db,
    totals: totals::Totals,
    /// Live sessions and their users as last read; see [`live`].
    live: live::LiveView,
    /// An in-memory SQLite database: no other connection can change it.
    in_memory: bool,
}

pub type DynStore = Arc<Store>;

/// Opens the store that the URL names and brings its schema up to date.
pub async fn connect(database_url: &str) -> anyhow::Result<DynStore> {
    Store::open(database_url, Default::default()).await.map(Arc::new)
}

/// Like [`connect`], with the settings that tune a store (SQLite's synchronous mode).
pub async fn connect_configured(config: &crate::config::Config) -> anyhow::Result<DynStore> {
    Store::open(&config.database_url, config.sqlite_synchronous).await.map(Arc::new)
}

impl Store {
    async fn open(url: &str, synchronous: crate::config::SqliteSynchronous) -> anyhow::Result<Self> {
        let db = Db::connect(url, synchronous).await?;
        schema::migrate(&db).await?;
        Ok(Self { db, totals: Default::default(), live: Default::default(), in_memory: crate::files::sqlite_in_memory(url) })
    }

    /// A round trip to the database, for /health.
    pub async fn ping(&self) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("SELECT 1").execute(&c.pool).await.map_err(classify)?;
        });
        Ok(())
    }

    /// Connections of the pool (open, and idle among them), for the metrics; no round trip.
    pub fn pool_status(&self) -> PoolStatus {
        let (size, idle) = on_db!(&self.db, c => (c.pool.size(), c.pool.num_idle()));
        PoolStatus { size, idle: u32::try_from(idle).unwrap_or(u32::MAX) }
    }
}

/// `at` cut to the millisecond, as both stores keep times.
pub fn now_millis(at: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    codec::Time::millis(at).0
}

/// A `LIKE` pattern (with `ESCAPE '\'`) matching `needle` anywhere: `%` and `_` (and the
/// escape character itself) match literally.
pub(crate) fn like_pattern(needle: &str) -> String {
    let escaped: String = needle.chars().flat_map(|c| matches!(c, '\\' | '%' | '_').then_some('\\').into_iter().chain([c])).collect();
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_escape_the_wildcards_and_the_escape_character() {
        assert_eq!(like_pattern("a%b_c\\d"), "%a\\%b\\_c\\\\d%");
        assert_eq!(like_pattern("alice"), "%alice%");
    }
}
