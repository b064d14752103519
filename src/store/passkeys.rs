//! Passkeys (WebAuthn credentials) and the ceremonies that register and use them. A
//! ceremony's state is a row taken once (deleted as it is read), so a finished or replayed
//! ceremony cannot be finished again, on this instance or another.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::{MaybeTime, Time};
use super::db::{classify, on_db};
use super::{EventType, Store, StoreResult};

/// A registered passkey. `credential` is the WebAuthn library's record (public key,
/// counter, flags) as JSON; it is no secret, but it is never shown either.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRecord {
    pub id: Uuid,
    pub user_id: Uuid,
    /// The credential id, base64url without padding.
    pub credential_id: String,
    pub name: String,
    /// What kind of authenticator holds it: `synced`, `device` or `security_key`.
    pub authenticator: String,
    pub credential: String,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "MaybeTime")]
    pub last_used_at: Option<DateTime<Utc>>,
}

/// What a sign-in with a passkey changes in its record.
#[derive(Debug, Clone)]
pub struct PasskeyUse {
    pub credential: String,
    pub sign_count: i64,
    pub backup_state: bool,
}

macro_rules! passkey_columns {
    () => {
        "id, user_id, credential_id, name, authenticator, credential, sign_count, backup_eligible, backup_state, created_at, last_used_at"
    };
}
pub(super) use passkey_columns;

/// Adds a passkey row (a new one, or one `gatehouse copy` carries), bound by [`bind_passkey`].
pub(super) const INSERT: &str =
    concat!("INSERT INTO passkeys (", passkey_columns!(), ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)");

/// Binds a passkey's columns in [`passkey_columns`]' order.
pub(super) fn bind_passkey<'q, DB: sqlx::Database>(
    query: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>,
    p: &'q PasskeyRecord,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments>
where
    Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Time: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<Time>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    query
        .bind(p.id)
        .bind(p.user_id)
        .bind(&p.credential_id)
        .bind(&p.name)
        .bind(&p.authenticator)
        .bind(&p.credential)
        .bind(p.sign_count)
        .bind(p.backup_eligible)
        .bind(p.backup_state)
        .bind(Time(p.created_at))
        .bind(p.last_used_at.map(Time))
}

impl Store {
    /// Adds a passkey; `Conflict(PasskeyTaken)` when its credential id is registered already.
    pub async fn insert_passkey(&self, passkey: &PasskeyRecord) -> StoreResult<()> {
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            bind_passkey(sqlx::query(INSERT), passkey).execute(&mut *tx).await.map_err(classify)?;
            tx.queue_event(EventType::PasskeyAdded, &passkey_event(passkey)).await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// A user's passkeys, oldest first.
    pub async fn passkeys_of(&self, user_id: Uuid) -> StoreResult<Vec<PasskeyRecord>> {
        on_db!(&self.db, c => sqlx::query_as(concat!("SELECT ", passkey_columns!(), " FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"))
            .bind(user_id)
            .fetch_all(&c.pool)
            .await
            .map_err(classify))
    }

    /// The passkey a credential id names, whoever holds it.
    pub async fn passkey_by_credential(&self, credential_id: &str) -> StoreResult<Option<PasskeyRecord>> {
        on_db!(&self.db, c => sqlx::query_as(concat!("SELECT ", passkey_columns!(), " FROM passkeys WHERE credential_id = $1"))
            .bind(credential_id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify))
    }

    /// Records a sign-in with a passkey: its new counter and backup state, and when.
    pub async fn record_passkey_use(&self, id: Uuid, used: &PasskeyUse) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("UPDATE passkeys SET credential = $2, sign_count = $3, backup_state = $4, last_used_at = $5 WHERE id = $1")
                .bind(id)
                .bind(&used.credential)
                .bind(used.sign_count)
                .bind(used.backup_state)
                .bind(Time::now())
                .execute(&c.pool)
                .await
                .map_err(classify)?;
        });
        Ok(())
    }

    /// Renames one of the user's passkeys; false when the user has no such passkey.
    pub async fn rename_passkey(&self, user_id: Uuid, id: Uuid, name: &str) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .bind(name)
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected());
        Ok(done == 1)
    }

    /// Deletes one of the user's passkeys: the deleted record, or `None` when there was none.
    pub async fn delete_passkey(&self, user_id: Uuid, id: Uuid) -> StoreResult<Option<PasskeyRecord>> {
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let removed: Option<PasskeyRecord> =
                sqlx::query_as(concat!("DELETE FROM passkeys WHERE id = $1 AND user_id = $2 RETURNING ", passkey_columns!()))
                    .bind(id)
                    .bind(user_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(classify)?;
            if let Some(removed) = &removed {
                tx.queue_event(EventType::PasskeyRemoved, &passkey_event(removed)).await?;
            }
            tx.commit().await?;
            Ok(removed)
        })
    }

    /// Keeps a ceremony's state until `expires_at`.
    pub async fn begin_ceremony(
        &self,
        id: Uuid,
        purpose: &str,
        user_id: Option<Uuid>,
        state: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("INSERT INTO webauthn_ceremonies (id, purpose, user_id, state, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(id)
                .bind(purpose)
                .bind(user_id)
                .bind(state)
                .bind(Time(expires_at))
                .execute(&c.pool)
                .await
                .map_err(classify)?;
        });
        Ok(())
    }

    /// Takes a live ceremony of this purpose (and user, when it has one) out of the
    /// database: its state once, `None` after that or once it expired.
    pub async fn take_ceremony(&self, id: Uuid, purpose: &str, user_id: Option<Uuid>) -> StoreResult<Option<String>> {
        on_db!(&self.db, c => sqlx::query_scalar(
            "DELETE FROM webauthn_ceremonies WHERE id = $1 AND purpose = $2 AND expires_at > $3 \
             AND (user_id = $4 OR (user_id IS NULL AND $4 IS NULL)) RETURNING state",
        )
        .bind(id)
        .bind(purpose)
        .bind(Time::now())
        .bind(user_id)
        .fetch_optional(&c.pool)
        .await
        .map_err(classify))
    }
}

/// `passkey.*`'s data: the passkey as its owner sees it (never its key), and whose it is.
fn passkey_event(p: &PasskeyRecord) -> serde_json::Value {
    serde_json::json!({
        "id": p.id,
        "user_id": p.user_id,
        "name": p.name,
        "authenticator": p.authenticator,
        "backup_eligible": p.backup_eligible,
        "backup_state": p.backup_state,
        "created_at": p.created_at,
    })
}
