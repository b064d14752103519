//! `gatehouse webhook add | list | remove | deliveries`: the webhook flows of
//! [`crate::webhooks`] for operators without HTTP (audited with no actor).

use anyhow::{Context, anyhow};
use serde_json::json;

use crate::accounts::AccountError;
use crate::audit::Audit;
use crate::cli::WebhookCommand;
use crate::config::Config;
use crate::store::DynStore;
use crate::webhooks::{WebhookRequest, Webhooks};

pub async fn run(config: &Config, store: DynStore, action: WebhookCommand) -> anyhow::Result<()> {
    let flows = Webhooks::new(store.clone(), &config.webhooks);
    let audit = Audit::offline(store.clone());
    match action {
        WebhookCommand::Add { url, events, description } => {
            let events = if events.is_empty() { vec!["*".to_string()] } else { events };
            let (webhook, secret) = flows.register(&audit, None, WebhookRequest { url, events, description }).await.map_err(explain)?;
            let mut shown = serde_json::to_value(&webhook)?;
            shown["secret"] = json!(secret);
            println!("{shown}");
            eprintln!("the secret is shown this once; give it to the receiver now");
        }
        WebhookCommand::List => {
            for webhook in store.webhooks().await.context("cannot read the webhooks")? {
                println!("{}", serde_json::to_string(&webhook)?);
            }
        }
        WebhookCommand::Remove { id } => {
            let webhook = flows.remove(&audit, None, id).await.map_err(explain)?;
            println!("removed webhook {} ({}) and its deliveries", webhook.id, webhook.url);
        }
        WebhookCommand::Deliveries { id, limit, json } => {
            store.webhook(id).await.context("cannot read the webhooks")?.ok_or_else(|| anyhow!("no webhook {id}"))?;
            let page = store.deliveries(id, 0, i64::from(limit)).await.context("cannot read the deliveries")?;
            if json {
                for delivery in &page.items {
                    println!("{}", serde_json::to_string(delivery)?);
                }
            } else {
                println!("{:<26} {:<22} {:>7} {:<10} {:>6} {:>8}  ERROR", "CREATED", "TYPE", "ATTEMPT", "STATUS", "HTTP", "MS");
                for d in &page.items {
                    let code = d.response_status.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
                    let ms = d.duration_ms.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
                    let created = d.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                    let error = d.error.as_deref().unwrap_or("");
                    println!("{created:<26} {:<22} {:>7} {:<10} {code:>6} {ms:>8}  {error}", d.kind, d.attempt, d.status);
                }
                eprintln!("{} of {} deliveries, newest first", page.items.len(), page.total);
            }
        }
    }
    Ok(())
}

fn explain(err: AccountError) -> anyhow::Error {
    match err {
        AccountError::NotFound => anyhow!("no such webhook"),
        other => anyhow!(other),
    }
}
