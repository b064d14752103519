//! The integration suite: every file here runs once per store binary.

mod bad_input;
mod errors;
mod health;
mod last_admin;
mod login;
mod logout;
mod me;
mod openapi;
mod races;
mod refresh;
mod register;
mod sessions;
mod templates;
mod tokens;
mod user_changes;
mod users;
