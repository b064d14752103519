//! Values that parse once and are trusted after: a `Username` in hand is a valid one.

mod email;
mod password;
mod role;
mod username;

pub use email::{Email, address_key};
pub use password::{Password, PasswordPolicy};
pub use role::{Role, normalize_roles};
pub use username::Username;
