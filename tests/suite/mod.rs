//! The integration suite: every file here runs once per store binary.

mod errors;
mod health;
mod last_admin;
mod login;
mod logout;
mod me;
mod openapi;
mod refresh;
mod races;
mod register;
mod sessions;
mod templates;
mod tokens;
mod user_changes;
mod users;
