//! The admin console's sign-in providers: listed with the redirect URI to register
//! upstream, added and removed through the same flows as `/v1/providers`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Form, Router};
use minijinja::Value;
use serde::Deserialize;
use serde_json::json;

use super::Page;
use super::admin::{admin, message};
use super::session::Visit;
use super::signin::{CsrfForm, base, form_expired};
use crate::accounts::AccountError;
use crate::app::AppState;
use crate::audit::Audit;
use crate::upstream::providers::ProviderRequest;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/providers", get(providers_page).post(add)).route("/admin/providers/{slug}/delete", post(remove))
}

#[derive(Deserialize, Default, serde::Serialize)]
pub struct ProviderForm {
    #[serde(default, skip_serializing)]
    csrf: String,
    #[serde(default)]
    slug: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default, skip_serializing)]
    client_secret: String,
}

async fn render(
    state: &AppState,
    visit: Visit,
    status: StatusCode,
    form: &ProviderForm,
    errors: BTreeMap<String, String>,
    notice: Option<String>,
) -> Response {
    let providers = match state.store.providers().await {
        Ok(list) => list,
        Err(err) => {
            tracing::warn!(error = %err, "could not list providers for the admin console");
            return super::error_page(state, visit);
        }
    };
    let rows: Vec<_> = providers
        .iter()
        .map(|p| json!({ "slug": p.slug, "name": p.name, "kind": p.kind, "issuer": p.issuer, "callback": state.upstream.callback_url(&p.slug) }))
        .collect();
    let mut context = base(state, &visit, "admin_providers");
    context.insert("providers", Value::from_serialize(&rows));
    context.insert("form", Value::from_serialize(form));
    context.insert("slug_hint", Value::from(state.pages.text("provider_slug_hint").replace("{public_url}", &state.upstream.public_url)));
    if !errors.is_empty() {
        context.insert("error", Value::from(state.pages.text("fix_fields")));
    }
    context.insert("errors", Value::from_serialize(&errors));
    context.insert("notice", Value::from(notice));
    let page = state.pages.render(status, "admin_providers.html", context);
    visit.respond(page)
}

async fn providers_page(State(state): State<AppState>, visit: Visit) -> Page {
    let (visit, _) = admin(&state, visit, "/admin/providers")?;
    Ok(render(&state, visit, StatusCode::OK, &ProviderForm::default(), BTreeMap::new(), None).await)
}

async fn add(State(state): State<AppState>, visit: Visit, audit: Audit, Form(form): Form<ProviderForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/providers")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    let issuer = Some(form.issuer.trim().to_string()).filter(|i| !i.is_empty());
    let request = ProviderRequest {
        slug: form.slug.trim().to_string(),
        name: form.name.clone(),
        kind: form.kind.clone(),
        issuer,
        client_id: form.client_id.trim().to_string(),
        client_secret: form.client_secret.clone(),
        ..ProviderRequest::default()
    };
    match state.upstream.add_provider(&audit, Some(session.user.id), request).await {
        Ok(_) => {
            Ok(render(&state, visit, StatusCode::OK, &ProviderForm::default(), BTreeMap::new(), Some(state.pages.text("provider_added")))
                .await)
        }
        Err(AccountError::Invalid(fields)) => {
            let errors = fields.into_iter().map(|f| (f.field, f.message)).collect();
            Ok(render(&state, visit, StatusCode::UNPROCESSABLE_ENTITY, &form, errors, None).await)
        }
        Err(AccountError::Store(crate::store::StoreError::Conflict(crate::store::Conflict::SlugTaken))) => {
            let errors = BTreeMap::from([("slug".to_string(), state.pages.text("slug_taken"))]);
            Ok(render(&state, visit, StatusCode::CONFLICT, &form, errors, None).await)
        }
        Err(other) => {
            tracing::warn!(error = %other, "adding a provider from the admin console failed");
            Ok(super::error_page(&state, visit))
        }
    }
}

async fn remove(State(state): State<AppState>, visit: Visit, audit: Audit, Path(slug): Path<String>, Form(form): Form<CsrfForm>) -> Page {
    let (visit, session) = admin(&state, visit, "/admin/providers")?;
    if !visit.csrf_ok(&state, &form.csrf) {
        return Ok(form_expired(&state, visit));
    }
    match state.upstream.remove_provider(&audit, Some(session.user.id), &slug).await {
        Ok(()) => {
            Ok(render(&state, visit, StatusCode::OK, &ProviderForm::default(), BTreeMap::new(), Some(state.pages.text("provider_removed")))
                .await)
        }
        Err(AccountError::NotFound) => Ok(message(&state, visit, StatusCode::NOT_FOUND, "not_found_title", "not_found")),
        Err(other) => {
            tracing::warn!(error = %other, "removing a provider from the admin console failed");
            Ok(super::error_page(&state, visit))
        }
    }
}
