//! The admin console's audit log (with the API's filters) and the signing keys' state.

use axum::extract::{Query, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use minijinja::Value;
use serde_json::json;

use super::Page;
use super::admin::{admin, filter_errors, given, page_link};
use super::session::Visit;
use super::signin::base;
use crate::app::AppState;
use crate::http::audit::AuditParams;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/admin/audit", get(audit_page)).route("/admin/keys", get(keys_page))
}

async fn audit_page(State(state): State<AppState>, visit: Visit, RawQuery(raw): RawQuery, Query(mut params): Query<AuditParams>) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/audit")?;
    (params.user_id, params.kind, params.since, params.until) =
        (given(params.user_id), given(params.kind), given(params.since), given(params.until));
    // An absent filter is an empty field, never the text of a null.
    let filters = json!({
        "user_id": params.user_id.clone().unwrap_or_default(), "type": params.kind.clone().unwrap_or_default(),
        "since": params.since.clone().unwrap_or_default(), "until": params.until.clone().unwrap_or_default(),
    });
    let mut context = base(&state, &visit, "admin_audit_title");
    context.insert("filters", Value::from_serialize(&filters));
    let status = match params.parse() {
        Ok(query) => {
            let page = match state.store.list_audit(&query).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the audit log for the admin console");
                    return Ok(super::error_page(&state, visit));
                }
            };
            // Usernames, not ids: UUIDv7 prefixes are alike for everyone made the same minute.
            let ids: Vec<uuid::Uuid> = page.items.iter().flat_map(|e| [e.user_id, e.actor_id]).flatten().collect();
            let names = match state.store.usernames(&ids).await {
                Ok(names) => names,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read usernames for the audit log");
                    return Ok(super::error_page(&state, visit));
                }
            };
            let name = |id: Option<uuid::Uuid>| id.map(|id| names.get(&id).cloned().unwrap_or_else(|| state.pages.text("deleted_user")));
            let events: Vec<serde_json::Value> = page
                .items
                .iter()
                .map(|e| {
                    json!({
                        "time": e.time.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                        "type": e.kind, "user_id": e.user_id, "user": name(e.user_id),
                        "actor": name(e.actor_id), "ip": e.ip,
                    })
                })
                .collect();
            context.insert("events", Value::from_serialize(&events));
            if query.page > 1 {
                context.insert("previous", Value::from(page_link("/admin/audit", raw.as_deref(), query.page - 1)));
            }
            if u64::from(query.page) * u64::from(query.per_page) < page.total {
                context.insert("next", Value::from(page_link("/admin/audit", raw.as_deref(), query.page + 1)));
            }
            StatusCode::OK
        }
        Err(err) => {
            context.insert("errors", Value::from_serialize(filter_errors(err)));
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    let page = state.pages.render(status, "admin_audit.html", context);
    Ok(visit.respond(page))
}

async fn keys_page(State(state): State<AppState>, visit: Visit) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/keys")?;
    let keys = match state.store.signing_keys().await {
        Ok(keys) => keys,
        Err(err) => {
            tracing::warn!(error = %err, "could not read the signing keys for the admin console");
            return Ok(super::error_page(&state, visit));
        }
    };
    // Never the private half: the kid and dates only.
    let keys: Vec<serde_json::Value> = keys
        .iter()
        .map(|k| {
            json!({
                "kid": k.kid,
                "created_at": k.created_at.format("%Y-%m-%d %H:%M UTC").to_string(),
                "retired_at": k.retired_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            })
        })
        .collect();
    let mut context = base(&state, &visit, "admin_keys_title");
    context.insert("keys", Value::from_serialize(&keys));
    let page = state.pages.render(StatusCode::OK, "admin_keys.html", context);
    Ok(visit.respond(page))
}
