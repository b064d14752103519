//! The `gatehouse` command line.

use clap::{Parser, Subcommand};

use crate::config::Config;

/// `gatehouse --version`: the crate's version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("GATEHOUSE_COMMIT"), ")");

#[derive(Parser)]
#[command(name = "gatehouse", version = VERSION, about = "Authentication and user management service")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate {
        /// List the migrations that would run, and change nothing.
        #[arg(long, conflicts_with = "status")]
        dry_run: bool,
        /// Show the database's schema version against this binary's, and change nothing.
        #[arg(long)]
        status: bool,
        /// Print JSON (with --dry-run or --status), for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Copy the running SQLite database into FILE (readable by its owner only) without
    /// stopping the server; on PostgreSQL, print the pg_dump command to use instead.
    Backup { file: std::path::PathBuf },
    /// Replace the SQLite database with the backup in FILE, once FILE passes SQLite's
    /// integrity check and holds a schema this binary knows; refused while a server or
    /// another command has the database open.
    Restore { file: std::path::PathBuf },
    /// Write every user (password hash as stored, roles, email state, TOTP secret and
    /// recovery-code hashes; no sessions) to FILE as JSON lines, readable by its owner
    /// only; `gatehouse import` reads it back into either database.
    Export { file: std::path::PathBuf },
    /// Manage users without HTTP.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Import users from a `gatehouse export` file, or from JSON lines or a mongoexport dump,
    /// keeping their password hashes (bcrypt, Werkzeug pbkdf2/scrypt, argon2, hex SHA-256)
    /// until their next login. Users already present are reported as skipped.
    Import {
        /// The file: one JSON object a line, or one JSON array (`mongoexport --jsonArray`).
        file: std::path::PathBuf,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Register and manage OpenID Connect clients (the applications that sign their users in).
    Client {
        #[command(subcommand)]
        action: ClientCommand,
    },
    /// Add and manage upstream sign-in providers ("Continue with Google, GitHub, ...").
    Provider {
        #[command(subcommand)]
        action: ProviderCommand,
    },
    /// Manage organizations and their members.
    Org {
        #[command(subcommand)]
        action: OrgCommand,
    },
    /// Register and manage webhook endpoints (signed deliveries of what happens to users).
    Webhook {
        #[command(subcommand)]
        action: WebhookCommand,
    },
    /// Copy every user (with its TOTP secret and recovery codes), template, organization (with
    /// its members and invitations), webhook endpoint, session, refresh token, signing key,
    /// server secret and audit event from the configured database into
    /// another one (for example SQLite to PostgreSQL). Failed-login counts and pending
    /// mfa_tokens are transient and not copied.
    Copy {
        /// The target database URL (`postgres://...` or `sqlite://...`); its schema is created.
        #[arg(long, value_name = "URL")]
        to: String,
        /// Replace the contents of a target that is not empty.
        #[arg(long)]
        force: bool,
    },
    /// Ask the server these settings describe for its /health, over loopback at
    /// GATEHOUSE_BIND's port: exit 0 when it answers 200, 1 otherwise. For health checks in
    /// images without a shell.
    Healthcheck {
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=300))]
        timeout: u64,
    },
    /// Check the settings.
    Config {
        #[command(subcommand)]
        action: ConfigCommand,
    },
    /// Print a completion script for a shell, e.g. `gatehouse completions bash >
    /// /etc/bash_completion.d/gatehouse`.
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff), e.g. `gatehouse man > /usr/local/share/man/man1/gatehouse.1`.
    Man,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check every setting as `serve` would (values, template folders, the logo, passkeys),
    /// without opening the database, and print the effective ones with secrets hidden;
    /// exit 1 with the reason on a bad one.
    Check,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from one line of standard input, or prompted on a terminal.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Give the user the admin role.
        #[arg(long)]
        admin: bool,
    },
    /// Invite an address to sign up: mails a link (7 days) that makes the account with
    /// this address verified and these roles. Works in every GATEHOUSE_REGISTRATION mode.
    Invite {
        email: String,
        /// A role the account gets besides `user` (repeat for several).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// List users, oldest first.
    List {
        /// Only users whose username or email contains this (case ignored).
        #[arg(long, alias = "q", value_name = "TEXT")]
        query: Option<String>,
        /// Only users holding this role.
        #[arg(long)]
        role: Option<String>,
        /// One JSON object a line, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Replace a user's roles (`user` is always kept); refused when it would leave no enabled admin.
    SetRoles {
        username: String,
        #[arg(required = true, num_args = 1..)]
        roles: Vec<String>,
    },
    /// Disable a user and revoke all its sessions; refused for the last enabled admin.
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// Delete a user with its sessions and templates; refused for the last enabled admin.
    Delete { username: String },
    /// Set a user's password, read from one line of standard input (or prompted on a
    /// terminal), under the same rules as the API; every session of the user is signed out.
    SetPassword { username: String },
    /// Turn a user's TOTP second factor off (a lost authenticator): its secret and
    /// recovery codes are deleted; the user logs in with the password alone.
    ResetMfa { username: String },
    /// List a user's passkeys.
    Passkeys {
        username: String,
        /// One JSON object a line, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove one of a user's passkeys (by its id, from `user passkeys`); it signs nobody in
    /// any more. Audited; the user's verified address is told.
    RemovePasskey { username: String, passkey_id: uuid::Uuid },
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client; prints it as JSON, with its secret this once (confidential clients).
    Create {
        name: String,
        /// An exact redirect URI (repeat for several).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// No secret: a browser or mobile app, which must use PKCE.
        #[arg(long)]
        public: bool,
        /// Its users see no consent page.
        #[arg(long)]
        first_party: bool,
        /// Where RP-initiated logout may return to (repeat for several).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A scope it may ask for (repeat; default openid, profile, email).
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// A resource server its access tokens may be for (RFC 8707 `resource`; repeat for
        /// several). Without one, their `aud` is the client's `client_id`.
        #[arg(long = "resource")]
        resources: Vec<String>,
        /// `RS256` (default) or `EdDSA`.
        #[arg(long = "id-token-alg")]
        id_token_alg: Option<String>,
    },
    /// List the clients, one JSON object a line.
    List,
    /// Print one client (by `id` or `client_id`) as JSON.
    Show { client: String },
    /// Delete a client (by `id` or `client_id`).
    Delete { client: String },
    /// A new secret for a confidential client (by `id` or `client_id`); the old one stops working.
    RotateSecret { client: String },
}

#[derive(Subcommand)]
pub enum OrgCommand {
    /// Create an organization whose first owner is USERNAME; prints it as JSON.
    Create {
        slug: String,
        name: String,
        #[arg(long)]
        owner: String,
    },
    /// List every organization, one JSON object a line.
    List,
    /// Print an organization (by slug) and its members as JSON.
    Show { slug: String },
    /// Make a user a member at once (repeat --role for org roles; `member` always).
    AddMember {
        slug: String,
        username: String,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Remove a member (not the last owner); their tokens that carry the org stop working.
    RemoveMember { slug: String, username: String },
    /// Delete an organization with its memberships and invitations.
    Delete { slug: String },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List the signing keys, newest first.
    List {
        /// One JSON object a line, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Make a new signing key; the old public keys stay in the JWKS until their tokens expire.
    Rotate,
}

/// `gatehouse provider ...`. The client secret is read from one line of standard input (or
/// prompted on a terminal), never a flag.
#[derive(Subcommand)]
pub enum ProviderCommand {
    /// Add a provider; register `{public_url}/login/SLUG/callback` as its redirect URI upstream.
    Add {
        slug: String,
        /// What the button says: "Continue with NAME".
        #[arg(long)]
        name: String,
        /// `oidc` (any OpenID provider by its issuer) or `github`.
        #[arg(long, default_value = "oidc")]
        kind: String,
        /// The OpenID issuer (kind `oidc`).
        #[arg(long)]
        issuer: Option<String>,
        #[arg(long)]
        client_id: String,
        /// A scope to ask for (repeat); default `openid email profile` or, for GitHub, `read:user user:email`.
        #[arg(long = "scope")]
        scopes: Vec<String>,
        /// Unknown identities do not make accounts.
        #[arg(long)]
        no_signup: bool,
        /// Never link an identity to an account by its address (even after the password).
        #[arg(long)]
        no_link_by_email: bool,
        /// The provider's `amr` saying MFA was done stands in for the TOTP step.
        #[arg(long)]
        trust_upstream_mfa: bool,
        #[arg(long)]
        authorization_endpoint: Option<String>,
        #[arg(long)]
        token_endpoint: Option<String>,
        /// GitHub Enterprise's API root (`https://HOST/api/v3`).
        #[arg(long)]
        api_base: Option<String>,
    },
    /// List the providers (one JSON object a line; never a secret).
    List,
    /// Show one provider.
    Show { slug: String },
    /// Remove a provider and every identity linked through it.
    Remove { slug: String },
}

/// `gatehouse webhook ...`: the same flows as `/v1/webhooks`.
#[derive(Subcommand)]
pub enum WebhookCommand {
    /// Register an endpoint; prints it as JSON with its signing secret, this once.
    Add {
        /// An `https` URL on public addresses (any URL with GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE).
        url: String,
        /// An event type to receive (repeat); default `*`, every type.
        #[arg(long = "event")]
        events: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// List the endpoints, one JSON object a line (never a secret).
    List,
    /// Remove an endpoint (by its id) and its deliveries.
    Remove { id: uuid::Uuid },
    /// An endpoint's recent deliveries, newest first: type, attempt, status, the receiver's
    /// HTTP status, time taken and error.
    Deliveries {
        id: uuid::Uuid,
        /// How many to show.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
        /// One JSON object a line, for scripts.
        #[arg(long)]
        json: bool,
    },
}

/// Rewrites clap's answer to a bad setting value so that it names the environment variable
/// (where such values usually come from) besides the flag, and never echoes a hidden value
/// such as GATEHOUSE_JWT_SECRET. `None` for every other kind of command-line error.
pub fn explain_bad_value(err: &clap::Error) -> Option<String> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue, ErrorKind};

    if !matches!(err.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return None;
    }
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else { return None };
    let long = arg.split_whitespace().next()?.trim_start_matches("--").to_string();
    let command = Cli::command();
    let spec = command.get_arguments().find(|a| a.get_long() == Some(long.as_str()))?;
    let setting = match spec.get_env() {
        Some(env) => format!("{} (--{long})", env.to_string_lossy()),
        None => format!("--{long}"),
    };
    let why = std::error::Error::source(err).map(ToString::to_string).or_else(|| match err.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(valid)) => Some(format!("expected one of {}", valid.join(", "))),
        _ => None,
    });
    let value = match err.get(ContextKind::InvalidValue) {
        Some(ContextValue::String(value)) if !spec.is_hide_env_values_set() => format!(" {value:?}"),
        _ => String::new(),
    };
    Some(format!("{setting}: invalid value{value}: {}", why.unwrap_or_else(|| "not accepted".into())))
}
