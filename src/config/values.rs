//! The settings' value types and the parsers that check them: secrets kept out of `Debug`
//! output, URLs, addresses and names, each refused with a sentence that says what it takes.

use std::net::SocketAddr;

use clap::ValueEnum;

/// Whether passkeys are offered (GATEHOUSE_PASSKEYS).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PasskeyMode {
    /// On when the public URL can carry them (a domain name, https or localhost), else off
    /// with a warning at start.
    Auto,
    /// On; the server refuses to start when the public URL cannot carry them.
    On,
    Off,
}

/// Who may make an account (GATEHOUSE_REGISTRATION).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RegistrationMode {
    /// Anyone signs up.
    Open,
    /// Only people an admin invited, through the mailed link.
    Invite,
    /// Only admins make accounts (console, API, command line).
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// GATEHOUSE_SMTP_URL: holds credentials, so it never reaches `Debug` output or a log.
#[derive(Clone)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    /// Checks a URL under the same rules as GATEHOUSE_SMTP_URL.
    pub fn parse(value: &str) -> Result<Self, String> {
        parse_smtp_url(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

pub(super) fn parse_smtp_url(value: &str) -> Result<SmtpUrl, String> {
    if !(value.starts_with("smtp://") || value.starts_with("smtps://")) {
        return Err("must be an smtp:// or smtps:// URL".into());
    }
    lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(value).map_err(|e| format!("not a usable SMTP URL: {e}"))?;
    Ok(SmtpUrl(value.to_string()))
}

pub(super) fn parse_mailbox(value: &str) -> Result<String, String> {
    value
        .parse::<lettre::message::Mailbox>()
        .map(|_| value.to_string())
        .map_err(|_| "must be an address such as `Gatehouse <no-reply@example.com>`".into())
}

/// GATEHOUSE_METRICS_BIND when set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsBind {
    Off,
    Separate(SocketAddr),
}

pub(super) fn parse_metrics_bind(value: &str) -> Result<MetricsBind, String> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(MetricsBind::Off);
    }
    value.parse().map(MetricsBind::Separate).map_err(|_| "must be an address such as 127.0.0.1:9090, or `off`".to_string())
}

/// How hard SQLite pushes each commit to disk (its `PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum SqliteSynchronous {
    /// Every commit reaches the disk before it is answered: nothing lost on power loss.
    #[default]
    Full,
    /// Commits reach the OS at once and the disk at checkpoints: nothing lost on a process
    /// crash, the last commits may be lost on power loss; several times the write rate.
    Normal,
}

/// A secret string kept out of `Debug` output and logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// A JWT secret, under the same rule as GATEHOUSE_JWT_SECRET: 32 bytes or more.
    pub fn new(value: impl Into<String>) -> Result<Self, String> {
        parse_jwt_secret(&value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

pub(super) fn parse_jwt_secret(value: &str) -> Result<Secret, String> {
    if value.len() < 32 {
        return Err(format!("must be at least 32 bytes long, got {}", value.len()));
    }
    Ok(Secret(value.to_string()))
}

pub(super) fn parse_totp_issuer(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() || value.contains(':') || value.chars().count() > 64 {
        return Err("must be 1 to 64 characters without `:`".into());
    }
    Ok(value.to_string())
}

pub(super) fn parse_header_name(value: &str) -> Result<axum::http::HeaderName, String> {
    axum::http::HeaderName::from_bytes(value.trim().as_bytes()).map_err(|_| format!("{value:?} is not a header name"))
}

pub(super) fn parse_url(value: &str) -> Result<String, String> {
    let ok = (value.starts_with("http://") || value.starts_with("https://"))
        && value.len() > "https://".len()
        && !value.contains(char::is_whitespace);
    if ok { Ok(value.trim_end_matches('/').to_string()) } else { Err("must be an http:// or https:// URL".into()) }
}

/// Hides the password in a database URL before it reaches a log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &url[..scheme], &url[at + 1..]),
        _ => url.to_string(),
    }
}
