//! The integration suite on the embedded SQLite store, plus SQLite's own trouble cases.

mod common;
mod suite;

#[path = "sqlite/backup.rs"]
mod backup;
#[path = "sqlite/outage.rs"]
mod outage;

pub const STORE: common::StoreKind = common::StoreKind::Sqlite;
