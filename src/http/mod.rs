//! One module per resource, each a router with its OpenAPI entries.

pub mod audit;
pub mod auth;
pub mod caller;
pub mod clients;
pub mod docs;
pub mod email_code;
pub mod extract;
pub mod fields;
pub mod health;
pub mod invitations;
pub mod limits;
pub mod me;
pub mod mfa;
pub mod middleware;
pub mod oauth;
pub mod org_invitations;
pub mod orgs;
mod outcomes;
pub mod overload;
pub mod paging;
pub mod passkeys;
pub mod recovery;
pub mod schemas;
pub mod sessions;
pub mod templates;
pub mod users;
pub mod webauthn;
pub mod webhooks;
// Upstream sign-in: providers and people's identities.
pub mod identities;
pub mod providers;

pub use caller::{AccountUser, AdminUser, AuthUser};

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;

/// Every API route, registered with its OpenAPI entry in one call.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .merge(health::router())
        .merge(auth::router())
        .merge(email_code::router())
        .merge(me::router())
        .merge(recovery::router())
        .merge(mfa::router())
        .merge(passkeys::router())
        .merge(sessions::router())
        .merge(users::router())
        .merge(invitations::router())
        .merge(templates::router())
        .merge(clients::router())
        .merge(oauth::router())
        .merge(audit::router())
        .merge(webhooks::router())
        .merge(providers::router())
        .merge(identities::router())
        .merge(orgs::router())
        .merge(org_invitations::router())
}
