//! Codes mailed for a sign-in by email (and for a passwordless account's re-checks): one
//! row per code, counted per address and account to cap the mails, spent once, ended by
//! the fifth wrong try.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::Time;
use super::db::{Lock, classify, on_db};
use super::recovery::QUEUE_MAIL;
use super::{NewMail, NewUser, Store, StoreError, StoreResult, User};

/// Wrong codes a challenge takes; the last of them ends it.
pub const EMAIL_CODE_MAX_FAILURES: i64 = 5;

/// What a code was mailed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    /// Sign in to the account holding this verified address.
    SignIn,
    /// Make a passwordless account with this address (GATEHOUSE_EMAIL_CODE_SIGNUP).
    SignUp,
    /// A signed-in passwordless account proving itself again.
    Reauth,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignIn => "sign_in",
            Self::SignUp => "sign_up",
            Self::Reauth => "reauth",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [Self::SignIn, Self::SignUp, Self::Reauth].into_iter().find(|p| p.as_str() == text)
    }
}

/// A code to store with its mail.
#[derive(Debug, Clone)]
pub struct NewEmailCode {
    /// The challenge_id.
    pub id: Uuid,
    pub purpose: CodePurpose,
    pub user_id: Option<Uuid>,
    pub email: String,
    pub email_key: String,
    pub code_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
}

/// A live code: unused, unexpired, fewer than five wrong tries.
#[derive(Debug, Clone)]
pub struct EmailCodeRecord {
    pub id: Uuid,
    pub purpose: CodePurpose,
    pub user_id: Option<Uuid>,
    pub email: String,
    pub email_key: String,
    pub code_hash: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: Uuid,
    purpose: String,
    user_id: Option<Uuid>,
    email: String,
    email_key: String,
    code_hash: Vec<u8>,
}

/// The advisory key of one address (PostgreSQL): the first 8 bytes of its SHA-256.
fn address_lock(email_key: &str) -> Lock {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(email_key.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    Lock::EmailAddress(i64::from_be_bytes(bytes))
}

impl Store {
    /// Stores a code and queues its mail, in one transaction, unless `per_hour` codes (0:
    /// no cap) went to this address, or to this account, in the last hour: then false,
    /// nothing stored. Rows more than an hour past their expiry go first.
    pub async fn create_email_code(&self, code: NewEmailCode, per_hour: u32, mail: NewMail) -> StoreResult<bool> {
        let now = Time::now();
        let hour_ago = Time(now.0 - chrono::Duration::hours(1));
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.lock(address_lock(&code.email_key)).await?;
            sqlx::query("DELETE FROM email_codes WHERE expires_at <= $1").bind(hour_ago).execute(&mut *tx).await.map_err(classify)?;
            if per_hour > 0 {
                let sent: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM email_codes WHERE (email_key = $1 OR user_id = $2) AND created_at > $3",
                )
                .bind(&code.email_key)
                .bind(code.user_id)
                .bind(hour_ago)
                .fetch_one(&mut *tx)
                .await
                .map_err(classify)?;
                if sent >= i64::from(per_hour) {
                    return Ok(false);
                }
            }
            sqlx::query(
                "INSERT INTO email_codes (id, purpose, user_id, email, email_key, code_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(code.id)
            .bind(code.purpose.as_str())
            .bind(code.user_id)
            .bind(&code.email)
            .bind(&code.email_key)
            .bind(&code.code_hash)
            .bind(now)
            .bind(Time(code.expires_at))
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            sqlx::query(QUEUE_MAIL)
                .bind(mail.id)
                .bind(&mail.sender)
                .bind(&mail.recipient)
                .bind(&mail.message)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.commit().await?;
        });
        Ok(true)
    }

    /// The live code of this challenge, if any.
    pub async fn email_code(&self, id: Uuid) -> StoreResult<Option<EmailCodeRecord>> {
        let row: Option<Row> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, purpose, user_id, email, email_key, code_hash FROM email_codes \
             WHERE id = $1 AND used_at IS NULL AND failures < $2 AND expires_at > $3",
        )
        .bind(id)
        .bind(EMAIL_CODE_MAX_FAILURES)
        .bind(Time::now())
        .fetch_optional(&c.pool)
        .await
        .map_err(classify)?);
        let Some(row) = row else { return Ok(None) };
        let purpose = CodePurpose::parse(&row.purpose).ok_or_else(|| anyhow::anyhow!("unknown email code purpose {}", row.purpose))?;
        Ok(Some(EmailCodeRecord {
            id: row.id,
            purpose,
            user_id: row.user_id,
            email: row.email,
            email_key: row.email_key,
            code_hash: row.code_hash,
        }))
    }

    /// Counts a wrong code; the fifth ends the challenge.
    pub async fn fail_email_code(&self, id: Uuid) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("UPDATE email_codes SET failures = failures + 1 WHERE id = $1").bind(id).execute(&c.pool).await.map_err(classify)?;
        });
        Ok(())
    }

    /// Spends a live code; false when it is gone (spent by a parallel request, ended, expired).
    pub async fn use_email_code(&self, id: Uuid) -> StoreResult<bool> {
        let now = Time::now();
        let done = on_db!(&self.db, c => sqlx::query(
            "UPDATE email_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND failures < $3 AND expires_at > $2",
        )
        .bind(id)
        .bind(now)
        .bind(EMAIL_CODE_MAX_FAILURES)
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        Ok(done == 1)
    }

    /// Creates an account whose address a code just proved: verified, without a password.
    pub async fn create_passwordless_user(&self, user: NewUser) -> StoreResult<User> {
        let now = Time::now();
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            tx.insert_user(&user, now).await?;
            sqlx::query("UPDATE users SET email_verified = true, email_ever_verified = true WHERE id = $1")
                .bind(user.id)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            tx.commit().await?;
        });
        self.user_by_id(user.id).await?.ok_or(StoreError::NotFound)
    }

    /// Whether the account's password was found in a breach corpus at its last login.
    pub async fn password_breached(&self, user_id: Uuid) -> StoreResult<bool> {
        let flag: Option<bool> = on_db!(&self.db, c => sqlx::query_scalar("SELECT password_breached FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify)?);
        Ok(flag.unwrap_or(false))
    }

    /// Records what the last login learnt of the password.
    pub async fn set_password_breached(&self, user_id: Uuid, breached: bool) -> StoreResult<()> {
        on_db!(&self.db, c => {
            sqlx::query("UPDATE users SET password_breached = $2 WHERE id = $1")
                .bind(user_id)
                .bind(breached)
                .execute(&c.pool)
                .await
                .map_err(classify)?;
        });
        Ok(())
    }
}

impl Store {
    /// The live re-check codes of an account, newest first.
    pub async fn live_reauth_codes(&self, user_id: Uuid) -> StoreResult<Vec<EmailCodeRecord>> {
        let rows: Vec<Row> = on_db!(&self.db, c => sqlx::query_as(
            "SELECT id, purpose, user_id, email, email_key, code_hash FROM email_codes \
             WHERE user_id = $1 AND purpose = 'reauth' AND used_at IS NULL AND failures < $2 AND expires_at > $3 \
             ORDER BY created_at DESC",
        )
        .bind(user_id)
        .bind(EMAIL_CODE_MAX_FAILURES)
        .bind(Time::now())
        .fetch_all(&c.pool)
        .await
        .map_err(classify)?);
        Ok(rows
            .into_iter()
            .map(|row| EmailCodeRecord {
                id: row.id,
                purpose: CodePurpose::Reauth,
                user_id: row.user_id,
                email: row.email,
                email_key: row.email_key,
                code_hash: row.code_hash,
            })
            .collect())
    }
}
