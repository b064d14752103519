//! Registration: `POST /v1/auth/register` (sign-up, or an invitation taken), `POST
//! /v1/users` and the console (an admin), and `gatehouse user create`.

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::config::RegistrationMode;
use crate::domain::{Email, Role, Username, normalize_roles};
use crate::error::FieldError;
use crate::store::{AuditType, NewUser, User};

/// A new account as asked for, not yet checked.
pub struct Registration<'a> {
    pub username: &'a str,
    pub email: Option<&'a str>,
    pub password: &'a str,
    /// Also the `admin` role (the command line only).
    pub admin: bool,
    /// Roles besides `user` (an admin's choice).
    pub roles: Vec<Role>,
    pub via: Via<'a>,
}

/// Who makes the account, which GATEHOUSE_REGISTRATION allows or not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Via<'a> {
    /// Someone signing up: only while registration is `open`.
    SignUp,
    /// Someone signing up with an invitation's token: in every mode. The invitation decides
    /// the address (verified) and the roles.
    SignUpInvitation(&'a str),
    /// An admin, or the command line: in every mode.
    Admin,
}

/// The account created, and whether a verification mail was queued for it.
pub struct Registered {
    pub user: User,
    pub mail_queued: bool,
}

impl Accounts {
    /// Checks every field (one answer naming each mistake), creates the account with the
    /// `user` role, counts and audits it, and queues a verification mail to its address.
    pub async fn register(&self, audit: &Audit, new: Registration<'_>) -> Result<Registered, AccountError> {
        if new.via == Via::SignUp && self.registration != RegistrationMode::Open {
            return Err(AccountError::RegistrationClosed);
        }
        let invitation = match new.via {
            Via::SignUpInvitation(token) => match self.store.live_sign_up_invitation(&crate::mail::hash_token(token)).await? {
                Some(invitation) => Some((token, invitation)),
                None => return Err(AccountError::Invalid(vec![FieldError::new("invitation", "is unknown, used, revoked or expired")])),
            },
            _ => None,
        };
        // An invitation names the address: the one typed (if any) must be that one.
        let invited_email = invitation.as_ref().map(|(_, i)| i.email.clone());
        if let (Some(invited), Some(typed)) = (&invited_email, new.email)
            && crate::domain::login_key(typed) != crate::domain::login_key(invited)
        {
            return Err(AccountError::Invalid(vec![FieldError::new("email", "must be the invited address")]));
        }
        let new = Registration { email: invited_email.as_deref().or(new.email), ..new };
        let mut errors = Vec::new();
        let username = Username::parse(new.username).map_err(|m| errors.push(FieldError::new("username", m))).ok();
        let email = match new.email {
            None => None,
            Some(raw) => Email::parse(raw).map_err(|m| errors.push(FieldError::new("email", m))).ok(),
        };
        let known: Vec<&str> = [Some(new.username), new.email].into_iter().flatten().collect();
        let password = self.policy.parse(new.password, &known).map_err(|m| errors.push(FieldError::new("password", m))).ok();
        let (Some(username), Some(password)) = (username, password) else { return Err(AccountError::Invalid(errors)) };
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        if let Some(breached) = self.refuse_breached("password", password.expose()).await {
            return Err(AccountError::Invalid(vec![breached]));
        }
        let mut roles = vec![Role::user()];
        if new.admin {
            roles.push(Role::admin());
        }
        roles.extend(new.roles);
        if let Some((_, invitation)) = &invitation {
            roles.extend(invitation.roles.iter().filter_map(|r| Role::parse(r).ok()));
        }
        let password_hash = self.hasher.hash(password.expose()).await?;
        let record = NewUser { id: Uuid::now_v7(), username, email, password_hash, roles: normalize_roles(roles) };
        let user = match &invitation {
            Some((token, _)) => {
                self.store.accept_sign_up_invitation(&crate::mail::hash_token(token), record).await.map_err(|err| match err {
                    // Taken by a parallel sign-up, or revoked, since it was read.
                    crate::store::StoreError::NotFound => {
                        AccountError::Invalid(vec![FieldError::new("invitation", "is unknown, used, revoked or expired")])
                    }
                    other => other.into(),
                })?
            }
            None => self.store.create_user(record).await?,
        };
        tracing::info!(user_id = %user.id, "user registered");
        crate::metrics::registered();
        let detail = match &invitation {
            Some((_, i)) => json!({ "username": user.username, "via": "invitation", "invitation_id": i.id }),
            None => json!({ "username": user.username }),
        };
        audit.record(AuditType::UserRegistered, None, Some(user.id), detail).await;
        // An invitation's address is verified by the link that brought the person here.
        let mail_queued = invitation.is_none() && self.mailer.send_verification(&user).await;
        Ok(Registered { user, mail_queued })
    }
}
