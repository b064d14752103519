//! `gatehouse org create | list | show | add-member | remove-member | delete`: the org flows
//! of [`crate::accounts`] run by an operator (every right; audited with no actor).

use std::sync::Arc;

use anyhow::{Context, anyhow};
use serde_json::json;

use crate::accounts::{Accounts, OrgActor};
use crate::audit::Audit;
use crate::auth::PasswordHasher;
use crate::cli::OrgCommand;
use crate::config::Config;
use crate::domain::login_key;
use crate::error::ApiError;
use crate::mail::Mailer;
use crate::store::{DynStore, Org, User};

/// Most rows `list` and `show` print.
const MAX_ROWS: u32 = 100_000;

pub async fn run(config: &Config, store: DynStore, action: OrgCommand) -> anyhow::Result<()> {
    let mailer = Arc::new(Mailer::new(config, store.clone())?);
    let accounts = Accounts::new(config, store.clone(), PasswordHasher::new(1), mailer);
    let audit = Audit::offline(store.clone());
    let operator = OrgActor::Operator;
    match action {
        OrgCommand::Create { slug, name, owner } => {
            let owner = user(&store, &owner).await?;
            let org = accounts.create_org(&audit, &operator, owner.id, &slug, &name).await.map_err(explain)?;
            println!("{}", serde_json::to_string(&org)?);
        }
        OrgCommand::List => {
            for org in store.list_orgs(1, MAX_ROWS).await.context("cannot read the organizations")?.items {
                println!("{}", serde_json::to_string(&org)?);
            }
        }
        OrgCommand::Show { slug } => {
            let org = find(&store, &slug).await?;
            let members = accounts.org_members(&operator, org.id, 1, MAX_ROWS).await.map_err(explain)?.items;
            let members: Vec<_> = members.iter().map(|m| json!({ "username": m.user.username, "roles": m.roles })).collect();
            println!("{}", json!({ "organization": org, "members": members }));
        }
        OrgCommand::AddMember { slug, username, roles } => {
            let (org, member) = (find(&store, &slug).await?, user(&store, &username).await?);
            let added = accounts.add_org_member(&audit, &operator, org.id, member.id, &roles).await.map_err(explain)?;
            println!("{username} is a member of {slug} with roles {}", added.roles.join(", "));
        }
        OrgCommand::RemoveMember { slug, username } => {
            let (org, member) = (find(&store, &slug).await?, user(&store, &username).await?);
            accounts.remove_org_member(&audit, &operator, org.id, member.id).await.map_err(explain)?;
            println!("{username} is no longer a member of {slug}");
        }
        OrgCommand::Delete { slug } => {
            let org = find(&store, &slug).await?;
            accounts.delete_org(&audit, &operator, org.id).await.map_err(explain)?;
            println!("deleted organization {slug}");
        }
    }
    Ok(())
}

async fn find(store: &DynStore, slug: &str) -> anyhow::Result<Org> {
    store.org_by_slug(slug).await.context("cannot read the organizations")?.ok_or_else(|| anyhow!("no organization {slug:?}"))
}

async fn user(store: &DynStore, username: &str) -> anyhow::Result<User> {
    let found = store.credentials_by_login(&login_key(username)).await.context("cannot read the users")?;
    found.map(|c| c.user).ok_or_else(|| anyhow!("no user {username:?}"))
}

/// The problem's detail (and each invalid field), for the operator.
fn explain(err: ApiError) -> anyhow::Error {
    match err {
        ApiError::Validation(fields) => {
            anyhow!("{}", fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))
        }
        ApiError::Internal(err) => err,
        other => anyhow!("{}", other.to_problem().detail),
    }
}
