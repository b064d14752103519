//! Templates, the sentences they show, the stylesheet and the pages' security policy, made
//! once at start.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};

use crate::app::AppState;
use crate::config::pages::PageSettings;

/// The built-in templates, by file name.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/pages/base.html")),
    ("fields.html", include_str!("../../templates/pages/fields.html")),
    ("login.html", include_str!("../../templates/pages/login.html")),
    ("mfa.html", include_str!("../../templates/pages/mfa.html")),
    ("register.html", include_str!("../../templates/pages/register.html")),
    ("account.html", include_str!("../../templates/pages/account.html")),
    ("message.html", include_str!("../../templates/pages/message.html")),
    ("forgot.html", include_str!("../../templates/pages/forgot.html")),
    ("reset.html", include_str!("../../templates/pages/reset.html")),
    ("verify.html", include_str!("../../templates/pages/verify.html")),
    ("totp_setup.html", include_str!("../../templates/pages/totp_setup.html")),
    ("recovery_codes.html", include_str!("../../templates/pages/recovery_codes.html")),
    ("admin_home.html", include_str!("../../templates/pages/admin_home.html")),
    ("console.html", include_str!("../../templates/pages/console.html")),
    ("admin_users.html", include_str!("../../templates/pages/admin_users.html")),
    ("admin_add.html", include_str!("../../templates/pages/admin_add.html")),
    ("admin_user.html", include_str!("../../templates/pages/admin_user.html")),
    ("admin_delete.html", include_str!("../../templates/pages/admin_delete.html")),
    ("admin_audit.html", include_str!("../../templates/pages/admin_audit.html")),
    ("admin_keys.html", include_str!("../../templates/pages/admin_keys.html")),
    ("admin_clients.html", include_str!("../../templates/pages/admin_clients.html")),
    ("admin_client.html", include_str!("../../templates/pages/admin_client.html")),
    ("client_fields.html", include_str!("../../templates/pages/client_fields.html")),
    ("admin_client_secret.html", include_str!("../../templates/pages/admin_client_secret.html")),
    ("consent.html", include_str!("../../templates/pages/consent.html")),
    ("logout.html", include_str!("../../templates/pages/logout.html")),
    ("email_code.html", include_str!("../../templates/pages/email_code.html")),
    ("email_code_enter.html", include_str!("../../templates/pages/email_code_enter.html")),
    ("providers.html", include_str!("../../templates/pages/providers.html")),
    ("link_confirm.html", include_str!("../../templates/pages/link_confirm.html")),
    ("admin_providers.html", include_str!("../../templates/pages/admin_providers.html")),
    ("org_chooser.html", include_str!("../../templates/pages/org_chooser.html")),
    ("invitation.html", include_str!("../../templates/pages/invitation.html")),
    ("admin_webhooks.html", include_str!("../../templates/pages/admin_webhooks.html")),
    ("admin_orgs.html", include_str!("../../templates/pages/admin_orgs.html")),
    ("admin_org.html", include_str!("../../templates/pages/admin_org.html")),
];
const TEXT: &str = include_str!("../../templates/pages/text.json");
const STYLE: &str = include_str!("../../templates/pages/style.css");
const FAVICON: &str = include_str!("../../templates/pages/favicon.svg");

pub struct Pages {
    env: Environment<'static>,
    /// Every sentence the pages show, by key, with `{product}` filled in.
    text: BTreeMap<String, String>,
    product: String,
    css: String,
    /// The built-in icon in the accent colour, served when no logo is set.
    favicon: String,
    /// GATEHOUSE_LOGO's bytes and media type, served at /pages/logo.
    logo: Option<(Vec<u8>, &'static str)>,
    /// The pages' Content-Security-Policy: only our own script (passkeys), nothing from elsewhere, never framed;
    /// forms post here, and a sign-in's redirect may go on to an allowed return origin.
    pub csp: HeaderValue,
    /// The `form-action` sources every page allows: 'self' and the allowed return origins.
    form_action: String,
}

impl Pages {
    /// The built-in pages, with any file of GATEHOUSE_PAGE_TEMPLATES in place of its twin.
    /// A template that does not parse stops the start.
    pub fn load(settings: &PageSettings) -> anyhow::Result<Self> {
        let dir = settings.page_templates.as_deref();
        if let Some(dir) = dir {
            anyhow::ensure!(dir.is_dir(), "GATEHOUSE_PAGE_TEMPLATES: {} is not a folder", dir.display());
        }
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        for (name, builtin) in TEMPLATES {
            let source = replaced(dir, name)?.unwrap_or_else(|| builtin.to_string());
            env.add_template_owned(name.to_string(), source).with_context(|| format!("page template {name}"))?;
        }
        let text_source = replaced(dir, "text.json")?.unwrap_or_else(|| TEXT.to_string());
        let mut text: BTreeMap<String, String> = serde_json::from_str(TEXT).context("templates/pages/text.json")?;
        // A replacement may hold only some sentences; the others stay built in.
        let replacing: BTreeMap<String, String> = serde_json::from_str(&text_source).context("GATEHOUSE_PAGE_TEMPLATES: text.json")?;
        text.extend(replacing);
        let product = settings.product_name.clone();
        for sentence in text.values_mut() {
            *sentence = sentence.replace("{product}", &product);
        }
        let css = replaced(dir, "style.css")?
            .unwrap_or_else(|| STYLE.to_string())
            .replace("#2457c5", &settings.accent_color)
            .replace("#87a3df", &lighter(&settings.accent_color));
        let form_action: String =
            std::iter::once("'self'".to_string()).chain(settings.allowed_return_origins.iter().cloned()).collect::<Vec<_>>().join(" ");
        let csp = policy(&form_action);
        let favicon = FAVICON.replace("#2457c5", &settings.accent_color);
        let logo = settings.logo.as_deref().map(load_logo).transpose()?;
        Ok(Self {
            env,
            text,
            product,
            css,
            favicon,
            logo,
            csp: HeaderValue::from_str(&csp).context("the pages' security policy")?,
            form_action,
        })
    }

    /// A sentence by key (the key itself when a replaced text.json lacks it).
    /// The policy of a page whose forms may end (after redirects, which browsers hold to
    /// `form-action` too) at an OpenID Connect client: its redirect URIs' origins added.
    pub fn csp_allowing(&self, targets: &[String]) -> HeaderValue {
        let mut sources = self.form_action.clone();
        for target in targets.iter().filter_map(|t| form_source(t)) {
            sources.push(' ');
            sources.push_str(&target);
        }
        HeaderValue::from_str(&policy(&sources)).unwrap_or_else(|_| self.csp.clone())
    }

    pub fn text(&self, key: &str) -> String {
        self.text.get(key).cloned().unwrap_or_else(|| key.to_string())
    }

    /// Renders a page with `status`; `context` adds to what every page gets (`t`, `product`).
    pub fn render(&self, status: StatusCode, template: &str, context: BTreeMap<&'static str, Value>) -> Response {
        let mut all: BTreeMap<&str, Value> = BTreeMap::new();
        all.insert("t", Value::from_serialize(&self.text));
        all.insert("product", Value::from(self.product.as_str()));
        all.insert("logo", Value::from(self.logo.is_some()));
        all.extend(context);
        match self.env.get_template(template).and_then(|t| t.render(Value::from_serialize(&all))) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(err) => {
                tracing::error!(error = %err, template, "a page template failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Html(format!("<!doctype html><title>{0}</title><h1>{0}</h1>", self.text("error_title"))),
                )
                    .into_response()
            }
        }
    }
}

/// The accent mixed with white (55 to 45): text in the accent that stays readable on the
/// dark theme's backgrounds. `#rrggbb` in, `#rrggbb` out; anything else is kept as it is.
fn lighter(accent: &str) -> String {
    let channel = |i: usize| accent.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok());
    match (accent.len(), channel(1), channel(3), channel(5)) {
        (7, Some(r), Some(g), Some(b)) => {
            let mix = |c: u8| (u32::from(c) * 55 + 255 * 45) / 100;
            format!("#{:02x}{:02x}{:02x}", mix(r), mix(g), mix(b))
        }
        _ => accent.to_string(),
    }
}

/// The logo file, read once; its kind from its first bytes (an SVG by its text), so that a
/// file that is no image stops the start instead of being served.
fn policy(form_action: &str) -> String {
    format!(
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// A CSP source for a redirect URI: its origin, or for an app's own scheme the scheme.
fn form_source(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme if scheme.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-')) => Some(format!("{scheme}:")),
        _ => None,
    }
}

fn load_logo(path: &Path) -> anyhow::Result<(Vec<u8>, &'static str)> {
    let bytes = std::fs::read(path).with_context(|| format!("GATEHOUSE_LOGO: cannot read {}", path.display()))?;
    anyhow::ensure!(bytes.len() <= 512 * 1024, "GATEHOUSE_LOGO: {} is over 512 KiB", path.display());
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let kind = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else if bytes.len() > 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "image/webp"
    } else if head.contains("<svg") {
        "image/svg+xml"
    } else {
        anyhow::bail!("GATEHOUSE_LOGO: {} is not a PNG, JPEG, WebP or SVG image", path.display());
    };
    Ok((bytes, kind))
}

/// GET /pages/logo: the configured logo; 404 without one. An SVG runs no script: the
/// pages' policy (`default-src 'none'`) applies to it too.
pub async fn logo(State(state): State<AppState>) -> Response {
    let Some((bytes, kind)) = state.pages.logo.clone() else { return StatusCode::NOT_FOUND.into_response() };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// GET /favicon.ico: the logo when one is set, else the built-in icon. Browsers ask for
/// it on their first visit whatever the page says; a day's cache spares the asking again.
pub async fn favicon(State(state): State<AppState>) -> Response {
    let (bytes, kind) = match state.pages.logo.clone() {
        Some((bytes, kind)) => (bytes, kind),
        None => (state.pages.favicon.clone().into_bytes(), "image/svg+xml"),
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    response
}

fn replaced(dir: Option<&Path>, name: &str) -> anyhow::Result<Option<String>> {
    match dir.map(|d| d.join(name)) {
        Some(path) if path.exists() => {
            std::fs::read_to_string(&path).map(Some).with_context(|| format!("GATEHOUSE_PAGE_TEMPLATES: cannot read {}", path.display()))
        }
        _ => Ok(None),
    }
}

/// GET /pages/style.css: the one stylesheet, with the configured accent colour.
pub async fn stylesheet(State(state): State<AppState>) -> Response {
    let mut response = state.pages.css.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}

/// GET /pages/password.js: the show/hide button of password fields (the forms work without it).
pub async fn password_script() -> Response {
    let mut response = include_str!("../../templates/pages/password.js").into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
