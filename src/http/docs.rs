//! The OpenAPI 3.1 document, generated from the handlers' annotations, and the /docs page
//! that renders it with Swagger UI served from the binary (nothing from a CDN).

use std::sync::Arc;

use axum::response::Html;
use axum::routing::get;
use axum::{Extension, Json, Router};
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, HttpMethod, OpenApi as OpenApiDoc, Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::error::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse",
        description = "Authentication and user management: register, log in, rotated refresh tokens, \
sessions, and EdDSA access tokens that any service verifies through the JWKS. Every error is an \
RFC 9457 problem document (`application/problem+json`) with a stable `code`. Path ids that are \
not UUIDs answer 404. Refresh tokens rotate on every use; presenting a rotated token again inside \
the grace window (GATEHOUSE_REFRESH_REUSE_GRACE, 10 s) answers the session's current refresh token, \
after it `token_reused` and the session is revoked.",
    ),
    paths(openapi_json, docs_page, crate::metrics::serve),
    modifiers(&BearerScheme),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "auth", description = "Register, log in, refresh, log out"),
        (name = "recovery", description = "Email verification and password reset by mailed one-time links"),
        (name = "me", description = "The caller's own account and sessions"),
        (name = "mfa", description = "The caller's TOTP second factor: setup, confirmation, turning it off"),
        (name = "passkeys", description = "Passkeys (WebAuthn): adding, listing, renaming and deleting them; signing in with one \
(no username, two factors) or using one as the second step of a password login"),
        (name = "admin", description = "User management by admins: list, read, change roles, disable, delete"),
        (name = "templates", description = "The caller's own templates"),
        (name = "organizations", description = "Organizations: members and their org roles, invitations by email, and the \
session's active org that access tokens carry as `org`"),
        (name = "openid", description = "The OpenID Connect provider's JSON endpoints (errors in RFC 6749's shape); /oauth/authorize and /oauth/logout are pages"),
        (name = "webhooks", description = "Webhook endpoints (Standard Webhooks) by admins: events signed, queued with each change, delivered at least once"),
        (name = "service", description = "Health, public keys, this document, the /docs page and the metrics"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// Adds the error answers every operation can give, so that none is undeclared: 401 on
/// secured operations, 400/413/415/422 where a body is read, 404 where a path id is, and
/// 408/431/500/503 everywhere.
pub fn declare_common_errors(openapi: &mut OpenApiDoc) {
    for item in openapi.paths.paths.values_mut() {
        for method in [HttpMethod::Get, HttpMethod::Post, HttpMethod::Put, HttpMethod::Patch, HttpMethod::Delete] {
            let operation = match method {
                HttpMethod::Get => item.get.as_mut(),
                HttpMethod::Post => item.post.as_mut(),
                HttpMethod::Put => item.put.as_mut(),
                HttpMethod::Patch => item.patch.as_mut(),
                HttpMethod::Delete => item.delete.as_mut(),
                _ => None,
            };
            if let Some(operation) = operation {
                add_common_errors(operation);
            }
        }
    }
}

/// The request fields that take a new password, whose shortest length is a setting.
const NEW_PASSWORD_FIELDS: &[(&str, &str)] =
    &[("RegisterRequest", "password"), ("ChangePasswordRequest", "new_password"), ("ResetPasswordRequest", "new_password")];

/// States the rules that come from settings rather than code: the shortest password
/// (GATEHOUSE_PASSWORD_MIN_LENGTH) replaces the annotations' default of 8.
pub fn state_configured_rules(openapi: &mut OpenApiDoc, password_min_length: usize) {
    let Some(components) = openapi.components.as_mut() else { return };
    for (schema, field) in NEW_PASSWORD_FIELDS {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*schema) else { continue };
        if let Some(RefOr::T(Schema::Object(property))) = object.properties.get_mut(*field) {
            property.min_length = Some(password_min_length);
            property.description = Some(format!(
                "{password_min_length} (GATEHOUSE_PASSWORD_MIN_LENGTH) to 128 characters, counted as sent; \
refused when easy to guess (common passwords, the username or email itself)."
            ));
        }
    }
}

fn add_common_errors(operation: &mut Operation) {
    let mut codes: Vec<(&str, &str)> = vec![
        ("408", "`request_timeout`: the request ran longer than 30 s"),
        ("431", "`headers_too_large`: the request headers are over 32 KiB in total"),
        ("500", "`internal`: a bug, logged with the request id"),
        ("503", "`unavailable`: the database is unreachable, or the server is at its limit of requests in flight"),
    ];
    if operation.request_body.is_some() {
        codes.extend([
            ("400", "`malformed_request`: the body is not JSON, or not a JSON object"),
            ("413", "`payload_too_large`: the body is over 256 KiB (1 MiB on the template routes)"),
            ("415", "`unsupported_media_type`: the body is not application/json"),
            ("422", "`validation_failed`: `errors` lists every field that is missing, of the wrong type or breaks a rule, all at once"),
        ]);
    }
    if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
        codes.push(("401", "`invalid_token`: the access token is missing, invalid, expired or revoked"));
    }
    if operation.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
        codes.push(("422", "`validation_failed`: a query parameter is malformed or out of range"));
        codes.push(("404", "`not_found`: no such object, or not the caller's"));
    }
    for (code, description) in codes {
        operation.responses.responses.entry(code.to_string()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description(description)
                    .content("application/problem+json", ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
                    .build(),
            )
        });
    }
}

const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Gatehouse API</title>
<link rel="stylesheet" href="docs/ui/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/ui/swagger-ui-bundle.js"></script>
<script src="docs/ui/swagger-ui-standalone-preset.js"></script>
<script src="docs/ui/swagger-initializer.js"></script>
</body>
</html>
"#;

/// This document: OpenAPI 3.1, every route the server answers, with the bearer scheme.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json")))]
async fn openapi_json(Extension(doc): Extension<Arc<OpenApiDoc>>) -> Json<Arc<OpenApiDoc>> {
    Json(doc)
}

/// A page to read and try the API (Swagger UI, served from the binary).
#[utoipa::path(get, path = "/docs", tag = "service",
    responses((status = 200, description = "The HTML page", body = String, content_type = "text/html")))]
async fn docs_page() -> Html<&'static str> {
    Html(DOCS_PAGE)
}

/// `/openapi.json`, `/docs` and the Swagger UI assets under `/docs/ui/`.
pub fn router<S: Clone + Send + Sync + 'static>(openapi: OpenApiDoc) -> Router<S> {
    // The UI reads the document from /openapi.json, which the route below serves.
    let swagger: Router<S> = SwaggerUi::new("/docs/ui").config(Config::new(["/openapi.json"])).into();
    swagger.route("/docs", get(docs_page)).route("/openapi.json", get(openapi_json).layer(Extension(Arc::new(openapi))))
}
