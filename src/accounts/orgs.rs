//! Organizations: creation, the rights of owners, org admins and Gatehouse admins, member
//! roles with the last-owner rule. Invitations are in [`super::org_invitations`].
//!
//! Who may do what: any member reads the org and its members; owners and org admins
//! (and Gatehouse admins) change it, its members and its invitations; only owners (and
//! Gatehouse admins) grant or take the `owner` role or remove an owner; a member may always
//! leave. A non-member who is no Gatehouse admin sees no org at all (404).

use serde_json::json;
use uuid::Uuid;

use super::Accounts;
use crate::audit::Audit;
use crate::domain::org::{self, Slug};
use crate::error::{ApiError, Result};
use crate::store::{AuditType, Membership, NewOrg, Org, Page, User};

/// Who acts on an org.
#[derive(Debug, Clone)]
pub enum OrgActor {
    /// The command line: an operator, with every right.
    Operator,
    /// A signed-in account (a Gatehouse admin has every right).
    User(User),
}

impl OrgActor {
    fn id(&self) -> Option<Uuid> {
        match self {
            Self::Operator => None,
            Self::User(user) => Some(user.id),
        }
    }

    fn is_admin(&self) -> bool {
        match self {
            Self::Operator => true,
            Self::User(user) => user.is_admin(),
        }
    }
}

/// What the actor may do in one org.
pub struct OrgAccess {
    pub org: Org,
    /// The actor's roles there; empty for a non-member (a Gatehouse admin).
    pub roles: Vec<String>,
    admin: bool,
}

impl OrgAccess {
    /// Owners, org admins and Gatehouse admins.
    pub fn manages(&self) -> bool {
        self.admin || org::manages(&self.roles)
    }

    /// Owners and Gatehouse admins.
    pub fn owns(&self) -> bool {
        self.admin || org::is_owner(&self.roles)
    }

    fn must_manage(&self) -> Result<()> {
        if self.manages() { Ok(()) } else { Err(ApiError::Forbidden) }
    }
}

/// Parses org roles as sent, or a 422 on `field`.
pub fn parse_org_roles(raw: &[String], field: &str) -> Result<Vec<String>> {
    org::org_roles(raw).map_err(|why| ApiError::validation(field, why))
}

impl Accounts {
    /// The org as this actor may see it: 404 for a non-member who is no admin.
    pub async fn org_access(&self, actor: &OrgActor, org_id: Uuid) -> Result<OrgAccess> {
        let org = self.store.org_by_id(org_id).await?.ok_or(ApiError::NotFound)?;
        let roles = match actor.id() {
            Some(user_id) => self.store.org_roles_of(org_id, user_id).await?,
            None => None,
        };
        if roles.is_none() && !actor.is_admin() {
            return Err(ApiError::NotFound);
        }
        Ok(OrgAccess { org, roles: roles.unwrap_or_default(), admin: actor.is_admin() })
    }

    /// Creates an org whose first owner is `owner`. A user creates one for themselves when
    /// GATEHOUSE_ORGS_SELF_SERVICE and their address is verified; admins always may.
    pub async fn create_org(&self, audit: &Audit, actor: &OrgActor, owner: Uuid, slug: &str, name: &str) -> Result<Org> {
        if let OrgActor::User(user) = actor
            && !user.is_admin()
        {
            if !self.orgs_self_service || user.id != owner {
                return Err(ApiError::Forbidden);
            }
            if !user.email_verified || user.email.is_none() {
                return Err(ApiError::EmailUnverified);
            }
        }
        let (slug, name) = check_slug_and_name(Some(slug), Some(name))?;
        let (slug, name) = (slug.unwrap_or_default(), name.unwrap_or_default());
        let org = self.store.create_org(NewOrg { id: Uuid::now_v7(), slug, name, owner }).await?;
        audit.record(AuditType::OrgCreated, actor.id(), Some(owner), json!({ "org_id": org.id, "slug": org.slug })).await;
        Ok(org)
    }

    pub async fn update_org(&self, audit: &Audit, actor: &OrgActor, org_id: Uuid, slug: Option<&str>, name: Option<&str>) -> Result<Org> {
        self.org_access(actor, org_id).await?.must_manage()?;
        let (slug, name) = check_slug_and_name(slug, name)?;
        let org = self.store.update_org(org_id, slug.as_deref(), name.as_deref()).await?;
        audit.record(AuditType::OrgUpdated, actor.id(), None, json!({ "org_id": org.id, "slug": org.slug, "name": org.name })).await;
        Ok(org)
    }

    /// Deletes the org; its members' tokens that name it are refused from now on.
    pub async fn delete_org(&self, audit: &Audit, actor: &OrgActor, org_id: Uuid) -> Result<()> {
        let access = self.org_access(actor, org_id).await?;
        access.must_manage()?;
        if !self.store.delete_org(org_id).await? {
            return Err(ApiError::NotFound);
        }
        audit.record(AuditType::OrgDeleted, actor.id(), None, json!({ "org_id": org_id, "slug": access.org.slug })).await;
        Ok(())
    }

    pub async fn org_members(&self, actor: &OrgActor, org_id: Uuid, page: u32, per_page: u32) -> Result<Page<Membership>> {
        self.org_access(actor, org_id).await?;
        Ok(self.store.list_members(org_id, page, per_page).await?)
    }

    /// Makes a user a member straight away (the command line; people join by invitation).
    pub async fn add_org_member(
        &self,
        audit: &Audit,
        actor: &OrgActor,
        org_id: Uuid,
        user_id: Uuid,
        roles: &[String],
    ) -> Result<Membership> {
        let access = self.org_access(actor, org_id).await?;
        let roles = parse_org_roles(roles, "roles")?;
        if !access.owns() {
            return Err(ApiError::Forbidden);
        }
        self.store.user_by_id(user_id).await?.ok_or(ApiError::NotFound)?;
        let member = self.store.add_member(org_id, user_id, &roles).await?;
        audit.record(AuditType::OrgMemberAdded, actor.id(), Some(user_id), json!({ "org_id": org_id, "roles": roles })).await;
        Ok(member)
    }

    /// Replaces a member's org roles; 409 `last_owner` when no owner would be left.
    pub async fn set_org_member_roles(
        &self,
        audit: &Audit,
        actor: &OrgActor,
        org_id: Uuid,
        user_id: Uuid,
        roles: &[String],
    ) -> Result<Membership> {
        let access = self.org_access(actor, org_id).await?;
        access.must_manage()?;
        let roles = parse_org_roles(roles, "roles")?;
        let current = self.store.org_roles_of(org_id, user_id).await?.ok_or(ApiError::NotFound)?;
        if (org::is_owner(&current) != org::is_owner(&roles)) && !access.owns() {
            return Err(ApiError::Forbidden);
        }
        let member = self.store.set_member_roles(org_id, user_id, &roles).await?;
        audit.record(AuditType::OrgMemberRolesChanged, actor.id(), Some(user_id), json!({ "org_id": org_id, "roles": roles })).await;
        Ok(member)
    }

    /// Removes a member, or lets one leave; 409 `last_owner` for the last owner. Their
    /// tokens that name the org are refused at once.
    pub async fn remove_org_member(&self, audit: &Audit, actor: &OrgActor, org_id: Uuid, user_id: Uuid) -> Result<()> {
        let access = self.org_access(actor, org_id).await?;
        if actor.id() != Some(user_id) {
            access.must_manage()?;
            let current = self.store.org_roles_of(org_id, user_id).await?.ok_or(ApiError::NotFound)?;
            if org::is_owner(&current) && !access.owns() {
                return Err(ApiError::Forbidden);
            }
        }
        if !self.store.remove_member(org_id, user_id).await? {
            return Err(ApiError::NotFound);
        }
        audit.record(AuditType::OrgMemberRemoved, actor.id(), Some(user_id), json!({ "org_id": org_id })).await;
        Ok(())
    }
}

/// Checks a slug and a name as sent, listing every invalid field at once.
fn check_slug_and_name(slug: Option<&str>, name: Option<&str>) -> Result<(Option<String>, Option<String>)> {
    let mut errors = Vec::new();
    let slug = slug.and_then(|s| Slug::parse(s).map_err(|why| errors.push(crate::error::FieldError::new("slug", why))).ok());
    let name = name.and_then(|n| org::check_org_name(n).map_err(|why| errors.push(crate::error::FieldError::new("name", why))).ok());
    if errors.is_empty() { Ok((slug.map(|s| s.as_str().to_string()), name)) } else { Err(ApiError::Validation(errors)) }
}
