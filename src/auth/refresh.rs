//! Refresh token material: opaque 256-bit random strings, stored only as SHA-256 hashes.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh refresh token: 32 random bytes, base64url.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The token that replaces `parent` at rotation: HMAC-SHA256 of the parent under a server
/// secret. Deriving it (rather than drawing it at random) lets every request that presents
/// the parent inside the grace window get the very same successor, on any instance, while
/// only hashes are stored; without the secret nobody can compute it from a stolen parent.
pub fn successor(secret: &[u8], parent: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(parent.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// Compares two token hashes in constant time.
pub fn same_hash(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// A refresh token is 43 base64url characters; anything else cannot be one of ours.
pub fn looks_valid(token: &str) -> bool {
    token.len() == 43 && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successors_are_deterministic_per_secret_and_look_like_tokens() {
        let parent = new_token();
        assert!(looks_valid(&parent));
        let child = successor(b"secret-one", &parent);
        assert_eq!(child, successor(b"secret-one", &parent));
        assert_ne!(child, successor(b"secret-two", &parent));
        assert!(looks_valid(&child));
        assert!(same_hash(&hash(&child), &hash(&child)));
        assert!(!same_hash(&hash(&child), &hash(&parent)));
    }
}
