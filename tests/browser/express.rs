//! examples/express (Node, openid-client) signs people in through the real browser with
//! the client its README registers, calls its own API with the access token, refreshes and
//! logs out: the same path as the Flask example, from another language's library.
//!
//! It runs on the machine's node with the example's packages in `target/oidc-node`
//! (scripts/test-deps.sh installs them); without them the test is ignored, and under
//! CI=true it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use super::oidc::{body_text, free_port, readme_client, wait_for_text};
use crate::common::browser;
use crate::common::{PASSWORD, TestApp};

/// The example's packages (express, express-session, openid-client, jose), or `None` after
/// saying why.
fn node_modules() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oidc-node/node_modules");
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if node && ["express", "express-session", "openid-client", "jose"].iter().all(|m| dir.join(m).is_dir()) {
        return Some(dir);
    }
    assert!(std::env::var("CI").is_err(), "CI=true: node and the Express example's packages in {} are required", dir.display());
    eprintln!("\n*** SKIPPED: no node or no Express example packages in {}; run scripts/test-deps.sh ***\n", dir.display());
    None
}

struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn the_express_example_signs_people_in_through_the_browser_calls_its_api_refreshes_and_logs_out() {
    let Some(browser) = browser::open().await else { return };
    let Some(modules) = node_modules() else { return };
    let app = TestApp::spawn().await;
    let port = free_port();
    let rp = readme_client(&app, "examples/express/README.md", 3000, port);
    let _example = Example(
        Command::new("node")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/express/app.js"))
            .env("NODE_PATH", &modules)
            .env("PORT", port.to_string())
            .env("GATEHOUSE_URL", &app.base)
            .env("CLIENT_ID", &rp.client_id)
            .env("CLIENT_SECRET", rp.secret.as_deref().expect("a confidential client"))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(&base).await.is_err() {
        assert!(Instant::now() < deadline, "the Express example did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let alice = app.user("alice").await;

    browser.goto(&format!("{base}/login")).await;
    assert!(browser.path().await.starts_with("/login?return_to=%2Foauth%2Fauthorize"));
    browser.fill("username", "alice").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
    assert!(body_text(&browser).await.contains("Express example wants to use your"), "the consent page");
    browser.press("Allow").await;
    let text = wait_for_text(&browser, "Signed in as alice").await;
    assert!(text.contains(&format!("Photos API: {}", alice.id)), "the access token verified against the JWKS: {text}");

    browser.goto(&format!("{base}/refresh")).await;
    wait_for_text(&browser, "Signed in as alice").await;
    let http = reqwest::Client::new();
    let res = http.get(format!("{base}/api/photos")).bearer_auth("not-a-token").send().await.expect("api");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let own: serde_json::Value =
        app.token_call("/oauth/token", &rp, &[("grant_type", "client_credentials")]).await.json().await.expect("tokens");
    let res = http.get(format!("{base}/api/photos")).bearer_auth(own["access_token"].as_str().expect("token")).send().await.expect("api");
    assert_eq!(res.status(), StatusCode::OK, "its own audience");

    browser.goto(&format!("{base}/logout")).await;
    wait_for_text(&browser, "Sign in with Gatehouse").await;
    browser.goto(&app.url("/account")).await;
    assert!(browser.path().await.starts_with("/login"), "signed out of Gatehouse");
    browser.close().await;
}
