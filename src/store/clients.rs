//! OpenID Connect clients: the applications that sign their users in with Gatehouse.
//! The lists (redirect URIs, scopes) are JSON arrays in text columns, alike on both
//! databases; a secret is stored only as its SHA-256 (it is 256 random bits).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::Time;
use super::db::{classify, on_db};
use super::{Store, StoreError, StoreResult};

/// A client as the admin API shows it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Client {
    pub id: Uuid,
    /// What the application sends as `client_id`.
    #[schema(example = "gh_3q2YpNwK7dS1")]
    pub client_id: String,
    #[schema(example = "Photo app")]
    pub name: String,
    /// Exact URIs a sign-in may return to.
    pub redirect_uris: Vec<String>,
    /// No secret: a browser or mobile app, which must use PKCE.
    pub public: bool,
    /// Its users see no consent page.
    pub first_party: bool,
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes it may ask for.
    pub scopes: Vec<String>,
    /// Resource servers (RFC 8707 `resource`) its access tokens may be meant for; without
    /// one, its access tokens' `aud` is its `client_id`.
    pub resources: Vec<String>,
    /// `RS256` or `EdDSA`.
    #[schema(example = "RS256")]
    pub id_token_signed_response_alg: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: Uuid,
    client_id: String,
    name: String,
    public: bool,
    first_party: bool,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    scopes: String,
    resources: String,
    id_token_alg: String,
    #[sqlx(try_from = "Time")]
    created_at: DateTime<Utc>,
}

fn list(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        Self {
            id: row.id,
            client_id: row.client_id,
            name: row.name,
            redirect_uris: list(&row.redirect_uris),
            public: row.public,
            first_party: row.first_party,
            post_logout_redirect_uris: list(&row.post_logout_redirect_uris),
            scopes: list(&row.scopes),
            resources: list(&row.resources),
            id_token_signed_response_alg: row.id_token_alg,
            created_at: row.created_at,
        }
    }
}

/// A client to register, from checked values; `secret_hash` is `None` for a public one.
pub struct NewClient {
    pub id: Uuid,
    pub client_id: String,
    pub name: String,
    pub secret_hash: Option<Vec<u8>>,
    pub first_party: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub resources: Vec<String>,
    pub id_token_alg: String,
}

/// A change to a client; `None` leaves a field as it is.
#[derive(Default)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub first_party: Option<bool>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub resources: Option<Vec<String>>,
    pub id_token_alg: Option<String>,
}

/// The columns of a [`ClientRow`], for a select list.
macro_rules! client_columns {
    () => {
        "id, client_id, name, public, first_party, redirect_uris, post_logout_redirect_uris, scopes, resources, id_token_alg, created_at"
    };
}

#[derive(sqlx::FromRow)]
struct ClientRowWithSecret {
    #[sqlx(flatten)]
    row: ClientRow,
    secret_hash: Option<Vec<u8>>,
}

fn json(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

impl Store {
    pub async fn create_client(&self, new: NewClient) -> StoreResult<Client> {
        let now = Time::now();
        on_db!(&self.db, c => {
            sqlx::query(
                "INSERT INTO oauth_clients (id, client_id, name, secret_hash, public, first_party, redirect_uris, \
                 post_logout_redirect_uris, scopes, resources, id_token_alg, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)",
            )
            .bind(new.id)
            .bind(&new.client_id)
            .bind(&new.name)
            .bind(&new.secret_hash)
            .bind(new.secret_hash.is_none())
            .bind(new.first_party)
            .bind(json(&new.redirect_uris))
            .bind(json(&new.post_logout_redirect_uris))
            .bind(json(&new.scopes))
            .bind(json(&new.resources))
            .bind(&new.id_token_alg)
            .bind(now)
            .execute(&c.pool)
            .await
            .map_err(classify)?;
        });
        self.client(new.id).await?.ok_or(StoreError::NotFound)
    }

    /// Every client, oldest first (a deployment has a handful).
    pub async fn clients(&self) -> StoreResult<Vec<Client>> {
        let sql = concat!("SELECT ", client_columns!(), " FROM oauth_clients ORDER BY created_at, id");
        let rows: Vec<ClientRow> = on_db!(&self.db, c => sqlx::query_as(sql).fetch_all(&c.pool).await.map_err(classify)?);
        Ok(rows.into_iter().map(Client::from).collect())
    }

    pub async fn client(&self, id: Uuid) -> StoreResult<Option<Client>> {
        let sql = concat!("SELECT ", client_columns!(), " FROM oauth_clients WHERE id = $1");
        let row: Option<ClientRow> = on_db!(&self.db, c => sqlx::query_as(sql).bind(id).fetch_optional(&c.pool).await.map_err(classify)?);
        Ok(row.map(Client::from))
    }

    /// A client by its `client_id`, with its secret's hash (`None` for a public client).
    pub async fn client_by_client_id(&self, client_id: &str) -> StoreResult<Option<(Client, Option<Vec<u8>>)>> {
        let sql = concat!("SELECT ", client_columns!(), ", secret_hash FROM oauth_clients WHERE client_id = $1");
        let found: Option<ClientRowWithSecret> =
            on_db!(&self.db, c => sqlx::query_as(sql).bind(client_id).fetch_optional(&c.pool).await.map_err(classify)?);
        Ok(found.map(|f| (Client::from(f.row), f.secret_hash)))
    }

    pub async fn update_client(&self, id: Uuid, patch: ClientPatch) -> StoreResult<Client> {
        let done = on_db!(&self.db, c => sqlx::query(
            "UPDATE oauth_clients SET name = COALESCE($2, name), first_party = COALESCE($3, first_party), \
             redirect_uris = COALESCE($4, redirect_uris), post_logout_redirect_uris = COALESCE($5, post_logout_redirect_uris), \
             scopes = COALESCE($6, scopes), id_token_alg = COALESCE($7, id_token_alg), updated_at = $8, \
             resources = COALESCE($9, resources) WHERE id = $1",
        )
        .bind(id)
        .bind(&patch.name)
        .bind(patch.first_party)
        .bind(patch.redirect_uris.as_deref().map(json))
        .bind(patch.post_logout_redirect_uris.as_deref().map(json))
        .bind(patch.scopes.as_deref().map(json))
        .bind(&patch.id_token_alg)
        .bind(Time::now())
        .bind(patch.resources.as_deref().map(json))
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        self.client(id).await?.ok_or(StoreError::NotFound)
    }

    /// Replaces a confidential client's secret; `NotFound` for an unknown or public client.
    pub async fn set_client_secret(&self, id: Uuid, secret_hash: &[u8]) -> StoreResult<()> {
        let done = on_db!(&self.db, c => sqlx::query("UPDATE oauth_clients SET secret_hash = $2, updated_at = $3 WHERE id = $1 AND NOT public")
            .bind(id)
            .bind(secret_hash)
            .bind(Time::now())
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected());
        if done == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Deletes a client, and with it (by cascade) its codes, consents and sessions.
    pub async fn delete_client(&self, id: Uuid) -> StoreResult<()> {
        let done = on_db!(&self.db, c => sqlx::query("DELETE FROM oauth_clients WHERE id = $1")
            .bind(id)
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected());
        self.forget_all_live();
        if done == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }
}
