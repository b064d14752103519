//! People's identities at upstream providers, found by (provider, subject) only, and the
//! upstream flows in progress (taken once, bound to the browser that began them).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{MaybeTime, Time};
use super::db::{Lock, classify, on_db};
use super::events::EventType;
use super::{Conflict, NewUser, Store, StoreError, StoreResult};

/// The password hash of an account made through a provider: it matches no password
/// (argon2 and every legacy format refuse it), and says the account has none.
pub const NO_PASSWORD: &str = "!none";

/// Whether a stored hash is a password at all (not [`NO_PASSWORD`]).
pub fn has_password(hash: &str) -> bool {
    !hash.starts_with('!')
}

/// An identity as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Identity {
    pub id: Uuid,
    /// The provider's slug.
    #[schema(example = "google")]
    pub provider: String,
    /// The person's stable id at the provider (`sub`, or GitHub's numeric user id).
    #[schema(example = "110248495921238986420")]
    pub subject: String,
    /// The address the provider last gave (verified or not); never used to find the identity.
    pub email: Option<String>,
    #[sqlx(try_from = "Time")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "MaybeTime")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// An identity row as `gatehouse copy` and export carry it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IdentityRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider_id: Uuid,
    pub subject: String,
    pub email: Option<String>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "MaybeTime")]
    pub last_used_at: Option<DateTime<Utc>>,
}

macro_rules! identity_select {
    () => {
        "SELECT i.id, p.slug AS provider, i.subject, i.email, i.created_at, i.last_used_at \
         FROM user_identities i JOIN upstream_providers p ON p.id = i.provider_id"
    };
}

pub(super) const INSERT: &str = "INSERT INTO user_identities (id, user_id, provider_id, subject, email, created_at, last_used_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// The `data` of `identity.linked` and `identity.unlinked`: the identity as the API shows
/// it, and its user's id.
pub(super) fn identity_event(identity: &Identity, user_id: Uuid) -> serde_json::Value {
    serde_json::json!({ "id": identity.id, "user_id": user_id, "provider": identity.provider, "subject": identity.subject,
        "email": identity.email, "created_at": identity.created_at })
}

const IDENTITY_BY_ID: &str = concat!(identity_select!(), " WHERE i.id = $1");

/// Ways a person can sign in to an account, counted for "never the last one".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInMethods {
    pub password: bool,
    pub passkeys: i64,
    pub identities: i64,
}

impl SignInMethods {
    pub fn total(&self) -> i64 {
        i64::from(self.password) + self.passkeys + self.identities
    }
}

impl Store {
    /// The account an identity is linked to: by (provider, subject) only.
    pub async fn identity_owner(&self, provider_id: Uuid, subject: &str) -> StoreResult<Option<Uuid>> {
        on_db!(&self.db, c => sqlx::query_scalar("SELECT user_id FROM user_identities WHERE provider_id = $1 AND subject = $2")
            .bind(provider_id)
            .bind(subject)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// A user's identities, oldest first.
    pub async fn identities_of(&self, user_id: Uuid) -> StoreResult<Vec<Identity>> {
        let sql = concat!(identity_select!(), " WHERE i.user_id = $1 ORDER BY i.created_at, i.id");
        on_db!(&self.db, c => sqlx::query_as(sql).bind(user_id).fetch_all(&c.pool).await.map_err(classify))
    }

    /// Links an identity; `Conflict(IdentityTaken)` when it is linked already (to anyone).
    /// `identity.linked` is queued with it.
    pub async fn link_identity(&self, id: Uuid, user_id: Uuid, provider_id: Uuid, subject: &str, email: Option<&str>) -> StoreResult<()> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            sqlx::query(INSERT)
                .bind(id)
                .bind(user_id)
                .bind(provider_id)
                .bind(subject)
                .bind(email)
                .bind(now)
                .bind(Some(now))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            let linked: Identity = sqlx::query_as(IDENTITY_BY_ID).bind(id).fetch_one(&mut *tx).await.map_err(classify)?;
            tx.queue_event(EventType::IdentityLinked, &identity_event(&linked, user_id)).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A new account and its first identity, together or not at all; `email_verified` is
    /// what the provider said of the address.
    pub async fn create_user_with_identity(
        &self,
        user: NewUser,
        email_verified: bool,
        provider_id: Uuid,
        subject: &str,
    ) -> StoreResult<super::User> {
        let now = Time::now();
        let email = user.email.as_ref().map(|e| e.as_str().to_string());
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.insert_user(&user, now).await?;
            sqlx::query("UPDATE users SET email_verified = $2, email_ever_verified = $2 WHERE id = $1")
                .bind(user.id)
                .bind(email_verified && email.is_some())
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            let identity_id = Uuid::now_v7();
            sqlx::query(INSERT)
                .bind(identity_id)
                .bind(user.id)
                .bind(provider_id)
                .bind(subject)
                .bind(&email)
                .bind(now)
                .bind(Some(now))
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            let linked: Identity = sqlx::query_as(IDENTITY_BY_ID).bind(identity_id).fetch_one(&mut *tx).await.map_err(classify)?;
            tx.queue_event(EventType::IdentityLinked, &identity_event(&linked, user.id)).await?;
            tx.commit().await?;
        });
        self.user_by_id(user.id).await?.ok_or(StoreError::NotFound)
    }

    /// Records a sign-in with an identity and the address the provider gave this time.
    pub async fn touch_identity(&self, provider_id: Uuid, subject: &str, email: Option<&str>) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("UPDATE user_identities SET last_used_at = $3, email = $4 WHERE provider_id = $1 AND subject = $2")
                .bind(provider_id)
                .bind(subject)
                .bind(Time::now())
                .bind(email)
                .execute(&c.pool)
                .await
                .map_err(classify)?;
        });
        Ok(())
    }

    /// The ways `user_id` can sign in.
    pub async fn sign_in_methods(&self, user_id: Uuid) -> StoreResult<SignInMethods> {
        let row: Option<(String, i64, i64)> = on_db!(&self.db, c => sqlx::query_as(COUNT_METHODS)
            .bind(user_id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify)?);
        let (hash, passkeys, identities) = row.ok_or(StoreError::NotFound)?;
        Ok(SignInMethods { password: has_password(&hash), passkeys, identities })
    }

    /// Unlinks one of `user_id`'s identities, unless it is the account's last way to sign
    /// in (`Conflict(LastSignInMethod)`); answers the identity removed. The user's row is
    /// locked first, so two removals at once cannot both pass the count.
    pub async fn unlink_identity(&self, user_id: Uuid, id: Uuid) -> StoreResult<Identity> {
        let sql = concat!(identity_select!(), " WHERE i.id = $1 AND i.user_id = $2");
        let removed: Identity = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.lock(Lock::TemplateOwner(user_id)).await?;
            let found: Option<Identity> = sqlx::query_as(sql).bind(id).bind(user_id).fetch_optional(&mut *tx).await.map_err(classify)?;
            let found = found.ok_or(StoreError::NotFound)?;
            let (hash, passkeys, identities): (String, i64, i64) =
                sqlx::query_as(COUNT_METHODS).bind(user_id).fetch_one(&mut *tx).await.map_err(classify)?;
            let methods = SignInMethods { password: has_password(&hash), passkeys, identities };
            if methods.total() <= 1 {
                return Err(StoreError::Conflict(Conflict::LastSignInMethod));
            }
            sqlx::query("DELETE FROM user_identities WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(classify)?;
            tx.queue_event(EventType::IdentityUnlinked, &identity_event(&found, user_id)).await?;
            tx.commit().await?;
            found
        });
        Ok(removed)
    }

    /// Every identity row, for `gatehouse copy` and export.
    pub async fn identity_records(&self) -> StoreResult<Vec<IdentityRecord>> {
        on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, user_id, provider_id, subject, email, created_at, last_used_at FROM user_identities ORDER BY created_at, id",
        )
        .fetch_all(&c.pool)
        .await
        .map_err(classify))
    }

    /// Keeps an upstream flow (a sign-in begun, or an identity waiting for proof).
    pub async fn keep_upstream_flow(
        &self,
        token_hash: &[u8],
        purpose: &str,
        browser_hash: &[u8],
        state: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("INSERT INTO upstream_flows (token_hash, purpose, browser_hash, state, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(token_hash)
                .bind(purpose)
                .bind(browser_hash)
                .bind(state)
                .bind(Time(expires_at))
                .execute(&c.pool)
                .await
                .map_err(classify)?;
        });
        Ok(())
    }

    /// Takes a live flow once (it is deleted as it is read): its browser's hash and state.
    pub async fn take_upstream_flow(&self, token_hash: &[u8], purpose: &str) -> StoreResult<Option<(Vec<u8>, String)>> {
        on_db!(&self.db, c => sqlx::query_as(
            "DELETE FROM upstream_flows WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING browser_hash, state",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(Time::now())
        .fetch_optional(&c.pool)
        .await
        .map_err(classify))
    }

    /// Reads a live flow without taking it (the confirm page shows what it will link).
    pub async fn peek_upstream_flow(&self, token_hash: &[u8], purpose: &str) -> StoreResult<Option<(Vec<u8>, String)>> {
        on_db!(&self.db, c => sqlx::query_as(
            "SELECT browser_hash, state FROM upstream_flows WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3",
        )
        .bind(token_hash)
        .bind(purpose)
        .bind(Time::now())
        .fetch_optional(&c.pool)
        .await
        .map_err(classify))
    }

    /// Deletes expired flows; answers how many.
    pub async fn prune_upstream_flows(&self) -> StoreResult<u64> {
        on_db!(&self.db, c => Ok(sqlx::query("DELETE FROM upstream_flows WHERE expires_at <= $1")
            .bind(Time::now())
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected()))
    }
}

const COUNT_METHODS: &str = "SELECT u.password_hash, \
     (SELECT count(*) FROM passkeys k WHERE k.user_id = u.id), \
     (SELECT count(*) FROM user_identities i WHERE i.user_id = u.id) \
     FROM users u WHERE u.id = $1";
