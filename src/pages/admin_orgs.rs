//! The admin console's organizations: every org (paged, oldest first) and one org's
//! members with their org roles. Read-only: changes go through the API or `gatehouse org`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use minijinja::Value;
use serde_json::json;
use uuid::Uuid;

use super::Page;
use super::admin::{admin, message, page_link};
use super::session::Visit;
use super::signin::base;
use crate::app::AppState;

const PER_PAGE: u32 = 50;

pub fn router() -> axum::Router<AppState> {
    axum::Router::new().route("/admin/orgs", get(orgs_page)).route("/admin/orgs/{id}", get(org_page))
}

/// The `page` of a query; anything else (or nothing) is the first page.
fn page_of(raw: Option<&str>) -> u32 {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    pairs.iter().find(|(k, _)| k == "page").and_then(|(_, v)| v.parse().ok()).filter(|p| *p >= 1 && *p <= 100_000).unwrap_or(1)
}

/// Previous and next links of a paged list.
fn pager(context: &mut std::collections::BTreeMap<&'static str, Value>, path: &str, raw: Option<&str>, page: u32, total: u64) {
    if page > 1 {
        context.insert("previous", Value::from(page_link(path, raw, page - 1)));
    }
    if u64::from(page) * u64::from(PER_PAGE) < total {
        context.insert("next", Value::from(page_link(path, raw, page + 1)));
    }
}

async fn orgs_page(State(state): State<AppState>, visit: Visit, RawQuery(raw): RawQuery) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/orgs")?;
    let page = page_of(raw.as_deref());
    let orgs = match state.store.list_orgs(page, PER_PAGE).await {
        Ok(orgs) => orgs,
        Err(err) => {
            tracing::warn!(error = %err, "could not list organizations for the admin console");
            return Ok(super::error_page(&state, visit));
        }
    };
    let rows: Vec<serde_json::Value> = orgs
        .items
        .iter()
        .map(|o| json!({ "id": o.id, "slug": o.slug, "name": o.name, "created_at": o.created_at.format("%Y-%m-%d").to_string() }))
        .collect();
    let mut context = base(&state, &visit, "admin_orgs_title");
    context.insert("orgs", Value::from_serialize(&rows));
    context.insert("total", Value::from(orgs.total));
    pager(&mut context, "/admin/orgs", raw.as_deref(), page, orgs.total);
    let page = state.pages.render(StatusCode::OK, "admin_orgs.html", context);
    Ok(visit.respond(page))
}

async fn org_page(State(state): State<AppState>, visit: Visit, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Page {
    let (visit, _) = admin(&state, visit, &format!("/admin/orgs/{id}"))?;
    let org = match Uuid::parse_str(&id).ok() {
        Some(id) => state.store.org_by_id(id).await,
        None => Ok(None),
    };
    let org = match org {
        Ok(Some(org)) => org,
        Ok(None) => return Err(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found")),
        Err(err) => {
            tracing::warn!(error = %err, "could not read an organization for the admin console");
            return Ok(super::error_page(&state, visit));
        }
    };
    let page = page_of(raw.as_deref());
    let members = match state.store.list_members(org.id, page, PER_PAGE).await {
        Ok(members) => members,
        Err(err) => {
            tracing::warn!(error = %err, "could not list an organization's members for the admin console");
            return Ok(super::error_page(&state, visit));
        }
    };
    let rows: Vec<serde_json::Value> = members
        .items
        .iter()
        .map(|m| {
            json!({ "id": m.user.id, "username": m.user.username, "email": m.user.email, "roles": m.roles,
                    "since": m.created_at.format("%Y-%m-%d").to_string() })
        })
        .collect();
    let mut context = base(&state, &visit, "admin_orgs_title");
    context.insert("title", Value::from(format!("{} ({})", org.name, org.slug)));
    context.insert("members", Value::from_serialize(&rows));
    context.insert("total", Value::from(members.total));
    pager(&mut context, &format!("/admin/orgs/{}", org.id), raw.as_deref(), page, members.total);
    let page = state.pages.render(StatusCode::OK, "admin_org.html", context);
    Ok(visit.respond(page))
}
