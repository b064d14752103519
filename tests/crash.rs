//! Crash safety on SQLite: 20 SIGKILL cycles (the logic is `common::crash`, shared with the
//! PostgreSQL binary's 5 cycles in `tests/postgres/crash.rs`).

mod common;

pub const STORE: common::StoreKind = common::StoreKind::Sqlite;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_keeps_every_acknowledged_write_across_20_sigkills() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("crash.db").display());
    common::crash::survives_sigkills(&url, 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_delivers_every_acknowledged_change_and_none_rolled_back_across_a_sigkill_with_the_endpoint_hanging() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("webhooks.db").display());
    common::webhook_crash::events_survive_a_sigkill(&url).await;
}
