//! The integration suite on PostgreSQL, plus what only a shared database can show:
//! several instances on one database, outages, `gatehouse copy` into PostgreSQL, and
//! SIGKILL crash cycles.
//!
//! The binary starts its own PostgreSQL server (see `common::postgres`).

mod common;
mod suite;

#[path = "postgres/copy.rs"]
mod copy;
#[path = "postgres/copy_upstream.rs"]
mod copy_upstream;
#[path = "postgres/copy_webhooks.rs"]
mod copy_webhooks;
#[path = "postgres/crash.rs"]
mod crash;
#[path = "postgres/live_view.rs"]
mod live_view;
#[path = "postgres/mail_queue.rs"]
mod mail_queue;
#[path = "postgres/multi_instance.rs"]
mod multi_instance;
#[path = "postgres/org_live.rs"]
mod org_live;
#[path = "postgres/outage.rs"]
mod outage;
#[path = "postgres/webhook_instances.rs"]
mod webhook_instances;

pub const STORE: common::StoreKind = common::StoreKind::Postgres;
