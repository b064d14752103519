//! Values that parse once and are trusted after: a `Username` in hand is a valid one.

mod email;
mod login;
mod password;
mod role;
mod username;

pub use email::Email;
pub use login::login_key;
pub use password::{Password, PasswordPolicy};
pub use role::{Role, normalize_roles};
pub use username::Username;
