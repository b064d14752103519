//! Invitations: owners and org admins invite an address; the person who holds that address,
//! verified, on their account accepts (an invitation cannot be taken by whoever else got
//! the link). Each is single use, revocable, and lives [`INVITATION_TTL`].

use std::time::Duration;

use serde_json::json;
use uuid::Uuid;

use super::Accounts;
use super::orgs::{OrgActor, parse_org_roles};
use crate::audit::Audit;
use crate::domain::org;
use crate::domain::{Email, login_key};
use crate::error::{ApiError, Result};
use crate::store::{AuditType, Invitation, InvitationRecord, InvitationStatus, Membership, NewInvitation, Page, User};

/// How long an invitation's link works.
pub const INVITATION_TTL: Duration = Duration::from_secs(7 * 86_400);

impl Accounts {
    /// Invites `email` with `roles` and mails the link; a pending invitation of the same
    /// address is replaced. 409 `already_member` when an account with that address is one.
    pub async fn invite(&self, audit: &Audit, actor: &OrgActor, org_id: Uuid, email: &str, roles: &[String]) -> Result<Invitation> {
        let access = self.org_access(actor, org_id).await?;
        if !access.manages() {
            return Err(ApiError::Forbidden);
        }
        let email = Email::parse(email).map_err(|why| ApiError::validation("email", why))?;
        let roles = parse_org_roles(roles, "roles")?;
        if org::is_owner(&roles) && !access.owns() {
            return Err(ApiError::Forbidden);
        }
        if let Some(existing) = self.store.credentials_by_login(&email.key()).await?
            && self.store.org_roles_of(org_id, existing.user.id).await?.is_some()
        {
            return Err(ApiError::Conflict(crate::store::Conflict::AlreadyMember));
        }
        let inviter = match actor {
            OrgActor::User(user) => user.clone(),
            OrgActor::Operator => return Err(ApiError::Forbidden),
        };
        let written = self.mailer.invitation(email.as_str(), &inviter.username, &access.org.name, INVITATION_TTL)?;
        let new = NewInvitation {
            id: Uuid::now_v7(),
            org_id,
            email: email.as_str().to_string(),
            email_key: email.key(),
            roles,
            token_hash: written.token_hash,
            invited_by: inviter.id,
            expires_at: chrono::Utc::now() + chrono::Duration::from_std(INVITATION_TTL).map_err(anyhow::Error::from)?,
        };
        let invitation = self.store.create_invitation(new, written.mail).await?;
        self.mailer.queued_one();
        audit
            .record(
                AuditType::OrgInvitationSent,
                Some(inviter.id),
                None,
                json!({ "org_id": org_id, "invitation_id": invitation.id, "email": invitation.email, "roles": invitation.roles }),
            )
            .await;
        Ok(invitation)
    }

    pub async fn org_invitations(&self, actor: &OrgActor, org_id: Uuid, page: u32, per_page: u32) -> Result<Page<Invitation>> {
        if !self.org_access(actor, org_id).await?.manages() {
            return Err(ApiError::Forbidden);
        }
        Ok(self.store.list_invitations(org_id, page, per_page).await?)
    }

    pub async fn revoke_invitation(&self, audit: &Audit, actor: &OrgActor, org_id: Uuid, invitation_id: Uuid) -> Result<()> {
        if !self.org_access(actor, org_id).await?.manages() {
            return Err(ApiError::Forbidden);
        }
        if !self.store.revoke_invitation(org_id, invitation_id).await? {
            return Err(ApiError::NotFound);
        }
        audit
            .record(AuditType::OrgInvitationRevoked, actor_id(actor), None, json!({ "org_id": org_id, "invitation_id": invitation_id }))
            .await;
        Ok(())
    }

    /// The pending invitation a link's token names; 404 when unknown, used, revoked or expired.
    pub async fn pending_invitation(&self, token: &str) -> Result<InvitationRecord> {
        if token.is_empty() || token.len() > 128 {
            return Err(ApiError::NotFound);
        }
        let record = self.store.invitation_by_token(&crate::mail::hash_token(token)).await?.ok_or(ApiError::NotFound)?;
        if record.invitation.status != InvitationStatus::Pending {
            return Err(ApiError::NotFound);
        }
        Ok(record)
    }

    /// Accepts an invitation for `user`, who must hold the invited address, verified.
    pub async fn accept_invitation(&self, audit: &Audit, user: &User, token: &str) -> Result<Membership> {
        let record = self.pending_invitation(token).await?;
        let holds = |address: Option<&str>| address.map(login_key).as_deref() == Some(record.email_key.as_str());
        if holds(user.email.as_deref()) {
            if !user.email_verified {
                return Err(ApiError::EmailUnverified);
            }
        } else if holds(user.pending_email.as_deref()) {
            return Err(ApiError::EmailUnverified);
        } else {
            return Err(ApiError::InvitationNotForYou);
        }
        let invitation = &record.invitation;
        let member =
            self.store.accept_invitation(invitation.id, record.org.id, user.id, &invitation.roles).await?.ok_or(ApiError::NotFound)?;
        audit
            .record(
                AuditType::OrgInvitationAccepted,
                Some(user.id),
                Some(user.id),
                json!({ "org_id": record.org.id, "invitation_id": invitation.id, "roles": member.roles }),
            )
            .await;
        Ok(member)
    }
}

fn actor_id(actor: &OrgActor) -> Option<Uuid> {
    match actor {
        OrgActor::Operator => None,
        OrgActor::User(user) => Some(user.id),
    }
}
