//! Registering and changing OpenID Connect clients: the admin API and `gatehouse client`
//! run these. A confidential client's secret is made here, shown once, stored hashed.

use serde_json::json;
use uuid::Uuid;

use super::{AccountError, Accounts};
use crate::audit::Audit;
use crate::auth::refresh;
use crate::domain::client::{self, DEFAULT_SCOPES, SCOPES};
use crate::error::FieldError;
use crate::store::{AuditType, Client, ClientPatch, NewClient};

/// What a registration asks for, as received.
pub struct ClientRequest {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    pub first_party: bool,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Option<Vec<String>>,
    pub resources: Vec<String>,
    pub id_token_alg: Option<String>,
}

/// A change, as received; `None` leaves a field as it is.
#[derive(Default)]
pub struct ClientChange {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub first_party: Option<bool>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
    pub id_token_alg: Option<String>,
}

/// Most post-logout redirect URIs a client may hold.
const MAX_URIS: usize = 20;

/// Checks every item of a list with `rule`, naming a bad one `field[i]`; at most `max` items.
fn each(field: &str, raw: &[String], max: usize, rule: fn(&str) -> Result<String, String>, errors: &mut Vec<FieldError>) -> Vec<String> {
    if raw.len() > max {
        errors.push(FieldError::new(field, format!("must hold at most {max} items")));
    }
    let mut checked: Vec<String> = Vec::new();
    for (i, item) in raw.iter().enumerate() {
        match rule(item) {
            Ok(value) if !checked.contains(&value) => checked.push(value),
            Ok(_) => {}
            Err(message) => errors.push(FieldError::new(format!("{field}[{i}]"), message)),
        }
    }
    checked
}

fn redirect_uris(raw: &[String], errors: &mut Vec<FieldError>) -> Vec<String> {
    if raw.is_empty() {
        errors.push(FieldError::new("redirect_uris", "must hold 1 to 20 URIs"));
    }
    each("redirect_uris", raw, MAX_URIS, client::redirect_uri, errors)
}

/// A client's resources: never the account API's own audience, whose tokens a client's
/// must never pass for.
fn resources(raw: &[String], account_audience: &str, errors: &mut Vec<FieldError>) -> Vec<String> {
    if let Some(i) = raw.iter().position(|r| r == account_audience) {
        errors.push(FieldError::new(format!("resources[{i}]"), "must not be the account API's own audience (GATEHOUSE_AUDIENCE)"));
    }
    each("resources", raw, MAX_URIS, client::resource, errors)
}

fn one(field: &str, result: Result<String, String>, errors: &mut Vec<FieldError>) -> Option<String> {
    result.map_err(|message| errors.push(FieldError::new(field, message))).ok()
}

/// A new `client_id`: not secret, but unguessable, so that nobody can squat a future one.
fn new_client_id() -> String {
    format!("gh_{}", &refresh::new_token()[..22])
}

impl Accounts {
    /// Registers a client; its secret (confidential clients only) is returned this once.
    pub async fn register_client(
        &self,
        audit: &Audit,
        actor: Option<Uuid>,
        req: ClientRequest,
    ) -> Result<(Client, Option<String>), AccountError> {
        let mut errors = Vec::new();
        let name = one("name", client::client_name(&req.name), &mut errors);
        let redirects = redirect_uris(&req.redirect_uris, &mut errors);
        let logouts = each("post_logout_redirect_uris", &req.post_logout_redirect_uris, MAX_URIS, client::redirect_uri, &mut errors);
        let default_scopes: Vec<String> = DEFAULT_SCOPES.iter().map(|s| s.to_string()).collect();
        let scopes = each("scopes", req.scopes.as_ref().unwrap_or(&default_scopes), SCOPES.len(), client::scope, &mut errors);
        let resources = resources(&req.resources, &self.account_audience, &mut errors);
        let alg = one("id_token_signed_response_alg", client::id_token_alg(req.id_token_alg.as_deref().unwrap_or("RS256")), &mut errors);
        let (Some(name), Some(alg), true) = (name, alg, errors.is_empty()) else { return Err(AccountError::Invalid(errors)) };
        let secret = (!req.public).then(refresh::new_token);
        let new = NewClient {
            id: Uuid::now_v7(),
            client_id: new_client_id(),
            name,
            secret_hash: secret.as_deref().map(refresh::hash),
            first_party: req.first_party,
            redirect_uris: redirects,
            post_logout_redirect_uris: logouts,
            scopes,
            resources,
            id_token_alg: alg,
        };
        let client = self.store.create_client(new).await?;
        let detail = json!({ "client_id": client.client_id, "name": client.name, "public": client.public });
        audit.record(AuditType::ClientCreated, actor, None, detail).await;
        Ok((client, secret))
    }

    pub async fn change_client(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid, change: ClientChange) -> Result<Client, AccountError> {
        let mut errors = Vec::new();
        let patch = ClientPatch {
            name: change.name.and_then(|n| one("name", client::client_name(&n), &mut errors)),
            first_party: change.first_party,
            redirect_uris: change.redirect_uris.map(|r| redirect_uris(&r, &mut errors)),
            post_logout_redirect_uris: change
                .post_logout_redirect_uris
                .map(|r| each("post_logout_redirect_uris", &r, MAX_URIS, client::redirect_uri, &mut errors)),
            scopes: change.scopes.map(|s| each("scopes", &s, SCOPES.len(), client::scope, &mut errors)),
            resources: change.resources.map(|r| resources(&r, &self.account_audience, &mut errors)),
            id_token_alg: change.id_token_alg.and_then(|a| one("id_token_signed_response_alg", client::id_token_alg(&a), &mut errors)),
        };
        if !errors.is_empty() {
            return Err(AccountError::Invalid(errors));
        }
        let client = self.store.update_client(id, patch).await.map_err(not_found)?;
        audit.record(AuditType::ClientUpdated, actor, None, json!({ "client_id": client.client_id })).await;
        Ok(client)
    }

    /// A new secret for a confidential client: the old one stops working at once.
    pub async fn rotate_client_secret(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid) -> Result<String, AccountError> {
        let client = self.store.client(id).await?.ok_or(AccountError::NotFound)?;
        if client.public {
            return Err(AccountError::Store(crate::store::StoreError::Conflict(crate::store::Conflict::PublicClient)));
        }
        let secret = refresh::new_token();
        self.store.set_client_secret(id, &refresh::hash(&secret)).await.map_err(not_found)?;
        audit.record(AuditType::ClientSecretRotated, actor, None, json!({ "client_id": client.client_id })).await;
        Ok(secret)
    }

    pub async fn delete_client(&self, audit: &Audit, actor: Option<Uuid>, id: Uuid) -> Result<Client, AccountError> {
        let client = self.store.client(id).await?.ok_or(AccountError::NotFound)?;
        self.store.delete_client(id).await.map_err(not_found)?;
        audit.record(AuditType::ClientDeleted, actor, None, json!({ "client_id": client.client_id, "name": client.name })).await;
        Ok(client)
    }
}

fn not_found(err: crate::store::StoreError) -> AccountError {
    match err {
        crate::store::StoreError::NotFound => AccountError::NotFound,
        other => other.into(),
    }
}
