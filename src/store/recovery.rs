//! Records of email verification and password reset tokens and of the mail queue.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What a one-time token emailed to a user is good for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl TokenPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }
}

/// A token to store (its SHA-256 only) with the mail that carries it.
pub struct NewEmailToken {
    pub token_hash: Vec<u8>,
    pub user_id: Uuid,
    pub purpose: TokenPurpose,
    /// The key of the address it was mailed to: the token dies when the address changes.
    pub email_key: String,
    pub expires_at: DateTime<Utc>,
}

/// A rendered message to queue.
pub struct NewMail {
    pub id: Uuid,
    pub sender: String,
    pub recipient: String,
    /// The whole RFC 5322 message, as it goes over the wire.
    pub message: Vec<u8>,
}

/// A queued message claimed by a worker for one delivery attempt.
pub struct QueuedMail {
    pub id: Uuid,
    pub sender: String,
    pub recipient: String,
    pub message: Vec<u8>,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// The answer to [`super::Store::reserve_verify_mail`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailQuota {
    /// Counted: the mail may go.
    Allowed,
    /// The account caused its hourly share already; the window ends in `retry_after`.
    Spent { retry_after: std::time::Duration },
}
