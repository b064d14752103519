//! Password login and its second step (a TOTP or recovery code): one ending for both.

use serde_json::json;

use super::{AccountError, Accounts, admit};
use crate::audit::Audit;
use crate::auth::lockout::attempt_key;
use crate::auth::sessions::{self, ClientInfo, Sessions, TokenPair};
use crate::auth::{Verdict, mfa, refresh};
use crate::domain::login_key;
use crate::store::{AuditType, MfaChallenge, User};

/// A login waiting for its second factor: the mfa_token's hash, its challenge and user.
pub(super) struct SecondStep {
    token_hash: Vec<u8>,
    challenge: MfaChallenge,
    pub(super) user: User,
}

impl Accounts {
    /// A username (or email) and password: a session, or `MfaRequired` with the token of the
    /// second step while TOTP is on.
    pub async fn login(
        &self,
        sessions: &Sessions,
        audit: &Audit,
        login: &str,
        password: &str,
        client: ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        // No username or email holds a control character (and PostgreSQL text cannot hold
        // NUL): such a login is an unknown user, without asking the store.
        let lookup = !login.chars().any(char::is_control);
        let credentials = if lookup { self.store.credentials_by_login(&login_key(login)).await? } else { None };
        let known_user = credentials.as_ref().map(|c| c.user.id);
        // Counted before the password is checked, so that parallel guesses cannot pass the
        // limit: under the name typed and, for a known name, under its account.
        self.admit_login(audit, known_user, self.lockout.reserve_login(login, known_user).await?).await?;
        // Unknown users are checked against a dummy hash: same answer, same time.
        let verdict = self.hasher.verify(password, credentials.as_ref().map(|c| c.password_hash.as_str())).await?;
        let (Verdict::Match { needs_rehash }, Some(credentials)) = (verdict, credentials) else {
            return Err(refuse(audit, known_user, "invalid_credentials", "invalid_credentials", AccountError::InvalidCredentials).await);
        };
        let user = credentials.user;
        if user.disabled {
            return Err(refuse(audit, Some(user.id), "disabled", "account_disabled", AccountError::Disabled).await);
        }
        if self.require_verified_email && !user.email_verified {
            return Err(refuse(audit, Some(user.id), "email_unverified", "email_unverified", AccountError::EmailUnverified).await);
        }
        // A password now known breached is let in, flagged until it is changed.
        if self.breach.is_on() {
            let breached = self.breach.is_breached(password).await;
            self.store.set_password_breached(user.id, breached).await?;
        }
        if needs_rehash {
            let fresh = self.hasher.hash(password).await?;
            self.store.set_password_hash(user.id, &fresh).await?;
            tracing::info!(user_id = %user.id, "password rehashed to the current argon2id parameters");
        }
        // TOTP on: the second step completes the login (and only it resets the failure count).
        if user.mfa_enabled {
            crate::metrics::login("mfa_required");
            return Err(AccountError::MfaRequired(mfa::challenge(&self.store, self.mfa_token_ttl, user.id, login, "pwd").await?));
        }
        self.complete(sessions, audit, user, attempt_key(login), client, FirstFactor::Password, None).await
    }

    /// The second step: the token of `MfaRequired` and a current TOTP or an unused recovery
    /// code. The code counts toward the account's lockout like a password.
    pub async fn login_mfa(
        &self,
        sessions: &Sessions,
        audit: &Audit,
        mfa_token: &str,
        code: &str,
        client: ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        let pending = self.second_step_of(mfa_token).await;
        if let Err(AccountError::InvalidCredentials) = pending {
            crate::metrics::login("invalid_credentials");
        }
        let step = pending?;
        let user = &step.user;
        self.admit_login(audit, Some(user.id), self.lockout.reserve_account(user.id).await?).await?;
        if user.disabled {
            return Err(refuse(audit, Some(user.id), "disabled", "account_disabled", AccountError::Disabled).await);
        }
        let Some(factor) = mfa::verify_code(&self.store, user.id, code).await? else {
            return Err(refuse(audit, Some(user.id), "invalid_credentials", "invalid_mfa_code", AccountError::InvalidCredentials).await);
        };
        self.complete_second_step(sessions, audit, step, client, factor).await
    }

    /// The pending second step an mfa_token names; `InvalidCredentials` for a token that is
    /// malformed, unknown, expired or used.
    pub(super) async fn second_step_of(&self, mfa_token: &str) -> Result<SecondStep, AccountError> {
        if !refresh::looks_valid(mfa_token) {
            return Err(AccountError::InvalidCredentials);
        }
        let token_hash = refresh::hash(mfa_token);
        let challenge = self.store.mfa_challenge(&token_hash).await?.ok_or(AccountError::InvalidCredentials)?;
        let user = self.store.user_by_id(challenge.user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        Ok(SecondStep { token_hash, challenge, user })
    }

    /// The second factor of an enabled account passed: the challenge is used up (once,
    /// whichever instance or factor tries first) and the login completes.
    pub(super) async fn complete_second_step(
        &self,
        sessions: &Sessions,
        audit: &Audit,
        step: SecondStep,
        client: ClientInfo,
        factor: mfa::Factor,
    ) -> Result<TokenPair, AccountError> {
        if !self.store.consume_mfa_challenge(&step.token_hash).await? {
            return Err(AccountError::InvalidCredentials);
        }
        // The name typed at the first step starts over too.
        let first = FirstFactor::from_amr(&step.challenge.first_factor);
        self.complete(sessions, audit, step.user, step.challenge.login_key, client, first, Some(factor)).await
    }

    /// A locked attempt is counted (`locked` login, `login_lockout` 429) and audited.
    pub(super) async fn admit_login(
        &self,
        audit: &Audit,
        user: Option<uuid::Uuid>,
        attempt: crate::store::LoginAttempt,
    ) -> Result<(), AccountError> {
        let admitted = admit(attempt);
        if let Err(AccountError::Locked { retry_after_secs }) = admitted {
            crate::audit::login_locked(audit, user, retry_after_secs).await;
        }
        admitted
    }

    /// A completed login: the account and the name typed start over, a session starts.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn complete(
        &self,
        sessions: &Sessions,
        audit: &Audit,
        user: User,
        typed: String,
        client: ClientInfo,
        first: FirstFactor,
        factor: Option<mfa::Factor>,
    ) -> Result<TokenPair, AccountError> {
        self.lockout.clear(&user, Some(typed)).await?;
        let first_amr = first.amr();
        let amr = match factor {
            None => first_amr.to_string(),
            Some(mfa::Factor::Totp) => format!("{first_amr} otp mfa"),
            Some(mfa::Factor::RecoveryCode) => format!("{first_amr} mfa"),
            Some(mfa::Factor::Passkey) => format!("{first_amr} hwk mfa"),
        };
        let mut detail = match factor {
            None => {
                tracing::info!(user_id = %user.id, "login succeeded");
                json!({})
            }
            Some(factor) => {
                tracing::info!(user_id = %user.id, factor = factor.as_str(), "login succeeded with a second factor");
                json!({ "mfa": factor.as_str() })
            }
        };
        if first == FirstFactor::EmailCode {
            detail["method"] = json!("email_code");
        }
        let mut pair = sessions::start(sessions, user, client, &amr).await?;
        if first == FirstFactor::Password && self.breach.is_on() {
            pair.password_breached = self.store.password_breached(pair.user.id).await?;
        }
        crate::metrics::login("success");
        audit.record(AuditType::LoginSucceeded, Some(pair.user.id), Some(pair.user.id), detail).await;
        Ok(pair)
    }
}

/// What the first step of a login proved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FirstFactor {
    Password,
    /// A code mailed to the account's verified address.
    EmailCode,
}

impl FirstFactor {
    /// RFC 8176 has no value for a code by email, and `otp` would claim a one-time
    /// password device: `mca` (multiple-channel authentication: the code travels by mail,
    /// the answer by the browser) is the registered value that describes it.
    fn amr(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::EmailCode => "mca",
        }
    }

    fn from_amr(amr: &str) -> Self {
        if amr == Self::EmailCode.amr() { Self::EmailCode } else { Self::Password }
    }

    pub(super) fn as_amr(self) -> &'static str {
        self.amr()
    }
}

/// A refused login: counted under `outcome`, audited as `login.failed` with `reason`.
pub(super) async fn refuse(
    audit: &Audit,
    user: Option<uuid::Uuid>,
    outcome: &'static str,
    reason: &str,
    error: AccountError,
) -> AccountError {
    crate::metrics::login(outcome);
    audit.record(AuditType::LoginFailed, None, user, json!({ "reason": reason })).await;
    error
}
