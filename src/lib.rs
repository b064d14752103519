//! Gatehouse: authentication and user management as one service.
//!
//! The layers, each importing only those below it: `main` → [`commands`] → [`app`] →
//! [`http`] → [`accounts`] → [`auth`], [`mail`], [`audit`] → [`store`]; [`error`],
//! [`config`], [`domain`] and [`metrics`] sit below them all.
//!
//! A map for newcomers:
//! - [`config`]: every setting, from flag, environment, `.env` or default.
//! - [`cli`] and [`commands`]: the `gatehouse` command line and its subcommands, which run
//!   the flows of [`accounts`] and print their outcomes.
//! - [`app`]: the shared state, the router with its middleware, `serve` and shutdown.
//! - [`http`]: one module per resource, each with its routes and OpenAPI entries; the
//!   extractors (who calls, the audit recorder) and the mapping of outcomes to problems.
//! - [`accounts`]: the flows HTTP and the CLI share: register, login and its second step,
//!   password change and reset, email change, roles, disable and enable, delete, MFA reset.
//! - [`error`]: the one error type, rendered as an RFC 9457 problem document.
//! - [`domain`]: values that parse once (username, email, password, role) and are trusted
//!   after, and [`domain::login_key`], the one key a login is looked up and counted under.
//! - [`auth`]: password hashing, signing keys and access tokens, refresh tokens and
//!   sessions, the failed-login limit, TOTP and the second step's challenge.
//! - [`mail`]: verification and reset mails, the queue in the database and its worker.
//! - [`import`]: `gatehouse import`, users with their legacy password hashes.
//! - [`export`]: `gatehouse export` and its import: accounts as versioned JSON lines;
//!   [`export_setup`] the providers and webhook endpoints in the same file.
//! - [`progress`]: progress bars (or plain lines) and summaries of long commands.
//! - [`store`]: every SQL statement, once for both databases, in the one [`store::Store`], one
//!   file per resource; the dialect differences in `store::db`, shared column types in `store::codec`.
//! - [`telemetry`]: tracing set-up (text or JSON).
//! - [`metrics`]: the Prometheus series and the /metrics route.
//! - [`audit`]: the audit recorder the flows take (per request, or the CLI's), and pruning.
//! - [`files`]: files that hold secrets, created readable by their owner only.
//! - [`outbound`]: the HTTP client for calls to other servers (rustls with ring).
//! - [`upstream`]: sign-in through upstream providers (OpenID, GitHub) and account linking.
//! - [`retention`]: pruning spent sessions, login counts, email tokens and MFA challenges.
//! - [`webhooks`]: webhook endpoints (flows the API, console and CLI share), signing, the
//!   address rule against request forgery, and the worker that delivers the queued events.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod error;
pub mod export;
pub mod export_setup;
pub mod files;
pub mod http;
pub mod import;
pub mod mail;
pub mod metrics;
pub mod outbound;
pub mod pages;
pub mod progress;
pub mod retention;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod webhooks;
