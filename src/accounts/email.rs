//! The caller's own email change: behind the password and, while TOTP is on, a code.

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::auth::lockout::retry_after_secs;
use crate::auth::mfa;
use crate::domain::{Email, login_key};
use crate::error::{Conflict, FieldError};
use crate::store::{AuditType, Credentials, EmailChange, MailQuota, StoreError, User};

/// What the caller asks of their address.
pub enum EmailWish {
    /// Nothing: the identity check alone (the account as it is).
    Keep,
    /// Removed at once.
    Remove,
    /// Pending until the link mailed to it is followed.
    Change(Email),
}

impl Accounts {
    /// Checks the caller's password (and code while TOTP is on), then applies `wish`.
    pub async fn change_email(
        &self,
        audit: &Audit,
        user_id: Uuid,
        password: &str,
        code: Option<&str>,
        wish: EmailWish,
    ) -> Result<User, AccountError> {
        let credentials = self.store.credentials_by_id(user_id).await?.ok_or(AccountError::InvalidToken)?;
        self.confirm_identity(&credentials, password, code).await?;
        let account = credentials.user;
        match wish {
            EmailWish::Keep => Ok(account),
            EmailWish::Remove => self.remove_email(audit, account).await,
            EmailWish::Change(email) => self.request_change(audit, account, email).await,
        }
    }

    /// Counts one verification mail the account causes; `MailQuotaSpent` past
    /// GATEHOUSE_VERIFY_MAILS_PER_HOUR in its current hour.
    pub async fn reserve_verification_mail(&self, user_id: Uuid) -> Result<(), AccountError> {
        match self.mailer.reserve_verification(user_id).await? {
            MailQuota::Allowed => Ok(()),
            MailQuota::Spent { retry_after } => {
                tracing::warn!(%user_id, "verification mails refused: the hourly share of this account is spent");
                Err(AccountError::MailQuotaSpent { retry_after_secs: retry_after_secs(retry_after) })
            }
        }
    }

    /// The password and, while TOTP is on, a code: what a stolen access token does not
    /// carry. Each check counts toward the account's login lockout until both passed.
    async fn confirm_identity(&self, credentials: &Credentials, password: &str, code: Option<&str>) -> Result<(), AccountError> {
        let invalid = |field: &str, message: &str| AccountError::Invalid(vec![FieldError::new(field, message)]);
        self.reserve_account(credentials.user.id).await?;
        if !self.secret_matches(credentials, password).await? {
            return Err(invalid("current_password", "is not your current password"));
        }
        if credentials.user.mfa_enabled {
            let Some(code) = code else {
                return Err(invalid("code", "is required while two-factor authentication is on"));
            };
            if mfa::verify_code(&self.store, credentials.user.id, code).await?.is_none() {
                return Err(invalid("code", "is not a current code or an unused recovery code"));
            }
        }
        Ok(self.lockout.clear(&credentials.user, None).await?)
    }

    async fn remove_email(&self, audit: &Audit, account: User) -> Result<User, AccountError> {
        if account.email.is_none() && account.pending_email.is_none() {
            return Ok(account);
        }
        let updated = self.store.set_email(account.id, EmailChange { email: None }).await?;
        audit.record(AuditType::EmailChanged, Some(account.id), Some(account.id), json!({ "email": null })).await;
        if let Some(old) = account.email.as_deref().filter(|_| account.email_verified) {
            let change = "The email address of your account was removed; this address no longer receives the account's mail.";
            self.mailer.send_change_notice(&account, old, change).await;
        }
        Ok(updated)
    }

    /// A new address waits as `pending_email` for its link. Asking again for the address the
    /// account has, or the one already pending, mails nothing.
    async fn request_change(&self, audit: &Audit, account: User, email: Email) -> Result<User, AccountError> {
        let key = email.key();
        if account.email.as_deref().map(login_key).as_ref() == Some(&key) {
            // The address the account has: a pending change is called off.
            if account.pending_email.is_none() {
                return Ok(account);
            }
            return Ok(self.store.set_pending_email(account.id, None).await?);
        }
        if account.pending_email.as_deref().map(login_key).as_ref() == Some(&key) {
            return Ok(account);
        }
        // Checked again, by the unique key, when the link is followed: a pending address
        // reserves nothing, so nobody can hold an address they do not control.
        if self.store.credentials_by_login(&key).await?.is_some_and(|other| other.user.id != account.id) {
            return Err(StoreError::Conflict(Conflict::EmailTaken).into());
        }
        self.reserve_verification_mail(account.id).await?;
        let change = EmailChange { email: Some(email.clone()) };
        let updated = self.store.set_pending_email(account.id, Some(change)).await?;
        self.mailer.send_verification(&updated).await;
        if let Some(old) = account.email.as_deref().filter(|_| account.email_verified) {
            let change = format!(
                "Someone signed in to your account asked to change its email address to {}. The change takes effect only once the link \
                 mailed to that address is followed; until then, this address stays the account's address.",
                email.as_str()
            );
            self.mailer.send_change_notice(&updated, old, &change).await;
        }
        audit.record(AuditType::EmailChanged, Some(account.id), Some(account.id), json!({ "pending_email": email.as_str() })).await;
        Ok(updated)
    }
}
