//! A passkey as the proof of an account where a password would do: the confirm page that
//! links an upstream identity to the account holding its address. The ceremony offers only
//! that account's passkeys, and its answer must be one of them.

use uuid::Uuid;
use webauthn_rs::prelude::Passkey;

use super::{Ceremony, Purpose, credential_key, decode, invalid, refused};
use crate::accounts::{AccountError, Accounts};
use crate::audit::Audit;
use crate::auth::passkeys::PublicKeyCredential;

impl Accounts {
    /// Begins a ceremony proving `user_id` with one of its passkeys.
    pub async fn begin_passkey_proof(
        &self,
        user_id: Uuid,
    ) -> Result<Ceremony<webauthn_rs::prelude::RequestChallengeResponse>, AccountError> {
        self.begin_with_own_passkeys(user_id, Purpose::Proof, || invalid("credential", "the account has no passkey: use its password"))
            .await
    }

    /// Checks the answer to [`Self::begin_passkey_proof`]: `Ok` when one of `user_id`'s
    /// passkeys signed it. A refusal counts toward the account's lockout like a wrong password.
    pub async fn check_passkey_proof(
        &self,
        audit: &Audit,
        user_id: Uuid,
        ceremony_id: Uuid,
        credential: &PublicKeyCredential,
    ) -> Result<(), AccountError> {
        let party = self.relying_party()?;
        let Some(state) = self.store.take_ceremony(ceremony_id, Purpose::Proof.as_str(), Some(user_id)).await? else {
            return Err(refused(audit, Some(user_id), "passkey_ceremony_unknown").await);
        };
        let result = match party.finish_second_step(credential, &decode(&state)?) {
            Ok(result) => result,
            Err(err) => {
                tracing::info!(%user_id, error = %err, "a passkey proof was refused");
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
        self.record_use(&record, &mut passkey, &result).await
    }
}
