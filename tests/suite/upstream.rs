//! Sign-in through an upstream OpenID provider nobody here wrote: Node's oidc-provider on
//! loopback as "the company IdP". Sign-up, sign-in again, linking after the password,
//! refusal on an unverified address, lying ID tokens, a replayed callback, key rotation.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::upstream::{Idp, browse, continue_with};
use crate::common::{PASSWORD, TestApp, assert_problem};

async fn audit_of(app: &TestApp, admin: &crate::common::TestUser, kind: &str) -> Vec<Value> {
    let res = app.get_query("/v1/audit", &[("type", kind)], Some(&admin.access)).await;
    res.json::<Value>().await.expect("audit")["items"].as_array().expect("items").clone()
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_person_signs_up_through_an_openid_provider_and_signs_in_again_with_the_same_identity() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    idp.next_login(
        json!({ "sub": "emp-1", "email": "ana@corp.example", "email_verified": true, "name": "Ana Lopez", "preferred_username": "ana" }),
    )
    .await;

    let agent = app.agent();
    let (status, at, _page) = continue_with(&agent, "corp").await;

    assert_eq!(status, StatusCode::OK, "{at}: {:?}", audit_of(&app, &admin, "login.failed").await);
    assert!(at.ends_with("/account"), "landed on the account page: {at}");
    let ana = app.user_named(&admin, "ana").await.expect("an account was made");
    assert_eq!(ana["email"], "ana@corp.example");
    assert_eq!(ana["email_verified"], true, "the provider verified it");
    let identities = app.identities_of(&admin, ana["id"].as_str().expect("id")).await;
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0]["provider"], "corp");
    assert_eq!(identities[0]["subject"], "emp-1");

    let again = app.agent();
    let (status, at, _) = continue_with(&again, "corp").await;
    assert_eq!(status, StatusCode::OK);
    assert!(at.ends_with("/account"));
    let users: Value = app.get("/v1/users", Some(&admin.access)).await.json().await.expect("users");
    assert_eq!(users["total"], 2, "no second account: root and ana");
    let logins = audit_of(&app, &admin, "login.succeeded").await;
    let upstream: Vec<_> = logins.iter().filter(|e| e["detail"]["provider"] == "corp").collect();
    assert_eq!(upstream.len(), 2, "each sign-in names its provider");
    assert_eq!(audit_of(&app, &admin, "identity.linked").await.len(), 1);
    let offered: Value = app.get("/v1/auth/providers", None).await.json().await.expect("offered");
    assert_eq!(offered, json!({ "items": [{ "slug": "corp", "name": "Corp" }] }));
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_identity_whose_verified_address_matches_an_account_is_linked_only_after_that_accounts_password() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    let bob = app.verified_user_at("bob", "bob@corp.example").await;
    idp.next_login(json!({ "sub": "emp-2", "email": "Bob@corp.example", "email_verified": true })).await;

    let agent = app.agent();
    let (status, at, page) = continue_with(&agent, "corp").await;
    assert_eq!(status, StatusCode::OK);
    assert!(at.contains("/login/corp/confirm?flow="), "the confirm page: {at}");
    assert!(page.contains("bob"), "it names the account");
    assert!(app.identities_of(&admin, &bob.id).await.is_empty(), "nothing linked before the password");

    let path = at.strip_prefix(&app.base).expect("own page").to_string();
    let flow = crate::common::oidc::query_param(&at, "flow").expect("flow");
    let wrong = agent.submit_on(&page, "/login/corp/confirm", &[("flow", &flow), ("password", "not the password")]).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(app.identities_of(&admin, &bob.id).await.is_empty());

    let page = agent.get(&path).await.text().await.expect("page");
    let right = agent.submit_on(&page, "/login/corp/confirm", &[("flow", &flow), ("password", PASSWORD)]).await;
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    assert_eq!(right.headers()["location"], "/account");
    let identities = app.identities_of(&admin, &bob.id).await;
    assert_eq!(identities.len(), 1, "linked once proved");
    let linked = audit_of(&app, &admin, "identity.linked").await;
    assert_eq!(linked[0]["detail"]["via"], "email_confirmed");

    // The confirm step is spent; the identity alone signs bob in from now on.
    let replay = agent.submit_on(&page, "/login/corp/confirm", &[("flow", &flow), ("password", PASSWORD)]).await;
    // Refused: the sign-in renewed the form token (403), and the flow is spent besides.
    assert!([StatusCode::BAD_REQUEST, StatusCode::FORBIDDEN].contains(&replay.status()), "{}", replay.status());
    let (status, at, _) = continue_with(&app.agent(), "corp").await;
    assert_eq!((status, at.ends_with("/account")), (StatusCode::OK, true));
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_unverified_upstream_address_is_never_linked_to_the_account_holding_it() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    let carol = app.verified_user_at("carol", "carol@corp.example").await;
    idp.next_login(json!({ "sub": "attacker", "email": "carol@corp.example", "email_verified": false })).await;

    let (status, at, page) = continue_with(&app.agent(), "corp").await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{at}");
    assert!(page.contains("already uses the address"), "the page says why: {page}");
    assert!(app.identities_of(&admin, &carol.id).await.is_empty());
    let users: Value = app.get("/v1/users", Some(&admin.access)).await.json().await.expect("users");
    assert_eq!(users["total"], 2, "no account was made either");
    let failed = audit_of(&app, &admin, "login.failed").await;
    assert_eq!(failed[0]["detail"]["reason"], "upstream_email_in_use");
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn id_tokens_with_a_wrong_audience_nonce_or_signature_are_refused() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    idp.next_login(json!({ "sub": "emp-3", "email": "dan@corp.example", "email_verified": true })).await;

    for (mode, reason) in
        [("aud", "upstream_id_token_audience"), ("nonce", "upstream_id_token_nonce"), ("signature", "upstream_id_token_signature")]
    {
        idp.tamper(Some(mode)).await;
        let (status, _, _) = continue_with(&app.agent(), "corp").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{mode} refused");
        let failed = audit_of(&app, &admin, "login.failed").await;
        assert_eq!(failed[0]["detail"]["reason"], reason, "{mode}");
    }
    let users: Value = app.get("/v1/users", Some(&admin.access)).await.json().await.expect("users");
    assert_eq!(users["total"], 1, "no account was made from a lying token");

    idp.tamper(None).await;
    let (status, at, _) = continue_with(&app.agent(), "corp").await;
    assert_eq!((status, at.ends_with("/account")), (StatusCode::OK, true), "an honest token signs in");
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_replayed_callback_and_a_callback_in_another_browser_are_refused() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    idp.next_login(json!({ "sub": "emp-4", "email": "eve@corp.example", "email_verified": true })).await;
    let is_callback = |url: &str| url.contains("/login/corp/callback");

    let agent = app.agent();
    let (_, callback, _) = browse(&agent, "/login/corp", is_callback).await;
    assert!(crate::common::oidc::query_param(&callback, "iss").is_some(), "the provider sends iss (RFC 9207)");
    let other = app.agent();
    assert_eq!(other.get(&callback).await.status(), StatusCode::BAD_REQUEST, "another browser cannot finish it");

    let agent = app.agent();
    let (_, callback, _) = browse(&agent, "/login/corp", is_callback).await;
    assert_eq!(agent.get(&callback).await.status(), StatusCode::SEE_OTHER, "the first use signs in");
    let replay = agent.get(&callback).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST, "the replay is refused");
    assert!(replay.text().await.expect("page").contains("expired or was already used"));
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_new_upstream_signing_key_is_fetched_when_a_token_names_it() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    idp.next_login(json!({ "sub": "emp-5", "email": "fay@corp.example", "email_verified": true })).await;
    let (status, _, _) = continue_with(&app.agent(), "corp").await;
    assert_eq!(status, StatusCode::OK);

    idp.rotate_keys().await;
    tokio::time::sleep(gatehouse::upstream::discovery::JWKS_REFETCH_GAP).await;
    let (status, at, page) = continue_with(&app.agent(), "corp").await;

    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(at.ends_with("/account"));
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn identities_are_listed_and_unlinked_but_never_the_last_way_to_sign_in() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    idp.next_login(json!({ "sub": "emp-6", "email": "gus@corp.example", "email_verified": true, "preferred_username": "gus" })).await;
    continue_with(&app.agent(), "corp").await;
    let gus = app.user_named(&admin, "gus").await.expect("gus");
    let gus_id = gus["id"].as_str().expect("id");
    let identity = app.identities_of(&admin, gus_id).await[0]["id"].as_str().expect("id").to_string();

    let res = app.delete(&format!("/v1/users/{gus_id}/identities/{identity}"), Some(&admin.access)).await;
    assert_problem(res, StatusCode::CONFLICT, "last_sign_in_method").await;

    // An account with a password may drop its identity.
    let hal = app.verified_user_at("hal", "hal@corp.example").await;
    idp.next_login(json!({ "sub": "emp-7", "email": "hal@corp.example", "email_verified": true })).await;
    let agent = app.agent();
    agent.sign_in("hal").await;
    let page = agent.get("/account").await.text().await.expect("account");
    let started = agent.submit_on(&page, "/account/identities/link", &[("provider", "corp")]).await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let location = started.headers()["location"].to_str().expect("location").to_string();
    let (_, at, _) = browse(&agent, &location, |_| false).await;
    assert!(at.ends_with("/account?done=identity_linked"), "{at}");
    let own: Value = app.get("/v1/auth/identities", Some(&hal.access)).await.json().await.expect("own");
    assert_eq!(own["items"][0]["provider"], "corp");
    assert_eq!(own["items"][0]["subject"], "emp-7");
    let id = own["items"][0]["id"].as_str().expect("id");
    assert_eq!(app.delete(&format!("/v1/auth/identities/{id}"), Some(&hal.access)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("/v1/auth/identities/{id}"), Some(&hal.access)).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(audit_of(&app, &admin, "identity.unlinked").await.len(), 1);
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn an_account_with_totp_still_takes_its_second_step_after_an_upstream_sign_in() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    app.add_corp(&admin, &idp).await;
    let ivy = app.verified_user_at("ivy", "ivy@corp.example").await;
    let secret = app.setup_totp(&ivy.access).await["secret"].as_str().expect("secret").to_string();
    let code = crate::common::mfa::code_at(&secret, crate::common::mfa::fresh_step().await);
    assert_eq!(app.confirm_totp(&ivy.access, &code).await.status(), StatusCode::OK);
    idp.next_login(json!({ "sub": "emp-8", "email": "ivy@corp.example", "email_verified": true, "amr": ["pwd", "mfa"] })).await;
    let agent = app.agent();
    let (_, at, page) = continue_with(&agent, "corp").await;
    let flow = crate::common::oidc::query_param(&at, "flow").expect("confirm page");
    let done = agent.submit_on(&page, "/login/corp/confirm", &[("flow", &flow), ("password", PASSWORD)]).await;

    assert_eq!(done.status(), StatusCode::OK, "the second step, not a session");
    let step = done.text().await.expect("page");
    assert!(step.contains("name=\"mfa_token\""), "the code form");
    assert!(agent.get("/account").await.status().is_redirection(), "not signed in yet");
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn a_provider_trusted_for_mfa_stands_in_for_totp_only_when_its_amr_says_a_second_factor_was_checked() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    let body = json!({ "slug": "corp", "name": "Corp", "kind": "oidc", "issuer": idp.issuer, "client_id": crate::common::upstream::CLIENT_ID,
        "client_secret": crate::common::upstream::CLIENT_SECRET, "trust_upstream_mfa": true });
    assert_eq!(app.add_provider(&admin, body).await["trust_upstream_mfa"], true);
    let ivy = app.verified_user_at("ivy", "ivy@corp.example").await;
    let secret = app.setup_totp(&ivy.access).await["secret"].as_str().expect("secret").to_string();
    let code = crate::common::mfa::code_at(&secret, crate::common::mfa::fresh_step().await);
    assert_eq!(app.confirm_totp(&ivy.access, &code).await.status(), StatusCode::OK);

    // The provider checked a second factor: linking after the password signs ivy in at once.
    idp.next_login(json!({ "sub": "emp-9", "email": "ivy@corp.example", "email_verified": true, "amr": ["pwd", "otp"] })).await;
    let agent = app.agent();
    let (_, at, page) = continue_with(&agent, "corp").await;
    let flow = crate::common::oidc::query_param(&at, "flow").expect("confirm page");
    let linked = agent.submit_on(&page, "/login/corp/confirm", &[("flow", &flow), ("password", PASSWORD)]).await;
    assert_eq!(linked.status(), StatusCode::SEE_OTHER, "signed in without the code");
    assert_eq!(linked.headers()["location"], "/account");
    let logins = audit_of(&app, &admin, "login.succeeded").await;
    assert!(logins.iter().any(|e| e["detail"]["provider"] == "corp" && e["detail"]["upstream_mfa"] == true), "{logins:?}");

    // Only a password upstream: the known identity still takes ivy's own second step.
    idp.next_login(json!({ "sub": "emp-9", "email": "ivy@corp.example", "email_verified": true, "amr": ["pwd"] })).await;
    let other = app.agent();
    let (status, _, page) = continue_with(&other, "corp").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("name=\"mfa_token\""), "the code form");
    assert!(other.get("/account").await.status().is_redirection(), "not signed in yet");

    // The same `amr` from a provider not trusted for MFA counts for nothing.
    let untrusted = json!({ "trust_upstream_mfa": false });
    assert_eq!(app.patch("/v1/providers/corp", &untrusted, Some(&admin.access)).await.status(), StatusCode::OK);
    idp.next_login(json!({ "sub": "emp-9", "email": "ivy@corp.example", "email_verified": true, "amr": ["pwd", "otp"] })).await;
    let third = app.agent();
    let (_, _, page) = continue_with(&third, "corp").await;
    assert!(page.contains("name=\"mfa_token\""), "the code form again");
}

#[cfg_attr(not(test_tools), ignore = "needs node and oidc-provider: run scripts/test-deps.sh")]
#[tokio::test]
async fn providers_are_managed_by_admins_and_their_secret_never_comes_back() {
    let app = TestApp::spawn().await;
    let Some(idp) = Idp::start(&app, "corp").await else { return };
    let admin = app.admin("root").await;
    let user = app.user("plain").await;
    let body =
        json!({ "slug": "corp", "name": "Corp", "kind": "oidc", "issuer": idp.issuer, "client_id": "c", "client_secret": "s3cret-value" });

    assert_problem(app.post("/v1/providers", &body, Some(&user.access)).await, StatusCode::FORBIDDEN, "forbidden").await;
    let created = app.add_provider(&admin, body.clone()).await;
    assert_eq!(created["slug"], "corp");
    assert_eq!(created["scopes"], json!(["openid", "email", "profile"]));
    assert_eq!(created["allow_signup"], true);
    assert_eq!(created["link_by_email"], true);
    assert_eq!(created["trust_upstream_mfa"], false);
    assert_problem(app.post("/v1/providers", &body, Some(&admin.access)).await, StatusCode::CONFLICT, "slug_taken").await;
    let unreadable =
        json!({ "slug": "gone", "name": "Gone", "kind": "oidc", "issuer": "http://127.0.0.1:9", "client_id": "c", "client_secret": "s" });
    let problem = assert_problem(
        app.post("/v1/providers", &unreadable, Some(&admin.access)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "issuer");
    let bad =
        json!({ "slug": "Bad Slug", "name": "", "kind": "saml", "issuer": "http://idp.example.com", "client_id": "", "client_secret": "" });
    let problem =
        assert_problem(app.post("/v1/providers", &bad, Some(&admin.access)).await, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed")
            .await;
    let fields: Vec<&str> = problem["errors"].as_array().expect("errors").iter().map(|e| e["field"].as_str().expect("field")).collect();
    for field in ["slug", "name", "kind", "issuer", "client_id", "client_secret"] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }

    let changed = app
        .patch(
            "/v1/providers/corp",
            &json!({ "name": "Corp SSO", "allow_signup": false, "client_secret": "new-secret" }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let listed = app.get("/v1/providers", Some(&admin.access)).await.text().await.expect("list");
    assert!(listed.contains("Corp SSO"));
    for text in [listed, app.get("/v1/providers/corp", Some(&admin.access)).await.text().await.expect("one")] {
        assert!(!text.contains("s3cret-value") && !text.contains("new-secret") && !text.contains("client_secret"), "{text}");
    }
    assert_eq!(app.delete("/v1/providers/corp", Some(&admin.access)).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get("/v1/providers/corp", Some(&admin.access)).await, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(app.get("/login/corp", None).await.status(), StatusCode::NOT_FOUND);
}
