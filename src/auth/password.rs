//! Password hashing with argon2id, off the async workers and behind a bound on concurrent
//! hashes, so that a flood of logins can neither starve other requests nor exhaust memory.

use std::sync::Arc;

use anyhow::Context;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version};
use tokio::sync::{OnceCell, Semaphore};

/// argon2id at OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Match { needs_rehash: bool },
    Mismatch,
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// A hash of a random password, checked for unknown users so that they cost the same.
    dummy: Arc<OnceCell<String>>,
}

impl PasswordHasher {
    /// `concurrency` hashes at most run at once (one per core is the useful maximum).
    pub fn new(concurrency: usize) -> Self {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("argon2 parameters are valid");
        Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            dummy: Arc::new(OnceCell::new()),
        }
    }

    /// One hash per core: more in parallel only adds memory, not throughput.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// `op` names the work in the metrics (`hash` or `verify`).
    async fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        work: impl FnOnce(&Argon2<'static>) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let waiting = crate::metrics::Waiting::start();
        let _permit = self.permits.acquire().await.context("hash semaphore closed")?;
        drop(waiting);
        let argon = self.argon.clone();
        let started = std::time::Instant::now();
        let done = tokio::task::spawn_blocking(move || work(&argon)).await.context("hash task failed");
        crate::metrics::password_hashed(op, started.elapsed());
        done
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.to_owned();
        self.run("hash", move |argon| argon.hash_password(password.as_bytes()).map(|h| h.to_string()))
            .await?
            .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))
    }

    /// Checks `password` against `stored` (argon2, or an imported legacy format, see
    /// [`super::legacy`]); with `None` (no such user) it checks against a
    /// dummy hash and answers `Mismatch`, in the same time.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<Verdict> {
        let (stored, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash().await?, false),
        };
        let password = password.to_owned();
        let expected = self.argon.params().clone();
        let verdict = self
            .run("verify", move |argon| {
                if !stored.starts_with("$argon2") {
                    // An imported hash of another algorithm: a match always rehashes.
                    return if super::legacy::verify(&password, &stored) {
                        Verdict::Match { needs_rehash: true }
                    } else {
                        Verdict::Mismatch
                    };
                }
                match PasswordHash::new(&stored) {
                    Ok(parsed) if argon.verify_password(password.as_bytes(), &parsed).is_ok() => {
                        Verdict::Match { needs_rehash: !is_current(&parsed, &expected) }
                    }
                    _ => Verdict::Mismatch,
                }
            })
            .await?;
        Ok(if real { verdict } else { Verdict::Mismatch })
    }

    async fn dummy_hash(&self) -> anyhow::Result<String> {
        self.dummy
            .get_or_try_init(|| async {
                let random: [u8; 16] = rand::random();
                self.hash(&hex(&random)).await
            })
            .await
            .cloned()
    }
}

/// True when the hash is argon2id with this server's parameters.
fn is_current(hash: &PasswordHash, expected: &Params) -> bool {
    hash.algorithm.as_str() == "argon2id"
        && Params::try_from(hash)
            .is_ok_and(|p| p.m_cost() == expected.m_cost() && p.t_cost() == expected.t_cost() && p.p_cost() == expected.p_cost())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
