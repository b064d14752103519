//! `gatehouse copy` carries upstream providers (their client secrets still sealed) and
//! people's identities: on the target, with the same secrets key, the same identity signs
//! the same account in.

use reqwest::StatusCode;

use crate::common::postgres;
use crate::common::upstream::{GithubStandIn, GithubUser, continue_with};
use crate::common::{PASSWORD, TestApp};

#[tokio::test]
async fn a_copy_carries_providers_with_their_sealed_secrets_and_identities_that_sign_in_on_the_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite://{}", dir.path().join("old.db").display());
    let key = dir.path().join("secrets.key");
    let key_for_source = key.clone();
    let source = TestApp::spawn_on(&sqlite_url, move |c| c.secrets_key_file = key_for_source).await;
    let admin = source.admin("root").await;
    let github = GithubStandIn::start().await;
    github.add_to(&source, &admin).await;
    github.next_login(GithubUser { id: 42, login: "octo".into(), emails: vec![("octo@gh.example".into(), true, true)] });
    assert_eq!(continue_with(&source.agent(), "github").await.0, StatusCode::OK);

    let target_url = postgres::shared().create_database().await;
    let copied = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .env("GATEHOUSE_DATABASE_URL", &sqlite_url)
        .args(["copy", "--to", &target_url])
        .output()
        .await
        .expect("copy runs");
    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    let target = TestApp::spawn_on(&target_url, move |c| c.secrets_key_file = key).await;
    let admin = target.login("root", PASSWORD).await;

    let (status, at, _) = continue_with(&target.agent(), "github").await;

    assert_eq!((status, at.ends_with("/account")), (StatusCode::OK, true), "the sealed secret opened on the target: {at}");
    let octo = target.user_named(&admin, "octo").await.expect("the copied account");
    assert_eq!(target.identities_of(&admin, octo["id"].as_str().expect("id")).await.len(), 1);
    assert!(target.user_named(&admin, "octo2").await.is_none(), "no second account: the identity was found");
}
