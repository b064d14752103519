//! `gatehouse client create | list | show | delete | rotate-secret`: the client flows of
//! [`crate::accounts`] for operators without HTTP (audited with no actor, `"via": "cli"`).

use std::sync::Arc;

use anyhow::{Context, anyhow};
use serde_json::json;
use uuid::Uuid;

use crate::accounts::{AccountError, Accounts, ClientRequest};
use crate::audit::Audit;
use crate::auth::PasswordHasher;
use crate::cli::ClientCommand;
use crate::config::Config;
use crate::mail::Mailer;
use crate::store::{Client, DynStore};

pub async fn run(config: &Config, store: DynStore, action: ClientCommand) -> anyhow::Result<()> {
    let mailer = Arc::new(Mailer::new(config, store.clone())?);
    let accounts = Accounts::new(config, store.clone(), PasswordHasher::new(1), mailer);
    let audit = Audit::offline(store.clone());
    match action {
        ClientCommand::Create { name, redirect_uris, public, first_party, post_logout_redirect_uris, scopes, resources, id_token_alg } => {
            let request = ClientRequest {
                name,
                redirect_uris,
                public,
                first_party,
                post_logout_redirect_uris,
                scopes: (!scopes.is_empty()).then_some(scopes),
                resources,
                id_token_alg,
            };
            let (client, secret) = accounts.register_client(&audit, None, request).await.map_err(explain)?;
            let mut shown = serde_json::to_value(&client)?;
            shown["client_secret"] = json!(secret);
            println!("{shown}");
            if secret.is_some() {
                eprintln!("the client_secret is shown this once; store it now");
            }
        }
        ClientCommand::List => {
            for client in store.clients().await.context("cannot read the clients")? {
                println!("{}", serde_json::to_string(&client)?);
            }
        }
        ClientCommand::Show { client } => println!("{}", serde_json::to_string(&find(&store, &client).await?)?),
        ClientCommand::Delete { client } => {
            let found = find(&store, &client).await?;
            accounts.delete_client(&audit, None, found.id).await.map_err(explain)?;
            println!("deleted client {} ({})", found.client_id, found.name);
        }
        ClientCommand::RotateSecret { client } => {
            let found = find(&store, &client).await?;
            let secret = accounts.rotate_client_secret(&audit, None, found.id).await.map_err(explain)?;
            println!("{}", json!({ "client_id": found.client_id, "client_secret": secret }));
            eprintln!("the client_secret is shown this once; the old one no longer works");
        }
    }
    Ok(())
}

/// A client by its `id` (a UUID) or its `client_id`.
async fn find(store: &DynStore, key: &str) -> anyhow::Result<Client> {
    let found = match Uuid::parse_str(key) {
        Ok(id) => store.client(id).await.context("cannot read the clients")?,
        Err(_) => store.client_by_client_id(key).await.context("cannot read the clients")?.map(|(client, _)| client),
    };
    found.ok_or_else(|| anyhow!("no client {key:?}"))
}

fn explain(err: AccountError) -> anyhow::Error {
    match err {
        AccountError::Invalid(fields) => {
            anyhow!("{}", fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))
        }
        AccountError::NotFound => anyhow!("no such client"),
        other => anyhow!(other),
    }
}
