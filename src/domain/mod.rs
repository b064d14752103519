//! Values that parse once and are trusted after: a `Username` in hand is a valid one; and
//! the rules of the template quota, the lockout and the schema version.

pub mod client;
mod email;
pub mod lockout;
mod login;
pub mod oauth;
pub mod org;
mod password;
pub mod provider;
mod quota;
mod role;
pub mod schema;
mod username;

pub use email::Email;
pub use login::login_key;
pub use password::{Password, PasswordPolicy};
pub use quota::TemplateQuota;
pub(crate) use quota::{TemplateUsage, byte_len};
pub use role::{Role, normalize_roles};
pub use username::Username;
