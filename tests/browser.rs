//! The pages in a real browser: headless Chromium through WebDriver against the real
//! server on a fresh SQLite file. See `common::browser` for when these skip.

mod common;

pub const STORE: common::StoreKind = common::StoreKind::Sqlite;

#[path = "browser/accessibility.rs"]
mod accessibility;
#[path = "browser/admin.rs"]
mod admin;
#[path = "browser/admin_webhooks.rs"]
mod admin_webhooks;
#[path = "browser/email_code.rs"]
mod email_code;
#[path = "browser/express.rs"]
mod express;
#[path = "browser/journey.rs"]
mod journey;
#[path = "browser/look.rs"]
mod look;
#[path = "browser/oidc.rs"]
mod oidc;
#[path = "browser/oidc_node.rs"]
mod oidc_node;
#[path = "browser/oidc_orgs.rs"]
mod oidc_orgs;
#[path = "browser/orgs.rs"]
mod orgs;
#[path = "browser/passkeys.rs"]
mod passkeys;
#[path = "browser/protections.rs"]
mod protections;
#[path = "browser/recovery.rs"]
mod recovery;
#[path = "browser/registration.rs"]
mod registration;
#[path = "browser/sign_in.rs"]
mod sign_in;
#[path = "browser/upstream.rs"]
mod upstream;
