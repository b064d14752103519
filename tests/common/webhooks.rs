//! A webhook receiver on loopback (an axum server in the test) that records every delivery
//! and answers the statuses it is told to, in turn; and helpers to register endpoints.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::TestApp;

/// One delivery as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    /// The status it was answered with.
    pub status: u16,
    /// When the request came in (before any hold).
    pub arrived: std::time::Instant,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }

    pub fn kind(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_string()
    }

    /// Whether one of the signatures is this secret's, over `id.timestamp.body`.
    pub fn signed_by(&self, secret: &str) -> bool {
        let key = STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_ prefix")).expect("base64 key");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("a key");
        mac.update(format!("{}.{}.{}", self.id, self.timestamp, self.body).as_bytes());
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.signature.split(' ').any(|s| s == expected)
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    /// Statuses to answer, first first; 200 once they run out.
    script: Vec<u16>,
    /// Requests being answered now, by webhook-id.
    in_flight: std::collections::HashMap<String, usize>,
    /// Times a webhook-id came while another request with it was being answered.
    overlaps: usize,
    /// How long each answer takes.
    delay: Duration,
}

pub struct Receiver {
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    /// While true, deliveries are held unanswered (a hanging endpoint).
    hang: tokio::sync::watch::Sender<bool>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answers 200 to everything.
    pub async fn start() -> Self {
        Self::answering(&[]).await
    }

    /// Answers these statuses in turn, then 200.
    pub async fn answering(script: &[u16]) -> Self {
        Self::serving(script, Duration::ZERO).await
    }

    /// Takes `delay` over each answer (200), counting overlapping deliveries of one event.
    pub async fn slow(delay: Duration) -> Self {
        Self::serving(&[], delay).await
    }

    async fn serving(script: &[u16], delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Mutex::new(Shared { script: script.to_vec(), delay, ..Shared::default() }));
        let state = shared.clone();
        let (hang, held) = tokio::sync::watch::channel(false);
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let (state, mut held) = (state.clone(), held.clone());
                async move {
                    let arrived = std::time::Instant::now();
                    while *held.borrow_and_update() {
                        let _ = held.changed().await;
                    }
                    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
                    let delay = {
                        let mut shared = state.lock().expect("lock");
                        let count = shared.in_flight.entry(header("webhook-id")).or_default();
                        *count += 1;
                        if *count > 1 {
                            shared.overlaps += 1;
                        }
                        shared.delay
                    };
                    tokio::time::sleep(delay).await;
                    let mut shared = state.lock().expect("lock");
                    if let Some(count) = shared.in_flight.get_mut(&header("webhook-id")) {
                        *count -= 1;
                    }
                    let status = if shared.script.is_empty() { 200 } else { shared.script.remove(0) };
                    shared.received.push(Received {
                        id: header("webhook-id"),
                        timestamp: header("webhook-timestamp"),
                        signature: header("webhook-signature"),
                        body: String::from_utf8_lossy(&body).into_owned(),
                        status,
                        arrived,
                    });
                    (StatusCode::from_u16(status).expect("a status"), "ok")
                }
            }),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared, hang, server }
    }

    /// Holds every delivery unanswered until [`Self::answer`] (an endpoint that hangs).
    pub fn hang(&self) {
        let _ = self.hang.send(true);
    }

    /// Answers held and new deliveries again.
    pub fn answer(&self) {
        let _ = self.hang.send(false);
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Deliveries of one event that overlapped in time.
    pub fn overlaps(&self) -> usize {
        self.shared.lock().expect("lock").overlaps
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().expect("lock").received.clone()
    }

    /// Waits up to `within` until `done` holds of the deliveries received; answers them.
    pub async fn wait_for(&self, within: Duration, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let until = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if done(&received) || tokio::time::Instant::now() >= until {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until a delivery of this type arrived; answers every one of that type.
    pub async fn wait_for_type(&self, kind: &str, within: Duration) -> Vec<Received> {
        let received = self.wait_for(within, |r| r.iter().any(|d| d.kind() == kind)).await;
        let of_kind: Vec<Received> = received.into_iter().filter(|d| d.kind() == kind).collect();
        assert!(
            !of_kind.is_empty(),
            "no {kind} delivery within {within:?}; got {:?}",
            self.received().iter().map(Received::kind).collect::<Vec<_>>()
        );
        of_kind
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestApp {
    /// A server that may deliver to loopback (GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE).
    pub async fn spawn_for_webhooks() -> Self {
        Self::spawn_with(|c| c.webhooks.webhooks_allow_private = true).await
    }

    /// Registers an endpoint for these events; answers its JSON (with `secret`).
    pub async fn add_webhook(&self, admin_token: &str, url: &str, events: &[&str]) -> Value {
        let res =
            self.post("/v1/webhooks", &json!({ "url": url, "events": events, "description": "test receiver" }), Some(admin_token)).await;
        assert_eq!(res.status(), reqwest::StatusCode::CREATED, "register a webhook");
        res.json().await.expect("webhook JSON")
    }
}
