//! The console's home: the service's state at a glance (users, active sessions, sign-ins
//! and failed sign-ins over the last day), with the way to the rest.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use minijinja::Value;

use super::Page;
use super::admin::admin;
use super::session::Visit;
use super::signin::base;
use crate::app::AppState;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/admin", get(home))
}

async fn home(State(state): State<AppState>, visit: Visit) -> Page {
    let (visit, _) = admin(&state, visit, "/admin")?;
    let counts = match state.store.console_counts(chrono::Utc::now() - chrono::Duration::days(1)).await {
        Ok(counts) => counts,
        Err(err) => {
            tracing::warn!(error = %err, "could not count for the console's home");
            return Ok(super::error_page(&state, visit));
        }
    };
    let mut context = base(&state, &visit, "console_home_title");
    context.insert("counts", Value::from_serialize(counts));
    context.insert("registration", Value::from(format!("{:?}", state.accounts.registration).to_lowercase()));
    let page = state.pages.render(StatusCode::OK, "admin_home.html", context);
    Ok(visit.respond(page))
}
