//! Invitations to sign up: an admin (console, API or command line) names an address and
//! the roles the account gets; the mailed link opens the sign-up page with the invitation,
//! and [`super::Accounts::register`] takes it once.

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::domain::{Email, Role, normalize_roles};
use crate::error::FieldError;
use crate::store::{AuditType, Conflict, NewSignUpInvitation, SignUpInvitation, StoreError};

/// How long an invitation's link works.
const INVITATION_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

impl Accounts {
    /// Invites `email` (which no account may hold) with `roles` (`user` always added) and
    /// mails the link; the invitation, never its token.
    pub async fn invite_to_sign_up(
        &self,
        audit: &Audit,
        actor: Option<Uuid>,
        email: &str,
        roles: &[String],
    ) -> Result<SignUpInvitation, AccountError> {
        let mut errors = Vec::new();
        let email = Email::parse(email.trim()).map_err(|m| errors.push(FieldError::new("email", m))).ok();
        let mut parsed = vec![Role::user()];
        for (i, raw) in roles.iter().enumerate() {
            match Role::parse(raw) {
                Ok(role) => parsed.push(role),
                Err(message) => errors.push(FieldError::new(format!("roles[{i}]"), message)),
            }
        }
        let Some(email) = email.filter(|_| errors.is_empty()) else { return Err(AccountError::Invalid(errors)) };
        if self.store.credentials_by_login(&email.key()).await?.is_some() {
            return Err(AccountError::Store(StoreError::Conflict(Conflict::EmailTaken)));
        }
        let token = crate::mail::new_token();
        let mail = self.mailer.write_invitation_mail(email.as_str(), &token, INVITATION_TTL)?;
        let expires_at = chrono::Utc::now() + chrono::Duration::from_std(INVITATION_TTL).unwrap_or_else(|_| chrono::Duration::days(7));
        let invitation = NewSignUpInvitation {
            id: Uuid::now_v7(),
            email: email.as_str().to_string(),
            email_key: email.key(),
            roles: normalize_roles(parsed).into_iter().map(|r| r.as_str().to_string()).collect(),
            token_hash: crate::mail::hash_token(&token),
            invited_by: actor,
            expires_at,
        };
        let invitation = self.store.create_sign_up_invitation(invitation, mail).await?;
        self.mailer.announce();
        let detail = json!({ "invitation_id": invitation.id, "email": invitation.email, "roles": invitation.roles });
        audit.record(AuditType::UserInvited, actor, None, detail).await;
        Ok(invitation)
    }

    /// Revokes a pending invitation: its link stops working.
    pub async fn revoke_sign_up_invitation(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid) -> Result<(), AccountError> {
        if !self.store.revoke_sign_up_invitation(id).await? {
            return Err(AccountError::NotFound);
        }
        audit.record(AuditType::InvitationRevoked, actor, None, json!({ "invitation_id": id })).await;
        Ok(())
    }
}
