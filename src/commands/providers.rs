//! `gatehouse provider add | list | show | remove`: the provider flows of
//! [`crate::upstream`] for operators without HTTP (audited with no actor).

use std::io::{BufRead, IsTerminal};

use anyhow::{Context, anyhow, bail};

use crate::accounts::AccountError;
use crate::audit::Audit;
use crate::cli::ProviderCommand;
use crate::config::Config;
use crate::store::DynStore;
use crate::upstream::Upstream;
use crate::upstream::providers::ProviderRequest;

pub async fn run(config: &Config, store: DynStore, action: ProviderCommand) -> anyhow::Result<()> {
    let upstream = Upstream::new(config, store.clone())?;
    let audit = Audit::offline(store.clone());
    match action {
        ProviderCommand::Add {
            slug,
            name,
            kind,
            issuer,
            client_id,
            scopes,
            no_signup,
            no_link_by_email,
            trust_upstream_mfa,
            authorization_endpoint,
            token_endpoint,
            api_base,
        } => {
            let client_secret = read_secret()?;
            let request = ProviderRequest {
                slug,
                name,
                kind,
                issuer,
                client_id,
                client_secret,
                scopes: (!scopes.is_empty()).then_some(scopes),
                allow_signup: Some(!no_signup),
                link_by_email: Some(!no_link_by_email),
                trust_upstream_mfa: Some(trust_upstream_mfa),
                authorization_endpoint,
                token_endpoint,
                api_base,
            };
            let provider = upstream.add_provider(&audit, None, request).await.map_err(explain)?;
            println!("{}", serde_json::to_string(&provider)?);
            eprintln!("register this redirect URI at the provider: {}", upstream.callback_url(&provider.slug));
        }
        ProviderCommand::List => {
            for provider in store.providers().await.context("cannot read the providers")? {
                println!("{}", serde_json::to_string(&provider)?);
            }
        }
        ProviderCommand::Show { slug } => {
            let (provider, _) =
                store.provider_by_slug(&slug).await.context("cannot read the providers")?.ok_or_else(|| anyhow!("no provider {slug:?}"))?;
            println!("{}", serde_json::to_string(&provider)?);
        }
        ProviderCommand::Remove { slug } => {
            upstream.remove_provider(&audit, None, &slug).await.map_err(explain)?;
            println!("removed provider {slug} and the sign-ins linked through it");
        }
    }
    Ok(())
}

/// The client secret: one line of standard input, or a prompt on a terminal; never a flag.
fn read_secret() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password("Client secret: ").context("cannot read the client secret");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the client secret from standard input")?;
    let secret = line.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        bail!("no client secret on standard input: give it as one line");
    }
    Ok(secret.to_string())
}

fn explain(err: AccountError) -> anyhow::Error {
    match err {
        AccountError::Invalid(fields) => {
            anyhow!("{}", fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "))
        }
        AccountError::NotFound => anyhow!("no such provider"),
        AccountError::Store(crate::store::StoreError::Conflict(crate::store::Conflict::SlugTaken)) => {
            anyhow!("this slug is already in use")
        }
        other => anyhow!(other),
    }
}
