//! The integration suite on the embedded SQLite store.

mod common;
mod suite;

pub const STORE: common::StoreKind = common::StoreKind::Sqlite;
