//! The other upstreams: the `github` kind against a stand-in that serves GitHub's
//! documented endpoints and JSON, and another Gatehouse as the OpenID provider of this one.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::oidc::Agent;
use crate::common::upstream::{GithubStandIn, GithubUser, browse, continue_with};
use crate::common::{PASSWORD, TestApp, TestUser};

async fn add_github(app: &TestApp, admin: &TestUser, github: &GithubStandIn) {
    github.add_to(app, admin).await;
}

#[tokio::test]
async fn the_github_kind_signs_up_with_the_numeric_id_and_the_primary_address_as_github_verified_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let github = GithubStandIn::start().await;
    add_github(&app, &admin, &github).await;
    let emails = vec![("other@gh.example".into(), false, true), ("octo@gh.example".into(), true, true)];
    github.next_login(GithubUser { id: 583231, login: "octocat".into(), emails });

    let (status, at, _) = continue_with(&app.agent(), "github").await;

    assert_eq!((status, at.ends_with("/account")), (StatusCode::OK, true), "{at}");
    let octocat = app.user_named(&admin, "octocat").await.expect("an account named after the login");
    assert_eq!(octocat["email"], "octo@gh.example", "the primary address");
    assert_eq!(octocat["email_verified"], true);
    let identities = app.identities_of(&admin, octocat["id"].as_str().expect("id")).await;
    assert_eq!(identities[0]["subject"], "583231", "the id, which a rename does not change");

    // A primary address GitHub did not verify makes an account whose address is unverified.
    github.next_login(GithubUser { id: 9, login: "octocat".into(), emails: vec![("new@gh.example".into(), true, false)] });
    let (status, _, _) = continue_with(&app.agent(), "github").await;
    assert_eq!(status, StatusCode::OK);
    let second = app.user_named(&admin, "octocat2").await.expect("the login made unique");
    assert_eq!(second["email"], "new@gh.example");
    assert_eq!(second["email_verified"], false);
}

#[tokio::test]
async fn a_github_user_whose_primary_address_is_unverified_is_not_linked_to_the_account_holding_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let github = GithubStandIn::start().await;
    add_github(&app, &admin, &github).await;
    let kim = app.verified_user_at("kim", "kim@gh.example").await;
    github.next_login(GithubUser { id: 77, login: "not-kim".into(), emails: vec![("kim@gh.example".into(), true, false)] });

    let (status, _, page) = continue_with(&app.agent(), "github").await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("already uses the address"));
    assert!(app.identities_of(&admin, &kim.id).await.is_empty());
    assert!(app.user_named(&admin, "not-kim").await.is_none());
}

/// Signs in on `upstream`'s own sign-in page when the flow reaches it, then follows on.
async fn through_upstream_sign_in(agent: &Agent, upstream: &TestApp, start: &str, username: &str) -> (StatusCode, String, String) {
    let (_, at, _) = browse(agent, start, |url| url.starts_with(&upstream.url("/login?"))).await;
    assert!(at.starts_with(&upstream.url("/login?")), "the upstream asks who it is: {at}");
    let page = agent.http.get(&at).send().await.expect("page").text().await.expect("page");
    let return_to = crate::common::oidc::query_param(&at, "return_to").expect("return_to");
    let csrf_start = page.find("name=\"csrf\" value=\"").expect("csrf") + 19;
    let csrf = page[csrf_start..].split('"').next().expect("csrf");
    let form = [("csrf", csrf), ("username", username), ("password", PASSWORD), ("return_to", &return_to)];
    let res = agent.http.post(upstream.url("/login")).form(&form).send().await.expect("sign in");
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in upstream");
    let next = res.headers()["location"].to_str().expect("location").to_string();
    browse(agent, &upstream.url(&next), |_| false).await
}

#[tokio::test]
async fn another_gatehouse_is_the_openid_provider_of_this_one() {
    let app = TestApp::spawn().await;
    let upstream = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let upstream_admin = upstream.admin("hq-root").await;
    let rp = upstream
        .register_rp(&upstream_admin, false, json!({ "redirect_uris": [app.url("/login/hq/callback")], "first_party": true }))
        .await;
    let zoe = upstream.verified_user_at("zoe", "zoe@hq.example").await;
    let body = json!({ "slug": "hq", "name": "HQ", "kind": "oidc", "issuer": upstream.issuer, "client_id": rp.client_id, "client_secret": rp.secret });
    app.add_provider(&admin, body).await;

    let agent = app.agent();
    let (status, at, _) = through_upstream_sign_in(&agent, &upstream, "/login/hq?return_to=%2Faccount", "zoe").await;

    assert_eq!(status, StatusCode::OK, "{at}");
    assert!(at.starts_with(&app.url("/account")), "{at}");
    let local = app.user_named(&admin, "zoe").await.expect("an account here");
    assert_eq!(local["email"], "zoe@hq.example");
    assert_eq!(local["email_verified"], true, "the upstream Gatehouse verified it");
    let identities: Vec<Value> = app.identities_of(&admin, local["id"].as_str().expect("id")).await;
    assert_eq!(identities[0]["subject"], zoe.id.as_str(), "the upstream's user id is the subject");
}

#[tokio::test]
async fn linking_an_identity_and_removing_its_provider_send_identity_linked_and_unlinked_webhooks() {
    let app = TestApp::spawn_for_webhooks().await;
    let admin = app.admin("root").await;
    let receiver = crate::common::webhooks::Receiver::start().await;
    app.add_webhook(&admin.access, &receiver.url(), &["identity.linked", "identity.unlinked"]).await;
    let github = GithubStandIn::start().await;
    add_github(&app, &admin, &github).await;
    github.next_login(GithubUser { id: 4242, login: "hubber".into(), emails: vec![("hub@gh.example".into(), true, true)] });

    let (status, at, _) = continue_with(&app.agent(), "github").await;
    assert_eq!((status, at.ends_with("/account")), (StatusCode::OK, true), "{at}");
    let linked = receiver.wait_for_type("identity.linked", std::time::Duration::from_secs(10)).await;
    let hubber = app.user_named(&admin, "hubber").await.expect("signed up");
    let data = linked[0].json()["data"].clone();
    assert_eq!(data["user_id"], hubber["id"]);
    assert_eq!((data["provider"].as_str(), data["subject"].as_str()), (Some("github"), Some("4242")));
    assert_eq!(data["email"], "hub@gh.example");
    assert_eq!(app.delete("/v1/providers/github", Some(&admin.access)).await.status(), StatusCode::NO_CONTENT);

    let unlinked = receiver.wait_for_type("identity.unlinked", std::time::Duration::from_secs(10)).await;
    let gone = unlinked[0].json()["data"].clone();
    assert_eq!((gone["id"].clone(), gone["user_id"].clone()), (data["id"].clone(), data["user_id"].clone()), "the same identity");
    assert_eq!(receiver.received().len(), 2, "one event each, nothing else subscribed");
}

#[tokio::test]
async fn the_upstream_sign_in_routes_answer_429_with_retry_after_past_the_per_address_limit() {
    let app = TestApp::spawn_with(|c| c.rate_limit_per_ip = 10).await;
    let admin = app.admin("root").await;
    let github = GithubStandIn::start().await;
    add_github(&app, &admin, &github).await;
    let agent = app.agent();

    let mut answers = Vec::new();
    for _ in 0..12 {
        answers.push(agent.get("/login/github").await.status());
    }

    let first_refusal = answers.iter().position(|s| *s == StatusCode::TOO_MANY_REQUESTS).expect("refused within the limit");
    assert!(answers[..first_refusal].iter().all(|s| s.is_redirection()), "upstream before the limit: {answers:?}");
    let callback = agent.get("/login/github/callback?state=x&code=y").await;
    assert_eq!(callback.status(), StatusCode::TOO_MANY_REQUESTS, "the callback counts too");
    let wait: u64 = callback.headers()["retry-after"].to_str().expect("ascii").parse().expect("seconds");
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(agent.get("/login").await.status().is_success(), "the sign-in page itself is not counted");
}
