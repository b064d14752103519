//! Access tokens already verified, remembered until their `exp`.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use super::tokens::AccessClaims;

/// Verified tokens remembered, over all shards: a few MiB at most.
const VERIFIED_CAPACITY: usize = 4096;
const VERIFIED_SHARDS: usize = 16;

/// Tokens whose signature and claims were checked, until their `exp`: an Ed25519
/// verification is most of an authenticated request's CPU (callgrind: about 60% of /me).
/// Keyed by the whole token, so a hit is the very string that was verified. Only the
/// signature check is saved: the session check still runs against the database on every
/// request, so revocation stays immediate and shared by every instance.
pub(super) struct VerifiedCache {
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<Box<str>, Arc<AccessClaims>>>>,
}

impl VerifiedCache {
    pub(super) fn new() -> Self {
        Self { hasher: RandomState::new(), shards: (0..VERIFIED_SHARDS).map(|_| Mutex::new(HashMap::new())).collect() }
    }

    fn shard(&self, token: &str) -> &Mutex<HashMap<Box<str>, Arc<AccessClaims>>> {
        &self.shards[self.hasher.hash_one(token) as usize % VERIFIED_SHARDS]
    }

    pub(super) fn get(&self, token: &str, now: i64) -> Option<Arc<AccessClaims>> {
        let shard = self.shard(token).lock().unwrap_or_else(|e| e.into_inner());
        shard.get(token).filter(|claims| claims.exp > now).cloned()
    }

    pub(super) fn insert(&self, token: &str, claims: Arc<AccessClaims>, now: i64) {
        let mut shard = self.shard(token).lock().unwrap_or_else(|e| e.into_inner());
        if shard.len() >= VERIFIED_CAPACITY / VERIFIED_SHARDS {
            shard.retain(|_, c| c.exp > now);
            // Still full of live tokens: start the shard over rather than track recency.
            if shard.len() >= VERIFIED_CAPACITY / VERIFIED_SHARDS {
                shard.clear();
            }
        }
        shard.insert(token.into(), claims);
    }
}
