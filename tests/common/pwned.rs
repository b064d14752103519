//! A local stand-in for the Pwned Passwords range API, and corpora in the layout of its
//! downloader: what the breached-password tests look passwords up in.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use sha1::{Digest, Sha1};

/// The upper-case hex SHA-1 of a password, split into its 5-digit prefix and the rest.
pub fn split_sha1(password: &str) -> (String, String) {
    let hex: String = Sha1::digest(password.as_bytes()).iter().map(|b| format!("{b:02X}")).collect();
    let (prefix, suffix) = hex.split_at(5);
    (prefix.to_string(), suffix.to_string())
}

/// The range file of `password`'s prefix: its suffix among others, and padding (count 0).
pub fn range_with(password: &str) -> (String, String) {
    let (prefix, suffix) = split_sha1(password);
    let body = format!("0018A45C4D1DEF81644B54AB7F969B88D65:3\r\n{suffix}:52\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n");
    (prefix, body)
}

/// Writes a corpus holding `passwords` (one `PREFIX.txt` file per prefix) into `dir`.
pub fn write_corpus(dir: &std::path::Path, passwords: &[&str]) {
    for password in passwords {
        let (prefix, body) = range_with(password);
        std::fs::write(dir.join(format!("{prefix}.txt")), body).expect("a range file");
    }
}

/// A range API on loopback that knows `breached` and waits `delay` before each answer.
pub struct RangeApi {
    pub base: String,
    /// Each request: its path and whether it asked for padding.
    pub requests: Arc<Mutex<Vec<(String, bool)>>>,
}

#[derive(Clone)]
struct Fixture {
    breached: Vec<String>,
    delay: Duration,
    requests: Arc<Mutex<Vec<(String, bool)>>>,
}

impl RangeApi {
    pub async fn start(breached: &[&str], delay: Duration) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let fixture = Fixture { breached: breached.iter().map(|p| p.to_string()).collect(), delay, requests: requests.clone() };
        let app = axum::Router::new().route("/range/{prefix}", axum::routing::get(range)).with_state(fixture);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { base, requests }
    }

    pub fn requests(&self) -> Vec<(String, bool)> {
        self.requests.lock().expect("lock").clone()
    }
}

async fn range(State(fixture): State<Fixture>, Path(prefix): Path<String>, headers: HeaderMap) -> String {
    let padded = headers.get("add-padding").and_then(|v| v.to_str().ok()) == Some("true");
    fixture.requests.lock().expect("lock").push((format!("/range/{prefix}"), padded));
    tokio::time::sleep(fixture.delay).await;
    let mut body = String::from("FFFFF0000000000000000000000000000AA:0\r\n");
    for password in &fixture.breached {
        let (p, lines) = range_with(password);
        if p == prefix {
            body.push_str(&lines);
        }
    }
    body
}
