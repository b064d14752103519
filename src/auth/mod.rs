//! Passwords, signing keys and access tokens, refresh tokens, and the extractors that
//! authenticate a request.

pub mod extract;
pub mod keys;
pub mod legacy;
pub mod lockout;
pub mod mfa;
pub mod password;
pub mod refresh;
pub mod sessions;
pub mod tokens;
pub mod totp;

pub use extract::{AccountUser, AdminUser, AuthUser};
pub use password::{HashLoad, PasswordHasher, Verdict};
pub use tokens::{AccessClaims, TokenService};
