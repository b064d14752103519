//! The flows behind the mailed links: asking for a reset link, and following a
//! verification link. (Setting a new password with a reset link is in `password`.)

use serde_json::json;

use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::domain::login_key;
use crate::mail::hash_token;
use crate::store::{AuditType, Credentials, User};

/// No username or email is longer; a longer "login" matches nobody.
const MAX_LOGIN_CHARS: usize = 320;

impl Accounts {
    /// Asks for a reset link for a username or address. It returns at once, the same for
    /// every account: the lookup and the mail happen afterwards, in a task of their own, so
    /// neither the answer nor its timing tells whether the account exists.
    pub fn request_password_reset(&self, audit: Audit, login: String) {
        if login.chars().count() > MAX_LOGIN_CHARS || login.chars().any(char::is_control) {
            return;
        }
        let accounts = self.clone();
        tokio::spawn(async move {
            let found = match accounts.store.credentials_by_login(&login_key(&login)).await {
                Ok(found) => found,
                Err(err) => {
                    tracing::warn!(error = %err, "password reset request: could not look the account up");
                    return;
                }
            };
            let Some(credentials) = found else { return };
            let to = reset_address(&credentials).map(str::to_string);
            let user = credentials.user;
            let queued = match to {
                Some(to) if !user.disabled => accounts.mailer.send_reset(&user, &to).await,
                _ => false,
            };
            tracing::info!(user_id = %user.id, queued, "password reset requested");
            audit.record(AuditType::PasswordResetRequested, None, Some(user.id), json!({ "mail_queued": queued })).await;
        });
    }

    /// Follows a verification link: the address it was sent to is verified (a pending
    /// address becomes the account's). `InvalidToken` when the link is unknown, used or expired.
    pub async fn verify_email(&self, audit: &Audit, token: &str) -> Result<User, AccountError> {
        let user = self.store.verify_email(&hash_token(token)).await?.ok_or(AccountError::InvalidToken)?;
        tracing::info!(user_id = %user.id, "email verified");
        audit.record(AuditType::EmailVerified, Some(user.id), Some(user.id), json!({ "email": user.email })).await;
        Ok(user)
    }
}

/// Where a reset link may go: the verified address; an unverified one only while the
/// account never verified any (an address an admin set, or a new account's); never the
/// pending address of a change, which proves nothing until its own link is followed.
fn reset_address(credentials: &Credentials) -> Option<&str> {
    let user = &credentials.user;
    user.email.as_deref().filter(|_| user.email_verified || !credentials.email_ever_verified)
}
