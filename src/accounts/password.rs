//! Password change (signed in, with the current password) and reset (with a mailed link).

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::auth::Verdict;
use crate::error::FieldError;
use crate::mail::hash_token;
use crate::store::{AuditType, TokenPurpose};

impl Accounts {
    /// Changes the password of `user_id` and revokes its sessions but `session_id`. The
    /// current password counts toward the account's lockout, so that a stolen access token
    /// is no unlimited password oracle; both fields are judged before answering.
    pub async fn change_password(
        &self,
        audit: &Audit,
        user_id: Uuid,
        session_id: Uuid,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let credentials = self.store.credentials_by_id(user_id).await?.ok_or(AccountError::InvalidToken)?;
        self.reserve_account(user_id).await?;
        // A passwordless account proves itself with a fresh re-check code instead.
        let had_password = crate::auth::password::has_password(&credentials.password_hash);
        let verdict =
            if self.secret_matches(&credentials, current).await? { Verdict::Match { needs_rehash: false } } else { Verdict::Mismatch };
        if verdict != Verdict::Mismatch {
            // The right password: the reservation above must not add up toward a lock.
            self.lockout.clear(&credentials.user, None).await?;
        }
        let account = &credentials.user;
        let known: Vec<&str> = [Some(account.username.as_str()), account.email.as_deref()].into_iter().flatten().collect();
        let mut errors = Vec::new();
        if verdict == Verdict::Mismatch {
            errors.push(FieldError::new("current_password", "is not your current password"));
        }
        let password = self.policy.parse(new, &known).map_err(|m| errors.push(FieldError::new("new_password", m))).ok();
        if password.is_some() && verdict != Verdict::Mismatch && had_password && new == current {
            errors.push(FieldError::new("new_password", "must differ from the current password"));
        }
        if let Some(password) = password.as_ref().filter(|_| errors.is_empty())
            && let Some(breached) = self.refuse_breached("new_password", password.expose()).await
        {
            errors.push(breached);
        }
        let Some(password) = password.filter(|_| errors.is_empty()) else { return Err(AccountError::Invalid(errors)) };
        let hash = self.hasher.hash(password.expose()).await?;
        self.store.change_password(user_id, &hash, Some(session_id)).await?;
        tracing::info!(%user_id, "password changed; other sessions revoked");
        audit.record(AuditType::PasswordChanged, Some(user_id), Some(user_id), json!({ "other_sessions_revoked": true })).await;
        let change = "The password of your account was changed, and every other session of it was signed out.";
        self.mailer.send_password_notice(account, change).await;
        Ok(())
    }

    /// Sets a new password with the token of a reset mail; every session of the account is
    /// revoked. A second factor, when set up, stays on. A password that breaks the rules
    /// leaves the token usable.
    pub async fn reset_password(&self, audit: &Audit, token: &str, new: &str) -> Result<(), AccountError> {
        let token_hash = hash_token(token);
        let account = self.store.email_token_user(TokenPurpose::ResetPassword, &token_hash).await?.ok_or(AccountError::InvalidToken)?;
        let known: Vec<&str> = [Some(account.username.as_str()), account.email.as_deref()].into_iter().flatten().collect();
        let password = self.policy.parse(new, &known).map_err(|m| AccountError::Invalid(vec![FieldError::new("new_password", m)]))?;
        if let Some(breached) = self.refuse_breached("new_password", password.expose()).await {
            return Err(AccountError::Invalid(vec![breached]));
        }
        let hash = self.hasher.hash(password.expose()).await?;
        // Used up, the password set and every session revoked in one transaction.
        let user = self.store.reset_password(&token_hash, &hash).await?.ok_or(AccountError::InvalidToken)?;
        // The owner proved control of the address: earlier failed logins no longer count.
        self.lockout.clear(&user, None).await?;
        tracing::info!(user_id = %user.id, "password reset; every session revoked");
        audit.record(AuditType::PasswordReset, Some(user.id), Some(user.id), json!({ "sessions_revoked": true })).await;
        let change = "The password of your account was reset with a link mailed to you, and every session of it was signed out.";
        self.mailer.send_password_notice(&user, change).await;
        Ok(())
    }
}
