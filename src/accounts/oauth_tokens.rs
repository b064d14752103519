//! The token endpoint's grants (`authorization_code`, `refresh_token`,
//! `client_credentials`), client authentication, revocation (RFC 7009), introspection
//! (RFC 7662) and userinfo: what /oauth/token and its siblings run.

use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::audit::Audit;
use crate::auth::id_tokens::{IdClaims, ProfileClaims, at_hash};
use crate::auth::refresh;
use crate::auth::sessions::{self, ClientInfo, GrantedSession, Sessions, TokenPair};
use crate::auth::tokens::Grant;
use crate::domain::oauth::verifier_matches;
use crate::domain::org::OrgClaim;
use crate::error::{ApiError, OAuthError};
use crate::store::{AuditType, Client, CodeClaim, User};

/// The token endpoint's answer (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3). `Debug`
/// hides the tokens.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OAuthTokens {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    #[schema(example = 900)]
    pub expires_in: u64,
    /// With `offline_access` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Not for `client_credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[schema(example = "openid profile email")]
    pub scope: String,
}

impl std::fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTokens").field("expires_in", &self.expires_in).field("scope", &self.scope).finish_non_exhaustive()
    }
}

/// How a request to /oauth/token (or revoke, introspect) says who the client is.
#[derive(Default)]
pub struct ClientAuth {
    /// `client_secret_basic`: the Authorization header's id and secret, form-decoded.
    pub basic: Option<(String, String)>,
    /// `client_secret_post`, or a public client's bare `client_id`.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// The client a request authenticates as: a confidential client by its secret (basic or
/// post, not both), a public client by its `client_id` alone.
pub async fn authenticate(sessions: &Sessions, auth: &ClientAuth) -> Result<Client, ApiError> {
    let (client_id, secret) = match (&auth.basic, &auth.client_secret) {
        (Some(_), Some(_)) => return Err(OAuthError::bad("invalid_request", "use one client authentication method, not two")),
        (Some((id, secret)), None) => {
            if auth.client_id.as_ref().is_some_and(|form| form != id) {
                return Err(OAuthError::bad("invalid_request", "client_id differs from the authenticated client"));
            }
            (id.as_str(), Some(secret.as_str()))
        }
        (None, secret) => match &auth.client_id {
            Some(id) => (id.as_str(), secret.as_deref()),
            None => return Err(OAuthError::invalid_client("client authentication is required")),
        },
    };
    let Some((client, stored)) = sessions.store.client_by_client_id(client_id).await? else {
        return Err(OAuthError::invalid_client("unknown client or wrong secret"));
    };
    match (stored, secret) {
        (None, None) => Ok(client),
        (Some(stored), Some(secret)) if bool::from(refresh::hash(secret).ct_eq(&stored)) => Ok(client),
        (None, Some(_)) => Err(OAuthError::invalid_client("a public client has no secret")),
        _ => Err(OAuthError::invalid_client("unknown client or wrong secret")),
    }
}

fn invalid_grant(description: &str) -> ApiError {
    OAuthError::bad("invalid_grant", description)
}

/// The resource (RFC 8707) a token request asks for: one registered on the client, or
/// none (the token is then for the client itself).
pub fn resource<'a>(client: &Client, asked: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match asked {
        None => Ok(None),
        Some(uri) if client.resources.iter().any(|r| r == uri) => Ok(Some(uri)),
        Some(_) => Err(OAuthError::bad("invalid_target", "resource is not one registered for this client")),
    }
}

/// What an `authorization_code` request presents.
pub struct CodeExchange<'a> {
    pub code: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub verifier: Option<&'a str>,
    /// Checked by [`resource`].
    pub resource: Option<&'a str>,
}

/// `authorization_code`: spends the code, checks what it is bound to, and starts the
/// client's session. A code presented twice revokes the session its first use started.
pub async fn exchange_code(
    sessions: &Sessions,
    audit: &Audit,
    client: &Client,
    exchange: CodeExchange<'_>,
    info: ClientInfo,
) -> Result<OAuthTokens, ApiError> {
    let CodeExchange { code, redirect_uri, verifier, resource } = exchange;
    if !refresh::looks_valid(code) {
        return Err(invalid_grant("the code is unknown, used or expired"));
    }
    let session_id = Uuid::now_v7();
    let record = match sessions.store.claim_code(&refresh::hash(code), session_id).await? {
        CodeClaim::First(record) => record,
        CodeClaim::Unknown => return Err(invalid_grant("the code is unknown, used or expired")),
        CodeClaim::Replayed { session, user_id } => {
            if let Some(session) = session {
                sessions.store.revoke_session(session, user_id).await?;
            }
            tracing::warn!(client_id = %client.client_id, "an authorization code was presented twice; its session was revoked");
            audit
                .record(AuditType::OAuthCodeReplayed, None, Some(user_id), json!({ "client_id": client.client_id, "session_id": session }))
                .await;
            return Err(invalid_grant("the code is unknown, used or expired"));
        }
    };
    if record.client != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if record.expires_at <= Utc::now() {
        return Err(invalid_grant("the code is unknown, used or expired"));
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        return Err(invalid_grant("redirect_uri differs from the authorization request's"));
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(verifier)) if verifier_matches(verifier, challenge) => {}
        (Some(_), _) => return Err(invalid_grant("code_verifier does not match the code_challenge")),
        // A verifier for a code issued without a challenge is a downgrade attempt.
        (None, Some(_)) => return Err(invalid_grant("the authorization request had no code_challenge")),
        (None, None) => {}
    }
    let user = sessions.store.user_by_id(record.user_id).await?.filter(|u| !u.disabled).ok_or_else(|| invalid_grant("the user is gone"))?;
    let offline = record.scope.split(' ').any(|s| s == "offline_access");
    let org = picked_org(sessions, record.org_id, user.id).await?;
    let grant = Grant { client_id: &client.client_id, scope: &record.scope, resource };
    let granted = GrantedSession {
        id: session_id,
        client: client.id,
        grant,
        amr: &record.amr,
        auth_time: record.auth_time,
        offline,
        org: org.clone(),
    };
    let pair = sessions::start_granted(sessions, user.clone(), info, granted).await?;
    audit
        .record(AuditType::OAuthGranted, Some(user.id), Some(user.id), json!({ "client_id": client.client_id, "scope": record.scope }))
        .await;
    let id_token = IdToken {
        client,
        user: &user,
        session_id,
        scope: &record.scope,
        nonce: record.nonce.as_deref(),
        auth_time: record.auth_time,
        amr: &record.amr,
        org,
    };
    respond(sessions, pair, offline, &record.scope, Some(id_token)).await
}

/// The org an authorization picked, with the person's roles in it now; none once they left it.
async fn picked_org(sessions: &Sessions, org_id: Option<Uuid>, user_id: Uuid) -> Result<Option<OrgClaim>, ApiError> {
    let Some(org_id) = org_id else { return Ok(None) };
    let (Some(org), Some(roles)) = (sessions.store.org_by_id(org_id).await?, sessions.store.org_roles_of(org_id, user_id).await?) else {
        return Ok(None);
    };
    Ok(Some(OrgClaim { id: org.id, slug: org.slug, roles }))
}

/// What an ID token says, besides the access token it comes with.
struct IdToken<'a> {
    client: &'a Client,
    user: &'a User,
    session_id: Uuid,
    scope: &'a str,
    nonce: Option<&'a str>,
    auth_time: chrono::DateTime<Utc>,
    amr: &'a str,
    /// The session's org, shown with scope `organization`.
    org: Option<OrgClaim>,
}

async fn respond(
    sessions: &Sessions,
    pair: TokenPair,
    offline: bool,
    scope: &str,
    id: Option<IdToken<'_>>,
) -> Result<OAuthTokens, ApiError> {
    let id_token = match id {
        Some(id) => {
            let alg = id.client.id_token_signed_response_alg.as_str();
            let scopes: Vec<&str> = id.scope.split(' ').collect();
            let now = Utc::now().timestamp();
            let claims = IdClaims {
                iss: sessions.tokens.issuer().to_string(),
                sub: id.user.id,
                aud: id.client.client_id.clone(),
                exp: now + sessions.tokens.access_ttl().as_secs() as i64,
                iat: now,
                auth_time: id.auth_time.timestamp(),
                nonce: id.nonce.map(str::to_string),
                amr: id.amr.split(' ').map(str::to_string).collect(),
                at_hash: Some(at_hash(&pair.access_token, alg)),
                sid: id.session_id,
                azp: id.client.client_id.clone(),
                profile: ProfileClaims::of(id.user, &scopes),
                org: id.org.filter(|_| scopes.contains(&"organization")),
            };
            Some(sessions.tokens.sign_id_token(&claims, alg).await?)
        }
        None => None,
    };
    Ok(OAuthTokens {
        access_token: pair.access_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
        refresh_token: offline.then_some(pair.refresh_token),
        id_token,
        scope: scope.to_string(),
    })
}

/// `refresh_token`: today's rotation with reuse detection, for the client that holds it;
/// a `scope` may narrow nothing and widen nothing (it must be what was granted, or absent).
pub async fn refresh(
    sessions: &Sessions,
    audit: &Audit,
    client: &Client,
    token: &str,
    scope: Option<&str>,
    resource: Option<&str>,
) -> Result<OAuthTokens, ApiError> {
    let pair = sessions::rotate(sessions, token, audit, Some((client.id, resource))).await.map_err(|err| match err {
        ApiError::InvalidToken { .. } | ApiError::TokenReused => invalid_grant("the refresh token is unknown, revoked or used"),
        other => other,
    })?;
    let session_id = sessions.tokens.verify_granted(&pair.access_token).await.map_err(anyhow::Error::from)?.sid;
    let grant = sessions.store.session_grant(session_id).await?.ok_or_else(|| invalid_grant("the session is gone"))?;
    if let Some(asked) = scope {
        let granted: Vec<&str> = grant.scope.split(' ').collect();
        if !asked.split(' ').filter(|s| !s.is_empty()).all(|s| granted.contains(&s)) {
            return Err(OAuthError::bad("invalid_scope", "a refresh cannot widen the scope granted"));
        }
    }
    let user = pair.user.clone();
    let org = sessions.store.session_org(session_id).await?;
    let id_token =
        IdToken { client, user: &user, session_id, scope: &grant.scope, nonce: None, auth_time: grant.auth_time, amr: &grant.amr, org };
    respond(sessions, pair, true, &grant.scope, Some(id_token)).await
}

/// `client_credentials`: a confidential client's token for itself, with no user scopes.
pub fn client_credentials(sessions: &Sessions, client: &Client, resource: Option<&str>) -> Result<OAuthTokens, ApiError> {
    if client.public {
        return Err(OAuthError::bad("unauthorized_client", "a public client cannot act as itself"));
    }
    let (access_token, expires_in) = sessions.tokens.issue_for_client(&client.client_id, "", resource)?;
    Ok(OAuthTokens { access_token, token_type: "Bearer", expires_in, refresh_token: None, id_token: None, scope: String::new() })
}

/// RFC 7009: ends the session behind a refresh or access token this client holds.
/// Unknown tokens, and tokens of other clients, change nothing (and answer the same).
pub async fn revoke(sessions: &Sessions, client: &Client, token: &str) -> Result<(), ApiError> {
    if refresh::looks_valid(token) {
        if let Some(record) = sessions.store.refresh_record(&refresh::hash(token)).await?
            && record.grant_client == Some(client.id)
        {
            sessions.store.revoke_session(record.session_id, record.user_id).await?;
        }
        return Ok(());
    }
    if let Ok(claims) = sessions.tokens.verify_granted(token).await
        && claims.client_id.as_deref() == Some(client.client_id.as_str())
    {
        sessions.store.revoke_session(claims.sid, claims.sub).await?;
    }
    Ok(())
}

/// RFC 7662: what a token of this client is, or `{"active": false}`.
pub async fn introspect(sessions: &Sessions, client: &Client, token: &str) -> Result<Value, ApiError> {
    let inactive = json!({ "active": false });
    if refresh::looks_valid(token) {
        let Some(record) = sessions.store.refresh_record(&refresh::hash(token)).await? else { return Ok(inactive) };
        let live =
            record.rotated_at.is_none() && !record.session_revoked && !record.user.disabled && record.session_expires_at > Utc::now();
        if !live || record.grant_client != Some(client.id) {
            return Ok(inactive);
        }
        return Ok(json!({
            "active": true, "token_type": "refresh_token", "client_id": client.client_id, "scope": record.grant_scope,
            "sub": record.user_id, "username": record.user.username, "exp": record.session_expires_at.timestamp(),
            "iss": sessions.tokens.issuer(),
        }));
    }
    if let Ok(claims) = sessions.tokens.verify_granted(token).await {
        let mine = claims.client_id.as_deref() == Some(client.client_id.as_str());
        if !mine || !sessions.store.session_is_live(claims.sid, claims.sub, claims.org_id()).await? {
            return Ok(inactive);
        }
        return Ok(json!({
            "active": true, "token_type": "Bearer", "client_id": claims.client_id, "scope": claims.scope, "sub": claims.sub,
            "username": claims.username, "exp": claims.exp, "iat": claims.iat, "nbf": claims.nbf, "aud": claims.aud,
            "iss": claims.iss, "jti": claims.jti,
        }));
    }
    match sessions.tokens.verify_client_token(token).await {
        Ok(claims) if claims.client_id == client.client_id => Ok(json!({
            "active": true, "token_type": "Bearer", "client_id": claims.client_id, "scope": claims.scope, "sub": claims.sub,
            "exp": claims.exp, "iat": claims.iat, "nbf": claims.nbf, "aud": claims.aud, "iss": claims.iss, "jti": claims.jti,
        })),
        _ => Ok(inactive),
    }
}

/// OpenID Connect Core §5.3: the claims of a live session's user that the token's scope
/// allows. Only tokens issued to a client with `openid` are taken.
pub async fn userinfo(sessions: &Sessions, token: &str) -> Result<Value, ApiError> {
    let refused = || OAuthError::invalid_token("the access token is malformed, expired, revoked or not for userinfo");
    let claims = sessions.tokens.verify_granted(token).await.map_err(|_| refused())?;
    let scope = claims.scope.clone().unwrap_or_default();
    let scopes: Vec<&str> = scope.split(' ').collect();
    if claims.client_id.is_none() || !scopes.contains(&"openid") {
        return Err(refused());
    }
    let user = sessions.store.live_session_user(claims.sid, claims.sub, claims.org_id()).await?.ok_or_else(refused)?;
    let mut body = serde_json::to_value(ProfileClaims::of(&user, &scopes)).map_err(anyhow::Error::from)?;
    body["sub"] = json!(user.id);
    if scopes.contains(&"organization")
        && let Some(org) = sessions.store.session_org(claims.sid).await?
    {
        body["org"] = serde_json::to_value(org).map_err(anyhow::Error::from)?;
    }
    Ok(body)
}
