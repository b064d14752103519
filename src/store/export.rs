//! `gatehouse export`, the store's half: every account with what it signs in with, from one
//! snapshot (a read transaction), in batches of users by id with their TOTP secrets,
//! recovery codes, passkeys and upstream identities.

use tokio::sync::mpsc;
use uuid::Uuid;

use super::codec::roles_column;
use super::copy::{RecoveryCodeRow, TotpSecretRow, UserRow};
use super::db::{classify, on_db};
use super::passkeys::passkey_columns;
use super::{Store, StoreResult};

/// Users in id order, each with its TOTP secret, unused recovery codes and passkeys.
#[derive(Debug, Default)]
pub struct AccountBatch {
    pub users: Vec<UserRow>,
    pub totp_secrets: Vec<TotpSecretRow>,
    pub recovery_codes: Vec<RecoveryCodeRow>,
    pub passkeys: Vec<super::PasskeyRecord>,
    pub identities: Vec<super::IdentityRecord>,
}

const USERS: &str = concat!("SELECT u.*, ", roles_column!(), " FROM users u WHERE u.id > $1 ORDER BY u.id LIMIT $2");
const TOTP: &str = "SELECT * FROM totp_secrets WHERE user_id BETWEEN $1 AND $2";
const PASSKEYS: &str = concat!("SELECT ", passkey_columns!(), " FROM passkeys WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, id");
const IDENTITIES: &str = "SELECT id, user_id, provider_id, subject, email, created_at, last_used_at FROM user_identities \
                          WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, id";
const RECOVERY: &str = "SELECT * FROM recovery_codes WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, code_hash";

impl Store {
    /// Sends every account to `out`, `batch` users at a time, all read from one snapshot;
    /// stops early when `out` is closed. Returns the users sent.
    pub async fn export_accounts(&self, batch: u32, out: mpsc::Sender<AccountBatch>) -> StoreResult<u64> {
        let begin = self.db.pick("BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        on_db!(&self.db, c => {
            let mut tx = c.pool.begin_with(begin).await.map_err(classify)?;
            let (mut after, mut sent) = (Uuid::nil(), 0u64);
            loop {
                let users: Vec<UserRow> =
                    sqlx::query_as(USERS).bind(after).bind(i64::from(batch)).fetch_all(&mut *tx).await.map_err(classify)?;
                let (Some(first), Some(last)) = (users.first().map(|u| u.id), users.last().map(|u| u.id)) else { break };
                let totp_secrets = sqlx::query_as(TOTP).bind(first).bind(last).fetch_all(&mut *tx).await.map_err(classify)?;
                let recovery_codes = sqlx::query_as(RECOVERY).bind(first).bind(last).fetch_all(&mut *tx).await.map_err(classify)?;
                let passkeys = sqlx::query_as(PASSKEYS).bind(first).bind(last).fetch_all(&mut *tx).await.map_err(classify)?;
                let identities = sqlx::query_as(IDENTITIES).bind(first).bind(last).fetch_all(&mut *tx).await.map_err(classify)?;
                let (count, full) = (users.len() as u64, users.len() == batch as usize);
                if out.send(AccountBatch { users, totp_secrets, recovery_codes, passkeys, identities }).await.is_err() {
                    break;
                }
                (after, sent) = (last, sent + count);
                if !full {
                    break;
                }
            }
            Ok(sent)
        })
    }
}
