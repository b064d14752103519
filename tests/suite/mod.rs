//! The integration suite: every file here runs once per store binary.

mod audit;
mod errors;
mod health;
mod last_admin;
mod login;
mod logout;
mod me;
mod metrics;
mod openapi;
mod refresh;
mod register;
mod sessions;
mod templates;
mod tokens;
mod user_changes;
mod users;
