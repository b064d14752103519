//! `gatehouse user list | set-roles | disable | enable | delete | reset-mfa`: the admin routes' rules
//! (roles always with `user`, never leaving no enabled admin) for operators without HTTP.

use anyhow::{Context, anyhow};

use crate::audit::Audit;
use crate::domain::{Role, Username, normalize_roles};
use crate::error::Conflict;
use crate::store::{AuditType, DynStore, StoreError, User, UserPatch, UserQuery};

const PAGE: u32 = 100;

/// A store failure as an operator should read it.
fn explain(err: StoreError, username: &str) -> anyhow::Error {
    match err {
        StoreError::Conflict(Conflict::LastAdmin) => {
            anyhow!("refused: {username} is the last enabled admin, and this change would leave none")
        }
        StoreError::NotFound => anyhow!("no user named {username:?}"),
        other => anyhow!(other).context(format!("cannot change user {username}")),
    }
}

async fn find(store: &DynStore, username: &str) -> anyhow::Result<User> {
    let name = Username::parse(username).map_err(|m| anyhow!("username {m}"))?;
    // A username never holds '@', so this matches the username only, not an email.
    let found = store.credentials_by_login(&name.key()).await.context("cannot read the users")?;
    found.map(|c| c.user).ok_or_else(|| anyhow!("no user named {username:?}"))
}

fn describe(user: &User) -> String {
    let state = if user.disabled { "disabled" } else { "enabled" };
    format!("{} ({}) roles {} {state}", user.username, user.id, user.roles.join(","))
}

pub async fn list(store: &DynStore, q: Option<String>, role: Option<String>) -> anyhow::Result<()> {
    let role = role.map(|r| Role::parse(&r).map(|r| r.as_str().to_string())).transpose().map_err(|m| anyhow!(m))?;
    let mut query = UserQuery { page: 1, per_page: PAGE, q: q.filter(|q| !q.is_empty()).map(|q| q.to_lowercase()), role };
    println!("{:<36}  {:<32}  {:<30}  {:<20}  {:<8}  CREATED", "ID", "USERNAME", "EMAIL", "ROLES", "STATE");
    loop {
        let page = store.list_users(&query).await.context("cannot list the users")?;
        for user in &page.items {
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
            println!("{} user(s)", page.total);
            return Ok(());
        }
        query.page += 1;
    }
}

pub async fn set_roles(store: &DynStore, username: &str, roles: &[String]) -> anyhow::Result<()> {
    let parsed = roles.iter().map(|r| Role::parse(r)).collect::<Result<Vec<_>, _>>().map_err(|m| anyhow!(m))?;
    let roles = normalize_roles(parsed).into_iter().map(|r| r.as_str().to_string()).collect();
    let before = find(store, username).await?;
    let patch = UserPatch { roles: Some(roles), ..UserPatch::default() };
    let user = store.update_user(before.id, patch).await.map_err(|e| explain(e, username))?;
    crate::http::users::record_changes(&Audit::offline(store.clone()), None, &before, &user).await;
    println!("updated {}", describe(&user));
    Ok(())
}

pub async fn set_disabled(store: &DynStore, username: &str, disabled: bool) -> anyhow::Result<()> {
    let before = find(store, username).await?;
    let patch = UserPatch { disabled: Some(disabled), ..UserPatch::default() };
    let user = store.update_user(before.id, patch).await.map_err(|e| explain(e, username))?;
    crate::http::users::record_changes(&Audit::offline(store.clone()), None, &before, &user).await;
    let note = if disabled { "; its sessions are revoked" } else { "" };
    println!("updated {}{note}", describe(&user));
    Ok(())
}

pub async fn delete(store: &DynStore, username: &str) -> anyhow::Result<()> {
    let user = find(store, username).await?;
    store.delete_user(user.id).await.map_err(|e| explain(e, username))?;
    let detail = serde_json::json!({ "username": user.username, "via": "cli" });
    Audit::offline(store.clone()).record(AuditType::UserDeleted, None, Some(user.id), detail).await;
    println!("deleted user {} ({}) with its sessions and templates", user.username, user.id);
    Ok(())
}

pub async fn reset_mfa(store: &DynStore, username: &str) -> anyhow::Result<()> {
    let user = find(store, username).await?;
    if !store.disable_totp(user.id).await.map_err(|e| explain(e, username))? {
        println!("{} ({}) has no TOTP on; nothing changed", user.username, user.id);
        return Ok(());
    }
    let detail = serde_json::json!({ "method": "totp", "via": "cli" });
    Audit::offline(store.clone()).record(AuditType::MfaDisabled, None, Some(user.id), detail).await;
    println!("TOTP turned off for {} ({}); its secret and recovery codes are deleted", user.username, user.id);
    Ok(())
}
