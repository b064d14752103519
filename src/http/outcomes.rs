//! The flows' outcomes as the contract's problems.

use crate::accounts::AccountError;
use crate::error::ApiError;

impl From<AccountError> for ApiError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(errors) => Self::Validation(errors),
            AccountError::InvalidCredentials => Self::InvalidCredentials,
            AccountError::Locked { retry_after_secs } | AccountError::MailQuotaSpent { retry_after_secs } => {
                Self::RateLimited { retry_after_secs }
            }
            AccountError::Disabled => Self::AccountDisabled,
            AccountError::EmailUnverified => Self::EmailUnverified,
            AccountError::MfaRequired(token) => Self::MfaRequired(token),
            AccountError::InvalidToken => Self::InvalidToken { sent: true },
            AccountError::NotFound => Self::NotFound,
            AccountError::RegistrationClosed => Self::RegistrationClosed,
            AccountError::Store(err) => err.into(),
            AccountError::Internal(err) => Self::Internal(err),
        }
    }
}
