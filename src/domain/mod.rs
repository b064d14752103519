//! Values that parse once and are trusted after: a `Username` in hand is a valid one; and
//! the template quota's rules.

mod email;
mod password;
mod quota;
mod role;
mod username;

pub use email::{Email, address_key};
pub use password::{Password, PasswordPolicy};
pub use quota::TemplateQuota;
pub(crate) use quota::{TemplateUsage, byte_len};
pub use role::{Role, normalize_roles};
pub use username::Username;
