//! Gatehouse: authentication and user management as one service.
//!
//! A map for newcomers:
//! - [`config`]: every setting, from flag, environment, `.env` or default.
//! - [`cli`] and [`commands`]: the `gatehouse` command line and its subcommands.
//! - [`app`]: the shared state, the router with its middleware, `serve` and shutdown.
//! - [`error`]: the one error type, rendered as an RFC 9457 problem document.
//! - [`domain`]: values that parse once (username, email, password, role) and are trusted after.
//! - [`auth`]: password hashing, signing keys and access tokens, refresh tokens, TOTP, extractors.
//! - [`mail`]: verification and reset mails, the queue in the database and its worker.
//! - [`import`]: `gatehouse import`, users with their legacy password hashes.
//! - [`store`]: every SQL statement, once for both databases, in the one [`store::Store`], one
//!   file per resource; the dialect differences in `store::db`, shared column types in `store::codec`.
//! - [`http`]: one module per resource, each with its routes and OpenAPI entries.
//! - [`telemetry`]: tracing set-up (text or JSON).
//! - [`metrics`]: the Prometheus series and the /metrics route.
//! - [`audit`]: recording the audit trail from handlers, and pruning it.
//! - [`files`]: files that hold secrets, created readable by their owner only.
//! - [`retention`]: pruning spent sessions, login counts, email tokens and MFA challenges.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod commands;
pub mod config;
pub mod domain;
pub mod error;
pub mod files;
pub mod http;
pub mod import;
pub mod mail;
pub mod metrics;
pub mod retention;
pub mod store;
pub mod telemetry;
