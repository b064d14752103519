//! `gatehouse backup` of a running SQLite database under load, and `gatehouse restore`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::Connection as _;
use tokio::sync::Mutex;

use crate::common::{PASSWORD, TestApp};
use crate::suite::export::{gatehouse, succeeded};

/// Writes acknowledged (2xx) by the server, each with when its answer arrived.
#[derive(Default)]
struct Acknowledged {
    users: Vec<(Instant, String)>,
    templates: Vec<(Instant, String)>,
    refreshes: Vec<Instant>,
}

/// Registrations, refreshes and template writes in a loop until `stop` (at most 2,000 rounds).
async fn load(app: Arc<TestApp>, stop: Arc<AtomicBool>, acked: Arc<Mutex<Acknowledged>>) {
    let owner = app.user("owner").await;
    let mut refresh = owner.refresh.clone();
    for i in 0..2000 {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let name = format!("user{i}");
        if app.post_register(&name, None, PASSWORD).await.status() == StatusCode::CREATED {
            acked.lock().await.users.push((Instant::now(), name));
        }
        let res = app.post_refresh(&refresh).await;
        if res.status() == StatusCode::OK {
            let pair: Value = res.json().await.expect("pair");
            refresh = pair["refresh_token"].as_str().expect("token").to_string();
            acked.lock().await.refreshes.push(Instant::now());
        }
        let template = format!("t{i}");
        let res = app.post("/v1/templates", &json!({"name": template, "content": "hello"}), Some(&owner.access)).await;
        if res.status() == StatusCode::CREATED {
            acked.lock().await.templates.push((Instant::now(), template));
        }
    }
}

async fn count(conn: &mut sqlx::SqliteConnection, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(conn).await.expect(sql)
}

#[tokio::test]
async fn a_backup_taken_under_load_passes_the_integrity_check_holds_every_write_acknowledged_before_it_and_serves_logins() {
    let app = Arc::new(TestApp::spawn().await);
    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Acknowledged::default())));
    let loader = tokio::spawn(load(app.clone(), stop.clone(), acked.clone()));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let backup = dir.path().join("backup.db");

    let began = Instant::now();
    let output = gatehouse(&app.database_url, &["backup", backup.to_str().expect("utf-8")]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    loader.await.expect("load ran");

    succeeded(&output);
    let acked = acked.lock().await;
    let before = |t: &Instant| *t < began;
    let users_before: Vec<&String> = acked.users.iter().filter(|(t, _)| before(t)).map(|(_, n)| n).collect();
    let templates_before = acked.templates.iter().filter(|(t, _)| before(t)).count() as i64;
    let refreshes_before = acked.refreshes.iter().filter(|t| before(t)).count() as i64;
    assert!(users_before.len() >= 2 && templates_before >= 2, "the load ran before the backup");
    assert!(acked.users.len() > users_before.len(), "the load went on during the backup");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(std::fs::metadata(&backup).expect("backup").permissions().mode() & 0o777, 0o600);
    }

    let restored_url = format!("sqlite://{}", dir.path().join("restored.db").display());
    let restored = succeeded(&gatehouse(&restored_url, &["restore", backup.to_str().expect("utf-8")]).await);
    assert!(restored.contains("restored"), "{restored}");
    let mut conn = sqlx::SqliteConnection::connect(&restored_url).await.expect("open the restored copy");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut conn).await.expect("integrity check");
    assert_eq!(integrity, "ok");
    for name in &users_before {
        let found: i64 =
            sqlx::query_scalar("SELECT count(*) FROM users WHERE username = $1").bind(name).fetch_one(&mut conn).await.expect("count");
        assert_eq!(found, 1, "{name} was acknowledged before the backup began");
    }
    assert!(count(&mut conn, "SELECT count(*) FROM templates").await >= templates_before);
    // The owner's first token and one more per acknowledged rotation.
    assert!(count(&mut conn, "SELECT count(*) FROM refresh_tokens").await > refreshes_before);
    conn.close().await.expect("close");

    let server = TestApp::spawn_on(&restored_url, |_| {}).await;
    assert_eq!(server.post_login(users_before[0], PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(server.post_login(users_before[users_before.len() - 1], PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn restore_refuses_a_database_in_use_and_a_file_that_is_no_gatehouse_database() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let backup = dir.path().join("backup.db");
    succeeded(&gatehouse(&app.database_url, &["backup", backup.to_str().expect("utf-8")]).await);

    let in_use = gatehouse(&app.database_url, &["restore", backup.to_str().expect("utf-8")]).await;
    assert!(!in_use.status.success());
    assert!(String::from_utf8_lossy(&in_use.stderr).contains("in use"), "{}", String::from_utf8_lossy(&in_use.stderr));
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::OK, "the live database is untouched");

    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![7u8; 8192]).expect("written");
    let target = format!("sqlite://{}", dir.path().join("other.db").display());
    let refused = gatehouse(&target, &["restore", garbage.to_str().expect("utf-8")]).await;
    assert!(!refused.status.success(), "a file that is no database is refused");
    assert!(!dir.path().join("other.db").exists(), "nothing takes the database's place");

    let again = gatehouse(&app.database_url, &["backup", backup.to_str().expect("utf-8")]).await;
    assert!(!again.status.success(), "a backup never replaces a file");
}

#[tokio::test]
async fn restore_refuses_a_backup_whose_schema_is_newer_than_the_binary_and_leaves_the_database_as_it_was() {
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let backup = dir.path().join("backup.db");
    succeeded(&gatehouse(&app.database_url, &["backup", backup.to_str().expect("utf-8")]).await);
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", backup.display())).await.expect("open the backup");
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (9002, 'from a newer gatehouse', TRUE, x'00', 1)",
    )
    .execute(&mut conn)
    .await
    .expect("a migration this binary does not know");
    conn.close().await.expect("close");
    let target = dir.path().join("live.db");
    let target_url = format!("sqlite://{}", target.display());
    succeeded(&gatehouse(&target_url, &["migrate"]).await);
    let before = std::fs::read(&target).expect("the live database");

    let refused = gatehouse(&target_url, &["restore", backup.to_str().expect("utf-8")]).await;

    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("migration 9002") && stderr.contains("database is unchanged"), "{stderr}");
    assert_eq!(std::fs::read(&target).expect("the live database"), before);
    assert!(!dir.path().join("live.db-restoring").exists(), "the refused copy is removed");
}

#[cfg(unix)]
#[tokio::test]
async fn backup_refuses_a_dangling_link_and_an_existing_file_and_writes_a_new_file_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let app = TestApp::spawn().await;
    app.user("alice").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (link, elsewhere) = (dir.path().join("link.db"), dir.path().join("elsewhere.db"));
    std::os::unix::fs::symlink(&elsewhere, &link).expect("a dangling link");
    let existing = dir.path().join("existing.db");
    std::fs::write(&existing, b"").expect("an empty file");
    std::fs::set_permissions(&existing, std::fs::Permissions::from_mode(0o644)).expect("mode");

    let through_link = gatehouse(&app.database_url, &["backup", link.to_str().expect("utf-8")]).await;
    let over_file = gatehouse(&app.database_url, &["backup", existing.to_str().expect("utf-8")]).await;

    assert!(!through_link.status.success(), "a link is refused");
    assert!(String::from_utf8_lossy(&through_link.stderr).contains("exists"), "{}", String::from_utf8_lossy(&through_link.stderr));
    assert!(std::fs::symlink_metadata(&elsewhere).is_err(), "nothing is written where the link points");
    assert!(std::fs::symlink_metadata(&link).expect("the link").file_type().is_symlink(), "the link is left as it was");
    assert!(!over_file.status.success(), "an existing file is refused");
    assert_eq!(std::fs::metadata(&existing).expect("the file").len(), 0, "and left as it was");

    let backup = dir.path().join("backup.db");
    succeeded(&gatehouse(&app.database_url, &["backup", backup.to_str().expect("utf-8")]).await);
    assert_eq!(std::fs::metadata(&backup).expect("backup").permissions().mode() & 0o777, 0o600);
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).expect("listed").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names, ["backup.db", "existing.db", "link.db"], "no staging folder is left behind");
    let restored_url = format!("sqlite://{}", dir.path().join("restored.db").display());
    succeeded(&gatehouse(&restored_url, &["restore", backup.to_str().expect("utf-8")]).await);
    let server = TestApp::spawn_on(&restored_url, |_| {}).await;
    assert_eq!(server.post_login("alice", PASSWORD).await.status(), StatusCode::OK, "the backup holds the account");
}
