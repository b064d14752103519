//! The admin console: users (search, role filter, paging), a user's page, the delete
//! confirmation. Admins only: the role is read from the database with the browser session
//! on every request, so a demoted admin loses the console at once.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use minijinja::Value;
use uuid::Uuid;

use super::Page;
use super::session::Visit;
use super::signin::base;
use crate::app::AppState;
use crate::error::ApiError;
use crate::http::users::UserListParams;
use crate::store::{BrowserSession, User};

pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/admin/users", get(users_page))
        .route("/admin/users/{id}", get(user_page))
        .route("/admin/users/{id}/delete", get(delete_page).post(super::admin_actions::delete))
        .merge(super::admin_actions::router())
        .merge(super::admin_add::router())
        .merge(super::admin_home::router())
        .merge(super::admin_audit::router())
        .merge(super::admin_clients::router())
        .merge(super::admin_orgs::router())
}

/// The admin behind a visit, or the answer for one who is not: the sign-in page without a
/// session, a 403 page for a signed-in non-admin.
// The error is the page to send instead, made at most once a request: boxing it buys nothing.
#[allow(clippy::result_large_err)]
pub(super) fn admin(state: &AppState, visit: Visit, here: &str) -> Result<(Visit, BrowserSession), Response> {
    match visit.session.clone() {
        None => Err(visit.send_to_sign_in(here)),
        Some(session) if session.user.is_admin() => Ok((visit, session)),
        Some(_) => Err(message(state, visit, StatusCode::FORBIDDEN, "forbidden_title", "forbidden")),
    }
}

pub(super) fn message(state: &AppState, visit: Visit, status: StatusCode, title: &str, sentence: &str) -> Response {
    let mut context = base(state, &visit, title);
    context.insert("message", Value::from(state.pages.text(sentence)));
    let page = state.pages.render(status, "message.html", context);
    visit.respond(page)
}

/// Field errors of a list's filters, as a map the template shows beside the fields.
pub(super) fn filter_errors(err: ApiError) -> BTreeMap<String, String> {
    match err {
        ApiError::Validation(errors) => errors.into_iter().map(|e| (e.field, e.message)).collect(),
        other => BTreeMap::from([("q".to_string(), other.to_string())]),
    }
}

/// The link to another page of a list: the same query with `page` replaced.
pub(super) fn page_link(path: &str, raw_query: Option<&str>, page: u32) -> String {
    let mut pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw_query.unwrap_or("")).unwrap_or_default();
    pairs.retain(|(k, v)| k != "page" && !v.is_empty());
    pairs.push(("page".into(), page.to_string()));
    format!("{path}?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())
}

/// A filter field left empty in the form means no filter.
pub(super) fn given(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

async fn users_page(
    State(state): State<AppState>,
    visit: Visit,
    RawQuery(raw): RawQuery,
    Query(mut params): Query<UserListParams>,
) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/users")?;
    (params.q, params.role) = (given(params.q), given(params.role));
    let (q, role) = (params.q.clone().unwrap_or_default(), params.role.clone().unwrap_or_default());
    let roles = match state.store.roles_in_use().await {
        Ok(roles) => roles,
        Err(err) => {
            tracing::warn!(error = %err, "could not list the roles for the admin console");
            return Ok(super::error_page(&state, visit));
        }
    };
    let mut context = base(&state, &visit, "admin_users_title");
    context.insert("q", Value::from(q));
    context.insert("role", Value::from(role));
    context.insert("roles", Value::from(roles));
    context.insert("errors", Value::from_serialize(BTreeMap::<String, String>::new()));
    let status = match params.parse() {
        Ok(query) => {
            let page = match state.store.list_users(&query).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(error = %err, "could not list users for the admin console");
                    return Ok(super::error_page(&state, visit));
                }
            };
            let pages = page.total.div_ceil(u64::from(query.per_page)).max(1);
            let paging = state
                .pages
                .text(if page.total == 1 { "page_of_one" } else { "page_of" })
                .replace("{page}", &query.page.to_string())
                .replace("{pages}", &pages.to_string())
                .replace("{total}", &page.total.to_string());
            context.insert("paging", Value::from(paging));
            context.insert("users", Value::from_serialize(&page.items));
            if query.page > 1 {
                context.insert("previous", Value::from(page_link("/admin/users", raw.as_deref(), query.page - 1)));
            }
            if u64::from(query.page) < pages {
                context.insert("next", Value::from(page_link("/admin/users", raw.as_deref(), query.page + 1)));
            }
            StatusCode::OK
        }
        Err(err) => {
            context.insert("errors", Value::from_serialize(filter_errors(err)));
            StatusCode::UNPROCESSABLE_ENTITY
        }
    };
    let page = state.pages.render(status, "admin_users.html", context);
    Ok(visit.respond(page))
}

/// The user an admin page is about, or the 404 page.
pub(super) async fn target(state: &AppState, visit: Visit, id: &str) -> Result<(Visit, User), Response> {
    let found = match Uuid::parse_str(id) {
        Ok(id) => state.store.user_by_id(id).await,
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(user)) => Ok((visit, user)),
        Ok(None) => Err(message(state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found")),
        Err(err) => {
            tracing::warn!(error = %err, "could not read a user for the admin console");
            Err(super::error_page(state, visit))
        }
    }
}

/// A user's page, with an optional sentence on top and field errors.
pub(super) async fn render_user(
    state: &AppState,
    visit: Visit,
    user: &User,
    status: StatusCode,
    notice: Option<String>,
    error: Option<String>,
    errors: BTreeMap<String, String>,
) -> Response {
    let sessions = match state.store.live_sessions(user.id).await {
        Ok(sessions) => sessions,
        Err(err) => {
            tracing::warn!(error = %err, "could not list a user's sessions for the admin console");
            return super::error_page(state, visit);
        }
    };
    let sessions = super::account::session_rows(sessions, None);
    let passkeys = match state.accounts.passkeys(user.id).await {
        Ok(passkeys) => super::passkeys::rows(passkeys),
        Err(err) => {
            tracing::warn!(error = %err, "could not list a user's passkeys for the admin console");
            return super::error_page(state, visit);
        }
    };
    let in_use = match state.store.roles_in_use().await {
        Ok(roles) => roles,
        Err(err) => {
            tracing::warn!(error = %err, "could not list the roles for the admin console");
            return super::error_page(state, visit);
        }
    };
    let mut context = base(state, &visit, "admin_user_title");
    context.insert("role_choices", Value::from(role_choices(in_use, user)));
    context.insert("passkeys_on", Value::from(state.accounts.passkeys_on()));
    context.insert("created", Value::from(user.created_at.format("%Y-%m-%d %H:%M UTC").to_string()));
    context.insert("passkeys", Value::from_serialize(&passkeys));
    context.insert("title", Value::from(state.pages.text("admin_user_title").replace("{username}", &user.username)));
    context.insert("user", Value::from_serialize(user));
    context.insert("sessions", Value::from_serialize(&sessions));
    context.insert("notice", Value::from(notice));
    context.insert("error", Value::from(error));
    context.insert("errors", Value::from_serialize(&errors));
    let page = state.pages.render(status, "admin_user.html", context);
    visit.respond(page)
}

/// The roles an admin picks from: `user`, `admin`, every role in use and the user's own.
fn role_choices(in_use: Vec<String>, user: &User) -> Vec<String> {
    let mut roles: Vec<String> = ["user", "admin"].map(String::from).into_iter().chain(in_use).chain(user.roles.iter().cloned()).collect();
    roles.sort();
    roles.dedup();
    roles
}

async fn user_page(State(state): State<AppState>, visit: Visit, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Page {
    let (visit, _) = admin(&state, visit, &format!("/admin/users/{id}"))?;
    let (visit, user) = target(&state, visit, &id).await?;
    let notice = match raw.as_deref() {
        Some("done=changed") => Some(state.pages.text("changed")),
        Some("done=created") => Some(state.pages.text("user_created")),
        _ => None,
    };
    Ok(render_user(&state, visit, &user, StatusCode::OK, notice, None, BTreeMap::new()).await)
}

async fn delete_page(State(state): State<AppState>, visit: Visit, Path(id): Path<String>) -> Page {
    let (visit, _) = admin(&state, visit, &format!("/admin/users/{id}/delete"))?;
    let (visit, user) = target(&state, visit, &id).await?;
    let title = state.pages.text("delete_title").replace("{username}", &user.username);
    let action = format!("/admin/users/{}/delete", user.id);
    Ok(confirmation(&state, visit, &title, "delete_prompt", "delete_confirm", &action, &format!("/admin/users/{}", user.id)))
}

/// The page that asks before something that cannot be undone; its button posts to `action`.
pub(super) fn confirmation(state: &AppState, visit: Visit, title: &str, prompt: &str, confirm: &str, action: &str, back: &str) -> Response {
    let mut context = base(state, &visit, "delete_title");
    context.insert("title", Value::from(title));
    context.insert("prompt", Value::from(state.pages.text(prompt)));
    context.insert("confirm", Value::from(state.pages.text(confirm)));
    context.insert("action", Value::from(action));
    context.insert("back", Value::from(back));
    let page = state.pages.render(StatusCode::OK, "admin_delete.html", context);
    visit.respond(page)
}
