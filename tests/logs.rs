//! The log output of the real binary in JSON mode, over a whole register / login / refresh /
//! logout flow and a TOTP flow: one JSON object a line with the request's fields, and never
//! a secret.

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

const PASSWORD: &str = "a long and secret passphrase 42";

/// Reads the next line, failing the test after a while.
async fn next_line(lines: &mut mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(Duration::from_secs(30), lines.recv()).await.expect("a log line in time")
}

/// The real binary serving on a free port, its stderr read line by line.
fn start(dir: &tempfile::TempDir, format: &str) -> (tokio::process::Child, mpsc::UnboundedReceiver<String>) {
    start_at(dir, format, "info")
}

fn start_at(dir: &tempfile::TempDir, format: &str, level: &str) -> (tokio::process::Child, mpsc::UnboundedReceiver<String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEHOUSE_") {
            cmd.env_remove(name);
        }
    }
    let mut child = cmd
        .current_dir(dir.path())
        .env("GATEHOUSE_DATABASE_URL", format!("sqlite://{}", dir.path().join("gatehouse.db").display()))
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_BREACHED_PASSWORDS", "off")
        .env("GATEHOUSE_LOG_FORMAT", format)
        .env("GATEHOUSE_LOG", level)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let stderr = child.stderr.take().expect("stderr");
    let (send, lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut reader = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let _ = send.send(line);
        }
    });
    (child, lines)
}

#[tokio::test]
async fn json_logs_of_a_full_session_are_one_object_a_line_with_request_fields_and_no_secret() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, mut lines) = start(&dir, "json");
    let mut output = Vec::new();
    let addr = loop {
        let line = next_line(&mut lines).await.expect("the server logs until it listens");
        output.push(line.clone());
        let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if let Some(addr) = parsed["addr"].as_str().filter(|_| parsed["message"].as_str().is_some_and(|m| m.contains("listening"))) {
            break addr.to_string();
        }
    };

    gatehouse::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let registered = client
        .post(format!("{base}/v1/auth/register"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .expect("register");
    assert_eq!(registered.status(), 201);
    let wrong = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": "alice", "password": "wrong secret 1234"}))
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), 401);
    let pair: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"username": "alice", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("pair");
    let first_refresh = pair["refresh_token"].as_str().expect("refresh").to_string();
    let first_access = pair["access_token"].as_str().expect("access").to_string();
    let user_id = pair["user"]["id"].as_str().expect("id").to_string();
    let pair: Value = client
        .post(format!("{base}/v1/auth/refresh"))
        .json(&json!({"refresh_token": first_refresh}))
        .send()
        .await
        .expect("refresh")
        .json()
        .await
        .expect("pair");
    let access = pair["access_token"].as_str().expect("access").to_string();
    let refresh = pair["refresh_token"].as_str().expect("refresh").to_string();
    let logout = client.post(format!("{base}/v1/auth/logout")).bearer_auth(&access).send().await.expect("logout");
    assert_eq!(logout.status(), 204);

    stop(&mut child, &mut lines, &mut output).await;

    let mut finished = Vec::new();
    for line in &output {
        let entry: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for field in ["timestamp", "level", "message"] {
            assert!(entry[field].is_string(), "{field} in {line}");
        }
        if entry["message"] == "request finished" {
            finished.push(entry);
        }
    }
    assert_eq!(finished.len(), 5, "one line per request: {output:#?}");
    for entry in &finished {
        assert!(entry["span"]["request_id"].as_str().is_some_and(|id| id.len() >= 32), "request id in {entry}");
        assert!(entry["span"]["route"].as_str().is_some_and(|r| r.starts_with("/v1/auth/")), "route in {entry}");
        assert!(entry["status"].is_u64(), "status in {entry}");
        assert!(entry["latency_ms"].is_number(), "latency in {entry}");
    }
    let logout_line = finished.iter().find(|e| e["span"]["route"] == "/v1/auth/logout").expect("the logout line");
    assert_eq!(logout_line["span"]["user_id"], user_id, "user id once known: {logout_line}");
    let everything = output.join("\n");
    for secret in [PASSWORD, "wrong secret 1234", "$argon2", &first_access, &first_refresh, &access, &refresh] {
        assert!(!everything.contains(secret), "{secret:?} appears in the logs");
    }
}

#[tokio::test]
async fn text_logs_stay_readable_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (_child, mut lines) = start(&dir, "text");

    let mut output = Vec::new();
    while !output.iter().any(|l: &String| l.contains("gatehouse listening on http://127.0.0.1:")) {
        output.push(next_line(&mut lines).await.expect("the server logs until it listens"));
    }

    assert!(output.iter().all(|l| serde_json::from_str::<Value>(l).is_err()), "text, not JSON: {output:#?}");
    assert!(output.iter().any(|l| l.contains("INFO")), "levels in plain words: {output:#?}");
}

/// Stops the server with SIGTERM and reads the rest of its log into `output`.
async fn stop(child: &mut tokio::process::Child, lines: &mut mpsc::UnboundedReceiver<String>, output: &mut Vec<String>) {
    let stopped = std::process::Command::new("kill").args(["-TERM", &child.id().expect("pid").to_string()]).status().expect("kill");
    assert!(stopped.success());
    tokio::time::timeout(Duration::from_secs(30), child.wait()).await.expect("the server stops").expect("exit status");
    while let Some(line) = next_line(lines).await {
        output.push(line);
    }
}

/// Reads the log until the server says where it listens.
async fn listening_addr(lines: &mut mpsc::UnboundedReceiver<String>, output: &mut Vec<String>) -> String {
    loop {
        let line = next_line(lines).await.expect("the server logs until it listens");
        output.push(line.clone());
        let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if let Some(addr) = parsed["addr"].as_str().filter(|_| parsed["message"].as_str().is_some_and(|m| m.contains("listening"))) {
            return addr.to_string();
        }
    }
}

#[tokio::test]
async fn debug_logs_of_a_totp_flow_hold_no_totp_secret_recovery_code_or_mfa_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, mut lines) = start_at(&dir, "json", "debug");
    let mut output = Vec::new();
    let base = format!("http://{}", listening_addr(&mut lines, &mut output).await);
    gatehouse::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let post = |path: &str, body: Value, token: Option<&str>| {
        let mut req = client.post(format!("{base}{path}")).json(&body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    post("/v1/auth/register", json!({"username": "totp-user", "password": PASSWORD}), None).await.expect("register");
    let pair: Value = post("/v1/auth/login", json!({"username": "totp-user", "password": PASSWORD}), None)
        .await
        .expect("login")
        .json()
        .await
        .expect("pair");
    let access = pair["access_token"].as_str().expect("access").to_string();
    let setup: Value = post("/v1/auth/mfa/totp/setup", json!({}), Some(&access)).await.expect("setup").json().await.expect("setup");
    let secret = setup["secret"].as_str().expect("secret").to_string();
    let totp = totp_rs::Builder::new().with_secret(totp_rs::Secret::try_from_base32(&secret).expect("base32")).build().expect("totp");
    let code = totp.generate_current().to_string();
    let confirmed: Value =
        post("/v1/auth/mfa/totp/confirm", json!({"code": code}), Some(&access)).await.expect("confirm").json().await.expect("codes");
    let recovery = confirmed["recovery_codes"][0].as_str().expect("a recovery code").to_string();
    let challenge: Value = post("/v1/auth/login", json!({"username": "totp-user", "password": PASSWORD}), None)
        .await
        .expect("login")
        .json()
        .await
        .expect("problem");
    let mfa_token = challenge["mfa_token"].as_str().expect("mfa_token").to_string();
    let res = post("/v1/auth/login/mfa", json!({"mfa_token": mfa_token, "code": recovery}), None).await.expect("second step");
    assert_eq!(res.status(), 200);

    stop(&mut child, &mut lines, &mut output).await;

    let everything = output.join("\n");
    assert!(everything.contains("login succeeded with a second factor"), "the flow was logged at all");
    let otpauth = setup["otpauth_uri"].as_str().expect("uri").to_string();
    // The 6-digit code is left out: such digits turn up in timestamps by chance, and it is
    // used up anyway.
    for secret in [PASSWORD, secret.as_str(), &secret.to_lowercase(), &otpauth, &recovery, &mfa_token, &access] {
        assert!(!everything.contains(secret), "{secret:?} appears in the logs");
    }
}

#[tokio::test]
async fn without_smtp_mail_goes_to_the_outbox_and_the_log_says_so_without_the_link() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut child, mut lines) = start(&dir, "json");
    let mut output = Vec::new();
    let base = format!("http://{}", listening_addr(&mut lines, &mut output).await);
    gatehouse::outbound::install_tls_provider();
    let client = reqwest::Client::new();
    let body = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
    assert_eq!(client.post(format!("{base}/v1/auth/register")).json(&body).send().await.expect("register").status(), 201);
    let forgot = client.post(format!("{base}/v1/auth/password/forgot")).json(&json!({"username": "alice"})).send().await.expect("forgot");
    assert_eq!(forgot.status(), 202);

    // The default outbox, `./outbox`, in the server's working directory.
    let outbox = dir.path().join("outbox");
    let mut mails = Vec::new();
    for _ in 0..200 {
        mails = std::fs::read_dir(&outbox)
            .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
            .unwrap_or_default();
        if mails.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(mails.len(), 2, "one .eml file per message");
    stop(&mut child, &mut lines, &mut output).await;

    let everything = output.join("\n");
    assert_eq!(everything.matches("mail written to the outbox").count(), 2, "{everything}");
    for mail in &mails {
        // Undo quoted-printable soft breaks so that a token split over two lines is found.
        let text = std::fs::read_to_string(mail).expect("eml").replace("=\r\n", "").replace("=3D", "=");
        let token = ["verify-email?token=", "reset-password?token="]
            .iter()
            .find_map(|marker| text.split(marker).nth(1))
            .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect::<String>())
            .expect("a link in the mail");
        assert_eq!(token.len(), 43, "{token}");
        assert!(!everything.contains(&token), "the token appears in the logs");
    }
}
