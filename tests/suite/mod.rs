//! The integration suite: every file here runs once per store binary.

mod health;
mod last_admin;
mod templates;
mod user_changes;
mod users;
