//! Helpers for the live view: the ids a token names, and a wait until a server answers a
//! session from memory.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use uuid::Uuid;

use super::admin::claims;
use super::{TestApp, TestUser};

/// The session id and user id an access token carries.
pub fn session_ids(user: &TestUser) -> (Uuid, Uuid) {
    let claims = claims(&user.access);
    let id = |name: &str| Uuid::parse_str(claims[name].as_str().expect("claim")).expect("uuid");
    (id("sid"), id("sub"))
}

impl TestApp {
    /// Asks /me until this server answers the session from memory (its view turns on once
    /// the server watches the database, a moment after it starts).
    pub async fn hold_in_memory(&self, user: &TestUser) {
        let (sid, sub) = session_ids(user);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert_eq!(self.get_me(&user.access).await.status(), StatusCode::OK);
            if self.state.store.live_view_holds(sid, sub) {
                return;
            }
            assert!(Instant::now() < deadline, "the server never held the session in memory");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
