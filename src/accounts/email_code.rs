//! Sign-in by a code mailed to the account's verified address (and, with
//! GATEHOUSE_EMAIL_CODE_SIGNUP, sign-up by one), and the fresh code that stands in for the
//! password of a passwordless account at its re-checks.

use std::time::Duration;

use serde_json::json;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::login::{FirstFactor, refuse};
use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::auth::lockout::attempt_key;
use crate::auth::sessions::{ClientInfo, Sessions, TokenPair};
use crate::auth::{email_code, mfa};
use crate::domain::{Email, Role, Username, normalize_roles};
use crate::error::FieldError;
use crate::store::{AuditType, CodePurpose, Conflict, Credentials, EmailCodeRecord, NewEmailCode, NewUser, StoreError, User};

/// GATEHOUSE_EMAIL_CODE, GATEHOUSE_EMAIL_CODE_SIGNUP, GATEHOUSE_EMAIL_CODE_PER_HOUR and
/// GATEHOUSE_self.email_code.ttl.
#[derive(Debug, Clone, Copy)]
pub struct EmailCodeSettings {
    pub enabled: bool,
    pub signup: bool,
    pub per_hour: u32,
    pub ttl: Duration,
}

impl Accounts {
    /// Whether sign-in by email code is on.
    pub fn email_code_on(&self) -> bool {
        self.email_code.enabled
    }

    /// Asks for a sign-in code for `email`. The challenge id comes back at once, the same
    /// for every address: the lookup and the mail happen afterwards, in a task of their
    /// own, so neither the answer nor its timing tells whether an account holds the address.
    pub fn request_email_code(&self, audit: Audit, email: &str) -> Result<Uuid, AccountError> {
        if !self.email_code.enabled {
            return Err(AccountError::NotFound);
        }
        let email = Email::parse(email.trim()).map_err(|m| AccountError::Invalid(vec![FieldError::new("email", m)]))?;
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let accounts = self.clone();
        tokio::spawn(async move {
            if let Err(err) = accounts.mail_sign_in_code(&audit, id, email).await {
                tracing::warn!(error = %err, "sign-in code request: could not look the address up or queue the mail");
            }
        });
        Ok(id)
    }

    /// Who gets a code: an account whose verified address this is; with sign-up on, an
    /// address no account holds. An address an account holds unverified gets none: whoever
    /// registered it may not own it (account pre-hijacking).
    async fn mail_sign_in_code(&self, audit: &Audit, id: Uuid, email: Email) -> Result<(), AccountError> {
        let found = self.store.credentials_by_login(&email.key()).await?;
        let (purpose, user, to) = match found.map(|c| c.user) {
            Some(user) if user.email_verified && !user.disabled => {
                let to = user.email.clone().unwrap_or_else(|| email.as_str().to_string());
                (CodePurpose::SignIn, Some(user), to)
            }
            Some(user) => {
                crate::metrics::email_code("none");
                let detail = json!({ "mailed": false, "reason": if user.disabled { "disabled" } else { "email_unverified" } });
                audit.record(AuditType::EmailCodeRequested, None, Some(user.id), detail).await;
                return Ok(());
            }
            // GATEHOUSE_REGISTRATION other than `open`: no account is made by a code either.
            None if self.email_code.signup && self.registration == crate::config::RegistrationMode::Open => {
                (CodePurpose::SignUp, None, email.as_str().to_string())
            }
            None => {
                crate::metrics::email_code("none");
                return Ok(());
            }
        };
        let mailed = self.mail_code(id, purpose, user.as_ref().map(|u| u.id), &to).await?;
        crate::metrics::email_code(if mailed { "mailed" } else { "capped" });
        let detail = json!({ "mailed": mailed, "purpose": purpose.as_str() });
        audit.record(AuditType::EmailCodeRequested, None, user.map(|u| u.id), detail).await;
        Ok(())
    }

    /// Stores a fresh code for `to` and queues its mail; false past the hourly cap.
    async fn mail_code(&self, id: Uuid, purpose: CodePurpose, user_id: Option<Uuid>, to: &str) -> Result<bool, AccountError> {
        let code = email_code::new_code();
        let plain = email_code::normalize(&code).ok_or_else(|| anyhow::anyhow!("a fresh code does not normalise"))?;
        let mail = self.mailer.write_code_mail(to, id, &code, self.email_code.ttl)?;
        let record = NewEmailCode {
            id,
            purpose,
            user_id,
            email: to.to_string(),
            email_key: crate::domain::login_key(to),
            code_hash: email_code::hash(id, &plain),
            expires_at: chrono::Utc::now() + chrono::Duration::from_std(self.email_code.ttl).map_err(anyhow::Error::from)?,
        };
        let mailed = self.store.create_email_code(record, self.email_code.per_hour, mail).await?;
        if mailed {
            self.mailer.announce();
            tracing::info!(user_id = ?user_id, purpose = purpose.as_str(), "sign-in code queued");
        } else {
            tracing::warn!(user_id = ?user_id, purpose = purpose.as_str(), "sign-in code not mailed: the hourly cap for this address is spent");
        }
        Ok(mailed)
    }

    /// A challenge and its code: answers exactly as a password login does (a session, or
    /// `MfaRequired` while TOTP is on). A wrong code counts toward the challenge's five
    /// tries and toward the address's and the account's lockout.
    pub async fn sign_in_with_email_code(
        &self,
        sessions: &Sessions,
        audit: &Audit,
        challenge: &str,
        code: &str,
        client: ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        if !self.email_code.enabled {
            return Err(AccountError::NotFound);
        }
        let id = Uuid::parse_str(challenge.trim()).ok();
        let record = match id {
            Some(id) => self.store.email_code(id).await?.filter(|r| r.purpose != CodePurpose::Reauth),
            None => None,
        };
        // An unknown challenge costs what a wrong code costs (a lockout reservation and an
        // update), so that timing does not tell whether a code went out for an address.
        let Some(record) = record else {
            let nobody = format!("email-code:{}", challenge.chars().take(64).collect::<String>());
            let no_account = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
            self.lockout.reserve_login(&nobody, Some(no_account)).await?;
            self.store.fail_email_code(id.unwrap_or_default()).await?;
            return Err(refuse(audit, None, "invalid_credentials", "invalid_email_code", AccountError::InvalidCredentials).await);
        };
        self.admit_login(audit, record.user_id, self.lockout.reserve_login(&record.email, record.user_id).await?).await?;
        if !code_matches(&record, code) {
            self.store.fail_email_code(record.id).await?;
            return Err(refuse(audit, record.user_id, "invalid_credentials", "invalid_email_code", AccountError::InvalidCredentials).await);
        }
        if !self.store.use_email_code(record.id).await? {
            return Err(refuse(audit, record.user_id, "invalid_credentials", "invalid_email_code", AccountError::InvalidCredentials).await);
        }
        let user = match record.purpose {
            CodePurpose::SignUp => self.passwordless_account(audit, &record).await?,
            _ => self.code_holder(&record).await?,
        };
        if user.disabled {
            return Err(refuse(audit, Some(user.id), "disabled", "account_disabled", AccountError::Disabled).await);
        }
        if user.mfa_enabled {
            crate::metrics::login("mfa_required");
            let token = mfa::challenge(&self.store, self.mfa_token_ttl, user.id, &record.email, FirstFactor::EmailCode.as_amr()).await?;
            return Err(AccountError::MfaRequired(token));
        }
        self.complete(sessions, audit, user, attempt_key(&record.email), client, FirstFactor::EmailCode, None).await
    }

    /// The account a sign-in code went to, while it still holds that address verified.
    async fn code_holder(&self, record: &EmailCodeRecord) -> Result<User, AccountError> {
        let user_id = record.user_id.ok_or(AccountError::InvalidCredentials)?;
        let user = self.store.user_by_id(user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        let holds =
            user.email_verified && user.email.as_deref().map(crate::domain::login_key).as_deref() == Some(record.email_key.as_str());
        if holds { Ok(user) } else { Err(AccountError::InvalidCredentials) }
    }

    /// A sign-up code: a new account without a password, its address verified by the code.
    /// Should an account have taken the address meanwhile, the code signs in to it only if
    /// it holds the address verified.
    async fn passwordless_account(&self, audit: &Audit, record: &EmailCodeRecord) -> Result<User, AccountError> {
        let email = Email::parse(&record.email).map_err(|m| anyhow::anyhow!("a stored address does not parse: {m}"))?;
        let base = username_from(&email);
        for attempt in 0..5 {
            let name = if attempt == 0 { base.clone() } else { format!("{base}-{:04}", rand::random_range(0..10_000)) };
            let username = Username::parse(&name).map_err(|m| anyhow::anyhow!("a derived username does not parse: {m}"))?;
            let new = NewUser {
                id: Uuid::now_v7(),
                username,
                email: Some(email.clone()),
                password_hash: crate::auth::password::NO_PASSWORD.to_string(),
                roles: normalize_roles(vec![Role::user()]),
            };
            match self.store.create_passwordless_user(new).await {
                Ok(user) => {
                    tracing::info!(user_id = %user.id, "passwordless account made by a sign-up code");
                    crate::metrics::registered();
                    let detail = json!({ "username": user.username, "via": "email_code" });
                    audit.record(AuditType::UserRegistered, None, Some(user.id), detail).await;
                    return Ok(user);
                }
                Err(StoreError::Conflict(Conflict::UsernameTaken)) => continue,
                Err(StoreError::Conflict(Conflict::EmailTaken)) => {
                    let holder = self.store.credentials_by_login(&record.email_key).await?.map(|c| c.user);
                    return holder.filter(|u| u.email_verified).ok_or(AccountError::InvalidCredentials);
                }
                Err(err) => return Err(err.into()),
            }
        }
        Err(anyhow::anyhow!("no free username for a new passwordless account").into())
    }

    /// Whether the account has a password, and whether its last login found that password
    /// in a breach corpus: what the account page asks about.
    pub async fn password_state(&self, user_id: Uuid) -> Result<(bool, bool), AccountError> {
        let credentials = self.store.credentials_by_id(user_id).await?.ok_or(AccountError::InvalidToken)?;
        let has_password = crate::auth::password::has_password(&credentials.password_hash);
        Ok((has_password, has_password && self.store.password_breached(user_id).await?))
    }

    /// Mails a signed-in passwordless account a code that stands in for its password at the
    /// next re-check (password, email, TOTP, passkeys). An account with a password is refused.
    pub async fn request_reauth_code(&self, audit: &Audit, user_id: Uuid) -> Result<Uuid, AccountError> {
        let credentials = self.store.credentials_by_id(user_id).await?.ok_or(AccountError::InvalidToken)?;
        if crate::auth::password::has_password(&credentials.password_hash) {
            return Err(AccountError::Invalid(vec![FieldError::new("password", "is set: re-checks take the password")]));
        }
        let user = credentials.user;
        let to = user.email.clone().filter(|_| user.email_verified).ok_or(AccountError::EmailUnverified)?;
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mailed = self.mail_code(id, CodePurpose::Reauth, Some(user.id), &to).await?;
        crate::metrics::email_code(if mailed { "mailed" } else { "capped" });
        audit.record(AuditType::EmailCodeRequested, Some(user.id), Some(user.id), json!({ "mailed": mailed, "purpose": "reauth" })).await;
        if !mailed {
            return Err(AccountError::MailQuotaSpent { retry_after_secs: 3600 });
        }
        Ok(id)
    }

    /// A re-check of a signed-in account: its password, or, for a passwordless account, a
    /// live re-check code (then spent). Wrong answers count toward the code's five tries;
    /// the caller reserved the account's lockout.
    pub(super) async fn secret_matches(&self, credentials: &Credentials, secret: &str) -> Result<bool, AccountError> {
        if crate::auth::password::has_password(&credentials.password_hash) {
            let verdict = self.hasher.verify(secret, Some(&credentials.password_hash)).await?;
            return Ok(verdict != crate::auth::Verdict::Mismatch);
        }
        let live = self.store.live_reauth_codes(credentials.user.id).await?;
        for record in &live {
            if code_matches(record, secret) {
                return Ok(self.store.use_email_code(record.id).await?);
            }
        }
        for record in &live {
            self.store.fail_email_code(record.id).await?;
        }
        Ok(false)
    }
}

fn code_matches(record: &EmailCodeRecord, typed: &str) -> bool {
    email_code::normalize(typed).is_some_and(|code| bool::from(email_code::hash(record.id, &code).ct_eq(&record.code_hash)))
}

/// A username from the address's local part: its allowed characters, 3 to 24 of them.
fn username_from(email: &Email) -> String {
    let local = email.as_str().split('@').next().unwrap_or_default();
    let mut name: String = local.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')).take(24).collect();
    while name.chars().count() < 3 {
        name.push('_');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_made_from_addresses_follow_the_username_rules() {
        for (address, want) in [("anna.b@example.com", "anna.b"), ("x@example.com", "x__"), ("j+o%rg@example.com", "jorg")] {
            let name = username_from(&Email::parse(address).expect("an address"));
            assert_eq!(name, want);
            assert!(Username::parse(&name).is_ok());
        }
    }
}
