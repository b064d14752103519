//! `gatehouse migrate --status` and `--dry-run` read without changing anything, and a binary
//! never runs on a schema newer than itself: the server and every command refuse, naming
//! the version the database needs.

use serde_json::Value;
use sqlx::Connection as _;

use super::export::{gatehouse, succeeded};
use crate::STORE;
use crate::common::{StoreKind, TestApp};

/// Records a migration this binary does not carry, as a newer binary would have.
async fn apply_unknown_migration(database_url: &str, version: i64) {
    let sql = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
               VALUES ($1, 'from a newer gatehouse', TRUE, $2, 1)";
    match STORE {
        StoreKind::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(database_url).await.expect("connect");
            sqlx::query(sql).bind(version).bind(vec![0u8; 48]).execute(&mut conn).await.expect("insert");
        }
        StoreKind::Postgres => {
            let mut conn = sqlx::PgConnection::connect(database_url).await.expect("connect");
            sqlx::query(sql).bind(version).bind(vec![0u8; 48]).execute(&mut conn).await.expect("insert");
        }
    }
}

#[tokio::test]
async fn migrate_status_shows_the_database_and_binary_versions_and_dry_run_lists_nothing_on_a_current_schema() {
    let app = TestApp::spawn().await;

    let status: Value =
        serde_json::from_str(&succeeded(&gatehouse(&app.database_url, &["migrate", "--status", "--json"]).await)).expect("JSON status");
    let dry_run = succeeded(&gatehouse(&app.database_url, &["migrate", "--dry-run"]).await);

    assert_eq!(status["state"], "current", "{status}");
    assert_eq!(status["database_version"], status["binary_version"], "{status}");
    assert!(status["binary_version"].as_i64().is_some_and(|v| v >= 8), "{status}");
    assert!(dry_run.contains("nothing to run"), "{dry_run}");
}

#[tokio::test]
async fn a_database_migrated_by_a_newer_binary_is_refused_by_the_server_and_every_command_with_the_version_it_needs() {
    let app = TestApp::spawn().await;
    apply_unknown_migration(&app.database_url, 9001).await;

    let status: Value =
        serde_json::from_str(&succeeded(&gatehouse(&app.database_url, &["migrate", "--status", "--json"]).await)).expect("JSON status");
    assert_eq!((status["state"].as_str(), status["database_version"].as_i64()), (Some("newer"), Some(9001)), "{status}");

    for args in [&["serve"][..], &["migrate"], &["migrate", "--dry-run"], &["user", "list"], &["export", "never-written.jsonl"]] {
        let output = gatehouse(&app.database_url, args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} must refuse a newer schema");
        assert!(stderr.contains("newer than this gatehouse") && stderr.contains("migration 9001"), "{args:?}: {stderr}");
    }
}
