//! Passwords, signing keys and access tokens, refresh tokens, sessions, the failed-login
//! limit and the second factor: what the flows in [`crate::accounts`] build on.

pub mod id_tokens;
pub mod keys;
pub mod legacy;
pub mod lockout;
pub mod mfa;
pub mod password;
pub mod refresh;
pub mod sessions;
pub mod tokens;
pub mod totp;

pub use password::{HashLoad, PasswordHasher, Verdict};
pub use tokens::{AccessClaims, TokenService};
