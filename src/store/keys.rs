//! Signing keys and server secrets, shared by every instance.

use chrono::{DateTime, Utc};

use super::codec::{MaybeTime, Time};
use super::db::{Lock, classify, on_db};
use super::{Store, StoreResult};

/// `Debug` shows everything but the private key.
#[derive(Clone, sqlx::FromRow)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    /// The Ed25519 seed, or the RSA key in PKCS#1 DER: never leaves the store except to sign.
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    /// When a newer key took over signing; `None` for the active key.
    #[sqlx(try_from = "MaybeTime")]
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

impl Store {
    pub async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        on_db!(&self.db, c => sqlx::query_as(
            "SELECT kid, algorithm, private_key, public_key, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid",
        )
        .fetch_all(&c.pool)
        .await
        .map_err(classify))
    }

    /// Adds a signing key; with `retire_active` the current one of its algorithm is retired
    /// first, otherwise the key is added only when none of its algorithm is active (first
    /// start of several instances).
    pub async fn add_signing_key(&self, key: SigningKeyRecord, retire_active: bool) -> StoreResult<()> {
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            if retire_active {
                tx.lock(Lock::SigningKeys).await?;
                sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL AND algorithm = $2")
                    .bind(Time(key.created_at))
                    .bind(&key.algorithm)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
            }
            sqlx::query(
                "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(&key.kid)
            .bind(&key.algorithm)
            .bind(&key.private_key)
            .bind(&key.public_key)
            .bind(Time(key.created_at))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            tx.commit().await
        })
    }

    /// Returns the named server secret, storing `candidate` when there is none yet.
    pub async fn server_secret(&self, name: &str, candidate: &[u8]) -> StoreResult<Vec<u8>> {
        on_db!(&self.db, c => {
            sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(name)
                .bind(candidate)
                .execute(&c.pool)
                .await
                .map_err(classify)?;
            sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1").bind(name).fetch_one(&c.pool).await.map_err(classify)
        })
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
