//! The commands around running the server: `healthcheck`, `config check`, `completions`
//! and `man`.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::CommandFactory as _;
use clap::parser::ValueSource;

use crate::cli::Cli;
use crate::config::{Config, redact_url};

/// Where the server these settings describe answers on this machine: its bind address, with
/// an unspecified one (`0.0.0.0`, `::`) replaced by the loopback address of its family.
fn local_address(bind: SocketAddr) -> anyhow::Result<SocketAddr> {
    if bind.port() == 0 {
        bail!("GATEHOUSE_BIND has port 0 (a free port picked at start): give the port the server listens on");
    }
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(ip, bind.port()))
}

/// `gatehouse healthcheck`: 200 from /health or an error (the caller exits 1).
pub async fn healthcheck(config: &Config, timeout: Duration) -> anyhow::Result<()> {
    let url = format!("http://{}/health", local_address(config.bind)?);
    let client = crate::outbound::client(timeout).context("cannot make an HTTP client")?;
    let response = client.get(&url).send().await.with_context(|| format!("unhealthy: no answer from {url}"))?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        bail!("unhealthy: {url} answered {status}");
    }
    println!("healthy: {url} answered {status}");
    Ok(())
}

/// `gatehouse config check`: what `serve` checks before it opens the database, then every
/// setting with where its value came from. Secrets are hidden, and URLs lose their
/// credentials.
pub fn check_config(config: &Config) -> anyhow::Result<()> {
    crate::pages::Pages::load(&config.pages)?;
    crate::mail::templates::Templates::load(config.mail_templates.as_deref())?;
    let passkeys = crate::auth::passkeys::from_config(config)?;
    // The same command line and environment (with `.env`) the settings were read from.
    let matches = Cli::command().try_get_matches_from(std::env::args_os()).context("cannot read the command line again")?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "the settings are valid; in effect (secrets hidden):")?;
    for arg in Cli::command().get_arguments() {
        let Some(env) = arg.get_env() else { continue };
        let id = arg.get_id().as_str();
        let source = match matches.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => "env",
            Some(ValueSource::DefaultValue) => "default",
            _ => "unset",
        };
        let raw = matches.get_raw(id).map(|values| values.map(|v| v.to_string_lossy()).collect::<Vec<_>>().join(","));
        let shown = match raw {
            None => String::new(),
            Some(value) if arg.is_hide_env_values_set() && !value.contains("://") => "(hidden)".into(),
            Some(value) => redact_url(&value),
        };
        let line = format!("  {:<36} {:<8} {shown}", env.to_string_lossy(), source);
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(out, "public URL: {}", config.public_url())?;
    writeln!(out, "issuer: {}", config.issuer())?;
    writeln!(out, "passkeys: {}", if passkeys.is_some() { "on" } else { "off" })?;
    Ok(())
}

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    clap_complete::generate(shell, &mut Cli::command(), "gatehouse", &mut std::io::stdout());
    Ok(())
}

pub fn man() -> anyhow::Result<()> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()).context("cannot write the manual page")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_bind_address_is_asked_over_the_loopback_of_its_family() {
        let at = |s: &str| local_address(s.parse().expect("address")).expect("local").to_string();
        assert_eq!(at("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(at("[::]:8080"), "[::1]:8080");
        assert_eq!(at("10.1.2.3:9000"), "10.1.2.3:9000");
        assert!(local_address("127.0.0.1:0".parse().expect("address")).is_err());
    }
}
