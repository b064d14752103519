//! Every setting: a flag, else the environment, else `.env` (loaded into the environment
//! before parsing, without overriding it), else the default. Bad values stop the start.

pub mod pages;
pub mod signin;
mod values;
pub mod webhooks;

pub use values::{LogFormat, MetricsBind, PasskeyMode, RegistrationMode, Secret, SmtpUrl, SqliteSynchronous, redact_url};
use values::{parse_header_name, parse_jwt_secret, parse_mailbox, parse_metrics_bind, parse_smtp_url, parse_totp_issuer, parse_url};

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

/// The help heading of the settings.
pub const SETTINGS_HEADING: &str = "Server settings";

/// Settings shared by the server and every subcommand. Their help comes under a heading
/// of its own, after a subcommand's own options.
#[derive(Clone, Args)]
#[command(next_help_heading = SETTINGS_HEADING)]
pub struct Config {
    #[command(flatten)]
    pub pages: pages::PageSettings,

    #[command(flatten)]
    pub webhooks: webhooks::WebhookSettings,
    /// Sign-in by email code and the breached-password check.
    #[command(flatten)]
    pub signin: signin::SignInSettings,

    /// `sqlite://PATH` or `postgres://...`
    #[arg(long, env = "GATEHOUSE_DATABASE_URL", default_value = "sqlite://gatehouse.db", global = true)]
    pub database_url: String,

    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "GATEHOUSE_BIND", default_value = "127.0.0.1:8080", global = true)]
    pub bind: SocketAddr,

    /// The URL clients reach the service at (default: http:// + the bind address).
    #[arg(long, env = "GATEHOUSE_PUBLIC_URL", value_parser = parse_url, global = true)]
    pub public_url: Option<String>,

    /// `iss` of tokens (default: the public URL).
    #[arg(long, env = "GATEHOUSE_ISSUER", global = true)]
    pub issuer: Option<String>,

    /// `aud` of tokens.
    #[arg(long, env = "GATEHOUSE_AUDIENCE", default_value = "gatehouse", global = true)]
    pub audience: String,

    /// Access token lifetime in seconds.
    #[arg(long, env = "GATEHOUSE_ACCESS_TTL", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub access_ttl: u64,

    /// Absolute session lifetime in seconds, counted from login.
    #[arg(long, env = "GATEHOUSE_REFRESH_TTL", default_value_t = 2_592_000, value_parser = clap::value_parser!(u64).range(60..=31_536_000), global = true)]
    pub refresh_ttl: u64,

    /// When set (32 bytes or more), tokens are signed with HS256 and this secret.
    #[arg(long, env = "GATEHOUSE_JWT_SECRET", value_parser = parse_jwt_secret, hide_env_values = true, global = true)]
    pub jwt_secret: Option<Secret>,

    /// Comma-separated origins allowed by CORS.
    #[arg(long, env = "GATEHOUSE_CORS_ORIGINS", value_delimiter = ',', global = true)]
    pub cors_origins: Vec<String>,

    /// Log filter, in tracing's EnvFilter syntax.
    #[arg(long, env = "GATEHOUSE_LOG", default_value = "info", global = true)]
    pub log: String,

    /// `text` or `json` (one JSON object a line).
    #[arg(long, env = "GATEHOUSE_LOG_FORMAT", value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// Seconds in which a just-rotated refresh token may be presented again; 0 turns it off.
    #[arg(long, env = "GATEHOUSE_REFRESH_REUSE_GRACE", default_value_t = 10, value_parser = clap::value_parser!(u64).range(0..=300), global = true)]
    pub refresh_reuse_grace: u64,

    /// Failed logins on one login name answered 401 before every attempt answers 429.
    #[arg(long, env = "GATEHOUSE_LOGIN_MAX_FAILURES", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000), global = true)]
    pub login_max_failures: u32,

    /// Seconds a login name stays locked after too many failures (and the window in which
    /// failures add up).
    #[arg(long, env = "GATEHOUSE_LOGIN_LOCKOUT", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400 * 30), global = true)]
    pub login_lockout: u64,

    /// Requests a minute from one client address to the unauthenticated /v1/auth routes; 0 turns it off.
    #[arg(long, env = "GATEHOUSE_RATE_LIMIT_PER_IP", default_value_t = 300, global = true)]
    pub rate_limit_per_ip: u32,

    /// Header (e.g. `X-Forwarded-For`) that a trusted proxy sets to the client address; its
    /// right-most entry is used. Unset: the socket address.
    #[arg(long, env = "GATEHOUSE_TRUSTED_PROXY_HEADER", value_parser = parse_header_name, global = true)]
    pub trusted_proxy_header: Option<axum::http::HeaderName>,

    /// Shortest password accepted.
    #[arg(long, env = "GATEHOUSE_PASSWORD_MIN_LENGTH", default_value_t = 8, value_parser = clap::value_parser!(u16).range(8..=128), global = true)]
    pub password_min_length: u16,

    /// Seconds between two reloads of the signing keys, so that a `keys rotate` made
    /// anywhere reaches this instance (at most 60).
    #[arg(long, env = "GATEHOUSE_KEY_RELOAD_INTERVAL", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..=60), global = true)]
    pub key_reload_interval: u64,
    /// Where /metrics is served: unset = on the public address; an address = on a listener
    /// of its own only; `off` = nowhere.
    #[arg(long, env = "GATEHOUSE_METRICS_BIND", value_parser = parse_metrics_bind, global = true)]
    pub metrics_bind: Option<MetricsBind>,

    /// Days audit events are kept; older ones are pruned in the background.
    #[arg(long, env = "GATEHOUSE_AUDIT_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=36_500), global = true)]
    pub audit_retention_days: u32,

    /// The issuer named in TOTP authenticator apps (the `otpauth://` URI); no `:`.
    #[arg(long, env = "GATEHOUSE_TOTP_ISSUER", default_value = "Gatehouse", value_parser = parse_totp_issuer, global = true)]
    pub totp_issuer: String,

    /// Seconds an `mfa_token` (the second step of a login with TOTP) stays valid.
    #[arg(long, env = "GATEHOUSE_MFA_TOKEN_TTL", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub mfa_token_ttl: u64,

    /// Seconds an OpenID Connect authorization code stays valid (at most 60).
    #[arg(long, env = "GATEHOUSE_OAUTH_CODE_TTL", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=60), global = true)]
    pub oauth_code_ttl: u64,

    /// Live sessions one user may hold with one OpenID Connect client; past it, the oldest
    /// ends.
    #[arg(long, env = "GATEHOUSE_OAUTH_SESSIONS_PER_CLIENT", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000), global = true)]
    pub oauth_sessions_per_client: u32,

    /// Passkeys (WebAuthn): `auto`, `on` or `off`. Their relying party is the public URL's
    /// host, which must be a domain name (not an IP address), over https or on localhost.
    #[arg(long, env = "GATEHOUSE_PASSKEYS", value_enum, default_value = "auto", global = true)]
    pub passkeys: PasskeyMode,

    /// Who may make an account: `open` (anyone signs up), `invite` (only through an
    /// admin's mailed invitation) or `closed` (only admins make accounts). Sign-up by email
    /// code and through upstream providers follow it too.
    #[arg(long, env = "GATEHOUSE_REGISTRATION", value_enum, default_value = "open", global = true)]
    pub registration: RegistrationMode,

    /// SQLite only: `full` syncs every commit to disk (survives power loss); `normal` syncs
    /// at WAL checkpoints (survives any process crash, may lose the last commits on power loss).
    #[arg(long, env = "GATEHOUSE_SQLITE_SYNCHRONOUS", value_enum, default_value = "full", global = true)]
    pub sqlite_synchronous: SqliteSynchronous,

    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host` (TLS),
    /// `smtp://host:25` (plain, local relays and tests only). Unset: mail goes to the outbox.
    #[arg(long, env = "GATEHOUSE_SMTP_URL", value_parser = parse_smtp_url, hide_env_values = true, global = true)]
    pub smtp_url: Option<SmtpUrl>,

    /// Folder that receives one `.eml` file per message when no SMTP URL is set.
    #[arg(long, env = "GATEHOUSE_MAIL_OUTBOX", default_value = "./outbox", global = true)]
    pub mail_outbox: std::path::PathBuf,

    /// The `From` of every mail.
    #[arg(long, env = "GATEHOUSE_MAIL_FROM", default_value = "Gatehouse <no-reply@localhost>", value_parser = parse_mailbox, global = true)]
    pub mail_from: String,

    /// Folder of templates that replace the built-in mail bodies (same file names).
    #[arg(long, env = "GATEHOUSE_MAIL_TEMPLATES", global = true)]
    pub mail_templates: Option<std::path::PathBuf>,

    /// Deliveries tried per message before it is dropped.
    #[arg(long, env = "GATEHOUSE_MAIL_MAX_ATTEMPTS", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100), global = true)]
    pub mail_max_attempts: u32,

    /// Seconds before the first retry of a failed delivery; each later one waits twice as long
    /// (at most an hour).
    #[arg(long, env = "GATEHOUSE_MAIL_RETRY_BASE", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600), global = true)]
    pub mail_retry_base: u64,

    /// Seconds between two looks at the queue for due retries and mail queued elsewhere.
    #[arg(long, env = "GATEHOUSE_MAIL_POLL_INTERVAL", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300), global = true)]
    pub mail_poll_interval: u64,

    /// Login answers 403 `email_unverified` until the account's email is verified.
    #[arg(long, env = "GATEHOUSE_REQUIRE_VERIFIED_EMAIL", default_value_t = false, action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub require_verified_email: bool,

    /// Seconds an email verification link stays valid.
    #[arg(long, env = "GATEHOUSE_EMAIL_VERIFY_TTL", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=2_592_000), global = true)]
    pub email_verify_ttl: u64,

    /// Seconds a password reset link stays valid.
    #[arg(long, env = "GATEHOUSE_PASSWORD_RESET_TTL", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=86_400), global = true)]
    pub password_reset_ttl: u64,

    /// Verification mails one account may cause in an hour (address changes and resends);
    /// past it, 429 `rate_limited` with `Retry-After`. 0 turns the cap off.
    #[arg(long, env = "GATEHOUSE_VERIFY_MAILS_PER_HOUR", default_value_t = 5, global = true)]
    pub verify_mails_per_hour: u32,

    /// Templates one user may hold.
    #[arg(long, env = "GATEHOUSE_TEMPLATES_MAX_COUNT", default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000_000), global = true)]
    pub templates_max_count: u32,

    /// Bytes one user's templates may take together: the UTF-8 bytes of every name and
    /// content (default 16 MiB).
    #[arg(long, env = "GATEHOUSE_TEMPLATES_MAX_BYTES", default_value_t = 16 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 40), global = true)]
    pub templates_max_bytes: u64,

    /// The key sealing upstream providers' client secrets in the database: 64 hexadecimal
    /// characters. Unset: the key in GATEHOUSE_SECRETS_KEY_FILE.
    #[arg(long, env = "GATEHOUSE_SECRETS_KEY", value_parser = parse_secrets_key, hide_env_values = true, global = true)]
    pub secrets_key: Option<SecretsKey>,

    /// File holding that key, made (readable by its owner only) the first time a secret is sealed.
    #[arg(long, env = "GATEHOUSE_SECRETS_KEY_FILE", default_value = "gatehouse-secrets.key", global = true)]
    pub secrets_key_file: std::path::PathBuf,

    /// Whether users with a verified address may create organizations (admins always may).
    #[arg(long, env = "GATEHOUSE_ORGS_SELF_SERVICE", default_value_t = true, action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub orgs_self_service: bool,
}

/// GATEHOUSE_SECRETS_KEY: 32 bytes, never shown.
#[derive(Clone)]
pub struct SecretsKey(pub [u8; 32]);

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(***)")
    }
}

impl SecretsKey {
    /// 32 bytes as 64 hexadecimal characters (white space around them ignored).
    pub fn parse(value: &str) -> Result<Self, String> {
        let why = || "must be 64 hexadecimal characters (32 bytes)".to_string();
        let bytes = hex::decode(value.trim()).map_err(|_| why())?;
        bytes.try_into().map(SecretsKey).map_err(|_| why())
    }
}

fn parse_secrets_key(value: &str) -> Result<SecretsKey, String> {
    SecretsKey::parse(value)
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("bind", &self.bind)
            .field("public_url", &self.public_url())
            .field("issuer", &self.issuer())
            .field("audience", &self.audience)
            .field("jwt_secret", &self.jwt_secret)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_lockout", &self.login_lockout)
            .field("rate_limit_per_ip", &self.rate_limit_per_ip)
            .field("oauth_sessions_per_client", &self.oauth_sessions_per_client)
            .field("trusted_proxy_header", &self.trusted_proxy_header)
            .field("smtp_url", &self.smtp_url)
            .field("mail_outbox", &self.mail_outbox)
            .field("require_verified_email", &self.require_verified_email)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Settings for tests and tools: every default, with the given database.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Only::parse_from(["gatehouse"]).config;
        config.database_url = database_url.into();
        config
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://{}", self.bind))
    }

    pub fn issuer(&self) -> String {
        self.issuer.clone().unwrap_or_else(|| self.public_url())
    }

    pub fn access_ttl(&self) -> Duration {
        Duration::from_secs(self.access_ttl)
    }

    pub fn refresh_ttl(&self) -> Duration {
        Duration::from_secs(self.refresh_ttl)
    }

    pub fn login_lockout(&self) -> Duration {
        Duration::from_secs(self.login_lockout)
    }

    pub fn mfa_token_ttl(&self) -> Duration {
        Duration::from_secs(self.mfa_token_ttl)
    }

    pub fn refresh_reuse_grace(&self) -> Duration {
        Duration::from_secs(self.refresh_reuse_grace)
    }

    pub fn template_quota(&self) -> crate::store::TemplateQuota {
        crate::store::TemplateQuota { max_count: self.templates_max_count, max_bytes: self.templates_max_bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_debug_form_of_the_settings_hides_secrets() {
        let mut config = Config::for_database("postgres://gatehouse:hunter2-db-pass@db.internal/gatehouse");
        config.jwt_secret = Some(Secret::new("a-very-secret-signing-key-of-32-bytes!!").expect("a secret"));
        config.smtp_url = Some(SmtpUrl::parse("smtps://mailer:smtp-pass-77@mail.internal").expect("SMTP URL"));

        let shown = format!("{config:?}");

        assert!(!shown.contains("hunter2-db-pass"), "{shown}");
        assert!(!shown.contains("a-very-secret-signing-key"), "{shown}");
        assert!(shown.contains("db.internal"));
        assert!(!shown.contains("smtp-pass-77"), "{shown}");
        assert!(shown.contains("mail.internal"), "{shown}");
    }

    #[test]
    fn smtp_urls_must_name_smtp_or_smtps() {
        for good in ["smtp://127.0.0.1:2525", "smtp://u:p@mail.example.com:587?tls=required", "smtps://u:p@mail.example.com"] {
            assert!(SmtpUrl::parse(good).is_ok(), "{good}");
        }
        for bad in ["http://mail.example.com", "mail.example.com", "smtp://"] {
            assert!(SmtpUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
