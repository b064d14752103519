//! The integration suite: every file here runs once per store binary.

mod audit;
mod bad_input;
mod errors;
mod forged_tokens;
mod hardening;
mod health;
mod last_admin;
mod lockout;
mod lockout_race;
mod login;
mod logout;
mod me;
mod metrics;
mod mfa_login;
mod mfa_setup;
mod openapi;
mod races;
mod rate_limit;
mod refresh;
mod register;
mod sessions;
mod templates;
mod tokens;
mod user_changes;
mod users;
