//! Passkeys: adding one (after a fresh password), listing, renaming and deleting them,
//! signing in with one (no name typed: the authenticator says whose it is; it counts as two
//! factors) and using one as the second step of a password login, beside TOTP.
//!
//! Every ceremony is two calls: `begin` keeps the library's state in the database (any
//! instance can finish it) and answers the options for the browser; `finish` takes that
//! state out once and checks the browser's answer against it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::{Credential, Passkey};

use super::{AccountError, Accounts};

#[path = "passkey_proof.rs"]
mod proof;
use crate::audit::Audit;
use crate::auth::passkeys::{AuthenticationResult, CEREMONY_SECS, PublicKeyCredential, RegisterPublicKeyCredential, RelyingParty};
use crate::auth::refresh;
use crate::auth::sessions::{self, ClientInfo, Sessions, TokenPair};
use crate::error::FieldError;
use crate::store::{AuditType, PasskeyRecord, PasskeyUse, User};

/// Longest passkey name, in characters.
pub const NAME_MAX: usize = 64;

/// A begun ceremony: its id, to send back with the answer, and the options for
/// `navigator.credentials.create` / `get` (the `publicKey` member inside).
#[derive(Debug, Serialize)]
pub struct Ceremony<T> {
    pub ceremony_id: Uuid,
    pub options: T,
}

/// Which ceremony a state belongs to: one kind's state never finishes another.
#[derive(Clone, Copy)]
enum Purpose {
    Register,
    SignIn,
    SecondStep,
    /// Proving an account where a password would do (`passkey_proof`).
    Proof,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Register => "register",
            Self::SignIn => "sign_in",
            Self::SecondStep => "second_step",
            Self::Proof => "proof",
        }
    }
}

fn invalid(field: &str, message: &str) -> AccountError {
    AccountError::Invalid(vec![FieldError::new(field, message)])
}

/// A passkey's name: trimmed, 1 to [`NAME_MAX`] characters, no control characters.
pub fn passkey_name(raw: &str) -> Result<String, AccountError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(invalid("name", "must be 1 to 64 characters, none of them control characters"));
    }
    Ok(name.to_string())
}

/// What kind of authenticator holds a new passkey, from what the browser said of it.
fn authenticator_kind(credential: &Credential) -> &'static str {
    use webauthn_rs_proto::AuthenticatorTransport as T;
    let transports = credential.transports.as_deref().unwrap_or_default();
    if transports.iter().any(|t| matches!(t, T::Usb | T::Nfc | T::Ble)) {
        "security_key"
    } else if credential.backup_eligible {
        "synced"
    } else {
        "device"
    }
}

/// How a credential id is stored and looked up: base64url without padding.
fn credential_key(id: &webauthn_rs::prelude::CredentialID) -> String {
    let bytes: &[u8] = id.as_ref();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn encode<T: Serialize>(value: &T) -> Result<String, AccountError> {
    serde_json::to_string(value).map_err(|e| AccountError::Internal(e.into()))
}

fn decode<T: DeserializeOwned>(raw: &str) -> Result<T, AccountError> {
    serde_json::from_str(raw).map_err(|e| AccountError::Internal(e.into()))
}

/// A browser's answer, as JSON, read into the library's type; 422 on `credential` otherwise.
pub fn read_credential<T: DeserializeOwned>(raw: serde_json::Value) -> Result<T, AccountError> {
    serde_json::from_value(raw).map_err(|_| invalid("credential", "is not a WebAuthn credential in JSON"))
}

impl Accounts {
    fn relying_party(&self) -> Result<&RelyingParty, AccountError> {
        self.passkeys.as_deref().ok_or(AccountError::NotFound)
    }

    /// Whether passkeys are on (GATEHOUSE_PASSKEYS and the public URL).
    pub fn passkeys_on(&self) -> bool {
        self.passkeys.is_some()
    }

    async fn keep_ceremony<T: Serialize>(&self, purpose: Purpose, user_id: Option<Uuid>, state: &T) -> Result<Uuid, AccountError> {
        let id = Uuid::now_v7();
        let expires_at = Utc::now() + chrono::Duration::seconds(CEREMONY_SECS as i64);
        self.store.begin_ceremony(id, purpose.as_str(), user_id, &encode(state)?, expires_at).await?;
        Ok(id)
    }

    /// Checks the account's password for a sensitive change; a wrong one counts toward the
    /// account's lockout and is refused on `password`.
    async fn fresh_password(&self, user_id: Uuid, password: &str) -> Result<User, AccountError> {
        let credentials = self.store.credentials_by_id(user_id).await?.ok_or(AccountError::InvalidToken)?;
        self.reserve_account(user_id).await?;
        if !self.secret_matches(&credentials, password).await? {
            return Err(invalid("password", "is not your password"));
        }
        self.lockout.clear(&credentials.user, None).await?;
        Ok(credentials.user)
    }

    /// Begins adding a passkey to the caller's account, after its password.
    pub async fn begin_passkey_registration(
        &self,
        user_id: Uuid,
        password: &str,
    ) -> Result<Ceremony<webauthn_rs::prelude::CreationChallengeResponse>, AccountError> {
        let party = self.relying_party()?;
        let user = self.fresh_password(user_id, password).await?;
        let mut existing = Vec::new();
        for record in self.store.passkeys_of(user.id).await? {
            existing.push(decode::<Passkey>(&record.credential)?.cred_id().clone());
        }
        let (options, state) = party.start_registration(user.id, &user.username, existing).map_err(|e| AccountError::Internal(e.into()))?;
        let ceremony_id = self.keep_ceremony(Purpose::Register, Some(user.id), &state).await?;
        Ok(Ceremony { ceremony_id, options })
    }

    /// Finishes adding a passkey: the browser's answer to the begun ceremony. Audited, and
    /// the account's verified address is told.
    pub async fn finish_passkey_registration(
        &self,
        audit: &Audit,
        user: &User,
        ceremony_id: Uuid,
        name: &str,
        credential: &RegisterPublicKeyCredential,
    ) -> Result<PasskeyRecord, AccountError> {
        let party = self.relying_party()?;
        let name = passkey_name(name)?;
        let Some(state) = self.store.take_ceremony(ceremony_id, Purpose::Register.as_str(), Some(user.id)).await? else {
            return Err(invalid("ceremony_id", "is unknown, expired or finished already"));
        };
        let passkey = party.finish_registration(credential, &decode(&state)?).map_err(|err| {
            tracing::info!(user_id = %user.id, error = %err, "a passkey registration was refused");
            invalid("credential", "does not answer this ceremony (wrong origin, challenge or key)")
        })?;
        let internals = Credential::from(passkey.clone());
        let record = PasskeyRecord {
            id: Uuid::now_v7(),
            user_id: user.id,
            credential_id: credential_key(passkey.cred_id()),
            name,
            authenticator: authenticator_kind(&internals).to_string(),
            credential: encode(&passkey)?,
            sign_count: i64::from(internals.counter),
            backup_eligible: internals.backup_eligible,
            backup_state: internals.backup_state,
            created_at: Utc::now(),
            last_used_at: None,
        };
        self.store.insert_passkey(&record).await?;
        tracing::info!(user_id = %user.id, passkey_id = %record.id, "passkey added");
        audit.record(AuditType::PasskeyAdded, Some(user.id), Some(user.id), json!({ "passkey_id": record.id, "name": record.name })).await;
        let change = format!("A passkey named \"{}\" was added to your account; it can now sign you in.", record.name);
        self.mailer.send_security_notice(user, &change).await;
        Ok(record)
    }

    pub async fn passkeys(&self, user_id: Uuid) -> Result<Vec<PasskeyRecord>, AccountError> {
        Ok(self.store.passkeys_of(user_id).await?)
    }

    pub async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> Result<(), AccountError> {
        let name = passkey_name(name)?;
        if self.store.rename_passkey(user_id, id, &name).await? { Ok(()) } else { Err(AccountError::NotFound) }
    }

    /// Deletes one of the caller's passkeys, after its password.
    pub async fn delete_own_passkey(&self, audit: &Audit, user_id: Uuid, id: Uuid, password: &str) -> Result<(), AccountError> {
        let user = self.fresh_password(user_id, password).await?;
        self.remove_passkey(audit, Some(user.id), &user, id).await
    }

    /// An admin (or the command line, `actor` None) deletes a user's passkey.
    pub async fn admin_delete_passkey(&self, audit: &Audit, actor: Option<Uuid>, user_id: Uuid, id: Uuid) -> Result<(), AccountError> {
        let user = self.store.user_by_id(user_id).await?.ok_or(AccountError::NotFound)?;
        self.remove_passkey(audit, actor, &user, id).await
    }

    async fn remove_passkey(&self, audit: &Audit, actor: Option<Uuid>, user: &User, id: Uuid) -> Result<(), AccountError> {
        let removed = self.store.delete_passkey(user.id, id).await?.ok_or(AccountError::NotFound)?;
        tracing::info!(user_id = %user.id, passkey_id = %id, "passkey removed");
        audit.record(AuditType::PasskeyRemoved, actor, Some(user.id), json!({ "passkey_id": id, "name": removed.name })).await;
        let change = format!("The passkey named \"{}\" was removed from your account; it no longer signs you in.", removed.name);
        self.mailer.send_security_notice(user, &change).await;
        Ok(())
    }

    /// Begins a sign-in with any passkey of this site.
    pub async fn begin_passkey_sign_in(&self) -> Result<Ceremony<webauthn_rs::prelude::RequestChallengeResponse>, AccountError> {
        let (options, state) = self.relying_party()?.start_sign_in().map_err(|e| AccountError::Internal(e.into()))?;
        let ceremony_id = self.keep_ceremony(Purpose::SignIn, None, &state).await?;
        Ok(Ceremony { ceremony_id, options })
    }

    /// Finishes a passkey sign-in: a session whose `amr` says a key and its user's
    /// verification were checked (two factors: no TOTP step follows).
    pub async fn finish_passkey_sign_in(
        &self,
        sessions: &Sessions,
        audit: &Audit,
        ceremony_id: Uuid,
        credential: &PublicKeyCredential,
        client: ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        let party = self.relying_party()?;
        let Some(state) = self.store.take_ceremony(ceremony_id, Purpose::SignIn.as_str(), None).await? else {
            return Err(refused(audit, None, "passkey_ceremony_unknown").await);
        };
        let Ok((user_id, credential_id)) = party.identify(credential) else {
            return Err(refused(audit, None, "passkey_unknown").await);
        };
        let record = match self.store.passkey_by_credential(&URL_SAFE_NO_PAD.encode(credential_id)).await? {
            Some(record) if record.user_id == user_id => record,
            _ => return Err(refused(audit, None, "passkey_unknown").await),
        };
        let mut passkey: Passkey = decode(&record.credential)?;
        let result = match party.finish_sign_in(credential, decode(&state)?, &passkey) {
            Ok(result) => result,
            Err(err) => {
                tracing::info!(user_id = %user_id, error = %err, "a passkey sign-in was refused");
                return Err(refused(audit, Some(user_id), "passkey_invalid").await);
            }
        };
        self.record_use(&record, &mut passkey, &result).await?;
        let user = self.store.user_by_id(user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        if user.disabled {
            return Err(super::login::refuse(audit, Some(user.id), "disabled", "account_disabled", AccountError::Disabled).await);
        }
        if self.require_verified_email && !user.email_verified {
            let error = AccountError::EmailUnverified;
            return Err(super::login::refuse(audit, Some(user.id), "email_unverified", "email_unverified", error).await);
        }
        let amr = if record.backup_eligible { "swk user mfa" } else { "hwk user mfa" };
        let pair = sessions::start(sessions, user, client, amr).await?;
        crate::metrics::login("success");
        tracing::info!(user_id = %pair.user.id, "login succeeded with a passkey");
        audit
            .record(
                AuditType::LoginSucceeded,
                Some(pair.user.id),
                Some(pair.user.id),
                json!({ "method": "passkey", "passkey_id": record.id }),
            )
            .await;
        Ok(pair)
    }

    /// Begins the second step of a password login with one of the user's passkeys.
    pub async fn begin_passkey_second_step(
        &self,
        mfa_token: &str,
    ) -> Result<Ceremony<webauthn_rs::prelude::RequestChallengeResponse>, AccountError> {
        self.relying_party()?;
        let user_id = self.challenged_user(mfa_token).await?;
        self.begin_with_own_passkeys(user_id, Purpose::SecondStep, || {
            invalid("mfa_token", "belongs to an account without passkeys: use a code")
        })
        .await
    }

    /// A ceremony that one of `user_id`'s own passkeys answers; `none` is the refusal for an
    /// account without passkeys.
    async fn begin_with_own_passkeys(
        &self,
        user_id: Uuid,
        purpose: Purpose,
        none: impl FnOnce() -> AccountError,
    ) -> Result<Ceremony<webauthn_rs::prelude::RequestChallengeResponse>, AccountError> {
        let party = self.relying_party()?;
        let mut passkeys = Vec::new();
        for record in self.store.passkeys_of(user_id).await? {
            passkeys.push(decode::<Passkey>(&record.credential)?);
        }
        if passkeys.is_empty() {
            return Err(none());
        }
        let (options, state) = party.start_second_step(&passkeys).map_err(|e| AccountError::Internal(e.into()))?;
        let ceremony_id = self.keep_ceremony(purpose, Some(user_id), &state).await?;
        Ok(Ceremony { ceremony_id, options })
    }

    /// Finishes the second step with a passkey; a refused answer counts toward the account's
    /// lockout like a wrong code.
    pub async fn finish_passkey_second_step(
        &self,
        sessions: &Sessions,
        audit: &Audit,
        mfa_token: &str,
        ceremony_id: Uuid,
        credential: &PublicKeyCredential,
        client: ClientInfo,
    ) -> Result<TokenPair, AccountError> {
        let party = self.relying_party()?;
        let step = self.second_step_of(mfa_token).await?;
        let user_id = step.user.id;
        self.admit_login(audit, Some(user_id), self.lockout.reserve_account(user_id).await?).await?;
        if step.user.disabled {
            return Err(super::login::refuse(audit, Some(user_id), "disabled", "account_disabled", AccountError::Disabled).await);
        }
        let Some(state) = self.store.take_ceremony(ceremony_id, Purpose::SecondStep.as_str(), Some(user_id)).await? else {
            return Err(refused(audit, Some(user_id), "passkey_ceremony_unknown").await);
        };
        let result = match party.finish_second_step(credential, &decode(&state)?) {
            Ok(result) => result,
            Err(err) => {
                tracing::info!(%user_id, error = %err, "a passkey second step was refused");
                return Err(refused(audit, Some(user_id), "passkey_invalid").await);
            }
        };
        let record = self
            .store
            .passkey_by_credential(&credential_key(result.cred_id()))
            .await?
            .filter(|r| r.user_id == user_id)
            .ok_or(AccountError::InvalidCredentials)?;
        let mut passkey: Passkey = decode(&record.credential)?;
        self.record_use(&record, &mut passkey, &result).await?;
        self.complete_second_step(sessions, audit, step, client, crate::auth::mfa::Factor::Passkey).await
    }

    /// Whether the account of a pending second step has a passkey to offer (false for an
    /// unknown token, or when the database cannot say).
    pub async fn second_step_has_passkeys(&self, mfa_token: &str) -> bool {
        match self.challenged_user(mfa_token).await {
            Ok(user_id) => self.store.passkeys_of(user_id).await.is_ok_and(|p| !p.is_empty()),
            Err(_) => false,
        }
    }

    async fn challenged_user(&self, mfa_token: &str) -> Result<Uuid, AccountError> {
        if !refresh::looks_valid(mfa_token) {
            return Err(AccountError::InvalidCredentials);
        }
        let challenge = self.store.mfa_challenge(&refresh::hash(mfa_token)).await?.ok_or(AccountError::InvalidCredentials)?;
        Ok(challenge.user_id)
    }

    /// Keeps the counter and backup state an authentication reported.
    async fn record_use(&self, record: &PasskeyRecord, passkey: &mut Passkey, result: &AuthenticationResult) -> Result<(), AccountError> {
        passkey.update_credential(result);
        let used =
            PasskeyUse { credential: encode(passkey)?, sign_count: i64::from(result.counter()), backup_state: result.backup_state() };
        Ok(self.store.record_passkey_use(record.id, &used).await?)
    }
}

/// A refused passkey sign-in: one answer (401) for every reason, counted and audited.
async fn refused(audit: &Audit, user: Option<Uuid>, reason: &str) -> AccountError {
    super::login::refuse(audit, user, "invalid_credentials", reason, AccountError::InvalidCredentials).await
}
