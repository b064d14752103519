//! The integration suite on PostgreSQL, plus what only a shared database can show:
//! several instances on one database, outages, and `gatehouse copy` into PostgreSQL.
//!
//! The binary starts its own PostgreSQL server (see `common::postgres`).

mod common;
mod suite;

#[path = "postgres/copy.rs"]
mod copy;
#[path = "postgres/multi_instance.rs"]
mod multi_instance;
#[path = "postgres/outage.rs"]
mod outage;

pub const STORE: common::StoreKind = common::StoreKind::Postgres;
