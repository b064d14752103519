//! Liveness with a real database round trip, and the public signing keys.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::app::AppState;

/// The longest /health waits for the database before answering 503.
const DATABASE_CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// A successful database check answers /health for this long: a load balancer polling many
/// times a second costs one round trip a window, and an outage shows within one window.
const SHARED_CHECK_WINDOW: Duration = Duration::from_secs(1);

/// When the database last answered /health's check; failures are never shared.
#[derive(Default)]
pub struct DatabaseCheck {
    last_ok: Mutex<Option<Instant>>,
}

impl DatabaseCheck {
    async fn database_ok(&self, state: &AppState) -> bool {
        let recent = |at: &Option<Instant>| at.is_some_and(|at| at.elapsed() < SHARED_CHECK_WINDOW);
        if recent(&self.last_ok.lock().unwrap_or_else(|e| e.into_inner())) {
            return true;
        }
        let ok = matches!(tokio::time::timeout(DATABASE_CHECK_TIMEOUT, state.store.ping()).await, Ok(Ok(())));
        let mut last_ok = self.last_ok.lock().unwrap_or_else(|e| e.into_inner());
        *last_ok = if ok { Some(Instant::now()) } else { None };
        ok
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(health)).routes(routes!(jwks))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    #[schema(example = "ok")]
    pub status: &'static str,
    pub version: &'static str,
    pub timestamp: DateTime<Utc>,
    /// `ok` or `unavailable`.
    pub database: &'static str,
}

/// Liveness and database reachability (a successful check is shared for one second).
#[utoipa::path(get, path = "/health", tag = "service",
    responses(
        (status = 200, description = "Serving, database reachable", body = Health),
        (status = 503, description = "The database is unreachable", body = Health),
    ))]
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let database_ok = state.database_check.database_ok(&state).await;
    let (code, status) = if database_ok { (StatusCode::OK, "ok") } else { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") };
    let body = Health { status, version: env!("CARGO_PKG_VERSION"), timestamp: Utc::now(), database: status };
    (code, Json(body))
}

/// The JWK set of public keys that verify access tokens (empty with HS256).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "service",
    responses((status = 200, description = "JWK set", body = Object)))]
async fn jwks(State(state): State<AppState>) -> Json<Value> {
    // The RS256 key of ID tokens is made at its first use; a client fetching the JWKS is
    // about to need it. Should that fail (the database away), the keys at hand are served.
    if let Err(err) = state.tokens.ensure_rsa().await {
        tracing::warn!(error = %err, "could not make the RS256 signing key");
    }
    Json(state.tokens.jwks())
}
