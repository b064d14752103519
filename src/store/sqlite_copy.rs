//! `gatehouse copy` support for SQLite: whole rows out and in, every column as stored.
//! Times are unix milliseconds here, as everywhere in the SQLite schema.

use sqlx::sqlite::SqlitePool;
use sqlx::{Row, Sqlite, Transaction};

use super::copy::{
    AuditEventRow, RecoveryCodeRow, RefreshTokenRow, Rows, ServerSecretRow, SessionRow, Table, TemplateRow, TotpSecretRow, UserRow,
};
use super::sqlite::classify;
use super::{SigningKeyRecord, StoreResult, millis_to_time};

pub(super) async fn export(pool: &SqlitePool, table: Table, offset: u64, limit: u32) -> StoreResult<Rows> {
    let sql = match table {
        Table::Users => {
            "SELECT u.*, (SELECT group_concat(r.role, ',') FROM user_roles r WHERE r.user_id = u.id) AS roles \
             FROM users u ORDER BY u.id LIMIT $1 OFFSET $2"
        }
        Table::TotpSecrets => "SELECT * FROM totp_secrets ORDER BY user_id LIMIT $1 OFFSET $2",
        Table::RecoveryCodes => "SELECT * FROM recovery_codes ORDER BY user_id, code_hash LIMIT $1 OFFSET $2",
        Table::Templates => "SELECT * FROM templates ORDER BY id LIMIT $1 OFFSET $2",
        Table::Sessions => "SELECT * FROM sessions ORDER BY id LIMIT $1 OFFSET $2",
        Table::RefreshTokens => "SELECT * FROM refresh_tokens ORDER BY token_hash LIMIT $1 OFFSET $2",
        Table::SigningKeys => "SELECT * FROM signing_keys ORDER BY kid LIMIT $1 OFFSET $2",
        Table::ServerSecrets => "SELECT * FROM server_secrets ORDER BY name LIMIT $1 OFFSET $2",
        Table::AuditEvents => "SELECT * FROM audit_events ORDER BY id LIMIT $1 OFFSET $2",
    };
    let rows =
        sqlx::query(sql).bind(i64::from(limit)).bind(i64::try_from(offset).unwrap_or(i64::MAX)).fetch_all(pool).await.map_err(classify)?;
    let time = |r: &sqlx::sqlite::SqliteRow, col: &str| -> Result<_, sqlx::Error> { Ok(millis_to_time(r.try_get(col)?)) };
    let maybe_time =
        |r: &sqlx::sqlite::SqliteRow, col: &str| -> Result<_, sqlx::Error> { Ok(r.try_get::<Option<i64>, _>(col)?.map(millis_to_time)) };
    let out = (|| -> Result<Rows, sqlx::Error> {
        Ok(match table {
            Table::Users => Rows::Users(
                rows.iter()
                    .map(|r| {
                        let mut roles: Vec<String> = r
                            .try_get::<Option<String>, _>("roles")?
                            .map(|s| s.split(',').map(str::to_string).collect())
                            .unwrap_or_default();
                        roles.sort();
                        Ok(UserRow {
                            id: r.try_get("id")?,
                            username: r.try_get("username")?,
                            username_key: r.try_get("username_key")?,
                            email: r.try_get("email")?,
                            email_key: r.try_get("email_key")?,
                            email_verified: r.try_get("email_verified")?,
                            pending_email: r.try_get("pending_email")?,
                            pending_email_key: r.try_get("pending_email_key")?,
                            email_ever_verified: r.try_get("email_ever_verified")?,
                            password_hash: r.try_get("password_hash")?,
                            disabled: r.try_get("disabled")?,
                            mfa_enabled: r.try_get("mfa_enabled")?,
                            created_at: time(r, "created_at")?,
                            updated_at: time(r, "updated_at")?,
                            roles,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
            Table::TotpSecrets => Rows::TotpSecrets(
                rows.iter()
                    .map(|r| {
                        Ok(TotpSecretRow {
                            user_id: r.try_get("user_id")?,
                            secret: r.try_get("secret")?,
                            last_step: r.try_get("last_step")?,
                            created_at: time(r, "created_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
            Table::RecoveryCodes => Rows::RecoveryCodes(
                rows.iter()
                    .map(|r| {
                        Ok(RecoveryCodeRow {
                            user_id: r.try_get("user_id")?,
                            code_hash: r.try_get("code_hash")?,
                            created_at: time(r, "created_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
            Table::Templates => Rows::Templates(
                rows.iter()
                    .map(|r| {
                        Ok(TemplateRow {
                            id: r.try_get("id")?,
                            owner_id: r.try_get("owner_id")?,
                            name: r.try_get("name")?,
                            content: r.try_get("content")?,
                            created_at: time(r, "created_at")?,
                            updated_at: time(r, "updated_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
            Table::Sessions => Rows::Sessions(
                rows.iter()
                    .map(|r| {
                        Ok(SessionRow {
                            id: r.try_get("id")?,
                            user_id: r.try_get("user_id")?,
                            created_at: time(r, "created_at")?,
                            last_used_at: time(r, "last_used_at")?,
                            expires_at: time(r, "expires_at")?,
                            revoked_at: maybe_time(r, "revoked_at")?,
                            user_agent: r.try_get("user_agent")?,
                            ip: r.try_get("ip")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
            Table::RefreshTokens => Rows::RefreshTokens(
                rows.iter()
                    .map(|r| {
                        Ok(RefreshTokenRow {
                            token_hash: r.try_get("token_hash")?,
                            session_id: r.try_get("session_id")?,
                            created_at: time(r, "created_at")?,
                            rotated_at: maybe_time(r, "rotated_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
            Table::SigningKeys => Rows::SigningKeys(
                rows.iter()
                    .map(|r| {
                        Ok(SigningKeyRecord {
                            kid: r.try_get("kid")?,
                            algorithm: r.try_get("algorithm")?,
                            private_key: r.try_get("private_key")?,
                            public_key: r.try_get("public_key")?,
                            created_at: time(r, "created_at")?,
                            retired_at: maybe_time(r, "retired_at")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
            Table::ServerSecrets => Rows::ServerSecrets(
                rows.iter()
                    .map(|r| Ok(ServerSecretRow { name: r.try_get("name")?, value: r.try_get("value")? }))
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
            Table::AuditEvents => Rows::AuditEvents(
                rows.iter()
                    .map(|r| {
                        Ok(AuditEventRow {
                            id: r.try_get("id")?,
                            time: time(r, "time")?,
                            kind: r.try_get("type")?,
                            actor_id: r.try_get("actor_id")?,
                            user_id: r.try_get("user_id")?,
                            ip: r.try_get("ip")?,
                            user_agent: r.try_get("user_agent")?,
                            request_id: r.try_get("request_id")?,
                            detail: r.try_get("detail")?,
                        })
                    })
                    .collect::<Result<_, sqlx::Error>>()?,
            ),
        })
    })()
    .map_err(classify)?;
    Ok(out)
}

pub(super) async fn import(tx: &mut Transaction<'static, Sqlite>, rows: Rows) -> StoreResult<()> {
    let ms = |t: chrono::DateTime<chrono::Utc>| t.timestamp_millis();
    match rows {
        Rows::Users(rows) => {
            for u in rows {
                sqlx::query(
                    "INSERT INTO users (id, username, username_key, email, email_key, email_verified, password_hash, \
                     disabled, mfa_enabled, created_at, updated_at, pending_email, pending_email_key, email_ever_verified) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                )
                .bind(u.id)
                .bind(&u.username)
                .bind(&u.username_key)
                .bind(&u.email)
                .bind(&u.email_key)
                .bind(u.email_verified)
                .bind(&u.password_hash)
                .bind(u.disabled)
                .bind(u.mfa_enabled)
                .bind(ms(u.created_at))
                .bind(ms(u.updated_at))
                .bind(&u.pending_email)
                .bind(&u.pending_email_key)
                .bind(u.email_ever_verified)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
                for role in &u.roles {
                    sqlx::query("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES ($1, $2)")
                        .bind(u.id)
                        .bind(role)
                        .execute(&mut **tx)
                        .await
                        .map_err(classify)?;
                }
            }
        }
        Rows::TotpSecrets(rows) => {
            for t in rows {
                sqlx::query("INSERT INTO totp_secrets (user_id, secret, last_step, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(t.user_id)
                    .bind(&t.secret)
                    .bind(t.last_step)
                    .bind(ms(t.created_at))
                    .execute(&mut **tx)
                    .await
                    .map_err(classify)?;
            }
        }
        Rows::RecoveryCodes(rows) => {
            for c in rows {
                sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                    .bind(c.user_id)
                    .bind(&c.code_hash)
                    .bind(ms(c.created_at))
                    .execute(&mut **tx)
                    .await
                    .map_err(classify)?;
            }
        }
        Rows::Templates(rows) => {
            for t in rows {
                sqlx::query("INSERT INTO templates (id, owner_id, name, content, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(t.id)
                    .bind(t.owner_id)
                    .bind(&t.name)
                    .bind(&t.content)
                    .bind(ms(t.created_at))
                    .bind(ms(t.updated_at))
                    .execute(&mut **tx)
                    .await
                    .map_err(classify)?;
            }
        }
        Rows::Sessions(rows) => {
            for s in rows {
                sqlx::query(
                    "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(s.id)
                .bind(s.user_id)
                .bind(ms(s.created_at))
                .bind(ms(s.last_used_at))
                .bind(ms(s.expires_at))
                .bind(s.revoked_at.map(ms))
                .bind(&s.user_agent)
                .bind(&s.ip)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
            }
        }
        Rows::RefreshTokens(rows) => {
            for t in rows {
                sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at, rotated_at) VALUES ($1, $2, $3, $4)")
                    .bind(&t.token_hash)
                    .bind(t.session_id)
                    .bind(ms(t.created_at))
                    .bind(t.rotated_at.map(ms))
                    .execute(&mut **tx)
                    .await
                    .map_err(classify)?;
            }
        }
        Rows::SigningKeys(rows) => {
            for k in rows {
                sqlx::query(
                    "INSERT INTO signing_keys (kid, algorithm, private_key, public_key, created_at, retired_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&k.kid)
                .bind(&k.algorithm)
                .bind(&k.private_key)
                .bind(&k.public_key)
                .bind(ms(k.created_at))
                .bind(k.retired_at.map(ms))
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
            }
        }
        Rows::ServerSecrets(rows) => {
            for s in rows {
                sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2)")
                    .bind(&s.name)
                    .bind(&s.value)
                    .execute(&mut **tx)
                    .await
                    .map_err(classify)?;
            }
        }
        Rows::AuditEvents(rows) => {
            for e in rows {
                sqlx::query(
                    "INSERT INTO audit_events (id, time, type, actor_id, user_id, ip, user_agent, request_id, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(e.id)
                .bind(ms(e.time))
                .bind(&e.kind)
                .bind(e.actor_id)
                .bind(e.user_id)
                .bind(&e.ip)
                .bind(&e.user_agent)
                .bind(&e.request_id)
                .bind(&e.detail)
                .execute(&mut **tx)
                .await
                .map_err(classify)?;
            }
        }
    }
    Ok(())
}
