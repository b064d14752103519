//! `gatehouse export FILE` and its reading by `gatehouse import`: every account with what it
//! signs in with, as versioned JSON lines (described in docs/export-format.md), so that
//! users can move between databases, or out of Gatehouse, keeping their passwords and TOTP.

use std::collections::HashSet;
use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{Email, Username};
use crate::export_setup::Identity;
use crate::progress::{Progress, Unit};
use crate::store::copy::{RecoveryCodeRow, TotpSecretRow, UserRow};
use crate::store::{AccountBatch, DynStore, PasskeyRecord, Rows, Table};

/// The first line's `format`, and the version this binary writes and reads.
pub const FORMAT: &str = "gatehouse-export";
/// 2 added `passkeys`, 3 providers, webhooks and `identities`; older files are read too.
pub const VERSION: u32 = 3;
const NOTICE: &str = "This file holds password hashes, TOTP secrets, recovery-code hashes, passkeys and webhook signing \
                      secrets: keep it readable by its owner only, and delete it once imported.";
/// Users read, written or imported per round trip.
const BATCH: u32 = 1000;

/// The first line of the file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    pub exported_at: DateTime<Utc>,
    pub users: u64,
    /// Setup lines (providers, webhook endpoints) between this header and the accounts.
    #[serde(default)]
    pub setup: u64,
    pub notice: String,
}

/// One account, one line.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    pub id: Uuid,
    pub username: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub email_ever_verified: bool,
    pub pending_email: Option<String>,
    /// As stored: argon2id, or a legacy hash not yet upgraded by a login.
    pub password_hash: String,
    pub disabled: bool,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The TOTP secret, pending (`enabled` false) or on; none without TOTP.
    pub totp: Option<Totp>,
    /// Unused recovery codes, as their SHA-256.
    pub recovery_codes: Vec<RecoveryCode>,
    /// Passkeys (since version 2).
    #[serde(default)]
    pub passkeys: Vec<Passkey>,
    /// Upstream sign-ins linked to the account (since version 3).
    #[serde(default)]
    pub identities: Vec<Identity>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Passkey {
    pub id: Uuid,
    /// The credential id, base64url without padding.
    pub credential_id: String,
    pub name: String,
    pub authenticator: String,
    /// The WebAuthn library's record of the key: public key, counter, flags.
    pub credential: serde_json::Value,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Totp {
    /// Base32 (RFC 4648, no padding), as authenticator apps take it.
    pub secret: String,
    pub enabled: bool,
    /// The last time step a code was accepted for, so that a used code stays used.
    pub last_step: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryCode {
    /// Hex of the code's SHA-256.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
}

impl From<PasskeyRecord> for Passkey {
    fn from(p: PasskeyRecord) -> Self {
        // The library's record is JSON; kept as it is should it ever not parse.
        let credential = serde_json::from_str(&p.credential).unwrap_or(serde_json::Value::String(p.credential));
        Self {
            id: p.id,
            credential_id: p.credential_id,
            name: p.name,
            authenticator: p.authenticator,
            credential,
            sign_count: p.sign_count,
            backup_eligible: p.backup_eligible,
            backup_state: p.backup_state,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        }
    }
}

impl Passkey {
    fn into_record(self, user_id: Uuid) -> PasskeyRecord {
        let credential = match self.credential {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        PasskeyRecord {
            id: self.id,
            user_id,
            credential_id: self.credential_id,
            name: self.name,
            authenticator: self.authenticator,
            credential,
            sign_count: self.sign_count,
            backup_eligible: self.backup_eligible,
            backup_state: self.backup_state,
            created_at: self.created_at,
            last_used_at: self.last_used_at,
        }
    }
}

/// Writes every account of `store` to `path` (created with mode 0600; an existing file is
/// refused). Returns the summary line.
pub async fn export_file(store: &DynStore, path: &Path) -> anyhow::Result<String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(path).with_context(|| format!("cannot create {} (an existing file is never replaced)", path.display()))?;
    let written = write_export(store, file, path).await;
    if written.is_err() {
        // Half an export looks whole to a reader that does not count its lines.
        let _ = std::fs::remove_file(path);
    }
    written
}

async fn write_export(store: &DynStore, file: std::fs::File, path: &Path) -> anyhow::Result<String> {
    let mut out = BufWriter::new(file);
    let total = store.count_rows(Table::Users).await?;
    let setup = crate::export_setup::setup_lines(store).await?;
    let slugs = crate::export_setup::provider_slugs(&setup);
    let (version, setup_count, exported_at) = (VERSION, setup.len() as u64, Utc::now());
    let header = Header { format: FORMAT.into(), version, exported_at, users: total, setup: setup_count, notice: NOTICE.into() };
    serde_json::to_writer(&mut out, &header)?;
    out.write_all(b"\n")?;
    for line in &setup {
        serde_json::to_writer(&mut out, line)?;
        out.write_all(b"\n")?;
    }
    let mut progress = Progress::new("users exported", Unit::Rows, Some(total));
    let (sender, mut batches) = tokio::sync::mpsc::channel(2);
    let reader = {
        let store = store.clone();
        tokio::spawn(async move { store.export_accounts(BATCH, sender).await })
    };
    while let Some(batch) = batches.recv().await {
        let count = batch.users.len() as u64;
        for account in accounts_of(batch, &slugs) {
            serde_json::to_writer(&mut out, &account)?;
            out.write_all(b"\n")?;
        }
        progress.add(count);
    }
    reader.await.context("the export stopped")?.context("cannot read the accounts")?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(progress.finish())
}

fn accounts_of(batch: AccountBatch, slugs: &std::collections::HashMap<Uuid, String>) -> Vec<Account> {
    let AccountBatch { users, totp_secrets, recovery_codes, passkeys, identities } = batch;
    let mut linked = crate::export_setup::identities_by_user(identities, slugs);
    let mut keys: std::collections::HashMap<Uuid, Vec<Passkey>> = std::collections::HashMap::new();
    for p in passkeys {
        keys.entry(p.user_id).or_default().push(Passkey::from(p));
    }
    let mut totp: std::collections::HashMap<Uuid, TotpSecretRow> = totp_secrets.into_iter().map(|t| (t.user_id, t)).collect();
    let mut codes: std::collections::HashMap<Uuid, Vec<RecoveryCode>> = std::collections::HashMap::new();
    for code in recovery_codes {
        codes.entry(code.user_id).or_default().push(RecoveryCode { sha256: hex::encode(&code.code_hash), created_at: code.created_at });
    }
    users
        .into_iter()
        .map(|u| Account {
            totp: totp.remove(&u.id).map(|t| Totp {
                secret: totp_rs::Secret::from(t.secret).to_base32(),
                enabled: u.mfa_enabled,
                last_step: t.last_step,
                created_at: t.created_at,
            }),
            recovery_codes: codes.remove(&u.id).unwrap_or_default(),
            passkeys: keys.remove(&u.id).unwrap_or_default(),
            identities: linked.remove(&u.id).unwrap_or_default(),
            id: u.id,
            username: u.username,
            email: u.email,
            email_verified: u.email_verified,
            email_ever_verified: u.email_ever_verified,
            pending_email: u.pending_email,
            password_hash: u.password_hash,
            disabled: u.disabled,
            roles: u.roles,
            created_at: u.created_at,
            updated_at: u.updated_at,
        })
        .collect()
}

/// Whether the file starts with this format's header line.
pub fn is_export_file(path: &Path) -> bool {
    let Ok(file) = std::fs::File::open(path) else { return false };
    let mut first = String::new();
    let _ = std::io::BufReader::new(file).read_line(&mut first);
    serde_json::from_str::<serde_json::Value>(&first).is_ok_and(|v| v.get("format").and_then(|f| f.as_str()) == Some(FORMAT))
}

/// What an import of an export did.
#[derive(Debug, Default)]
pub struct Imported {
    pub imported: u64,
    /// Where (`line 3`) and why, for each account left out (present already, or invalid).
    pub skipped: Vec<(String, String)>,
    pub summary: String,
}

/// Reads an export into `store`: accounts already there (same id, username or email) are
/// skipped and reported, the others go in, a batch per transaction. A run stopped half-way
/// can be run again: what went in is then skipped.
pub async fn import_file(store: &DynStore, path: &Path) -> anyhow::Result<Imported> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = std::io::BufReader::new(file).lines().enumerate();
    let header: Header = match lines.next() {
        Some((_, line)) => serde_json::from_str(&line?).context("line 1 is not an export header")?,
        None => bail!("{} is empty", path.display()),
    };
    if header.format != FORMAT || header.version > VERSION {
        bail!("{} is {} version {}; this gatehouse reads {FORMAT} up to version {VERSION}", path.display(), header.format, header.version);
    }
    let mut result = Imported::default();
    let mut seen = HashSet::new();
    let mut batch = AccountBatch::default();
    let mut progress = Progress::new("users read", Unit::Rows, Some(header.users));
    for (index, line) in lines {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let place = format!("line {}", index + 1);
        // Setup lines come before the accounts, whose identities need the providers.
        let checked = if crate::export_setup::is_setup_line(&line) {
            crate::export_setup::import_line(store, &line).await?
        } else {
            match serde_json::from_str::<Account>(&line) {
                Ok(account) => admit(store, &mut seen, account, &mut batch).await?,
                Err(err) => Err(format!("not an account ({err})")),
            }
        };
        if let Err(why) = checked {
            result.skipped.push((place, why));
        }
        if batch.users.len() >= BATCH as usize {
            result.imported += write_batch(store, std::mem::take(&mut batch), &format!("line {}", index + 1)).await?;
        }
        progress.set(result.imported + batch.users.len() as u64 + result.skipped.len() as u64);
    }
    result.imported += write_batch(store, batch, "the end").await?;
    result.summary = progress.finish();
    Ok(result)
}

/// Checks one account against the file so far and the store, and adds it to the batch.
async fn admit(store: &DynStore, seen: &mut HashSet<String>, a: Account, batch: &mut AccountBatch) -> anyhow::Result<Result<(), String>> {
    let row = match user_row(&a) {
        Ok(row) => row,
        Err(why) => return Ok(Err(why)),
    };
    let keys = [Some(row.id.to_string()), Some(row.username_key.clone()), row.email_key.clone()];
    if keys.iter().flatten().any(|k| seen.contains(k)) {
        return Ok(Err(format!("{} repeats an id, username or email of an earlier line", a.username)));
    }
    if store.user_by_id(row.id).await?.is_some() {
        return Ok(Err(format!("{} is already present (same id)", a.username)));
    }
    for key in [Some(&row.username_key), row.email_key.as_ref()].into_iter().flatten() {
        if store.credentials_by_login(key).await?.is_some() {
            return Ok(Err(format!("{} is already present (its username or email is taken)", a.username)));
        }
    }
    let secret = match a.totp {
        None => None,
        Some(t) => match totp_rs::Secret::try_from_base32(&t.secret).map(|s| s.as_bytes().to_vec()) {
            Ok(secret) => Some(TotpSecretRow { user_id: row.id, secret, last_step: t.last_step, created_at: t.created_at }),
            Err(_) => return Ok(Err(format!("{}: totp.secret is not base32", a.username))),
        },
    };
    let mut codes = Vec::new();
    for code in a.recovery_codes {
        match hex::decode(&code.sha256) {
            Ok(code_hash) => codes.push(RecoveryCodeRow { user_id: row.id, code_hash, created_at: code.created_at }),
            Err(_) => return Ok(Err(format!("{}: a recovery code's sha256 is not hex", a.username))),
        }
    }
    let mut passkeys = Vec::new();
    for p in a.passkeys {
        if seen.contains(&p.credential_id) || store.passkey_by_credential(&p.credential_id).await?.is_some() {
            return Ok(Err(format!("{}: its passkey {} is registered already", a.username, p.name)));
        }
        passkeys.push(p.into_record(row.id));
    }
    let identities = match crate::export_setup::admit_identities(store, seen, &a.username, row.id, a.identities).await? {
        Ok(identities) => identities,
        Err(why) => return Ok(Err(why)),
    };
    seen.extend(keys.into_iter().flatten());
    seen.extend(passkeys.iter().map(|p| p.credential_id.clone()));
    batch.identities.extend(identities);
    batch.passkeys.extend(passkeys);
    batch.totp_secrets.extend(secret);
    batch.recovery_codes.extend(codes);
    batch.users.push(row);
    Ok(Ok(()))
}

/// The stored row of an exported account, its keys made by this binary's rules.
fn user_row(a: &Account) -> Result<UserRow, String> {
    let username = Username::parse(&a.username).map_err(|m| format!("username {m}"))?;
    let email = a.email.as_deref().map(Email::parse).transpose().map_err(|m| format!("email {m}"))?;
    let pending = a.pending_email.as_deref().map(Email::parse).transpose().map_err(|m| format!("pending_email {m}"))?;
    // No password: empty (made by a sign-up code) or `!none` (made through a provider).
    let hash = &a.password_hash;
    if crate::auth::password::has_password(hash) && crate::store::has_password(hash) && crate::auth::legacy::scheme_of(hash).is_none() {
        return Err(format!("{}: the password hash is of no scheme this gatehouse checks", a.username));
    }
    let mut roles = Vec::new();
    for role in &a.roles {
        roles.push(crate::domain::Role::parse(role).map_err(|m| format!("role {m}"))?);
    }
    Ok(UserRow {
        id: a.id,
        username_key: username.key(),
        username: username.as_str().to_string(),
        email_key: email.as_ref().map(Email::key),
        email: email.map(|e| e.as_str().to_string()),
        email_verified: a.email_verified,
        pending_email_key: pending.as_ref().map(Email::key),
        pending_email: pending.map(|e| e.as_str().to_string()),
        email_ever_verified: a.email_ever_verified,
        password_hash: a.password_hash.clone(),
        disabled: a.disabled,
        mfa_enabled: a.totp.as_ref().is_some_and(|t| t.enabled),
        created_at: a.created_at,
        updated_at: a.updated_at,
        roles: crate::domain::normalize_roles(roles).into_iter().map(|r| r.as_str().to_string()).collect(),
    })
}

async fn write_batch(store: &DynStore, batch: AccountBatch, place: &str) -> anyhow::Result<u64> {
    let count = batch.users.len() as u64;
    if count == 0 {
        return Ok(0);
    }
    let rows = [
        Rows::Users(batch.users),
        Rows::TotpSecrets(batch.totp_secrets),
        Rows::RecoveryCodes(batch.recovery_codes),
        Rows::Passkeys(batch.passkeys),
        Rows::UserIdentities(batch.identities),
    ];
    store.import_rows(rows).await.with_context(|| {
        format!("the import stopped in the batch that ends at {place}; the batches before it are in, and a new run skips them")
    })?;
    Ok(count)
}
