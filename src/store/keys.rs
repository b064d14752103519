//! The signing keys as the store keeps them.

use chrono::{DateTime, Utc};

/// `Debug` shows everything but the private key.
#[derive(Clone)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    /// The Ed25519 seed: never leaves the store except to sign.
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// When a newer key took over signing; `None` for the active key.
    pub retired_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .field("private_key", &"***")
            .field("public_key", &self.public_key)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_debug_form_of_a_signing_key_hides_the_private_key() {
        let key = crate::auth::keys::generate_key();
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.kid));
        assert!(!shown.contains(&format!("{:?}", key.private_key)), "{shown}");
        assert!(shown.contains("***"));
    }
}
