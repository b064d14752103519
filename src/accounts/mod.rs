//! The flows that HTTP and the command line both run: registration, password login and its
//! second step, passkeys, password change and reset, email change, and the admin's changes to an account (roles,
//! disabled, email, deletion, MFA reset). Each takes the [`Accounts`] it runs on and an
//! [`Audit`] recorder, records its audit events and metrics, and answers an outcome or an
//! [`AccountError`]; `http` maps those to problems, `commands` to messages.

mod admin;
mod clients;
mod email;
mod email_code;
mod invitations;
mod login;
pub mod oauth;
pub mod oauth_tokens;
mod org_invitations;
mod orgs;
mod passkeys;
mod password;
mod recovery;
mod register;
mod totp;

use std::sync::Arc;
use std::time::Duration;

pub use clients::{ClientChange, ClientRequest};
pub use email::EmailWish;
pub use email_code::EmailCodeSettings;
pub use org_invitations::INVITATION_TTL;
pub use orgs::{OrgAccess, OrgActor, parse_org_roles};
pub use passkeys::{Ceremony, NAME_MAX as PASSKEY_NAME_MAX, passkey_name, read_credential};
pub use register::{Registered, Registration, Via};

use crate::auth::PasswordHasher;
use crate::auth::lockout::{Lockout, retry_after_secs};
use crate::config::Config;
use crate::domain::PasswordPolicy;
use crate::error::{FieldError, MfaToken};
use crate::mail::Mailer;
use crate::store::{DynStore, LoginAttempt, StoreError};

/// What the flows use, and no more: built from `AppState` by the server, from the
/// configuration and a store by the command line.
#[derive(Clone)]
pub struct Accounts {
    pub store: DynStore,
    pub hasher: PasswordHasher,
    pub policy: PasswordPolicy,
    pub mailer: Arc<Mailer>,
    pub lockout: Lockout,
    /// GATEHOUSE_REQUIRE_VERIFIED_EMAIL.
    pub require_verified_email: bool,
    /// GATEHOUSE_MFA_TOKEN_TTL.
    pub mfa_token_ttl: Duration,
    /// The passkeys' relying party; `None` while passkeys are off (and for the command line,
    /// which runs no ceremony).
    pub passkeys: Option<Arc<crate::auth::passkeys::RelyingParty>>,
    /// GATEHOUSE_AUDIENCE: the account API's tokens' `aud`, which no client's may carry.
    pub account_audience: String,
    /// Sign-in by email code.
    pub email_code: EmailCodeSettings,
    /// GATEHOUSE_BREACHED_PASSWORDS; off for the command line.
    pub breach: crate::auth::breached::BreachCheck,
    /// GATEHOUSE_REGISTRATION.
    pub registration: crate::config::RegistrationMode,
    /// GATEHOUSE_ORGS_SELF_SERVICE: verified users may create organizations.
    pub orgs_self_service: bool,
}

impl Accounts {
    pub fn new(config: &Config, store: DynStore, hasher: PasswordHasher, mailer: Arc<Mailer>) -> Self {
        Self {
            lockout: Lockout::new(store.clone(), config.login_max_failures, config.login_lockout()),
            policy: PasswordPolicy { min_length: usize::from(config.password_min_length) },
            require_verified_email: config.require_verified_email,
            mfa_token_ttl: config.mfa_token_ttl(),
            store,
            hasher,
            mailer,
            passkeys: None,
            account_audience: config.audience.clone(),
            email_code: EmailCodeSettings {
                enabled: config.signin.email_code,
                signup: config.signin.email_code_signup,
                per_hour: config.signin.email_code_per_hour,
                ttl: Duration::from_secs(config.signin.email_code_ttl),
            },
            breach: crate::auth::breached::BreachCheck::off(),
            registration: config.registration,
            orgs_self_service: config.orgs_self_service,
        }
    }

    /// The same flows with this breached-password check.
    pub fn with_breach_check(mut self, breach: crate::auth::breached::BreachCheck) -> Self {
        self.breach = breach;
        self
    }

    /// The new password's field error when the corpus holds it (NIST SP 800-63B).
    pub(crate) async fn refuse_breached(&self, field: &'static str, password: &str) -> Option<FieldError> {
        self.breach.is_breached(password).await.then(|| FieldError::new(field, BREACHED))
    }

    /// The same flows with passkeys on.
    pub fn with_passkeys(mut self, party: Option<crate::auth::passkeys::RelyingParty>) -> Self {
        self.passkeys = party.map(Arc::new);
        self
    }

    /// Reserves one check of a signed-in account's secret; `Locked` once it failed too often.
    pub async fn reserve_account(&self, account: uuid::Uuid) -> Result<(), AccountError> {
        admit(self.lockout.reserve_account(account).await?)
    }
}

/// The refusal of a password found in a breach corpus.
pub const BREACHED: &str = "this password has appeared in a data breach; choose another";

/// Why a flow did not complete.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Fields that broke a rule, every one of them.
    #[error("{}", describe(.0))]
    Invalid(Vec<FieldError>),
    /// An unknown name, a wrong password or code: one answer for all.
    #[error("the username or password is incorrect")]
    InvalidCredentials,
    /// Too many failures for this name or account.
    #[error("too many failures; try again in {retry_after_secs} seconds")]
    Locked { retry_after_secs: u64 },
    /// The account caused GATEHOUSE_VERIFY_MAILS_PER_HOUR verification mails this hour.
    #[error("too many verification mails; try again in {retry_after_secs} seconds")]
    MailQuotaSpent { retry_after_secs: u64 },
    #[error("the account is disabled")]
    Disabled,
    #[error("the account has no verified email address")]
    EmailUnverified,
    /// The password is right and TOTP is on: the second step takes this token.
    #[error("a second factor is required")]
    MfaRequired(MfaToken),
    /// A link's or a session's token that is unknown, expired or used up.
    #[error("the token is unknown, expired or used")]
    InvalidToken,
    #[error("no such user")]
    NotFound,
    /// GATEHOUSE_REGISTRATION refuses this sign-up (invitation only, or closed).
    #[error("registration is closed")]
    RegistrationClosed,
    /// Also the conflicts (`username_taken`, `last_admin`, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

fn describe(errors: &[FieldError]) -> String {
    errors.iter().map(|e| format!("{} {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
}

/// An allowed attempt goes on; a locked one is the flow's answer.
fn admit(attempt: LoginAttempt) -> Result<(), AccountError> {
    match attempt {
        LoginAttempt::Allowed => Ok(()),
        LoginAttempt::Locked { retry_after } => Err(AccountError::Locked { retry_after_secs: retry_after_secs(retry_after) }),
    }
}
