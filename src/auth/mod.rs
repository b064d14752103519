//! Passwords, signing keys and access tokens, refresh tokens, sessions, the failed-login
//! limit, the second factor and the passkeys' relying party: what the flows in [`crate::accounts`] build on.

pub mod breached;
pub mod email_code;
pub mod id_tokens;
pub mod keys;
pub mod legacy;
pub mod lockout;
pub mod mfa;
pub mod passkeys;
pub mod password;
pub mod refresh;
pub mod sealing;
pub mod sessions;
pub mod tokens;
pub mod totp;
mod verified;

pub use password::{HashLoad, PasswordHasher, Verdict};
pub use tokens::{AccessClaims, TokenService};
