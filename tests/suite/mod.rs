//! The integration suite: every file here runs once per store binary.

mod enumeration;
mod forged_tokens;
mod hardening;
mod health;
mod lockout;
mod rate_limit;
