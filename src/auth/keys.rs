//! Signing keys: Ed25519 pairs kept in the database, loaded into a ring that signs with the
//! newest and verifies with every key whose tokens may still be alive.

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

/// RFC 7638 JWK thumbprint of an Ed25519 public key.
fn thumbprint(public: &[u8]) -> String {
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, URL_SAFE_NO_PAD.encode(public));
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The 48-byte PKCS#8 v1 document (RFC 8410) that the signer takes for a 32-byte seed.
fn pkcs8_v1(seed: &[u8]) -> Vec<u8> {
    const PREFIX: [u8; 16] = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    [&PREFIX[..], seed].concat()
}

pub struct ActiveKey {
    pub kid: String,
    pub encoding: EncodingKey,
}

/// What one load of the keys table gives: the signer, the verifiers, the JWKS document.
pub struct KeyRing {
    pub active: Option<ActiveKey>,
    pub verifiers: HashMap<String, Arc<DecodingKey>>,
    pub jwks: Value,
}

impl KeyRing {
    /// Keys retired more than one access-token lifetime (plus the clock skew) ago can no longer
    /// have live tokens, so they leave the ring and the JWKS.
    pub fn build(records: &[SigningKeyRecord], access_ttl: Duration, now: DateTime<Utc>) -> Self {
        let horizon = now - access_ttl - Duration::seconds(60);
        let mut verifiers = HashMap::new();
        let mut jwks = Vec::new();
        let mut active = None;
        for key in records.iter().filter(|k| k.algorithm == EDDSA) {
            if key.retired_at.is_some_and(|retired| retired < horizon) {
                continue;
            }
            if key.retired_at.is_none() && active.is_none() && key.private_key.len() == 32 {
                active = Some(ActiveKey { kid: key.kid.clone(), encoding: EncodingKey::from_ed_der(&pkcs8_v1(&key.private_key)) });
            }
            verifiers.insert(key.kid.clone(), Arc::new(DecodingKey::from_ed_der(&key.public_key)));
            jwks.push(json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(&key.public_key),
                "kid": key.kid,
                "alg": EDDSA,
                "use": "sig",
            }));
        }
        Self { active, verifiers, jwks: json!({ "keys": jwks }) }
    }
}
