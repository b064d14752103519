//! Registration: `POST /v1/auth/register` and `gatehouse user create`.

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, Accounts};
use crate::audit::Audit;
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
        let password_hash = self.hasher.hash(password.expose()).await?;
        let user =
            self.store.create_user(NewUser { id: Uuid::now_v7(), username, email, password_hash, roles: normalize_roles(roles) }).await?;
        tracing::info!(user_id = %user.id, "user registered");
        crate::metrics::registered();
        audit.record(AuditType::UserRegistered, None, Some(user.id), json!({ "username": user.username })).await;
        let mail_queued = self.mailer.send_verification(&user).await;
        Ok(Registered { user, mail_queued })
    }
}
