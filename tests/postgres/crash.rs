//! Crash safety on PostgreSQL: 5 SIGKILL cycles of the Gatehouse process (not of
//! PostgreSQL) on a fresh database of the shared server, with the same checks as SQLite's
//! 20 cycles (`tests/crash.rs`; the logic is `common::crash`).

use crate::common::{crash, postgres};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_keeps_every_acknowledged_write_across_5_sigkills() {
    let url = postgres::shared().create_database().await;
    crash::survives_sigkills(&url, 5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_delivers_every_acknowledged_change_and_none_rolled_back_across_a_sigkill_with_the_endpoint_hanging() {
    let url = postgres::shared().create_database().await;
    crate::common::webhook_crash::events_survive_a_sigkill(&url).await;
}
