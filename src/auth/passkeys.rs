//! The WebAuthn relying party behind passkeys: its id and origin come from the public URL,
//! checked once at start, and the ceremonies of webauthn-rs with the choices made here
//! (discoverable credentials, user verification required).

use url::{Host, Url};
use webauthn_rs::prelude::{
    CreationChallengeResponse, CredentialID, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    RequestChallengeResponse, Webauthn, WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

pub use webauthn_rs::prelude::{AuthenticationResult, PublicKeyCredential, RegisterPublicKeyCredential, WebauthnError};

use crate::config::{Config, PasskeyMode};

/// Seconds a ceremony may take, from its options to its answer (what the browser is told
/// and how long its state is kept).
pub const CEREMONY_SECS: u64 = 300;

/// The relying party: the public URL's host and origin.
pub struct RelyingParty {
    webauthn: Webauthn,
    pub id: String,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("id", &self.id).finish()
    }
}

/// The relying party the settings ask for: `None` when passkeys are off, or in `auto` mode
/// when the public URL cannot carry them (said in a warning); an error in `on` mode then.
pub fn from_config(config: &Config) -> anyhow::Result<Option<RelyingParty>> {
    if config.passkeys == PasskeyMode::Off {
        return Ok(None);
    }
    match RelyingParty::new(&config.public_url(), &config.totp_issuer) {
        Ok(party) => Ok(Some(party)),
        Err(why) if config.passkeys == PasskeyMode::Auto => {
            tracing::warn!("passkeys are off: {why} (GATEHOUSE_PASSKEYS=off silences this)");
            Ok(None)
        }
        Err(why) => anyhow::bail!("GATEHOUSE_PASSKEYS=on: {why}"),
    }
}

impl RelyingParty {
    /// Why passkeys cannot work at `public_url`, or the relying party they work with.
    pub fn new(public_url: &str, name: &str) -> Result<Self, String> {
        let origin = Url::parse(public_url).map_err(|e| format!("GATEHOUSE_PUBLIC_URL {public_url} is no URL: {e}"))?;
        let id = match origin.host() {
            Some(Host::Domain(domain)) => domain.to_string(),
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
                return Err(format!(
                    "GATEHOUSE_PUBLIC_URL {public_url} has an IP address as its host; a passkey's relying party must be a domain name \
                     (use http://localhost:PORT when developing)"
                ));
            }
            None => return Err(format!("GATEHOUSE_PUBLIC_URL {public_url} has no host")),
        };
        if origin.scheme() != "https" && id != "localhost" {
            return Err(format!(
                "GATEHOUSE_PUBLIC_URL {public_url} is not https; browsers offer passkeys over https only (and on localhost)"
            ));
        }
        let webauthn = WebauthnBuilder::new(&id, &origin)
            .and_then(|b| b.rp_name(name).timeout(std::time::Duration::from_secs(CEREMONY_SECS)).build())
            .map_err(|e| format!("GATEHOUSE_PUBLIC_URL {public_url} cannot be a WebAuthn relying party: {e}"))?;
        Ok(Self { webauthn, id })
    }

    /// Options for a new discoverable passkey of this user, none of `existing` again.
    pub fn start_registration(
        &self,
        user_id: uuid::Uuid,
        username: &str,
        existing: Vec<CredentialID>,
    ) -> Result<(CreationChallengeResponse, PasskeyRegistration), WebauthnError> {
        let exclude = (!existing.is_empty()).then_some(existing);
        let (mut options, state) = self.webauthn.start_passkey_registration(user_id, username, username, exclude)?;
        // Kept on the authenticator, so that signing in needs no username.
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        Ok((options, state))
    }

    pub fn finish_registration(
        &self,
        credential: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
    ) -> Result<Passkey, WebauthnError> {
        self.webauthn.finish_passkey_registration(credential, state)
    }

    /// Options for a sign-in with any passkey of this site; the browser says whose.
    pub fn start_sign_in(&self) -> Result<(RequestChallengeResponse, DiscoverableAuthentication), WebauthnError> {
        let (mut options, state) = self.webauthn.start_discoverable_authentication()?;
        // The page asks for the autofill (conditional) form itself; an API caller chooses.
        options.mediation = None;
        Ok((options, state))
    }

    /// The user and credential an answer to [`Self::start_sign_in`] names (not yet verified).
    pub fn identify<'a>(&self, credential: &'a PublicKeyCredential) -> Result<(uuid::Uuid, &'a [u8]), WebauthnError> {
        self.webauthn.identify_discoverable_authentication(credential)
    }

    pub fn finish_sign_in(
        &self,
        credential: &PublicKeyCredential,
        state: DiscoverableAuthentication,
        passkey: &Passkey,
    ) -> Result<AuthenticationResult, WebauthnError> {
        self.webauthn.finish_discoverable_authentication_v2(credential, state, passkey)
    }

    /// Options for a second factor with one of these passkeys.
    pub fn start_second_step(&self, passkeys: &[Passkey]) -> Result<(RequestChallengeResponse, PasskeyAuthentication), WebauthnError> {
        self.webauthn.start_passkey_authentication(passkeys)
    }

    pub fn finish_second_step(
        &self,
        credential: &PublicKeyCredential,
        state: &PasskeyAuthentication,
    ) -> Result<AuthenticationResult, WebauthnError> {
        self.webauthn.finish_passkey_authentication(credential, state)
    }
}

#[cfg(test)]
mod tests {
    use super::RelyingParty;

    #[test]
    fn a_relying_party_needs_a_domain_name_and_https_except_on_localhost() {
        assert!(RelyingParty::new("http://127.0.0.1:8080", "Gatehouse").expect_err("refused").contains("IP address"));
        assert!(RelyingParty::new("http://[::1]:8080", "Gatehouse").expect_err("refused").contains("IP address"));
        assert!(RelyingParty::new("http://auth.example.com", "Gatehouse").expect_err("refused").contains("https"));
        assert_eq!(RelyingParty::new("http://localhost:8080", "Gatehouse").map(|p| p.id).ok().as_deref(), Some("localhost"));
        assert_eq!(RelyingParty::new("https://auth.example.com", "Gatehouse").map(|p| p.id).ok().as_deref(), Some("auth.example.com"));
    }
}
