//! The caller's own TOTP: setting it up (a pending secret, confirmed by a first code, which
//! hands out the recovery codes once) and turning it off (the password and a code).

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::auth::mfa;
use crate::auth::totp::{self, Enrollment};
use crate::error::{Conflict, FieldError};
use crate::store::{AuditType, StoreError, User};

fn conflict(c: Conflict) -> AccountError {
    AccountError::Store(StoreError::Conflict(c))
}

fn invalid(field: &str, message: &str) -> AccountError {
    AccountError::Invalid(vec![FieldError::new(field, message)])
}

impl Accounts {
    /// A new pending secret (replacing any earlier pending one), with its otpauth URI and QR code.
    pub async fn start_totp(&self, account: &User, issuer: &str) -> Result<Enrollment, AccountError> {
        if account.mfa_enabled {
            return Err(conflict(Conflict::MfaAlreadyEnabled));
        }
        let secret = totp::new_secret();
        self.store.set_pending_totp(account.id, &secret).await?;
        let enrollment = totp::enrollment(&secret, issuer, &account.username)?;
        tracing::info!(user_id = %account.id, "TOTP setup started");
        Ok(enrollment)
    }

    /// Turns TOTP on with a first code of the pending secret: the recovery codes, shown only now.
    pub async fn confirm_totp(&self, audit: &Audit, account: &User, code: &str) -> Result<Vec<String>, AccountError> {
        let pending = match self.store.totp(account.id).await? {
            None => return Err(conflict(Conflict::MfaSetupRequired)),
            Some(record) if record.enabled => return Err(conflict(Conflict::MfaAlreadyEnabled)),
            Some(record) => record,
        };
        self.reserve_account(account.id).await?;
        let Some(step) = totp::matching_step(&pending.secret, code, totp::unix_now()) else {
            return Err(invalid("code", "is not the current code of the authenticator app"));
        };
        self.lockout.clear(account, None).await?;
        let codes = totp::new_recovery_codes();
        let hashes: Vec<Vec<u8>> = codes.iter().filter_map(|c| totp::recovery_hash(c)).collect();
        if !self.store.enable_totp(account.id, &pending.secret, step, &hashes).await? {
            // A parallel setup replaced the secret, or a parallel confirmation won.
            let on = self.store.user_by_id(account.id).await?.is_some_and(|u| u.mfa_enabled);
            return Err(conflict(if on { Conflict::MfaAlreadyEnabled } else { Conflict::MfaSetupRequired }));
        }
        tracing::info!(user_id = %account.id, "TOTP turned on");
        audit.record(AuditType::MfaEnabled, Some(account.id), Some(account.id), json!({ "method": "totp" })).await;
        Ok(codes)
    }

    /// Turns TOTP off with the password and a current code (or an unused recovery code).
    pub async fn disable_totp(&self, audit: &Audit, user_id: Uuid, password: &str, code: &str) -> Result<(), AccountError> {
        let credentials = self.store.credentials_by_id(user_id).await?.ok_or(AccountError::InvalidToken)?;
        if !credentials.user.mfa_enabled {
            return Err(conflict(Conflict::MfaNotEnabled));
        }
        self.reserve_account(user_id).await?;
        if !self.secret_matches(&credentials, password).await? {
            return Err(invalid("password", "is not your password"));
        }
        let Some(factor) = mfa::verify_code(&self.store, user_id, code).await? else {
            return Err(invalid("code", "is not a current code or an unused recovery code"));
        };
        self.lockout.clear(&credentials.user, None).await?;
        self.store.disable_totp(user_id).await?;
        tracing::info!(%user_id, "TOTP turned off");
        audit.record(AuditType::MfaDisabled, Some(user_id), Some(user_id), json!({ "method": "totp", "factor": factor.as_str() })).await;
        let change =
            "Two-factor authentication with an authenticator app was turned off for your account: its codes no longer sign you in.";
        self.mailer.send_security_notice(&credentials.user, change).await;
        Ok(())
    }
}
