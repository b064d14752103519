//! Kind `github`: OAuth 2 (with PKCE, which GitHub supports) and GitHub's REST API. The
//! subject is the numeric user id (a login can be renamed and reused, the id cannot); the
//! address is the primary one of `/user/emails` with its `verified` flag, never the public
//! profile's `email`, which GitHub does not check.

use serde::Deserialize;
use serde_json::Value;

use super::discovery::get_json;
use super::oidc::{Profile, Tokens};
use super::{Upstream, UpstreamError};
use crate::store::Provider;

#[derive(Deserialize)]
struct User {
    id: Value,
    login: Option<String>,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Address {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

pub fn api_base(provider: &Provider) -> String {
    provider.api_base.clone().unwrap_or_else(|| crate::domain::provider::GITHUB_API.to_string()).trim_end_matches('/').to_string()
}

/// The person behind an access token, from `/user` and `/user/emails`.
pub async fn profile(up: &Upstream, provider: &Provider, tokens: &Tokens) -> Result<Profile, UpstreamError> {
    let base = api_base(provider);
    let call = |path: &str| {
        up.http
            .get(format!("{base}{path}"))
            .bearer_auth(&tokens.access_token)
            .header("X-GitHub-Api-Version", "2022-11-28")
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
    };
    let user: User = serde_json::from_value(get_json(call("/user"), "github_user").await?)
        .map_err(|_| UpstreamError::failed("github_user_unreadable"))?;
    let subject = match &user.id {
        Value::Number(n) => n.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => return Err(UpstreamError::failed("github_user_unreadable")),
    };
    // Without the `user:email` scope the list is refused: the person then has no address.
    let addresses: Vec<Address> = match get_json(call("/user/emails"), "github_emails").await {
        Ok(list) => serde_json::from_value(list).unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let primary = addresses.into_iter().find(|a| a.primary);
    Ok(Profile {
        subject,
        email: primary.as_ref().map(|a| a.email.clone()),
        email_verified: primary.is_some_and(|a| a.verified),
        name: user.name,
        preferred_username: user.login,
        // GitHub's API says nothing of how the person signed in.
        mfa: false,
    })
}
