//! The OpenID Connect provider's browser side and client calls: consent remembered per user
//! and client, `prompt=login` and `max_age`, `client_credentials`, revocation,
//! introspection, and RP-initiated logout.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::common::oidc::{LOGOUT_URI, REDIRECT_URI, authorize_path, pkce, query_param};

#[tokio::test]
async fn a_third_party_client_asks_for_consent_once_and_a_denial_goes_back_as_access_denied() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({})).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let (_, challenge) = pkce();
    let path = authorize_path(&rp, &challenge, "openid email", &[]);

    let (status, _, page) = agent.follow(&path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Relying party") && page.contains("see your email address"), "the consent page lists the scopes");
    let res = agent.submit_on(&page, "/oauth/authorize", &[("request", &path["/oauth/authorize?".len()..]), ("decision", "deny")]).await;
    let denied = res.headers()["location"].to_str().expect("location").to_string();
    assert_eq!(query_param(&denied, "error").as_deref(), Some("access_denied"));

    let res = agent.submit_on(&page, "/oauth/authorize", &[("request", &path["/oauth/authorize?".len()..]), ("decision", "allow")]).await;
    let allowed = res.headers()["location"].to_str().expect("location").to_string();
    assert!(allowed.starts_with(REDIRECT_URI) && query_param(&allowed, "code").is_some(), "{allowed}");

    let (_, again, _) = agent.follow(&path).await;
    assert!(query_param(&again, "code").is_some(), "remembered: no second consent page");
    let (status, _, _) = agent.follow(&authorize_path(&rp, &challenge, "openid email profile", &[])).await;
    assert_eq!(status, StatusCode::OK, "a wider scope asks again");
    let (_, none, _) = agent.follow(&authorize_path(&rp, &challenge, "openid email profile", &[("prompt", "none")])).await;
    assert_eq!(query_param(&none, "error").as_deref(), Some("consent_required"));
}

#[tokio::test]
async fn prompt_login_and_an_exceeded_max_age_send_a_signed_in_user_to_the_sign_in_page_again() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let (_, challenge) = pkce();

    for extra in [("prompt", "login"), ("max_age", "0")] {
        if extra.0 == "max_age" {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        }
        let res = agent.get(&authorize_path(&rp, &challenge, "openid", &[extra])).await;
        let location = res.headers()["location"].to_str().expect("location").to_string();
        assert!(location.starts_with("/login?") && location.contains("again=1"), "{extra:?}: {location}");
        let return_to = query_param(&format!("http://x{location}"), "return_to").expect("return_to");
        assert!(return_to.contains(&format!("{}={}", extra.0, extra.1)), "the requirement stays on the way back: {return_to}");
        assert!(return_to.contains("login_after="), "{return_to}");
        let skipped = agent.get(&return_to).await;
        let skipped_to = skipped.headers()["location"].to_str().expect("location");
        assert!(skipped_to.starts_with("/login?"), "opening the way back directly is not a sign-in: {skipped_to}");
        let page = agent.get(&location).await.text().await.expect("page");
        let res = agent
            .submit_on(&page, "/login", &[("username", "alice"), ("password", crate::common::PASSWORD), ("return_to", &return_to)])
            .await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let (_, landed, _) = agent.follow(res.headers()["location"].to_str().expect("location")).await;
        assert!(query_param(&landed, "code").is_some(), "{extra:?}: {landed}");
    }
}

#[tokio::test]
async fn client_credentials_give_a_confidential_client_a_token_for_itself_that_introspection_describes() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({})).await;
    let public = app.register_rp(&admin, true, json!({})).await;

    let res = app.token_call("/oauth/token", &rp, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.expect("tokens");
    assert!(tokens.get("id_token").is_none() && tokens.get("refresh_token").is_none());
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(app.get_me(access).await.status(), StatusCode::UNAUTHORIZED, "no user behind it");

    let seen: Value = app.token_call("/oauth/introspect", &rp, &[("token", access)]).await.json().await.expect("introspection");
    assert_eq!(
        (seen["active"].clone(), seen["client_id"].clone(), seen["sub"].clone()),
        (json!(true), json!(rp.client_id), json!(rp.client_id))
    );
    let unknown: Value = app.token_call("/oauth/introspect", &rp, &[("token", "nonsense")]).await.json().await.expect("introspection");
    assert_eq!(unknown, json!({ "active": false }));

    let res = app.token_call("/oauth/token", &public, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.token_call("/oauth/introspect", &public, &[("token", access)]).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_the_clients_session_and_its_access_token() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let tokens = app.granted_tokens(&agent, &rp, "openid offline_access").await;
    let (access, refresh) = (tokens["access_token"].as_str().expect("access"), tokens["refresh_token"].as_str().expect("refresh"));
    let active: Value = app.token_call("/oauth/introspect", &rp, &[("token", refresh)]).await.json().await.expect("introspection");
    assert_eq!(active["active"], true);

    assert_eq!(app.token_call("/oauth/revoke", &rp, &[("token", refresh)]).await.status(), StatusCode::OK);

    assert_eq!(app.get("/oauth/userinfo", Some(access)).await.status(), StatusCode::UNAUTHORIZED);
    let seen: Value = app.token_call("/oauth/introspect", &rp, &[("token", access)]).await.json().await.expect("introspection");
    assert_eq!(seen, json!({ "active": false }));
    let res = app.token_call("/oauth/token", &rp, &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn logout_with_an_id_token_hint_ends_the_browser_and_client_sessions_and_returns_to_a_registered_uri_only() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let tokens = app.granted_tokens(&agent, &rp, "openid").await;
    let (access, id_token) = (tokens["access_token"].as_str().expect("access"), tokens["id_token"].as_str().expect("id"));

    let foreign = format!(
        "/oauth/logout?{}",
        serde_urlencoded::to_string([("id_token_hint", id_token), ("post_logout_redirect_uri", "https://evil.example/")]).expect("q")
    );
    let res = agent.get(&foreign).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "an unregistered URI: a page, and nobody signed out");
    assert_eq!(agent.get("/account").await.status(), StatusCode::OK);

    let query =
        serde_urlencoded::to_string([("id_token_hint", id_token), ("post_logout_redirect_uri", LOGOUT_URI), ("state", "bye")]).expect("q");
    let res = agent.get(&format!("/oauth/logout?{query}")).await;

    assert_eq!(res.headers()["location"].to_str().expect("location"), format!("{LOGOUT_URI}?state=bye"));
    assert_eq!(app.get("/oauth/userinfo", Some(access)).await.status(), StatusCode::UNAUTHORIZED, "the client's session ended");
    assert!(agent.get("/account").await.headers()["location"].to_str().expect("location").starts_with("/login"), "signed out");
}

#[tokio::test]
async fn logout_without_a_hint_asks_the_user_first() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;

    let res = agent.get("/oauth/logout").await;
    assert_eq!(res.status(), StatusCode::OK, "a page, not a sign-out");
    assert_eq!(agent.get("/account").await.status(), StatusCode::OK);
    let page = res.text().await.expect("page");
    let res = agent.submit_on(&page, "/oauth/logout", &[]).await;

    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(agent.get("/account").await.headers()["location"].to_str().expect("location").starts_with("/login"));
}

#[tokio::test]
async fn client_secret_post_userinfo_by_post_and_an_authorization_request_sent_as_a_form_all_work() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let (verifier, challenge) = pkce();

    // The authorization request as a POSTed form.
    let query = authorize_path(&rp, &challenge, "openid profile", &[]);
    let form: Vec<(String, String)> = serde_urlencoded::from_str(&query["/oauth/authorize?".len()..]).expect("form");
    let res = agent.http.post(agent.url("/oauth/authorize")).form(&form).send().await.expect("posted");
    let code = query_param(res.headers()["location"].to_str().expect("location"), "code").expect("a code");

    // client_secret_post: the secret in the form, no Authorization header.
    let secret = rp.secret.clone().expect("secret");
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", &verifier),
        ("client_id", &rp.client_id),
        ("client_secret", &secret),
    ];
    let res = app.client.post(app.url("/oauth/token")).form(&fields).send().await.expect("token");
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.expect("tokens");
    let access = tokens["access_token"].as_str().expect("access");

    let by_header = app.client.post(app.url("/oauth/userinfo")).bearer_auth(access).send().await.expect("userinfo");
    let by_form = app.client.post(app.url("/oauth/userinfo")).form(&[("access_token", access)]).send().await.expect("userinfo");
    let by_header: Value = by_header.json().await.expect("claims");
    assert_eq!(by_header["preferred_username"], "alice");
    assert_eq!(by_form.json::<Value>().await.expect("claims"), by_header);
}

#[tokio::test]
async fn logout_with_a_tampered_id_token_hint_signs_nobody_out_without_asking() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let tokens = app.granted_tokens(&agent, &rp, "openid").await;
    let mut hint = tokens["id_token"].as_str().expect("id_token").to_string();
    let last = hint.pop().expect("a character");
    hint.push(if last == 'A' { 'B' } else { 'A' });

    let query = serde_urlencoded::to_string([
        ("id_token_hint", hint.as_str()),
        ("client_id", rp.client_id.as_str()),
        ("post_logout_redirect_uri", LOGOUT_URI),
    ])
    .expect("q");
    let res = agent.get(&format!("/oauth/logout?{query}")).await;

    assert_eq!(res.status(), StatusCode::OK, "the user is asked");
    assert_eq!(agent.get("/account").await.status(), StatusCode::OK, "still signed in");
    let access = tokens["access_token"].as_str().expect("access");
    assert_eq!(app.get("/oauth/userinfo", Some(access)).await.status(), StatusCode::OK, "the client's session lives");
}

#[tokio::test]
async fn a_forged_or_stale_login_after_does_not_stand_for_a_new_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, true, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let (_, challenge) = pkce();

    for bound in ["0.AAAA", "1.nonsense", "9999999999999.AAAA", ""] {
        let path = authorize_path(&rp, &challenge, "openid", &[("prompt", "login"), ("login_after", bound)]);
        let res = agent.get(&path).await;
        let location = res.headers()["location"].to_str().expect("location");
        assert!(location.starts_with("/login?"), "{bound:?}: {location}");
    }
}

#[tokio::test]
async fn logout_with_a_hint_from_an_earlier_sign_in_asks_first_and_confirming_ends_both_sessions() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let tokens = app.granted_tokens(&agent, &rp, "openid").await;
    let id_token = tokens["id_token"].as_str().expect("id").to_string();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let page = agent.get("/account").await.text().await.expect("page");
    assert_eq!(agent.submit_on(&page, "/logout", &[]).await.status(), StatusCode::SEE_OTHER);
    agent.sign_in("alice").await;
    let current = app.granted_tokens(&agent, &rp, "openid").await;
    let access = current["access_token"].as_str().expect("access");

    let query = serde_urlencoded::to_string([("id_token_hint", id_token.as_str()), ("post_logout_redirect_uri", LOGOUT_URI)]).expect("q");
    let res = agent.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(res.status(), StatusCode::OK, "an older sign-in's token: a page that asks");
    assert_eq!(agent.get("/account").await.status(), StatusCode::OK, "still signed in");
    let page = res.text().await.expect("page");
    assert!(!app.get("/oauth/userinfo", Some(access)).await.status().is_client_error());

    let fields = [("id_token_hint", id_token.as_str()), ("post_logout_redirect_uri", LOGOUT_URI), ("client_id", ""), ("state", "")];
    let res = agent.submit_on(&page, "/oauth/logout", &fields).await;
    assert_eq!(res.headers()["location"].to_str().expect("location"), LOGOUT_URI);
    assert!(agent.get("/account").await.headers()["location"].to_str().expect("location").starts_with("/login"), "signed out");
}

#[tokio::test]
async fn logout_with_a_hint_and_no_browser_session_asks_first() {
    let app = TestApp::spawn().await;
    let admin = app.admin("root").await;
    let rp = app.register_rp(&admin, false, json!({ "first_party": true })).await;
    app.user("alice").await;
    let agent = app.agent();
    agent.sign_in("alice").await;
    let tokens = app.granted_tokens(&agent, &rp, "openid").await;
    let (access, id_token) = (tokens["access_token"].as_str().expect("access"), tokens["id_token"].as_str().expect("id"));

    let stranger = app.agent();
    let query = serde_urlencoded::to_string([("id_token_hint", id_token)]).expect("q");
    let res = stranger.get(&format!("/oauth/logout?{query}")).await;

    assert_eq!(res.status(), StatusCode::OK, "a page that asks");
    assert_eq!(app.get("/oauth/userinfo", Some(access)).await.status(), StatusCode::OK, "the client's session goes on");
    assert_eq!(agent.get("/account").await.status(), StatusCode::OK);

    assert_eq!(app.token_call("/oauth/revoke", &rp, &[("token", access)]).await.status(), StatusCode::OK);
    let res = stranger.get(&format!("/oauth/logout?{query}")).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "its session over, nothing is left to ask about");
}
