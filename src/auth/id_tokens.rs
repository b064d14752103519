//! OpenID Connect ID tokens: signed RS256 (what every client supports) or EdDSA with the
//! key ring of [`TokenService`], and the `id_token_hint` of a logout read back.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use uuid::Uuid;

use super::TokenService;
use super::keys::{EDDSA, generate_rsa_key};
use crate::store::User;

/// The claims of an ID token (OpenID Connect Core §2, §5.1), by scope.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: Uuid,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// The session the client holds, which an RP-initiated logout ends.
    pub sid: Uuid,
    pub azp: String,
    #[serde(flatten)]
    pub profile: ProfileClaims,
    /// With scope `organization`: the session's org and the person's roles in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<crate::domain::org::OrgClaim>,
}

/// What `profile` and `email` give, in ID tokens and at userinfo.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ProfileClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
}

impl ProfileClaims {
    pub fn of(user: &User, scopes: &[&str]) -> Self {
        let profile = scopes.contains(&"profile");
        let email = scopes.contains(&"email") && user.email.is_some();
        Self {
            preferred_username: profile.then(|| user.username.clone()),
            email: if email { user.email.clone() } else { None },
            email_verified: email.then_some(user.email_verified),
        }
    }
}

/// The left half of the access token's hash, for `at_hash`: SHA-256 for RS256, SHA-512 for
/// EdDSA over Ed25519 (its hash, as OpenID Connect's registry of EdDSA says).
pub fn at_hash(access_token: &str, alg: &str) -> String {
    let digest =
        if alg == EDDSA { Sha512::digest(access_token.as_bytes()).to_vec() } else { Sha256::digest(access_token.as_bytes()).to_vec() };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

impl TokenService {
    /// Makes sure an RS256 key is active, generating one the first time (on this instance
    /// or another: the database keeps one active key per algorithm).
    pub async fn ensure_rsa(&self) -> anyhow::Result<()> {
        if self.ring().0.active_rsa.is_some() {
            return Ok(());
        }
        let mut last_failure = self.rsa_generation.lock().await;
        if let Some(failed) = *last_failure
            && failed.elapsed() < super::tokens::RELOAD_ON_UNKNOWN_KID_EVERY
        {
            anyhow::bail!("the RS256 key could not be made a moment ago");
        }
        let made = self.make_rsa().await;
        *last_failure = made.is_err().then(std::time::Instant::now);
        made
    }

    async fn make_rsa(&self) -> anyhow::Result<()> {
        self.reload().await?;
        if self.ring().0.active_rsa.is_some() {
            return Ok(());
        }
        let key = tokio::task::spawn_blocking(generate_rsa_key).await??;
        self.store.add_signing_key(key, false).await?;
        self.reload().await?;
        Ok(())
    }

    /// Signs an ID token with the algorithm the client registered for.
    pub async fn sign_id_token(&self, claims: &IdClaims, alg: &str) -> anyhow::Result<String> {
        let rsa = alg != EDDSA;
        if rsa {
            self.ensure_rsa().await?;
        }
        let (ring, _) = self.ring();
        let active = if rsa { ring.active_rsa.as_ref() } else { ring.active.as_ref() };
        let active = active.ok_or_else(|| anyhow::anyhow!("no active {alg} key"))?;
        let mut header = Header::new(if rsa { Algorithm::RS256 } else { Algorithm::EdDSA });
        header.typ = Some("JWT".into());
        header.kid = Some(active.kid.clone());
        active.sign(&header, claims)
    }

    /// An ID token this server signed, expired or not (a logout's `id_token_hint` is often
    /// old); `None` for anything else.
    pub async fn read_id_token_hint(&self, token: &str) -> Option<IdClaims> {
        if token.len() > super::tokens::MAX_TOKEN_BYTES {
            return None;
        }
        let header = jsonwebtoken::decode_header(token).ok()?;
        let (algorithm, key) = self.verifier_for(header.kid.as_deref()?).await.ok()?;
        if header.alg != algorithm {
            return None;
        }
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&self.issuer]);
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["iss", "sub", "aud"]);
        jsonwebtoken::decode::<IdClaims>(token, &key, &validation).ok().map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_is_the_left_half_of_the_algorithms_hash_in_base64url() {
        // OpenID Connect Core's example in §A.3: this access token's RS256 at_hash.
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y", "RS256"), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(at_hash("token", "EdDSA").len(), 43);
    }
}
