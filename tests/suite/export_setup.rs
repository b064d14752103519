//! `gatehouse export` and its import carry the setup: upstream providers (their client
//! secrets still sealed), every account's identities, and webhook endpoints with their
//! signing secrets; on the target, with the same secrets key, the same identity signs the
//! same account in and deliveries are signed with the same secret.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::export::{gatehouse, succeeded};
use crate::STORE;
use crate::common::upstream::{GITHUB_SECRET, GithubStandIn, GithubUser, continue_with};
use crate::common::webhooks::Receiver;
use crate::common::{PASSWORD, StoreKind, TestApp, postgres};

#[tokio::test]
async fn an_export_carries_providers_sealed_identities_and_webhooks_that_work_on_the_target() {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = dir.path().join("secrets.key");
    let key_for_source = key.clone();
    let source = TestApp::spawn_with(move |c| {
        c.secrets_key_file = key_for_source;
        c.webhooks.webhooks_allow_private = true;
    })
    .await;
    let admin = source.admin("root").await;
    let github = GithubStandIn::start().await;
    github.add_to(&source, &admin).await;
    github.next_login(GithubUser { id: 42, login: "octo".into(), emails: vec![("octo@gh.example".into(), true, true)] });
    assert_eq!(continue_with(&source.agent(), "github").await.0, StatusCode::OK);
    let receiver = Receiver::start().await;
    let hook = source.add_webhook(&admin.access, &receiver.url(), &["user.created"]).await;
    let secret = hook["secret"].as_str().expect("secret").to_string();
    let file = dir.path().join("all.jsonl");

    succeeded(&gatehouse(&source.database_url, &["export", file.to_str().expect("utf-8")]).await);

    let text = std::fs::read_to_string(&file).expect("the export");
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    assert_eq!((lines[0]["version"].as_u64(), lines[0]["setup"].as_u64()), (Some(3), Some(2)));
    assert_eq!(lines[1]["provider"]["slug"], "github");
    assert!(!text.contains(GITHUB_SECRET), "the client secret stays sealed");
    assert_eq!(lines[2]["webhook"]["secret"], secret.as_str(), "the signing secret as stored");
    let octo = lines.iter().find(|l| l["username"] == "octo").expect("octo's line");
    assert_eq!(octo["identities"][0]["provider"], "github");
    assert_eq!(octo["identities"][0]["subject"], "42");

    let target_url = match STORE {
        StoreKind::Sqlite => postgres::shared().create_database().await,
        StoreKind::Postgres => format!("sqlite://{}", dir.path().join("target.db").display()),
    };
    let import = gatehouse(&target_url, &["import", file.to_str().expect("utf-8")]).await;
    let imported = succeeded(&import);
    assert!(imported.contains("imported 2 users, skipped 0"), "{imported}{}", String::from_utf8_lossy(&import.stderr));
    let again = gatehouse(&target_url, &["import", file.to_str().expect("utf-8")]).await;
    let skipped = String::from_utf8_lossy(&again.stderr);
    assert!(skipped.contains("provider github is already present") && skipped.contains("webhook"), "{skipped}");

    let target = TestApp::spawn_on(&target_url, move |c| {
        c.secrets_key_file = key;
        c.webhooks.webhooks_allow_private = true;
    })
    .await;
    let admin = target.login("root", PASSWORD).await;
    github.next_login(GithubUser { id: 42, login: "octo".into(), emails: vec![("octo@gh.example".into(), true, true)] });
    let (status, at, _) = continue_with(&target.agent(), "github").await;
    assert_eq!((status, at.ends_with("/account")), (StatusCode::OK, true), "the sealed secret opened on the target: {at}");
    assert!(target.user_named(&admin, "octo2").await.is_none(), "no second account: the identity was found");
    target.user("newcomer").await;
    let created = receiver.wait_for(Duration::from_secs(10), |r| r.iter().any(|d| d.body.contains("newcomer"))).await;
    let newcomer = created.iter().find(|d| d.body.contains("newcomer")).expect("delivered from the target");
    assert!(newcomer.signed_by(&secret), "signed with the exported secret");
}
