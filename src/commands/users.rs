//! `gatehouse user create | list | set-roles | disable | enable | delete | set-password |
//! reset-mfa | passkeys | remove-passkey`: the
//! flows of [`crate::accounts`] (the admin routes' rules: roles always with `user`, never
//! leaving no enabled admin; the same audit events, with no actor and `"via": "cli"`) for
//! operators without HTTP.

use std::sync::Arc;

use anyhow::{Context, anyhow};

use crate::accounts::{AccountError, Accounts, Registered, Registration, Via};
use crate::audit::Audit;
use crate::auth::PasswordHasher;
use crate::config::Config;
use crate::domain::{Role, Username, login_key, normalize_roles};
use crate::error::Conflict;
use crate::mail::Mailer;
use crate::store::{DynStore, StoreError, User, UserPatch, UserQuery};

const PAGE: u32 = 100;

/// The flows as the command line runs them: one hashing slot, no request, `"via": "cli"`.
pub struct UserAdmin {
    accounts: Accounts,
    audit: Audit,
}

impl UserAdmin {
    pub fn new(config: &Config, store: DynStore) -> anyhow::Result<Self> {
        let mailer = Arc::new(Mailer::new(config, store.clone())?);
        Ok(Self { audit: Audit::offline(store.clone()), accounts: Accounts::new(config, store, PasswordHasher::new(1), mailer) })
    }

    async fn find(&self, username: &str) -> anyhow::Result<User> {
        let name = Username::parse(username).map_err(|m| anyhow!("username {m}"))?;
        // A username never holds '@', so its login key matches the username only, not an email.
        let found = self.accounts.store.credentials_by_login(&login_key(name.as_str())).await.context("cannot read the users")?;
        found.map(|c| c.user).ok_or_else(|| anyhow!("no user named {username:?}"))
    }

    /// Invites an address; prints the invitation as the API shows it (never its token).
    pub async fn invite_to_sign_up(&self, email: &str, roles: &[String]) -> anyhow::Result<()> {
        let invitation = self.accounts.invite_to_sign_up(&self.audit, None, email, roles).await.map_err(|e| match e {
            AccountError::Store(StoreError::Conflict(Conflict::EmailTaken)) => anyhow!("an account already has the address {email}"),
            other => anyhow!(other),
        })?;
        println!("{}", serde_json::to_string(&invitation)?);
        eprintln!("the invitation mail to {} is queued; a running server sends it", invitation.email);
        Ok(())
    }

    pub async fn create(&self, username: &str, email: Option<&str>, password: &str, admin: bool) -> anyhow::Result<()> {
        let new = Registration { username, email, password, admin, roles: Vec::new(), via: Via::Admin };
        let Registered { user, mail_queued } = self.accounts.register(&self.audit, new).await.map_err(|e| explain(e, username))?;
        println!("created user {} ({}) with roles {}", user.username, user.id, user.roles.join(", "));
        // Queued in the database: a running server's mail worker sends it.
        if mail_queued {
            println!("a verification mail to {} is queued; a running server sends it", user.email.as_deref().unwrap_or_default());
        }
        Ok(())
    }

    pub async fn set_roles(&self, username: &str, roles: &[String]) -> anyhow::Result<()> {
        let parsed = roles.iter().map(|r| Role::parse(r)).collect::<Result<Vec<_>, _>>().map_err(|m| anyhow!(m))?;
        let roles = normalize_roles(parsed).into_iter().map(|r| r.as_str().to_string()).collect();
        let before = self.find(username).await?;
        let patch = UserPatch { roles: Some(roles), ..UserPatch::default() };
        let user = self.accounts.update_user(&self.audit, None, before.id, patch).await.map_err(|e| explain(e, username))?;
        println!("updated {}", describe(&user));
        Ok(())
    }

    pub async fn set_disabled(&self, username: &str, disabled: bool) -> anyhow::Result<()> {
        let before = self.find(username).await?;
        let patch = UserPatch { disabled: Some(disabled), ..UserPatch::default() };
        let user = self.accounts.update_user(&self.audit, None, before.id, patch).await.map_err(|e| explain(e, username))?;
        let note = if disabled { "; its sessions are revoked" } else { "" };
        println!("updated {}{note}", describe(&user));
        Ok(())
    }

    pub async fn delete(&self, username: &str) -> anyhow::Result<()> {
        let found = self.find(username).await?;
        let user = self.accounts.delete_user(&self.audit, None, found.id).await.map_err(|e| explain(e, username))?;
        println!("deleted user {} ({}) with its sessions and templates", user.username, user.id);
        Ok(())
    }

    pub async fn set_password(&self, username: &str, password: &str) -> anyhow::Result<()> {
        let found = self.find(username).await?;
        let user = self.accounts.set_password(&self.audit, None, found.id, password).await.map_err(|e| explain(e, username))?;
        println!("password set for {} ({}); every session of the user is signed out", user.username, user.id);
        Ok(())
    }

    pub async fn reset_mfa(&self, username: &str) -> anyhow::Result<()> {
        let found = self.find(username).await?;
        let (user, was_on) = self.accounts.reset_mfa(&self.audit, None, found.id).await.map_err(|e| explain(e, username))?;
        if was_on {
            println!("TOTP turned off for {} ({}); its secret and recovery codes are deleted", user.username, user.id);
        } else {
            println!("{} ({}) has no TOTP on; nothing changed", user.username, user.id);
        }
        Ok(())
    }

    pub async fn passkeys(&self, username: &str, json: bool) -> anyhow::Result<()> {
        let user = self.find(username).await?;
        let passkeys = self.accounts.passkeys(user.id).await.map_err(|e| explain(e, username))?;
        if !json {
            println!("{:<36}  {:<24}  {:<12}  {:<25}  LAST USED", "ID", "NAME", "KIND", "ADDED");
        }
        for p in &passkeys {
            let last_used = p.last_used_at.map_or_else(|| "never".to_string(), |t| t.to_rfc3339());
            if json {
                let line = serde_json::json!({ "id": p.id, "name": p.name, "authenticator": p.authenticator, "backup_eligible": p.backup_eligible,
                    "backup_state": p.backup_state, "sign_count": p.sign_count, "created_at": p.created_at, "last_used_at": p.last_used_at });
                println!("{line}");
            } else {
                println!("{:<36}  {:<24}  {:<12}  {:<25}  {last_used}", p.id, p.name, p.authenticator, p.created_at.to_rfc3339());
            }
        }
        if !json {
            println!("{} passkey(s)", passkeys.len());
        }
        Ok(())
    }

    pub async fn remove_passkey(&self, username: &str, passkey_id: uuid::Uuid) -> anyhow::Result<()> {
        let user = self.find(username).await?;
        match self.accounts.admin_delete_passkey(&self.audit, None, user.id, passkey_id).await {
            Ok(()) => {
                println!("removed passkey {passkey_id} of {}", user.username);
                Ok(())
            }
            Err(AccountError::NotFound) => Err(anyhow!("{username} has no passkey {passkey_id}")),
            Err(other) => Err(explain(other, username)),
        }
    }
}

/// A flow's refusal as an operator should read it.
fn explain(err: AccountError, username: &str) -> anyhow::Error {
    match err {
        AccountError::Store(StoreError::Conflict(Conflict::LastAdmin)) => {
            anyhow!("refused: {username} is the last enabled admin, and this change would leave none")
        }
        AccountError::Store(StoreError::Conflict(Conflict::UsernameTaken)) => anyhow!("the username {username:?} is already taken"),
        AccountError::Store(StoreError::Conflict(Conflict::EmailTaken)) => anyhow!("the email address is already taken by another user"),
        AccountError::NotFound | AccountError::Store(StoreError::NotFound) => anyhow!("no user named {username:?}"),
        AccountError::Invalid(_) => anyhow!(err),
        other => anyhow!(other).context(format!("cannot change user {username}")),
    }
}

fn describe(user: &User) -> String {
    let state = if user.disabled { "disabled" } else { "enabled" };
    format!("{} ({}) roles {} {state}", user.username, user.id, user.roles.join(","))
}

/// The users, as a table, or with `json` as one JSON object a line (the API's user object).
pub async fn list(store: &DynStore, q: Option<String>, role: Option<String>, json: bool) -> anyhow::Result<()> {
    let role = role.map(|r| Role::parse(&r).map(|r| r.as_str().to_string())).transpose().map_err(|m| anyhow!(m))?;
    let mut query = UserQuery { page: 1, per_page: PAGE, q: q.filter(|q| !q.is_empty()).map(|q| q.to_lowercase()), role };
    if !json {
        println!("{:<36}  {:<32}  {:<30}  {:<20}  {:<8}  CREATED", "ID", "USERNAME", "EMAIL", "ROLES", "STATE");
    }
    loop {
        let page = store.list_users(&query).await.context("cannot list the users")?;
        for user in page.items.iter().filter(|_| json) {
            println!("{}", serde_json::to_string(user)?);
        }
        for user in page.items.iter().filter(|_| !json) {
            let state = if user.disabled { "disabled" } else { "enabled" };
            println!(
                "{:<36}  {:<32}  {:<30}  {:<20}  {:<8}  {}",
                user.id,
                user.username,
                user.email.as_deref().unwrap_or("-"),
                user.roles.join(","),
                state,
                user.created_at.to_rfc3339()
            );
        }
        if page.items.len() < PAGE as usize {
            if !json {
                println!("{} user(s)", page.total);
            }
            return Ok(());
        }
        query.page += 1;
    }
}
