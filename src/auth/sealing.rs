//! Sealing of secrets the database keeps but must not reveal (upstream providers' client
//! secrets): AES-256-GCM under a key that is never in the database, so a copy of the
//! database alone (a backup, a dump) does not give them away.
//!
//! The key is GATEHOUSE_SECRETS_KEY (64 hex characters), else the file
//! GATEHOUSE_SECRETS_KEY_FILE, made with 32 random bytes, readable by its owner only, the
//! first time a secret is sealed. Every instance sharing a database needs the same key.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};

/// A sealed value starts with this version byte, then the 96-bit nonce, then the ciphertext.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// Seals and opens secrets with the server's key, read (or made) at first use.
pub struct Sealer {
    configured: Option<[u8; 32]>,
    file: PathBuf,
    loaded: OnceLock<Aes256Gcm>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("file", &self.file).finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(configured: Option<[u8; 32]>, file: impl Into<PathBuf>) -> Self {
        Self { configured, file: file.into(), loaded: OnceLock::new() }
    }

    pub fn from_config(config: &crate::config::Config) -> Self {
        Self::new(config.secrets_key.as_ref().map(|k| k.0), config.secrets_key_file.clone())
    }

    fn cipher(&self) -> anyhow::Result<&Aes256Gcm> {
        if let Some(cipher) = self.loaded.get() {
            return Ok(cipher);
        }
        let key = match self.configured {
            Some(key) => key,
            None => read_or_make(&self.file)?,
        };
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|_| anyhow::anyhow!("a 32-byte key"))?;
        Ok(self.loaded.get_or_init(|| cipher))
    }

    /// Seals `secret`; `purpose` is bound to it (a value sealed for one use opens for no other).
    pub fn seal(&self, purpose: &str, secret: &str) -> anyhow::Result<Vec<u8>> {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = Nonce::try_from(&nonce_bytes[..]).map_err(|_| anyhow::anyhow!("a 12-byte nonce"))?;
        let payload = aes_gcm::aead::Payload { msg: secret.as_bytes(), aad: purpose.as_bytes() };
        let sealed = self.cipher()?.encrypt(&nonce, payload).map_err(|_| anyhow::anyhow!("sealing failed"))?;
        Ok([&[VERSION][..], &nonce_bytes, &sealed].concat())
    }

    /// Opens what [`Sealer::seal`] made with the same key and purpose.
    pub fn open(&self, purpose: &str, sealed: &[u8]) -> anyhow::Result<String> {
        if sealed.len() < 1 + NONCE_LEN || sealed[0] != VERSION {
            bail!("not a sealed value");
        }
        let nonce = Nonce::try_from(&sealed[1..=NONCE_LEN]).map_err(|_| anyhow::anyhow!("a 12-byte nonce"))?;
        let payload = aes_gcm::aead::Payload { msg: &sealed[1 + NONCE_LEN..], aad: purpose.as_bytes() };
        let plain = self
            .cipher()?
            .decrypt(&nonce, payload)
            .map_err(|_| anyhow::anyhow!("a sealed secret does not open with this server's key (GATEHOUSE_SECRETS_KEY or its file)"))?;
        String::from_utf8(plain).context("a sealed secret is not UTF-8")
    }
}

fn read_or_make(path: &Path) -> anyhow::Result<[u8; 32]> {
    if !path.exists() {
        let key: [u8; 32] = rand::random();
        crate::files::create_private_file(path).with_context(|| format!("cannot create the secrets key file {}", path.display()))?;
        // Another process may have made it first: write only into an empty file.
        if std::fs::metadata(path).map(|m| m.len()).unwrap_or(0) == 0 {
            std::fs::write(path, hex::encode(key)).with_context(|| format!("cannot write the secrets key file {}", path.display()))?;
            tracing::info!(file = %path.display(), "made a new key for sealing secrets; keep it with the database's backups");
        }
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the secrets key file {}", path.display()))?;
    crate::config::SecretsKey::parse(&text).map(|k| k.0).map_err(|why| anyhow::anyhow!("the secrets key file {}: {why}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_and_purpose_only() {
        let sealer = Sealer::new(Some([7; 32]), "unused");
        let sealed = sealer.seal("provider:a", "s3cret").expect("sealed");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(sealer.open("provider:a", &sealed).expect("opens"), "s3cret");
        assert!(sealer.open("provider:b", &sealed).is_err(), "another purpose");
        assert!(Sealer::new(Some([8; 32]), "unused").open("provider:a", &sealed).is_err(), "another key");
    }

    #[test]
    fn a_key_file_is_made_once_readable_by_its_owner_only_and_read_again() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("secrets.key");
        let sealed = Sealer::new(None, &file).seal("p", "x").expect("sealed");
        assert_eq!(crate::files::shared_mode(&file), None, "owner only");
        assert_eq!(Sealer::new(None, &file).open("p", &sealed).expect("opens with the kept key"), "x");
    }
}
