//! Files that hold secrets (the SQLite database with its -wal and -shm files, the outbox
//! and its mails) are readable by their owner only, whatever the umask; a database that
//! other users can read is reported at start. The real binary runs under `umask 022`.
#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::sync::mpsc;

const PASSWORD: &str = "a long and secret passphrase 42";

/// The binary with `args`, started by a shell that sets `umask 022` first, in `dir`.
fn gatehouse(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg("umask 022 && exec \"$0\" \"$@\"").arg(env!("CARGO_BIN_EXE_gatehouse")).args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("GATEHOUSE_") {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(dir)
        .env("GATEHOUSE_DATABASE_URL", database_url(dir, "gatehouse.db"))
        .env("GATEHOUSE_MAIL_OUTBOX", dir.join("outbox"))
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_LOG_FORMAT", "json")
        .env("GATEHOUSE_LOG", "info");
    cmd
}

fn database_url(dir: &Path, name: &str) -> String {
    format!("sqlite://{}", dir.join(name).display())
}

/// A server started in `dir`, its log lines, and where it listens.
struct Server {
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// The log up to the "listening" line.
    start_log: Vec<String>,
    base: String,
}

impl Server {
    async fn start(dir: &Path) -> Self {
        let mut child = gatehouse(dir, &[]).stdout(Stdio::null()).stderr(Stdio::piped()).kill_on_drop(true).spawn().expect("starts");
        let stderr = child.stderr.take().expect("stderr");
        let (send, mut lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let _ = send.send(line);
            }
        });
        let mut start_log = Vec::new();
        let addr = loop {
            let line =
                tokio::time::timeout(Duration::from_secs(30), lines.recv()).await.expect("a log line in time").expect("still logging");
            start_log.push(line.clone());
            let parsed: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            if parsed["message"].as_str().is_some_and(|m| m.contains("listening")) {
                break parsed["addr"].as_str().expect("addr").to_string();
            }
        };
        Self { child, lines, start_log, base: format!("http://{addr}") }
    }
}

/// The permission bits of `path` that group and others hold.
fn shared_bits(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o077
}

/// The `.eml` files of the outbox, waiting a while for `count` of them.
async fn mails(outbox: &Path, count: usize) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for _ in 0..200 {
        found = std::fs::read_dir(outbox)
            .map(|entries| entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "eml")).collect())
            .unwrap_or_default();
        if found.len() >= count {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    found
}

#[tokio::test]
async fn under_umask_022_the_database_files_the_outbox_and_its_mails_are_readable_by_the_owner_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = Server::start(dir.path()).await;

    let body = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD});
    gatehouse::outbound::install_tls_provider();
    let res = reqwest::Client::new().post(format!("{}/v1/auth/register", server.base)).json(&body).send().await.expect("register");
    assert_eq!(res.status(), 201);
    let mails = mails(&dir.path().join("outbox"), 1).await;

    assert_eq!(mails.len(), 1, "the verification mail is in the outbox");
    let mut checked = vec![dir.path().join("outbox")];
    checked.extend(mails);
    for name in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        checked.push(dir.path().join(name));
    }
    for path in checked {
        assert_eq!(shared_bits(&path), 0, "{} is {:o}", path.display(), std::fs::metadata(&path).expect("meta").permissions().mode());
    }
    assert!(!server.start_log.iter().any(|l| l.contains("other users")), "no warning for a private database");
}

#[tokio::test]
async fn a_database_file_that_other_users_can_read_is_reported_at_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    // An empty file is an empty SQLite database.
    let db = dir.path().join("gatehouse.db");
    std::fs::write(&db, b"").expect("db file");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let server = Server::start(dir.path()).await;

    let warning = server.start_log.iter().find(|l| l.contains("other users")).unwrap_or_else(|| panic!("{:#?}", server.start_log));
    let parsed: Value = serde_json::from_str(warning).expect("json line");
    assert_eq!(parsed["level"], "WARN", "{warning}");
    assert!(warning.contains("gatehouse.db") && warning.contains("644"), "{warning}");
    drop(server.child);
    drop(server.lines);
}

#[tokio::test]
async fn a_sqlite_copy_target_is_readable_by_the_owner_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let migrated = gatehouse(dir.path(), &["migrate"]).output().await.expect("migrate runs");
    assert!(migrated.status.success(), "{}", String::from_utf8_lossy(&migrated.stderr));

    let target = database_url(dir.path(), "copy.db");
    let copied = gatehouse(dir.path(), &["copy", "--to", &target]).output().await.expect("copy runs");

    assert!(copied.status.success(), "{}", String::from_utf8_lossy(&copied.stderr));
    for name in ["gatehouse.db", "copy.db"] {
        assert_eq!(shared_bits(&dir.path().join(name)), 0, "{name}");
    }
}
