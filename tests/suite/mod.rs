//! The integration suite: every file here runs once per store binary.

mod errors;
mod health;
mod login;
mod logout;
mod me;
mod openapi;
mod refresh;
mod register;
mod sessions;
mod tokens;
