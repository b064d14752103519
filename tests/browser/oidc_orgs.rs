//! The `org` claim through the OpenID Connect flow, driven by authlib (a relying party
//! nobody here wrote): scope `organization` with `organization=SLUG` gives the ID token,
//! userinfo and access token the org and the person's roles in it; a non-member is sent
//! back with `access_denied`; someone in several orgs who names none gets a chooser page.
//! Runs on the Python of `super::oidc::python` (skips loudly without one, fails under CI);
//! the client runs as a blocking child process, so the server needs a thread of its own.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::admin::claims;
use crate::common::oidc::{REDIRECT_URI, Rp, query_param};
use crate::common::{TestApp, TestUser};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/org_client.py")
}

fn run(python: &PathBuf, args: &[&str]) -> Value {
    let out = Command::new(python).arg(script()).args(args).output().expect("the client runs");
    assert!(out.status.success(), "authlib client failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON from the client")
}

/// Alice owns acme and bobco's member; a first-party confidential client may ask for `organization`.
async fn setup(app: &TestApp) -> (TestUser, Rp, String) {
    let admin = app.admin("root").await;
    let alice = app.mail_verified_user("alice", "alice@example.com").await;
    let acme = app.org(&alice, "acme").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true, "scopes": ["openid", "profile", "email", "organization"] })).await;
    (alice, rp, acme)
}

fn start(python: &PathBuf, app: &TestApp, rp: &Rp, org: &str) -> Value {
    run(python, &["start", &app.issuer, &rp.client_id, rp.secret.as_deref().expect("secret"), REDIRECT_URI, org])
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authlib_client_gets_the_org_claim_in_the_id_token_userinfo_and_access_token() {
    let Some(python) = super::oidc::python() else { return };
    let app = TestApp::spawn().await;
    let (alice, rp, acme) = setup(&app).await;
    let agent = app.agent();
    agent.sign_in(&alice.username).await;

    let started = start(&python, &app, &rp, "acme");
    let path = started["url"].as_str().expect("url").strip_prefix(&app.base).expect("our authorize endpoint").to_string();
    let (_, callback, _) = agent.follow(&path).await;
    assert!(query_param(&callback, "code").is_some(), "a code in {callback}");
    let got = run(
        &python,
        &[
            "finish",
            &app.issuer,
            &rp.client_id,
            rp.secret.as_deref().expect("secret"),
            REDIRECT_URI,
            &callback,
            started["state"].as_str().expect("state"),
            started["verifier"].as_str().expect("verifier"),
        ],
    );

    let org = json!({ "id": acme, "slug": "acme", "roles": ["member", "owner"] });
    assert_eq!(got["id_token"]["org"], org);
    assert_eq!(got["userinfo"]["org"], org);
    assert_eq!(claims(got["access_token"].as_str().expect("access token"))["org"], org);
}

#[cfg_attr(not(test_tools), ignore = "needs Chromium, chromedriver and the client tools: run scripts/test-deps.sh")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_an_org_the_person_is_not_in_sends_access_denied_and_several_orgs_get_a_chooser() {
    let Some(python) = super::oidc::python() else { return };
    let app = TestApp::spawn().await;
    let (alice, rp, _) = setup(&app).await;
    let mallory = app.mail_verified_user("mallory", "mallory@example.com").await;
    app.org(&mallory, "evil").await;
    app.org(&alice, "bobco").await;
    let agent = app.agent();
    agent.sign_in(&alice.username).await;

    let denied = start(&python, &app, &rp, "evil");
    let (_, back, _) = agent.follow(denied["url"].as_str().expect("url").strip_prefix(&app.base).expect("ours")).await;
    assert_eq!(query_param(&back, "error").as_deref(), Some("access_denied"));

    let choose = start(&python, &app, &rp, "");
    let (status, _, page) = agent.follow(choose["url"].as_str().expect("url").strip_prefix(&app.base).expect("ours")).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    assert!(page.contains("Choose an organization") && page.contains("acme") && page.contains("bobco"), "{page}");
    assert!(!page.contains("evil"), "only the person's own orgs are offered");
    let link = page.split("href=\"").find(|l| l.contains("organization=bobco")).expect("a link for bobco").split('"').next().expect("href");
    let (_, callback, _) = agent.follow(&link.replace("&amp;", "&").replace("&#x2f;", "/")).await;
    assert!(query_param(&callback, "code").is_some(), "choosing an org finishes the sign-in: {callback}");
}
