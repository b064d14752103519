//! Signing keys kept in the database: Ed25519 pairs (access tokens, and ID tokens for
//! clients that ask for EdDSA) and RSA pairs (RS256 ID tokens), loaded into a ring that
//! signs with the newest of each and verifies with every key whose tokens may still be alive.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{DecodingKey, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::SigningKeyRecord;

pub const EDDSA: &str = "EdDSA";
pub const RS256: &str = "RS256";
/// RSA modulus size: 2048 bits, what RS256 verifiers everywhere take.
const RSA_BITS: usize = 2048;

/// A new Ed25519 key pair, named by its RFC 7638 thumbprint.
pub fn generate_key() -> SigningKeyRecord {
    let seed: [u8; 32] = rand::random();
    let public = SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    SigningKeyRecord {
        kid: thumbprint(&public),
        algorithm: EDDSA.to_string(),
        private_key: seed.to_vec(),
        public_key: public.to_vec(),
        created_at: Utc::now(),
        retired_at: None,
    }
}

/// A new RSA key pair (PKCS#1 DER), named by its RFC 7638 thumbprint. Takes a good part
/// of a second of CPU: call it off the async threads.
pub fn generate_rsa_key() -> anyhow::Result<SigningKeyRecord> {
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    let private = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)?;
    let public = private.to_public_key();
    let (n, e) = rsa_parts(&public);
    Ok(SigningKeyRecord {
        kid: URL_SAFE_NO_PAD.encode(Sha256::digest(format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#).as_bytes())),
        algorithm: RS256.to_string(),
        private_key: private.to_pkcs1_der()?.as_bytes().to_vec(),
        public_key: public.to_pkcs1_der()?.as_bytes().to_vec(),
        created_at: Utc::now(),
        retired_at: None,
    })
}

/// The base64url modulus and exponent of a public key, as a JWK carries them.
fn rsa_parts(public: &rsa::RsaPublicKey) -> (String, String) {
    use rsa::traits::PublicKeyParts;
    (URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()), URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()))
}

/// RFC 7638 JWK thumbprint of an Ed25519 public key.
fn thumbprint(public: &[u8]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, URL_SAFE_NO_PAD.encode(public));
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The JWK of a stored public key; `None` for a key this binary cannot read.
fn jwk(key: &SigningKeyRecord) -> Option<Value> {
    match key.algorithm.as_str() {
        EDDSA => Some(json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(&key.public_key),
            "kid": key.kid,
            "alg": EDDSA,
            "use": "sig",
        })),
        RS256 => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            let (n, e) = rsa_parts(&rsa::RsaPublicKey::from_pkcs1_der(&key.public_key).ok()?);
            Some(json!({ "kty": "RSA", "n": n, "e": e, "kid": key.kid, "alg": RS256, "use": "sig" }))
        }
        _ => None,
    }
}

/// The 48-byte PKCS#8 v1 document (RFC 8410) that the signer takes for a 32-byte seed.
fn pkcs8_v1(seed: &[u8]) -> Vec<u8> {
    const PREFIX: [u8; 16] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    [&PREFIX[..], seed].concat()
}

pub struct ActiveKey {
    pub kid: String,
    pub encoding: EncodingKey,
    /// The Ed25519 key itself: `jsonwebtoken::encode` derives it from `encoding` on every
    /// call (a base-point multiplication, a quarter of a refresh's work in callgrind).
    ed25519: Option<SigningKey>,
}

impl ActiveKey {
    fn ed25519(kid: &str, seed: &[u8; 32]) -> Self {
        Self { kid: kid.to_string(), encoding: EncodingKey::from_ed_der(&pkcs8_v1(seed)), ed25519: Some(SigningKey::from_bytes(seed)) }
    }

    /// The compact JWS of `claims` under `header`, as `jsonwebtoken::encode` makes it
    /// (Ed25519 signatures are deterministic: the same bytes, a unit test compares them).
    pub fn sign(&self, header: &jsonwebtoken::Header, claims: &impl serde::Serialize) -> anyhow::Result<String> {
        let Some(key) = &self.ed25519 else { return Ok(jsonwebtoken::encode(header, claims, &self.encoding)?) };
        anyhow::ensure!(header.alg == jsonwebtoken::Algorithm::EdDSA, "an Ed25519 key signs EdDSA tokens only");
        let message =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(header)?), URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?));
        let signature = ed25519_dalek::Signer::sign(key, message.as_bytes());
        Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes())))
    }
}

/// What one load of the keys table gives: the signers, the verifiers, the JWKS document.
pub struct KeyRing {
    /// The newest Ed25519 key.
    pub active: Option<ActiveKey>,
    /// The newest RSA key (made the first time an RS256 ID token or the JWKS needs one).
    pub active_rsa: Option<ActiveKey>,
    /// Every published key by `kid`, with its algorithm.
    pub verifiers: HashMap<String, (jsonwebtoken::Algorithm, Arc<DecodingKey>)>,
    pub jwks: Value,
}

impl KeyRing {
    /// Keys retired more than one access-token lifetime (plus the clock skew) ago can no longer
    /// have live tokens, so they leave the ring and the JWKS.
    pub fn build(records: &[SigningKeyRecord], access_ttl: Duration, now: DateTime<Utc>) -> Self {
        let horizon = now - access_ttl - Duration::seconds(60);
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        let (mut active, mut active_rsa) = (None, None);
        for key in records {
            if key.retired_at.is_some_and(|retired| retired < horizon) {
                continue;
            }
            let Some(public) = jwk(key) else { continue };
            let live = key.retired_at.is_none();
            let (algorithm, decoding) = if key.algorithm == EDDSA {
                if live
                    && active.is_none()
                    && let Ok(seed) = <&[u8; 32]>::try_from(key.private_key.as_slice())
                {
                    active = Some(ActiveKey::ed25519(&key.kid, seed));
                }
                (jsonwebtoken::Algorithm::EdDSA, DecodingKey::from_ed_der(&key.public_key))
            } else {
                if live && active_rsa.is_none() {
                    active_rsa =
                        Some(ActiveKey { kid: key.kid.clone(), encoding: EncodingKey::from_rsa_der(&key.private_key), ed25519: None });
                }
                (jsonwebtoken::Algorithm::RS256, DecodingKey::from_rsa_der(&key.public_key))
            };
            verifiers.insert(key.kid.clone(), (algorithm, Arc::new(decoding)));
            jwks.push(public);
        }
        Self { active, active_rsa, verifiers, jwks: json!({ "keys": jwks }) }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{Algorithm, Header};

    use super::*;

    #[test]
    fn a_held_ed25519_key_signs_the_very_token_jsonwebtoken_makes() {
        let key = ActiveKey::ed25519("k1", &[7; 32]);
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        header.typ = Some("at+jwt".into());
        let claims = json!({ "sub": "someone", "exp": 4_102_444_800_u64, "aud": ["a", "b"] });

        let token = key.sign(&header, &claims).expect("sign");

        assert_eq!(token, jsonwebtoken::encode(&header, &claims, &key.encoding).expect("encode"));
    }
}
