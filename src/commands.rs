//! The subcommands: each prints a clear error and exits non-zero on failure.

mod clients;
mod copy;
mod operate;
mod orgs;
mod providers;
mod setup;
mod users;
mod webhooks;

use std::io::{BufRead, IsTerminal};

use crate::app::Application;
use crate::auth::keys::{generate_key, generate_rsa_key};
use crate::cli::{Cli, Command, ConfigCommand, KeysCommand, UserCommand};
use crate::config::Config;
use crate::store;
use anyhow::{Context, bail};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => Application::build(config).await?.run().await,
        Command::Migrate { dry_run, status, json } => operate::migrate(&config, dry_run, status, json).await,
        Command::Backup { file } => operate::backup(&config, &file).await,
        Command::Restore { file } => operate::restore(&config, &file).await,
        Command::Export { file } => operate::export(&config, &file).await,
        Command::User { action } => user(&config, action).await,
        Command::Keys { action } => keys(&config, action).await,
        Command::Client { action } => clients::run(&config, store::connect(&config.database_url).await?, action).await,
        Command::Provider { action } => providers::run(&config, store::connect(&config.database_url).await?, action).await,
        Command::Org { action } => orgs::run(&config, store::connect(&config.database_url).await?, action).await,
        Command::Webhook { action } => webhooks::run(&config, store::connect(&config.database_url).await?, action).await,
        Command::Copy { to, force } => copy::copy(&config, &to, force).await,
        Command::Import { file } => import(&config, &file).await,
        Command::Healthcheck { timeout } => setup::healthcheck(&config, std::time::Duration::from_secs(timeout)).await,
        Command::Config { action: ConfigCommand::Check } => setup::check_config(&config),
        Command::Completions { shell } => setup::completions(shell),
        Command::Man => setup::man(),
    }
}

async fn user(config: &Config, action: UserCommand) -> anyhow::Result<()> {
    let store = store::connect(&config.database_url).await?;
    // Listing reads only; the others run the account flows.
    let admin = || users::UserAdmin::new(config, store.clone());
    match action {
        UserCommand::List { query, role, json } => users::list(&store, query, role, json).await,
        UserCommand::Create { username, email, admin: is_admin } => {
            admin()?.create(&username, email.as_deref(), &read_password()?, is_admin).await
        }
        UserCommand::Invite { email, roles } => admin()?.invite_to_sign_up(&email, &roles).await,
        UserCommand::SetRoles { username, roles } => admin()?.set_roles(&username, &roles).await,
        UserCommand::Disable { username } => admin()?.set_disabled(&username, true).await,
        UserCommand::Enable { username } => admin()?.set_disabled(&username, false).await,
        UserCommand::Delete { username } => admin()?.delete(&username).await,
        UserCommand::SetPassword { username } => admin()?.set_password(&username, &read_password()?).await,
        UserCommand::ResetMfa { username } => admin()?.reset_mfa(&username).await,
        UserCommand::Passkeys { username, json } => admin()?.passkeys(&username, json).await,
        UserCommand::RemovePasskey { username, passkey_id } => admin()?.remove_passkey(&username, passkey_id).await,
    }
}

/// One line of standard input, or a prompt (typed twice) on a terminal; never a flag.
fn read_password() -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ").context("cannot read the password")?;
        let again = rpassword::prompt_password("Again: ").context("cannot read the password")?;
        if first != again {
            bail!("the two passwords differ");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line);
    if password.is_empty() {
        bail!("no password on standard input: give it as one line");
    }
    Ok(password.to_string())
}

async fn import(config: &Config, file: &std::path::Path) -> anyhow::Result<()> {
    let store = store::connect(&config.database_url).await?;
    if crate::export::is_export_file(file) {
        return operate::import_export(&store, file).await;
    }
    let summary = crate::import::import_file(&store, file).await?;
    for (place, why) in &summary.skipped {
        eprintln!("skipped {place}: {why}");
    }
    let format = file.extension().and_then(|e| e.to_str()).unwrap_or("jsonl").to_string();
    crate::audit::users_imported(
        &crate::audit::Audit::offline(store.clone()),
        summary.imported as u64,
        summary.skipped.len() as u64,
        &format,
    )
    .await;
    println!("imported {} users, skipped {} records", summary.imported, summary.skipped.len());
    Ok(())
}

async fn keys(config: &Config, action: KeysCommand) -> anyhow::Result<()> {
    let store = store::connect(&config.database_url).await?;
    match action {
        KeysCommand::List { json: true } => {
            for key in store.signing_keys().await? {
                let state = if key.retired_at.is_some() { "retired" } else { "active" };
                let line = serde_json::json!({ "kid": key.kid, "algorithm": key.algorithm, "created_at": key.created_at,
                    "retired_at": key.retired_at, "state": state });
                println!("{line}");
            }
        }
        KeysCommand::List { json: false } => {
            println!("{:<45} {:<8} {:<26} STATE", "KID", "ALG", "CREATED");
            for key in store.signing_keys().await? {
                let state = match key.retired_at {
                    None => "active".to_string(),
                    Some(at) => format!("retired {}", at.to_rfc3339()),
                };
                println!("{:<45} {:<8} {:<26} {}", key.kid, key.algorithm, key.created_at.to_rfc3339(), state);
            }
        }
        KeysCommand::Rotate => {
            // Both kinds rotate together: the Ed25519 key (access tokens, EdDSA ID tokens)
            // and the RSA key (RS256 ID tokens).
            let key = generate_key();
            let kid = key.kid.clone();
            let rsa = tokio::task::spawn_blocking(generate_rsa_key).await??;
            let rsa_kid = rsa.kid.clone();
            store.add_signing_key(key, true).await?;
            store.add_signing_key(rsa, true).await?;
            let detail = serde_json::json!({ "kid": kid, "rsa_kid": rsa_kid, "via": "cli" });
            crate::audit::Audit::offline(store.clone()).record(crate::store::AuditType::KeysRotated, None, None, detail).await;
            println!("new signing keys {kid} (EdDSA) and {rsa_kid} (RS256); running instances sign with them within 60 seconds");
            if config.jwt_secret.is_some() {
                println!("note: GATEHOUSE_JWT_SECRET is set, so tokens are signed with HS256, not with this key");
            }
        }
    }
    Ok(())
}
