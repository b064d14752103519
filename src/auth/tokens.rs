//! Access tokens: RFC 9068-shaped JWTs, EdDSA by default or HS256 with a shared secret.
//! Verification pins the algorithm, issuer and audience and refuses anything unusual in the
//! header (RFC 8725).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::keys::{KeyRing, generate_key};
use super::verified::VerifiedCache;
use crate::domain::org::OrgClaim;
use crate::store::{DynStore, StoreResult};

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_BYTES: usize = 4096;
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
/// A token with an unknown `kid` reloads the keys at most this often (a new key made by
/// another instance), so that forged `kid`s cannot hammer the database.
pub(super) const RELOAD_ON_UNKNOWN_KID_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: Uuid,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: Uuid,
    pub sid: Uuid,
    pub roles: Vec<String>,
    pub username: String,
    /// The OpenID Connect client the token was issued to; none for the API's own logins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The same client, as OpenID Connect names the party a token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// The scopes granted to that client, space-separated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The session's active org and the user's roles in it; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<OrgClaim>,
}

impl AccessClaims {
    /// The id of the org the token names, which the session check holds it to.
    pub fn org_id(&self) -> Option<Uuid> {
        self.org.as_ref().map(|o| o.id)
    }
}

/// A token a confidential client holds for itself (`client_credentials`): no user, no
/// session, so the account API (which reads a `sid`) never takes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClientClaims {
    pub iss: String,
    /// The client's `client_id` (RFC 9068 §2.2: the subject is the client itself).
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: Uuid,
    pub client_id: String,
    #[serde(default)]
    pub azp: String,
    pub scope: String,
}

/// The OpenID Connect client and scope an access token is issued for, and its audience:
/// one of the client's resources (RFC 8707), else the client itself. Never the account
/// API's audience, so a token given to one app passes neither another app nor the API.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    pub client_id: &'a str,
    pub scope: &'a str,
    pub resource: Option<&'a str>,
}

impl Grant<'_> {
    pub fn audience(&self) -> &str {
        self.resource.unwrap_or(self.client_id)
    }
}

/// Access tokens are signed with the ring's Ed25519 key unless GATEHOUSE_JWT_SECRET is set;
/// ID tokens always with the ring (a shared secret cannot be published to clients).
struct Hs256 {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub struct TokenService {
    verified: VerifiedCache,
    ring: RwLock<(Arc<KeyRing>, Instant)>,
    hs256: Option<Hs256>,
    /// One RSA key generation at a time on this instance, and when the last one failed
    /// (the database away): no new try for a while, so an outage is not hammered.
    pub(super) rsa_generation: tokio::sync::Mutex<Option<Instant>>,
    pub(super) store: DynStore,
    validation: Validation,
    /// As `validation`, for tokens issued to clients: their audience is the client's own.
    granted_validation: Validation,
    pub(super) issuer: String,
    audience: String,
    access_ttl: Duration,
}

/// Why a token was refused; callers answer 401 alike for each, this is for logs only.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token refused: {0}")]
    Refused(&'static str),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl TokenService {
    /// Loads (and on first start creates) the signing keys.
    pub async fn new(
        store: DynStore,
        issuer: String,
        audience: String,
        access_ttl: Duration,
        hs256_secret: Option<&str>,
    ) -> anyhow::Result<Self> {
        if !store.signing_keys().await?.iter().any(|k| k.retired_at.is_none()) {
            store.add_signing_key(generate_key(), false).await?;
        }
        let hs256 = hs256_secret.map(|secret| Hs256 {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        });
        let algorithm = if hs256.is_some() { Algorithm::HS256 } else { Algorithm::EdDSA };
        let ring = RwLock::new((Arc::new(load_ring(&store, access_ttl).await?), Instant::now()));
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[&issuer]);
        validation.set_audience(&[&audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        let mut granted_validation = validation.clone();
        granted_validation.validate_aud = false;
        Ok(Self {
            verified: VerifiedCache::new(),
            ring,
            hs256,
            rsa_generation: tokio::sync::Mutex::new(None),
            store,
            validation,
            granted_validation,
            issuer,
            audience,
            access_ttl,
        })
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// GATEHOUSE_ISSUER: `iss` of every token, and the OpenID Connect issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Re-reads the keys table: another instance may have rotated.
    pub async fn reload(&self) -> StoreResult<()> {
        let fresh = load_ring(&self.store, self.access_ttl).await?;
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = (Arc::new(fresh), Instant::now());
        Ok(())
    }

    pub(super) fn ring(&self) -> (Arc<KeyRing>, Instant) {
        let guard = self.ring.read().unwrap_or_else(|e| e.into_inner());
        (guard.0.clone(), guard.1)
    }

    /// The JWK set of public keys: the Ed25519 and RSA keys, never a shared secret.
    pub fn jwks(&self) -> Value {
        self.ring().0.jwks.clone()
    }

    /// Signs an access token for a session that ends at `session_end`; answers the token
    /// and its lifetime in seconds. `exp` is `now + access_ttl`, but never past the session's
    /// end (rounded down to the second), so no token outlives its session.
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        username: &str,
        roles: &[String],
        session_end: DateTime<Utc>,
    ) -> anyhow::Result<(String, u64)> {
        self.issue_granted(user_id, session_id, username, roles, session_end, None, None)
    }

    /// [`Self::issue`] for an OpenID Connect client (the token names the client and scope),
    /// and with the session's active org.
    #[allow(clippy::too_many_arguments)]
    pub fn issue_granted(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        username: &str,
        roles: &[String],
        session_end: DateTime<Utc>,
        grant: Option<Grant<'_>>,
        org: Option<&OrgClaim>,
    ) -> anyhow::Result<(String, u64)> {
        let now = Utc::now().timestamp();
        let exp = (now + self.access_ttl.as_secs() as i64).min(session_end.timestamp());
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: user_id,
            aud: grant.map_or_else(|| self.audience.clone(), |g| g.audience().to_string()),
            exp,
            iat: now,
            nbf: now,
            jti: Uuid::now_v7(),
            sid: session_id,
            roles: roles.to_vec(),
            username: username.to_string(),
            client_id: grant.map(|g| g.client_id.to_string()),
            azp: grant.map(|g| g.client_id.to_string()),
            scope: grant.map(|g| g.scope.to_string()),
            org: org.cloned(),
        };
        Ok((self.sign_access(&claims)?, (exp - now).max(0).unsigned_abs()))
    }

    /// An access token for a confidential client acting as itself, for `resource` or the
    /// client itself; answers it and its lifetime.
    pub fn issue_for_client(&self, client_id: &str, scope: &str, resource: Option<&str>) -> anyhow::Result<(String, u64)> {
        let now = Utc::now().timestamp();
        let ttl = self.access_ttl.as_secs() as i64;
        let claims = ClientClaims {
            iss: self.issuer.clone(),
            sub: client_id.to_string(),
            aud: resource.unwrap_or(client_id).to_string(),
            exp: now + ttl,
            iat: now,
            nbf: now,
            jti: Uuid::now_v7(),
            client_id: client_id.to_string(),
            azp: client_id.to_string(),
            scope: scope.to_string(),
        };
        Ok((self.sign_access(&claims)?, ttl.unsigned_abs()))
    }

    fn sign_access(&self, claims: &impl Serialize) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some(ACCESS_TOKEN_TYP.to_string());
        Ok(match &self.hs256 {
            Some(hs256) => {
                header.alg = Algorithm::HS256;
                jsonwebtoken::encode(&header, claims, &hs256.encoding)?
            }
            None => {
                let (ring, _) = self.ring();
                let active = ring.active.as_ref().ok_or_else(|| anyhow::anyhow!("no active signing key"))?;
                header.kid = Some(active.kid.clone());
                active.sign(&header, claims)?
            }
        })
    }

    /// A token of the account API: GATEHOUSE_AUDIENCE, and never one issued to a client.
    pub async fn verify(&self, token: &str) -> Result<Arc<AccessClaims>, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Refused("oversized"));
        }
        let now = Utc::now().timestamp();
        if let Some(claims) = self.verified.get(token, now) {
            return Ok(claims);
        }
        let claims = Arc::new(self.verify_uncached(token).await?);
        // Until `exp` only, without the leeway: a remembered token never outlives its first check.
        if claims.exp > now {
            self.verified.insert(token, claims.clone(), now);
        }
        Ok(claims)
    }

    async fn verify_uncached(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.decode_access(token, &self.validation).await?;
        if claims.client_id.is_some() {
            return Err(TokenError::Refused("a client's token"));
        }
        Ok(claims)
    }

    /// A user's token that a client holds (/oauth/token), for the provider's own endpoints
    /// (userinfo, revocation, introspection): checked like an access token, but its
    /// audience is the client's, which the caller compares.
    pub async fn verify_granted(&self, token: &str) -> Result<AccessClaims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Refused("oversized"));
        }
        let claims: AccessClaims = self.decode_access(token, &self.granted_validation).await?;
        if claims.client_id.is_none() || claims.aud == self.audience {
            return Err(TokenError::Refused("not a client's token"));
        }
        Ok(claims)
    }

    /// A client's own token (`client_credentials`), checked like [`Self::verify_granted`].
    pub async fn verify_client_token(&self, token: &str) -> Result<ClientClaims, TokenError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::Refused("oversized"));
        }
        let claims: ClientClaims = self.decode_access(token, &self.granted_validation).await?;
        if claims.aud == self.audience {
            return Err(TokenError::Refused("not a client's token"));
        }
        Ok(claims)
    }

    async fn decode_access<T: serde::de::DeserializeOwned>(&self, token: &str, validation: &Validation) -> Result<T, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Refused("bad header"))?;
        if header.alg != self.validation.algorithms[0] {
            return Err(TokenError::Refused("algorithm"));
        }
        let typ_ok =
            header.typ.as_deref().is_some_and(|t| t.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) || t.eq_ignore_ascii_case("application/at+jwt"));
        if !typ_ok {
            return Err(TokenError::Refused("typ"));
        }
        // Keys are never fetched from where a token points, and no extension is understood.
        if header.jku.is_some() || header.jwk.is_some() || header.x5u.is_some() || header.x5c.is_some() || header.crit.is_some() {
            return Err(TokenError::Refused("key or extension header"));
        }
        let decoded = match &self.hs256 {
            Some(hs256) => jsonwebtoken::decode::<T>(token, &hs256.decoding, validation),
            None => {
                let kid = header.kid.as_deref().ok_or(TokenError::Refused("no kid"))?;
                let (algorithm, key) = self.verifier_for(kid).await?;
                if algorithm != Algorithm::EdDSA {
                    return Err(TokenError::Refused("not an access token key"));
                }
                jsonwebtoken::decode::<T>(token, &key, validation)
            }
        };
        decoded.map(|data| data.claims).map_err(|_| TokenError::Refused("signature or claims"))
    }

    pub(super) async fn verifier_for(&self, kid: &str) -> Result<(Algorithm, Arc<DecodingKey>), TokenError> {
        let (ring, loaded_at) = self.ring();
        if let Some(key) = ring.verifiers.get(kid) {
            return Ok(key.clone());
        }
        if loaded_at.elapsed() < RELOAD_ON_UNKNOWN_KID_EVERY {
            return Err(TokenError::Refused("unknown kid"));
        }
        self.reload().await?;
        let (ring, _) = self.ring();
        ring.verifiers.get(kid).cloned().ok_or(TokenError::Refused("unknown kid"))
    }
}

async fn load_ring(store: &DynStore, access_ttl: Duration) -> StoreResult<KeyRing> {
    let records = store.signing_keys().await?;
    let ttl = chrono::Duration::from_std(access_ttl).unwrap_or(chrono::Duration::MAX);
    Ok(KeyRing::build(&records, ttl, Utc::now()))
}
