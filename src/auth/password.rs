//! Password hashing with argon2id, off the async workers and behind a bound on concurrent
//! hashes, so that a flood of logins can neither starve other requests nor exhaust memory.
//!
//! Each slot reuses one 19 MiB block buffer: allocating it per hash let the allocator keep
//! a freed buffer per blocking thread (hundreds of MiB under load); reused, the hashing
//! memory is at most `concurrency` x 19 MiB, allocated on first use. A slot stays taken
//! until its hash ends, even when the request that asked for it is gone.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, PasswordVerifier as _, Version};
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, Semaphore};

/// argon2id at OWASP's first recommended setting: 19 MiB, 2 passes, 1 lane.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;
/// Bytes of salt and of hash output in new hashes.
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// The argon2 working memory of one hashing slot.
type Memory = Vec<Block>;

/// What `password_hash` holds for an account without a password (one made by a sign-up
/// code): no password matches it, and checking one costs what an unknown user's costs.
pub const NO_PASSWORD: &str = "";

/// Whether a stored hash is a password (not [`NO_PASSWORD`]).
pub fn has_password(stored: &str) -> bool {
    stored != NO_PASSWORD
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Match { needs_rehash: bool },
    Mismatch,
}

/// What the hashing slots hold, for /metrics and for tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLoad {
    pub slots: usize,
    /// Hashes computing now.
    pub running: usize,
    /// The most hashes ever computing at once.
    pub peak_running: usize,
    /// Argon2 working buffers allocated (in use or spare).
    pub buffers: usize,
}

#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    slots: usize,
    permits: Arc<Semaphore>,
    /// Working memory of the slots not in use (at most one per slot).
    memory: Arc<Mutex<Vec<Memory>>>,
    counts: Arc<Counts>,
    /// A hash of a random password, checked for unknown users so that they cost the same.
    dummy: Arc<OnceCell<String>>,
}

#[derive(Default)]
struct Counts {
    running: AtomicUsize,
    peak_running: AtomicUsize,
    buffers: AtomicUsize,
}

impl PasswordHasher {
    /// `concurrency` hashes at most run at once (one per core is the useful maximum).
    pub fn new(concurrency: usize) -> Self {
        let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("argon2 parameters are valid");
        let slots = concurrency.max(1);
        Self {
            argon: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            slots,
            permits: Arc::new(Semaphore::new(slots)),
            memory: Arc::new(Mutex::new(Vec::with_capacity(slots))),
            counts: Arc::default(),
            dummy: Arc::new(OnceCell::new()),
        }
    }

    /// One hash per core: more in parallel only adds memory, not throughput.
    pub fn for_this_machine() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// The slots, the hashes computing and the buffers they hold, now and at the peak.
    pub fn load(&self) -> HashLoad {
        HashLoad {
            slots: self.slots,
            running: self.counts.running.load(Ordering::SeqCst),
            peak_running: self.counts.peak_running.load(Ordering::SeqCst),
            buffers: self.counts.buffers.load(Ordering::SeqCst),
        }
    }

    /// `op` names the work in the metrics (`hash` or `verify`).
    async fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        work: impl FnOnce(&Argon2<'static>, &mut Memory) -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let waiting = crate::metrics::Waiting::start();
        // The permit goes into the blocking task: a caller that goes away (a client hanging
        // up, a timeout) stops waiting, but its hash runs on and keeps the slot until it ends.
        let permit = self.permits.clone().acquire_owned().await.context("hash semaphore closed")?;
        drop(waiting);
        let argon = self.argon.clone();
        let pool = self.memory.clone();
        let counts = self.counts.clone();
        let slots = self.slots;
        let started = std::time::Instant::now();
        let done = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let _running = Running::start(&counts);
            let spare = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let mut memory = spare.unwrap_or_else(|| {
                counts.buffers.fetch_add(1, Ordering::SeqCst);
                vec![Block::new(); argon.params().block_count()]
            });
            let result = work(&argon, &mut memory);
            let mut spares = pool.lock().unwrap_or_else(|e| e.into_inner());
            if spares.len() < slots {
                spares.push(memory);
            } else {
                counts.buffers.fetch_sub(1, Ordering::SeqCst);
            }
            result
        })
        .await
        .context("hash task failed");
        crate::metrics::password_hashed(op, started.elapsed());
        done
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.to_owned();
        self.run("hash", move |argon, memory| hash_with(argon, memory, password.as_bytes())).await?
    }

    /// Checks `password` against `stored` (argon2, or an imported legacy format, see
    /// [`super::legacy`]); with `None` (no such user) it checks against a
    /// dummy hash and answers `Mismatch`, in the same time.
    ///
    /// A stored hash beyond the work factor bounds ([`super::legacy::check_work_factor`]) is
    /// never computed: it is checked like an unknown user's, so it answers `Mismatch`.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> anyhow::Result<Verdict> {
        let stored = stored.filter(|hash| has_password(hash)).filter(|hash| match super::legacy::check_work_factor(hash) {
            Ok(()) => true,
            Err(why) => {
                tracing::warn!(reason = %why, "stored password hash not verified: its work factor is beyond the bounds; the login fails");
                false
            }
        });
        let (stored, real) = match stored {
            Some(hash) => (hash.to_owned(), true),
            None => (self.dummy_hash().await?, false),
        };
        let password = password.to_owned();
        let expected = self.argon.params().clone();
        let verdict = self
            .run("verify", move |argon, memory| {
                if !stored.starts_with("$argon2") {
                    // An imported hash of another algorithm: a match always rehashes.
                    return if super::legacy::verify(&password, &stored) {
                        Verdict::Match { needs_rehash: true }
                    } else {
                        Verdict::Mismatch
                    };
                }
                let Ok(parsed) = PasswordHash::new(&stored) else { return Verdict::Mismatch };
                let matches = if is_current(&parsed, &expected) {
                    verify_with(argon, memory, password.as_bytes(), &parsed)
                } else {
                    // Other parameters (an imported hash): argon2's own path, then a rehash.
                    argon.verify_password(password.as_bytes(), &parsed).is_ok()
                };
                if matches { Verdict::Match { needs_rehash: !is_current(&parsed, &expected) } } else { Verdict::Mismatch }
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

/// Counts a hash computing while it lives, in the hasher and in /metrics.
struct Running<'a>(&'a Counts);

impl<'a> Running<'a> {
    fn start(counts: &'a Counts) -> Self {
        let now = counts.running.fetch_add(1, Ordering::SeqCst) + 1;
        counts.peak_running.fetch_max(now, Ordering::SeqCst);
        crate::metrics::hash_running(1.0);
        Self(counts)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::SeqCst);
        crate::metrics::hash_running(-1.0);
    }
}

/// A new PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) computed in `memory`.
fn hash_with(argon: &Argon2<'static>, memory: &mut Memory, password: &[u8]) -> anyhow::Result<String> {
    let salt: [u8; SALT_LEN] = rand::random();
    let mut out = [0u8; OUTPUT_LEN];
    argon.hash_password_into_with_memory(password, &salt, &mut out, memory.as_mut_slice()).map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| anyhow::anyhow!("argon2 params: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("argon2 salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("argon2 output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Recomputes a hash made with this server's parameters in `memory`; compares in constant time.
fn verify_with(argon: &Argon2<'static>, memory: &mut Memory, password: &[u8], stored: &PasswordHash) -> bool {
    let (Some(salt), Some(expected)) = (&stored.salt, &stored.hash) else { return false };
    let mut out = vec![0u8; expected.len()];
    argon.hash_password_into_with_memory(password, salt.as_ref(), &mut out, memory.as_mut_slice()).is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
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
