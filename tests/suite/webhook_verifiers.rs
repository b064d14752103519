//! Deliveries verified by libraries nobody here wrote: tests/webhooks/receiver.py checks
//! each one with PyPI's `standardwebhooks` (the Standard Webhooks reference) and `svix`.
//!
//! It runs on a Python with both: GATEHOUSE_WEBHOOK_PYTHON, else `target/oidc-venv/bin/python`
//! (scripts/test-deps.sh installs tests/webhooks/requirements.txt there). Without one the
//! test says so and skips; under CI=true that is a failure.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

use crate::common::TestApp;

fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("GATEHOUSE_WEBHOOK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oidc-venv/bin/python"));
    let ready =
        std::process::Command::new(&candidate).args(["-c", "import standardwebhooks, svix"]).output().is_ok_and(|o| o.status.success());
    if ready {
        return Some(candidate);
    }
    assert!(std::env::var("CI").is_err(), "CI=true: {} must have standardwebhooks and svix (scripts/test-deps.sh)", candidate.display());
    eprintln!("\n*** SKIPPED: no Python with standardwebhooks and svix at {}; run scripts/test-deps.sh ***\n", candidate.display());
    None
}

/// The Python receiver, killed when dropped.
struct PyReceiver {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    url: String,
    secrets: PathBuf,
    _dir: tempfile::TempDir,
}

impl PyReceiver {
    async fn start(python: &PathBuf) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let secrets = dir.path().join("secrets.json");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/webhooks/receiver.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(&secrets)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the Python receiver starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await.expect("it listens in time").expect("a line");
        let port = first.and_then(|l| l.strip_prefix("listening ").map(str::to_string)).expect("`listening PORT`");
        Self { child, lines, url: format!("http://127.0.0.1:{port}/hook"), secrets, _dir: dir }
    }

    fn set_secrets(&self, secrets: &Value) {
        std::fs::write(&self.secrets, secrets.to_string()).expect("secrets written");
    }

    /// The next delivery of this type, as the receiver judged it.
    async fn next(&mut self, kind: &str) -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(15), self.lines.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {kind} delivery in time"))
                .expect("a line")
                .expect("the receiver runs");
            let verdict: Value = serde_json::from_str(&line).expect("a JSON line");
            if verdict["type"] == kind {
                return verdict;
            }
        }
    }
}

impl Drop for PyReceiver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

#[tokio::test]
async fn standardwebhooks_and_svix_verify_every_delivery_refuse_a_wrong_secret_and_take_either_secret_after_a_rotation() {
    let Some(python) = python() else { return };
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let mut receiver = PyReceiver::start(&python).await;
    let hook = app.add_webhook(&admin.access, &receiver.url, &["user.created", "user.deleted"]).await;
    let id = hook["id"].as_str().expect("id");
    let first = hook["secret"].as_str().expect("secret").to_string();
    let wrong = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    receiver.set_secrets(&json!({ "expect": first, "wrong": wrong }));

    let user = app.user("grace").await;
    let created = receiver.next("user.created").await;
    for library in ["standardwebhooks", "svix"] {
        assert_eq!(created[library]["expect"], true, "{library} verifies with the endpoint's secret: {created}");
        assert_eq!(created[library]["wrong"], false, "{library} refuses another secret: {created}");
    }

    let rotated: Value =
        app.post(&format!("/v1/webhooks/{id}/secret"), &json!({}), Some(&admin.access)).await.json().await.expect("rotated");
    let second = rotated["secret"].as_str().expect("new secret").to_string();
    receiver.set_secrets(&json!({ "expect": second, "old": first, "wrong": wrong }));
    app.delete(&format!("/v1/users/{}", user.id), Some(&admin.access)).await;
    let deleted = receiver.next("user.deleted").await;
    for library in ["standardwebhooks", "svix"] {
        assert_eq!(deleted[library]["expect"], true, "{library} verifies with the new secret: {deleted}");
        assert_eq!(deleted[library]["old"], true, "{library} verifies with the old secret during the overlap: {deleted}");
        assert_eq!(deleted[library]["wrong"], false, "{library} refuses another secret: {deleted}");
    }
}
