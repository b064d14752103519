//! An admin's changes to an account, from `/v1/users/{id}` or `gatehouse user ...`: roles,
//! disabled, email, deletion, MFA reset and a new password. `actor` is the admin, `None` on the command line.
//! The store keeps the last-admin rule (`last_admin`).

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::error::FieldError;
use crate::store::{AuditType, User, UserPatch};

impl Accounts {
    /// Applies `patch` to the user `id`: disabling revokes its sessions; a new address is
    /// unverified, gets a verification link, and a verified old address is told.
    pub async fn update_user(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid, patch: UserPatch) -> Result<User, AccountError> {
        let (roles, disabled) = (patch.roles.clone(), patch.disabled);
        let before = self.store.user_by_id(id).await?.ok_or(AccountError::NotFound)?;
        let user = self.store.update_user(id, patch).await?;
        tracing::info!(actor_id = ?actor, user_id = %id, ?roles, ?disabled, "user changed by an admin");
        record_changes(audit, actor, &before, &user).await;
        if before.email != user.email {
            if !user.email_verified {
                self.mailer.send_verification(&user).await;
            }
            if let Some(old) = before.email.as_deref().filter(|_| before.email_verified) {
                let change = match user.email.as_deref() {
                    Some(new) => format!("An administrator changed the email address of your account to {new}."),
                    None => "An administrator removed the email address of your account.".to_string(),
                };
                self.mailer.send_change_notice(&user, old, &change).await;
            }
        }
        Ok(user)
    }

    /// Deletes the user `id` with its sessions and templates; answers the user as it was.
    pub async fn delete_user(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid) -> Result<User, AccountError> {
        let before = self.store.user_by_id(id).await?.ok_or(AccountError::NotFound)?;
        self.store.delete_user(id).await?;
        tracing::info!(actor_id = ?actor, user_id = %id, "user deleted by an admin");
        audit.record(AuditType::UserDeleted, actor, Some(id), json!({ "username": before.username })).await;
        Ok(before)
    }

    /// Turns the TOTP of the user `id` off, for one who lost their authenticator and
    /// recovery codes; answers the user and whether TOTP was on (audited and the user told
    /// only then).
    pub async fn reset_mfa(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid) -> Result<(User, bool), AccountError> {
        let user = self.store.user_by_id(id).await?.ok_or(AccountError::NotFound)?;
        let was_on = self.store.disable_totp(id).await?;
        if was_on {
            tracing::info!(actor_id = ?actor, user_id = %id, "TOTP reset by an admin");
            audit.record(AuditType::MfaDisabled, actor, Some(id), json!({ "method": "totp", "via": "admin" })).await;
            let change = "An administrator turned off two-factor authentication with an authenticator app for your account.";
            self.mailer.send_security_notice(&user, change).await;
        }
        Ok((user, was_on))
    }
}

impl Accounts {
    /// Sets a new password on the user `id` (an operator's `gatehouse user set-password`),
    /// under the password rules of the API; every session of the user is revoked, as after
    /// a reset, and earlier failed logins no longer count.
    pub async fn set_password(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid, new: &str) -> Result<User, AccountError> {
        let user = self.store.user_by_id(id).await?.ok_or(AccountError::NotFound)?;
        let known: Vec<&str> = [Some(user.username.as_str()), user.email.as_deref()].into_iter().flatten().collect();
        let password = self.policy.parse(new, &known).map_err(|m| AccountError::Invalid(vec![FieldError::new("password", m)]))?;
        let hash = self.hasher.hash(password.expose()).await?;
        self.store.set_password_hash(id, &hash).await?;
        self.store.revoke_user_sessions(id, None).await?;
        self.lockout.clear(&user, None).await?;
        tracing::info!(actor_id = ?actor, user_id = %id, "password set by an admin; every session revoked");
        audit.record(AuditType::PasswordChanged, actor, Some(id), json!({ "sessions_revoked": true, "by_admin": true })).await;
        Ok(user)
    }
}

/// Audits what changed on a user: roles, disabled, email.
async fn record_changes(audit: &Audit, actor: Option<Uuid>, before: &User, after: &User) {
    let target = Some(after.id);
    if before.roles != after.roles {
        audit.record(AuditType::UserRolesChanged, actor, target, json!({ "before": before.roles, "after": after.roles })).await;
    }
    if before.disabled != after.disabled {
        let kind = if after.disabled { AuditType::UserDisabled } else { AuditType::UserEnabled };
        audit.record(kind, actor, target, json!({})).await;
    }
    if before.email != after.email {
        audit.record(AuditType::EmailChanged, actor, target, json!({ "email": after.email })).await;
    }
}
