//! Several instances on one database share the mail queue: each message goes out once.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;

use crate::common::smtp::{SmtpServer, smtp_settings};
use crate::common::{PASSWORD, TestApp};

#[tokio::test]
async fn two_instances_on_one_database_send_each_queued_mail_exactly_once() {
    let smtp = SmtpServer::start().await;
    smtp.refuse(true);
    let url = smtp.url();
    let first = TestApp::spawn_with_smtp(&smtp, |_| {}).await;
    let second = TestApp::spawn_sharing(&first, |c| smtp_settings(c, &url)).await;
    for i in 0..12 {
        let app = if i % 2 == 0 { &first } else { &second };
        let res = app.post_register(&format!("user{i}"), Some(&format!("user{i}@example.com")), PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }

    // Both workers race for the same due rows once the server accepts.
    smtp.refuse(false);
    smtp.wait_for(12, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let mails = smtp.received().await;
    let recipients: HashSet<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    assert_eq!(mails.len(), 12, "no message sent twice");
    assert_eq!(recipients.len(), 12);
}
