//! "Sign in with Gatehouse" driven by clients nobody here wrote: the Flask example of
//! examples/flask (authlib) signs people in through the real browser, consent and TOTP
//! included, verifies the ID token (signature, nonce, at_hash), reads userinfo, refreshes,
//! protects its API with Gatehouse's access tokens, and logs out (RP-initiated).
//!
//! The example runs on a Python with authlib and Flask: GATEHOUSE_OIDC_PYTHON, else
//! `target/oidc-venv/bin/python` (what .ci/run makes). Without one the test says so and
//! skips; under CI=true that is a failure.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::common::browser::{self, Browser};
use crate::common::mfa::{code_at, fresh_step};
use crate::common::oidc::Rp;
use crate::common::{PASSWORD, TestApp};

/// A Python that has the example's requirements, or `None` after saying why.
pub fn python() -> Option<PathBuf> {
    let candidate = std::env::var_os("GATEHOUSE_OIDC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oidc-venv/bin/python"));
    let ready = Command::new(&candidate).args(["-c", "import authlib, flask, requests"]).output().is_ok_and(|o| o.status.success());
    if ready {
        return Some(candidate);
    }
    assert!(std::env::var("CI").is_err(), "CI=true: {} must have authlib, flask and requests (.ci/run makes it)", candidate.display());
    eprintln!("\n*** SKIPPED: no Python with authlib and Flask at {}; see examples/flask/README.md ***\n", candidate.display());
    None
}

/// The example app, running until dropped.
pub struct Example {
    child: Child,
    pub base: String,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Example {
    pub async fn start(python: &PathBuf, app: &TestApp, rp: &Rp, port: u16) -> Self {
        let child = Command::new(python)
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/flask/app.py"))
            .env("PORT", port.to_string())
            .env("GATEHOUSE_URL", &app.base)
            .env("CLIENT_ID", &rp.client_id)
            .env("CLIENT_SECRET", rp.secret.as_deref().expect("a confidential client"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the example starts");
        let example = Self { child, base: format!("http://127.0.0.1:{port}") };
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(&example.base).await.is_err() {
            assert!(Instant::now() < deadline, "the Flask example did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        example
    }
}

/// The `client create` command of an example's README, run as written there (its example
/// port swapped for this test's) against the test server's database; answers the client
/// it printed.
pub fn readme_client(app: &TestApp, readme: &str, example_port: u16, port: u16) -> Rp {
    let readme = std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(readme)).expect("README");
    let joined = readme.replace("\\\n", " ");
    let line = joined.lines().find(|l| l.contains("gatehouse client create")).expect("the README registers the client");
    let command = &line[line.find("client create").expect("the command")..];
    let args = shell_words(command.split('#').next().unwrap_or_default());
    let (theirs, ours) = (format!("127.0.0.1:{example_port}"), format!("127.0.0.1:{port}"));
    let args: Vec<String> = args.into_iter().map(|a| a.replace(&theirs, &ours)).collect();
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(&args)
        .env("GATEHOUSE_DATABASE_URL", &app.database_url)
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .expect("gatehouse runs");
    assert!(out.status.success(), "the README's command: {}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the client as JSON");
    Rp {
        client_id: created["client_id"].as_str().expect("client_id").to_string(),
        secret: created["client_secret"].as_str().map(str::to_string),
    }
}

/// Splits a shell command line on spaces, keeping double-quoted words whole.
pub fn shell_words(line: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

pub async fn body_text(browser: &Browser) -> String {
    browser.client.find(fantoccini::Locator::Css("body")).await.expect("a body").text().await.expect("its text")
}

pub async fn wait_for_text(browser: &Browser, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = body_text(browser).await;
        if text.contains(needle) {
            return text;
        }
        assert!(Instant::now() < deadline, "never saw {needle:?}; the page says: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_flask_example_signs_people_in_through_the_browser_with_consent_and_totp_refreshes_calls_its_api_and_logs_out() {
    let Some(browser) = browser::open().await else { return };
    let Some(python) = python() else { return };
    let app = TestApp::spawn().await;
    let port = free_port();
    let rp = readme_client(&app, "examples/flask/README.md", 5000, port);
    let example = Example::start(&python, &app, &rp, port).await;
    let alice = app.user("alice").await;

    // Sign in: the example sends the browser to the sign-in page, then the consent page.
    browser.goto(&format!("{}/login", example.base)).await;
    assert!(browser.path().await.starts_with("/login?return_to=%2Foauth%2Fauthorize"));
    browser.fill("username", "alice").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
    assert!(body_text(&browser).await.contains("Flask example wants to use your"), "the consent page");
    browser.press("Allow").await;
    let text = wait_for_text(&browser, "Signed in as alice").await;
    assert!(text.contains(&format!("Photos API: {}", alice.id)), "the access token verified against the JWKS: {text}");

    // A refresh through authlib, and the API with and without a valid token.
    browser.goto(&format!("{}/refresh", example.base)).await;
    wait_for_text(&browser, "Signed in as alice").await;
    let http = reqwest::Client::new();
    let res = http.get(format!("{}/api/photos", example.base)).bearer_auth("not-a-token").send().await.expect("api");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let own = app.token_call("/oauth/token", &rp, &[("grant_type", "client_credentials")]).await;
    let own: serde_json::Value = own.json().await.expect("tokens");
    let res = http
        .get(format!("{}/api/photos", example.base))
        .bearer_auth(own["access_token"].as_str().expect("token"))
        .send()
        .await
        .expect("api");
    assert_eq!(res.status(), StatusCode::OK);

    // RP-initiated logout ends the Gatehouse session too.
    browser.goto(&format!("{}/logout", example.base)).await;
    wait_for_text(&browser, "Sign in with Gatehouse").await;
    browser.goto(&app.url("/account")).await;
    assert!(browser.path().await.starts_with("/login"), "signed out of Gatehouse");

    // With TOTP on, the sign-in takes a code; the consent of alice is not bob's.
    let bob = app.mfa_user("bob").await;
    browser.goto(&format!("{}/login", example.base)).await;
    browser.fill("username", "bob").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
    browser.fill("code", &code_at(&bob.secret, fresh_step().await)).await;
    browser.press("Verify").await;
    browser.press("Allow").await;
    wait_for_text(&browser, "Signed in as bob").await;
    browser.close().await;
}
