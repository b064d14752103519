//! Node's openid-client (tests/oidc/openid_client.js) signs a person in with Gatehouse
//! through the real browser: discovery, code flow with PKCE for a public client, the ID
//! token checked (signature, nonce, at_hash), userinfo, a refresh, a replayed code refused,
//! and the logout URL that then signs the browser out.
//!
//! openid-client comes from `target/oidc-node` (what .ci/run installs with npm), or
//! GATEHOUSE_OIDC_NODE_MODULES. Without it (or node) the test says so and skips; under
//! CI=true that is a failure.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use super::oidc::free_port;
use crate::common::browser;
use crate::common::{PASSWORD, TestApp};

fn node_modules() -> Option<PathBuf> {
    let dir = std::env::var_os("GATEHOUSE_OIDC_NODE_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oidc-node/node_modules"));
    let node = Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if node && dir.join("openid-client").is_dir() {
        return Some(dir);
    }
    assert!(std::env::var("CI").is_err(), "CI=true: node and openid-client in {} are required (.ci/run installs them)", dir.display());
    eprintln!("\n*** SKIPPED: no node or no openid-client in {}; `npm install openid-client@5` there ***\n", dir.display());
    None
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test]
async fn nodes_openid_client_signs_a_person_in_through_the_browser_checks_the_id_token_refreshes_and_logs_out() {
    let Some(browser) = browser::open().await else { return };
    let Some(modules) = node_modules() else { return };
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let port = free_port();
    let rp = app
        .register_rp(
            &admin,
            true,
            json!({
                "redirect_uris": [format!("http://127.0.0.1:{port}/cb")],
                "post_logout_redirect_uris": [format!("http://127.0.0.1:{port}/bye")],
            }),
        )
        .await;
    let alice = app.user("alice").await;
    let mut child = Command::new("node")
        .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/openid_client.js"))
        .env("NODE_PATH", &modules)
        .env("GATEHOUSE_URL", &app.base)
        .env("CLIENT_ID", &rp.client_id)
        .env("PORT", port.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node starts");
    let stdout = child.stdout.take().expect("stdout");
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let next = |line: Option<String>| -> Value { serde_json::from_str(&line.expect("the client printed a line")).expect("JSON") };
    let authorize = next(lines.recv().await)["authorize"].as_str().expect("an authorization URL").to_string();

    browser.goto(&authorize).await;
    browser.fill("username", "alice").await;
    browser.fill("password", PASSWORD).await;
    browser.press("Sign in").await;
    browser.press("Allow").await;
    let result = tokio::time::timeout(std::time::Duration::from_secs(30), lines.recv()).await.expect("the client finished");
    let result = next(result)["result"].clone();
    let _ = child.wait();

    assert_eq!(result["sub"], alice.id.as_str());
    assert_eq!(result["preferred_username"], "alice");
    assert_eq!(result["userinfo"]["sub"], alice.id.as_str());
    assert_eq!(result["refreshed"], true);
    assert_eq!(result["replay"], "invalid_grant");
    assert_eq!(result["iss_in_response"], app.issuer.as_str());
    assert!(result["nonce"].is_string());

    // Nothing listens at the client's post-logout URI any more: where the browser went is enough.
    let _ = browser.client.goto(result["logout"].as_str().expect("a logout URL")).await;
    assert!(browser.client.current_url().await.expect("url").as_str().starts_with(&format!("http://127.0.0.1:{port}/bye")));
    browser.goto(&app.url("/account")).await;
    assert!(browser.path().await.starts_with("/login"), "signed out of Gatehouse");
    browser.close().await;
}
