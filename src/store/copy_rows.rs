//! `gatehouse copy`, the store's half: whole rows out and in, every column as stored, in
//! primary-key order.

use anyhow::Context;
use sqlx::types::Json;

use super::codec::{Time, roles_column};
use super::copy::{Rows, Table};
use super::db::{classify, on_db};
use super::passkeys::passkey_columns;
use super::{Store, StoreResult};

fn export_sql(table: Table) -> &'static str {
    match table {
        Table::Users => concat!("SELECT u.*, ", roles_column!(), " FROM users u ORDER BY u.id LIMIT $1 OFFSET $2"),
        Table::TotpSecrets => "SELECT * FROM totp_secrets ORDER BY user_id LIMIT $1 OFFSET $2",
        Table::RecoveryCodes => "SELECT * FROM recovery_codes ORDER BY user_id, code_hash LIMIT $1 OFFSET $2",
        Table::Templates => "SELECT * FROM templates ORDER BY id LIMIT $1 OFFSET $2",
        Table::Sessions => "SELECT * FROM sessions ORDER BY id LIMIT $1 OFFSET $2",
        Table::RefreshTokens => "SELECT * FROM refresh_tokens ORDER BY token_hash LIMIT $1 OFFSET $2",
        Table::SigningKeys => "SELECT * FROM signing_keys ORDER BY kid LIMIT $1 OFFSET $2",
        Table::ServerSecrets => "SELECT * FROM server_secrets ORDER BY name LIMIT $1 OFFSET $2",
        Table::OauthClients => "SELECT * FROM oauth_clients ORDER BY id LIMIT $1 OFFSET $2",
        Table::OauthConsents => "SELECT * FROM oauth_consents ORDER BY user_id, client_id LIMIT $1 OFFSET $2",
        Table::Passkeys => concat!("SELECT ", passkey_columns!(), " FROM passkeys ORDER BY id LIMIT $1 OFFSET $2"),
        Table::UpstreamProviders => {
            concat!("SELECT ", super::upstream::provider_columns!(), ", updated_at FROM upstream_providers ORDER BY id LIMIT $1 OFFSET $2")
        }
        Table::UserIdentities => {
            "SELECT id, user_id, provider_id, subject, email, created_at, last_used_at FROM user_identities ORDER BY id LIMIT $1 OFFSET $2"
        }
        Table::Organizations => "SELECT id, slug, name, created_at FROM organizations ORDER BY id LIMIT $1 OFFSET $2",
        Table::OrgMembers => "SELECT org_id, user_id, roles, created_at FROM org_members ORDER BY org_id, user_id LIMIT $1 OFFSET $2",
        Table::OrgInvitations => "SELECT * FROM org_invitations ORDER BY id LIMIT $1 OFFSET $2",
        Table::AuditEvents => {
            "SELECT id, time, type, actor_id, user_id, ip, user_agent, request_id, CAST(detail AS TEXT) AS detail \
             FROM audit_events ORDER BY id LIMIT $1 OFFSET $2"
        }
        Table::WebhookEndpoints => {
            "SELECT id, url, events, description, enabled, secret, previous_secret, previous_secret_until, created_at, updated_at \
             FROM webhook_endpoints ORDER BY id LIMIT $1 OFFSET $2"
        }
    }
}

impl Store {
    /// `gatehouse copy`: up to `limit` rows of one table from `offset`, in primary-key order,
    /// every column as stored.
    pub async fn export_rows(&self, table: Table, offset: u64, limit: u32) -> StoreResult<Rows> {
        let (sql, limit, offset) = (export_sql(table), i64::from(limit), i64::try_from(offset).unwrap_or(i64::MAX));
        on_db!(&self.db, c => {
            macro_rules! page {
                () => {
                    sqlx::query_as(sql).bind(limit).bind(offset).fetch_all(&c.pool).await.map_err(classify)?
                };
            }
            Ok(match table {
                Table::Users => Rows::Users(page!()),
                Table::TotpSecrets => Rows::TotpSecrets(page!()),
                Table::RecoveryCodes => Rows::RecoveryCodes(page!()),
                Table::Templates => Rows::Templates(page!()),
                Table::Sessions => Rows::Sessions(page!()),
                Table::RefreshTokens => Rows::RefreshTokens(page!()),
                Table::SigningKeys => Rows::SigningKeys(page!()),
                Table::ServerSecrets => Rows::ServerSecrets(page!()),
                Table::OauthClients => Rows::OauthClients(page!()),
                Table::OauthConsents => Rows::OauthConsents(page!()),
                Table::Passkeys => Rows::Passkeys(page!()),
                Table::UpstreamProviders => Rows::UpstreamProviders(page!()),
                Table::UserIdentities => Rows::UserIdentities(page!()),
                Table::Organizations => Rows::Organizations(page!()),
                Table::OrgMembers => Rows::OrgMembers(page!()),
                Table::OrgInvitations => Rows::OrgInvitations(page!()),
                Table::AuditEvents => Rows::AuditEvents(page!()),
                Table::WebhookEndpoints => Rows::WebhookEndpoints(page!()),
            })
        })
    }

    /// `gatehouse copy` and `import`: inserts rows read from another store, all of them in
    /// one transaction, parents first.
    pub async fn import_rows(&self, pages: impl IntoIterator<Item = Rows>) -> StoreResult<()> {
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            for rows in pages { match &rows {
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
                        .bind(Time(u.created_at))
                        .bind(Time(u.updated_at))
                        .bind(&u.pending_email)
                        .bind(&u.pending_email_key)
                        .bind(u.email_ever_verified)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                        tx.insert_roles(u.id, &u.roles).await?;
                    }
                }
                Rows::TotpSecrets(rows) => {
                    for t in rows {
                        sqlx::query("INSERT INTO totp_secrets (user_id, secret, last_step, created_at) VALUES ($1, $2, $3, $4)")
                            .bind(t.user_id)
                            .bind(&t.secret)
                            .bind(t.last_step)
                            .bind(Time(t.created_at))
                            .execute(&mut *tx)
                            .await
                            .map_err(classify)?;
                    }
                }
                Rows::RecoveryCodes(rows) => {
                    for r in rows {
                        sqlx::query("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)")
                            .bind(r.user_id)
                            .bind(&r.code_hash)
                            .bind(Time(r.created_at))
                            .execute(&mut *tx)
                            .await
                            .map_err(classify)?;
                    }
                }
                Rows::Templates(rows) => {
                    for t in rows {
                        sqlx::query(
                            "INSERT INTO templates (id, owner_id, name, content, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(t.id)
                        .bind(t.owner_id)
                        .bind(&t.name)
                        .bind(&t.content)
                        .bind(Time(t.created_at))
                        .bind(Time(t.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    }
                }
                Rows::Sessions(rows) => {
                    for s in rows {
                        sqlx::query(
                            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, revoked_at, user_agent, ip, \
                             amr, auth_time, client_id, scope, org_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                        )
                        .bind(s.id)
                        .bind(s.user_id)
                        .bind(Time(s.created_at))
                        .bind(Time(s.last_used_at))
                        .bind(Time(s.expires_at))
                        .bind(s.revoked_at.map(Time))
                        .bind(&s.user_agent)
                        .bind(&s.ip)
                        .bind(&s.amr)
                        .bind(s.auth_time.map(Time))
                        .bind(s.client_id)
                        .bind(&s.scope)
                        .bind(s.org_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    }
                }
                Rows::Organizations(rows) => {
                    for o in rows {
                        sqlx::query("INSERT INTO organizations (id, slug, name, created_at) VALUES ($1, $2, $3, $4)")
                            .bind(o.id).bind(&o.slug).bind(&o.name).bind(Time(o.created_at))
                            .execute(&mut *tx).await.map_err(classify)?;
                    }
                }
                Rows::OrgMembers(rows) => {
                    for m in rows {
                        sqlx::query("INSERT INTO org_members (org_id, user_id, roles, created_at) VALUES ($1, $2, $3, $4)")
                            .bind(m.org_id).bind(m.user_id).bind(&m.roles).bind(Time(m.created_at))
                            .execute(&mut *tx).await.map_err(classify)?;
                    }
                }
                Rows::OrgInvitations(rows) => {
                    for i in rows {
                        sqlx::query(
                            "INSERT INTO org_invitations (id, org_id, email, email_key, roles, token_hash, invited_by, created_at, \
                             expires_at, accepted_at, accepted_by, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                        )
                        .bind(i.id).bind(i.org_id).bind(&i.email).bind(&i.email_key).bind(&i.roles).bind(&i.token_hash)
                        .bind(i.invited_by).bind(Time(i.created_at)).bind(Time(i.expires_at)).bind(i.accepted_at.map(Time))
                        .bind(i.accepted_by).bind(i.revoked_at.map(Time))
                        .execute(&mut *tx).await.map_err(classify)?;
                    }
                }
                Rows::RefreshTokens(rows) => {
                    for t in rows {
                        sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at, rotated_at) VALUES ($1, $2, $3, $4)")
                            .bind(&t.token_hash)
                            .bind(t.session_id)
                            .bind(Time(t.created_at))
                            .bind(t.rotated_at.map(Time))
                            .execute(&mut *tx)
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
                        .bind(Time(k.created_at))
                        .bind(k.retired_at.map(Time))
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    }
                }
                Rows::ServerSecrets(rows) => {
                    for s in rows {
                        sqlx::query("INSERT INTO server_secrets (name, value) VALUES ($1, $2)")
                            .bind(&s.name)
                            .bind(&s.value)
                            .execute(&mut *tx)
                            .await
                            .map_err(classify)?;
                    }
                }
                Rows::OauthConsents(rows) => {
                    for o in rows {
                        sqlx::query("INSERT INTO oauth_consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)")
                            .bind(o.user_id)
                            .bind(o.client_id)
                            .bind(&o.scope)
                            .bind(Time(o.granted_at))
                            .execute(&mut *tx)
                            .await
                            .map_err(classify)?;
                    }
                }
                Rows::Passkeys(rows) => {
                    for p in rows {
                        super::passkeys::bind_passkey(sqlx::query(super::passkeys::INSERT), p).execute(&mut *tx).await.map_err(classify)?;
                    }
                }
                Rows::UpstreamProviders(rows) => {
                    for r in rows {
                        let p = &r.row;
                        sqlx::query(super::upstream::INSERT_WITH_UPDATED)
                            .bind(p.id)
                            .bind(&p.slug)
                            .bind(&p.name)
                            .bind(&p.kind)
                            .bind(&p.issuer)
                            .bind(&p.client_id)
                            .bind(&p.client_secret_sealed)
                            .bind(&p.scopes)
                            .bind(p.allow_signup)
                            .bind(p.link_by_email)
                            .bind(p.trust_upstream_mfa)
                            .bind(&p.authorization_endpoint)
                            .bind(&p.token_endpoint)
                            .bind(&p.api_base)
                            .bind(Time(p.created_at))
                            .bind(Time(r.updated_at))
                            .execute(&mut *tx)
                            .await
                            .map_err(classify)?;
                    }
                }
                Rows::UserIdentities(rows) => {
                    for i in rows {
                        sqlx::query(super::identities::INSERT)
                            .bind(i.id)
                            .bind(i.user_id)
                            .bind(i.provider_id)
                            .bind(&i.subject)
                            .bind(&i.email)
                            .bind(Time(i.created_at))
                            .bind(i.last_used_at.map(Time))
                            .execute(&mut *tx)
                            .await
                            .map_err(classify)?;
                    }
                }
                Rows::OauthClients(rows) => {
                    for o in rows {
                        sqlx::query(
                            "INSERT INTO oauth_clients (id, client_id, name, secret_hash, public, first_party, redirect_uris, \
                             post_logout_redirect_uris, scopes, resources, id_token_alg, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                        )
                        .bind(o.id)
                        .bind(&o.client_id)
                        .bind(&o.name)
                        .bind(&o.secret_hash)
                        .bind(o.public)
                        .bind(o.first_party)
                        .bind(&o.redirect_uris)
                        .bind(&o.post_logout_redirect_uris)
                        .bind(&o.scopes)
                        .bind(&o.resources)
                        .bind(&o.id_token_alg)
                        .bind(Time(o.created_at))
                        .bind(Time(o.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    }
                }
                Rows::AuditEvents(rows) => {
                    for e in rows {
                        let detail: serde_json::Value =
                            serde_json::from_str(&e.detail).with_context(|| format!("audit event {}: detail is not JSON", e.id))?;
                        sqlx::query(
                            "INSERT INTO audit_events (id, time, type, actor_id, user_id, ip, user_agent, request_id, detail) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                        )
                        .bind(e.id)
                        .bind(Time(e.time))
                        .bind(&e.kind)
                        .bind(e.actor_id)
                        .bind(e.user_id)
                        .bind(&e.ip)
                        .bind(&e.user_agent)
                        .bind(&e.request_id)
                        .bind(Json(detail))
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    }
                }
                Rows::WebhookEndpoints(rows) => {
                    for w in rows {
                        sqlx::query(
                            "INSERT INTO webhook_endpoints (id, url, events, description, enabled, secret, previous_secret, \
                             previous_secret_until, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                        )
                        .bind(w.id)
                        .bind(&w.url)
                        .bind(&w.events)
                        .bind(&w.description)
                        .bind(w.enabled)
                        .bind(&w.secret)
                        .bind(&w.previous_secret)
                        .bind(w.previous_secret_until.map(Time))
                        .bind(Time(w.created_at))
                        .bind(Time(w.updated_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(classify)?;
                    }
                }
            } }
            tx.commit().await
        })
    }

    pub async fn count_rows(&self, table: Table) -> StoreResult<u64> {
        let sql = sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {}", table.name()));
        let count: i64 = on_db!(&self.db, c => sqlx::query_scalar(sql).fetch_one(&c.pool).await.map_err(classify)?);
        Ok(count.max(0) as u64)
    }

    /// Deletes every row of the table, for `gatehouse copy --force`.
    pub async fn clear_rows(&self, table: Table) -> StoreResult<()> {
        let sql = sqlx::AssertSqlSafe(format!("DELETE FROM {}", table.name()));
        on_db!(&self.db, c => {
            sqlx::query(sql).execute(&c.pool).await.map_err(classify)?;
        });
        Ok(())
    }
}
