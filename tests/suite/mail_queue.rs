//! The mail queue: requests never wait on the mail server; refused mail is retried with
//! backoff and survives a restart; without SMTP, messages land in the outbox folder.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::common::smtp::{SmtpServer, decode_quoted_printable, smtp_settings, token_in};
use crate::common::{PASSWORD, TestApp};

#[tokio::test]
async fn mail_refused_by_the_server_is_retried_and_arrives_later_while_the_request_succeeded_at_once() {
    let smtp = SmtpServer::start().await;
    smtp.refuse(true);
    let app = TestApp::spawn_with_smtp(&smtp, |_| {}).await;

    let started = Instant::now();
    let res = app.post_register("alice", Some("alice@example.com"), PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(started.elapsed() < Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(smtp.received().await.is_empty(), "refused so far");
    smtp.refuse(false);

    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails[0].to, vec!["alice@example.com".to_string()]);
    let token = token_in(&mails[0].decoded(), "verify-email").expect("a link");
    assert_eq!(app.post("/v1/auth/email/verify", &json!({ "token": token }), None).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn mail_queued_while_the_server_refuses_is_delivered_by_the_next_instance_after_a_restart() {
    let smtp = SmtpServer::start().await;
    smtp.refuse(true);
    let mut first = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    assert_eq!(first.post_register("bob", Some("bob@example.com"), PASSWORD).await.status(), StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.stop().await;
    assert!(smtp.received().await.is_empty());

    smtp.refuse(false);
    let url = smtp.url();
    let second = TestApp::spawn_on(&first.database_url, |c| smtp_settings(c, &url)).await;

    let mails = smtp.wait_for(1, Duration::from_secs(20)).await;
    assert_eq!(mails[0].to, vec!["bob@example.com".to_string()]);
    let token = token_in(&mails[0].decoded(), "verify-email").expect("a link");
    assert_eq!(second.post("/v1/auth/email/verify", &json!({ "token": token }), None).await.status(), StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.received().await.len(), 1, "sent once, then out of the queue");
}

/// The `.eml` files of a folder, waiting until there are `count`.
async fn eml_files(dir: &std::path::Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
            .unwrap_or_default();
        if files.len() >= count || Instant::now() > deadline {
            files.sort();
            return files.iter().map(|p| std::fs::read_to_string(p).expect("eml")).collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn without_smtp_each_message_is_one_eml_file_in_the_outbox() {
    let outbox = tempfile::tempdir().expect("outbox");
    let path = outbox.path().to_path_buf();
    let app = TestApp::spawn_with(|c| c.mail_outbox = path).await;

    app.post_register("carol", Some("carol@example.com"), PASSWORD).await;
    app.post("/v1/auth/password/forgot", &json!({ "username": "carol" }), None).await;
    let files = eml_files(outbox.path(), 2).await;

    assert_eq!(files.len(), 2);
    let texts: Vec<String> = files.iter().map(|f| decode_quoted_printable(f)).collect();
    assert!(texts.iter().all(|t| t.contains("To: carol@example.com")), "{texts:?}");
    let verify = texts.iter().find_map(|t| token_in(t, "verify-email")).expect("a verification mail");
    let reset = texts.iter().find_map(|t| token_in(t, "reset-password")).expect("a reset mail");
    assert_eq!(app.post("/v1/auth/email/verify", &json!({ "token": verify }), None).await.status(), StatusCode::NO_CONTENT);
    let body = json!({ "token": reset, "new_password": "a brand new passphrase 77" });
    assert_eq!(app.post("/v1/auth/password/reset", &body, None).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_link_in_an_outbox_mail_reads_whole_on_one_line_so_it_can_be_copied_as_it_is() {
    let outbox = tempfile::tempdir().expect("outbox");
    let path = outbox.path().to_path_buf();
    let app = TestApp::spawn_with(|c| c.mail_outbox = path).await;

    app.post_register("dora", Some("dora@example.com"), PASSWORD).await;
    let files = eml_files(outbox.path(), 1).await;

    // The raw file, not decoded: what a person opens and copies from. Its text part:
    let raw = &files[0];
    let text = raw.split("Content-Type: text/plain").nth(1).expect("a text part").split("\n--").next().expect("its body");
    let line = text.lines().find(|l| l.contains("/verify-email?token=")).expect("a line with the link");
    let link = &line[line.find("http").expect("the link starts with http")..];
    let token = link.split("token=").nth(1).expect("a token").split(|c: char| c.is_whitespace()).next().expect("token");
    assert!(!text.contains("=3D") && !line.ends_with('='), "no quoted-printable folding or escapes: {text}");
    assert_eq!(app.post("/v1/auth/email/verify", &json!({ "token": token }), None).await.status(), StatusCode::NO_CONTENT);
}
