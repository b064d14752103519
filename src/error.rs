//! The one error type of the service, rendered as an RFC 9457 problem document.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// One field that broke a rule, listed in a 422.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// The store's conflicts: each has its own stable code and text in a problem document.
pub use crate::store::Conflict;

impl Conflict {
    fn code(self) -> &'static str {
        match self {
            Self::UsernameTaken => "username_taken",
            Self::EmailTaken => "email_taken",
            Self::NameTaken => "name_taken",
            Self::LastAdmin => "last_admin",
            Self::TemplateCountQuota | Self::TemplateBytesQuota => "quota_exceeded",
            Self::MfaAlreadyEnabled => "mfa_already_enabled",
            Self::MfaSetupRequired => "mfa_setup_required",
            Self::MfaNotEnabled => "mfa_not_enabled",
            Self::PublicClient => "public_client",
            Self::PasskeyTaken => "passkey_taken",
            Self::SlugTaken => "slug_taken",
            Self::IdentityTaken => "identity_taken",
            Self::LastSignInMethod => "last_sign_in_method",
            Self::AlreadyMember => "already_member",
            Self::LastOwner => "last_owner",
        }
    }

    fn detail(self) -> &'static str {
        match self {
            Self::UsernameTaken => "This username is already taken.",
            Self::EmailTaken => "This email address is already in use.",
            Self::NameTaken => "You already have a template with this name.",
            Self::LastAdmin => "This change would leave no enabled admin.",
            Self::TemplateCountQuota => "You hold as many templates as allowed; delete one first.",
            Self::TemplateBytesQuota => "Your templates would pass the total size allowed; shorten or delete some first.",
            Self::MfaAlreadyEnabled => "TOTP is already on; turn it off first.",
            Self::MfaSetupRequired => "There is no TOTP setup to confirm; call setup first.",
            Self::MfaNotEnabled => "TOTP is not on.",
            Self::PublicClient => "A public client has no secret.",
            Self::PasskeyTaken => "This passkey is registered already.",
            Self::SlugTaken => "This slug is already in use.",
            Self::IdentityTaken => "This identity is linked to an account already.",
            Self::LastSignInMethod => "This is the account's last way to sign in; add another first.",
            Self::AlreadyMember => "This person is a member of the organization already.",
            Self::LastOwner => "The organization's last owner can neither leave nor be demoted; make someone else an owner first.",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed request: {0}")]
    Malformed(String),
    #[error("invalid credentials")]
    InvalidCredentials,
    /// `sent` is false when no token came with the request (RFC 6750 §3.1).
    #[error("invalid token")]
    InvalidToken { sent: bool },
    #[error("refresh token reused")]
    TokenReused,
    /// A correct password; the second factor is needed. Carries the mfa_token.
    #[error("second factor required")]
    MfaRequired(MfaToken),
    #[error("forbidden")]
    Forbidden,
    #[error("account disabled")]
    AccountDisabled,
    /// GATEHOUSE_REQUIRE_VERIFIED_EMAIL: a correct password, but no verified address yet.
    #[error("email unverified")]
    EmailUnverified,
    /// GATEHOUSE_REGISTRATION: sign-up is by invitation only, or closed.
    #[error("registration closed")]
    RegistrationClosed,
    /// An invitation presented by an account whose address is not the invited one.
    #[error("invitation not for you")]
    InvitationNotForYou,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("request timed out")]
    Timeout,
    #[error("request headers too large")]
    HeadersTooLarge { limit_bytes: usize },
    /// Too many requests in flight: shed at once rather than queued.
    #[error("overloaded")]
    Overloaded,
    #[error("database unavailable")]
    Unavailable,
    /// An answer of the OpenID Connect endpoints (/oauth/*), in RFC 6749's shape.
    #[error("oauth error {}: {}", .0.error, .0.description())]
    OAuth(OAuthError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// RFC 6749 §5.2 (and RFC 6750 §3.1 at userinfo): `{"error", "error_description"}`. The
/// description is private: every one passes through [`error_description`].
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    description: String,
}

impl OAuthError {
    pub(crate) fn api_error(status: StatusCode, error: &'static str, description: &str) -> ApiError {
        ApiError::OAuth(Self { status, error, description: error_description(description) })
    }

    /// A 400 with this error code.
    pub fn bad(error: &'static str, description: impl AsRef<str>) -> ApiError {
        Self::api_error(StatusCode::BAD_REQUEST, error, description.as_ref())
    }

    /// A 401 `invalid_client`: unknown client, wrong secret, or no authentication.
    pub fn invalid_client(description: impl AsRef<str>) -> ApiError {
        Self::api_error(StatusCode::UNAUTHORIZED, "invalid_client", description.as_ref())
    }

    /// A 429 `temporarily_unavailable`: over the per-address limit.
    pub fn too_many_requests(description: impl AsRef<str>) -> ApiError {
        Self::api_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", description.as_ref())
    }

    /// A 401 `invalid_token` at userinfo.
    pub fn invalid_token(description: impl AsRef<str>) -> ApiError {
        Self::api_error(StatusCode::UNAUTHORIZED, "invalid_token", description.as_ref())
    }

    pub fn description(&self) -> &str {
        &self.description
    }
}

/// An `error_description` in the characters RFC 6749 allows it (§4.1.2.1, §5.2: printable
/// ASCII but `"` and `\`), whatever a message echoes: `"` becomes `'`, any other character
/// outside the set `?`. Clients put it in JSON strings and headers unescaped.
pub fn error_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            c if description_char(c) => c,
            _ => '?',
        })
        .collect()
}

/// %x20-21 / %x23-5B / %x5D-7E.
pub fn description_char(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// The problem document (RFC 9457) every error answers with.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the problem type: `urn:gatehouse:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, see the contract's table.
    pub code: String,
    /// Present on 422 only: each field that broke a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    /// Present with `mfa_required` only: the short-lived, single-use token that
    /// POST /v1/auth/login/mfa takes with a code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_token: Option<String>,
}

/// The mfa_token of an `mfa_required` answer; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct MfaToken(pub String);

impl std::fmt::Debug for MfaToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MfaToken(***)")
    }
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::InvalidCredentials | Self::InvalidToken { .. } | Self::TokenReused | Self::MfaRequired(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::AccountDisabled | Self::EmailUnverified | Self::RegistrationClosed | Self::InvitationNotForYou => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::OAuth(e) => e.status,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed_request",
            Self::InvalidCredentials => "invalid_credentials",
            Self::InvalidToken { .. } => "invalid_token",
            Self::TokenReused => "token_reused",
            Self::MfaRequired(_) => "mfa_required",
            Self::Forbidden => "forbidden",
            Self::AccountDisabled => "account_disabled",
            Self::EmailUnverified => "email_unverified",
            Self::RegistrationClosed => "registration_closed",
            Self::InvitationNotForYou => "invitation_not_for_you",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(c) => c.code(),
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Timeout => "request_timeout",
            Self::HeadersTooLarge { .. } => "headers_too_large",
            Self::Overloaded => "unavailable",
            Self::Unavailable => "unavailable",
            Self::OAuth(e) => e.error,
            Self::Internal(_) => "internal",
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Malformed(why) => why.clone(),
            Self::InvalidCredentials => "The username or password is incorrect.".into(),
            Self::InvalidToken { sent: false } => "This route needs a bearer access token.".into(),
            Self::InvalidToken { sent: true } => "The token is malformed, expired, revoked or of the wrong type.".into(),
            Self::TokenReused => "This refresh token was already used; its session has been revoked.".into(),
            Self::MfaRequired(_) => "A second factor is required: send mfa_token and a code to /v1/auth/login/mfa.".into(),
            Self::Forbidden => "You are not allowed to do this.".into(),
            Self::AccountDisabled => "This account has been disabled.".into(),
            Self::EmailUnverified => "Verify your email address first: follow the link in the mail we sent.".into(),
            Self::RegistrationClosed => "New accounts are made by invitation or by an admin only.".into(),
            Self::InvitationNotForYou => "This invitation was sent to another email address; sign in with the account that has it.".into(),
            Self::NotFound => "No such resource.".into(),
            Self::MethodNotAllowed => "This method is not allowed on this path.".into(),
            Self::Conflict(c) => c.detail().into(),
            Self::PayloadTooLarge => "The request body is larger than this route takes (256 KiB; 1 MiB for templates).".into(),
            Self::UnsupportedMediaType => "The request body must be application/json.".into(),
            Self::Validation(errors) => match errors.as_slice() {
                [one] => format!("{}: {}", one.field, one.message),
                _ => "Some fields broke the rules; see errors.".into(),
            },
            Self::RateLimited { retry_after_secs } => {
                format!("Too many attempts; try again in {retry_after_secs} seconds.")
            }
            Self::Timeout => "The request took too long.".into(),
            Self::HeadersTooLarge { limit_bytes } => {
                format!("The request headers are larger than {} KiB in total.", limit_bytes / 1024)
            }
            Self::Overloaded => "The server is busy; try again in a moment.".into(),
            Self::Unavailable => "The database is unavailable; try again shortly.".into(),
            Self::OAuth(e) => e.description.clone(),
            Self::Internal(_) => "An internal error occurred; it has been logged.".into(),
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.status();
        Problem {
            kind: format!("urn:gatehouse:problem:{}", self.code()),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.detail(),
            code: self.code().to_string(),
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                _ => None,
            },
            mfa_token: match self {
                Self::MfaRequired(token) => Some(token.0.clone()),
                _ => None,
            },
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(err: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match err {
            StoreError::Conflict(c) => Self::Conflict(c),
            StoreError::NotFound => Self::NotFound,
            StoreError::Unavailable(e) => {
                tracing::warn!(error = %e, "database unavailable");
                Self::Unavailable
            }
            StoreError::Other(e) => Self::Internal(e),
        }
    }
}

/// Serialises a problem document with its content type.
pub fn problem_response(status: StatusCode, problem: &Problem) -> Response {
    let body = serde_json::to_vec(problem).unwrap_or_default();
    let mut res = (status, body).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::OAuth(e) = &self {
            return oauth_response(e);
        }
        let mut res = problem_response(self.status(), &self.to_problem());
        let headers = res.headers_mut();
        match &self {
            Self::InvalidToken { sent: true } | Self::TokenReused => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
            }
            Self::InvalidToken { sent: false } => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            Self::RateLimited { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
            }
            Self::Overloaded => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        // The cause of a 500 travels to the logging middleware, never to the client.
        if let Self::Internal(err) = self {
            res.extensions_mut().insert(InternalCause(format!("{err:#}")));
        }
        res
    }
}

fn oauth_response(e: &OAuthError) -> Response {
    let body = serde_json::json!({ "error": e.error, "error_description": e.description });
    let mut res = (e.status, axum::Json(body)).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match e.error {
        "invalid_client" if e.status == StatusCode::UNAUTHORIZED => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"gatehouse\""));
        }
        "invalid_token" => {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
        }
        _ => {}
    }
    res
}

/// The cause of a 500, carried in response extensions so that one middleware logs it.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);
