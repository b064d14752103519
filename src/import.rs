//! `gatehouse import FILE`: users from JSON lines or a `mongoexport` dump (JSON lines, or
//! one JSON array with `--jsonArray`), with their password hashes kept as they are.
//!
//! Each record needs `username` and `password_hash` (or `password`, as Flask apps often
//! named the column); `email`, `roles` and `is_admin` are optional; `_id` and any other
//! field are ignored. Bad records are reported by line (JSON lines) or by position (an
//! array) and skipped; the good ones go in with one transaction, so that a failure leaves
//! nothing half-imported.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::Value;
use uuid::Uuid;

use crate::auth::legacy;
use crate::domain::{Email, Role, Username, normalize_roles};
use crate::store::{DynStore, NewUser};

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    pub imported: usize,
    /// Where (`line 3`, `record 2`) and why, for each record left out.
    pub skipped: Vec<(String, String)>,
}

/// Reads, checks and imports the file; bad records are returned in the summary.
pub async fn import_file(store: &DynStore, path: &Path) -> anyhow::Result<Summary> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut summary = Summary::default();
    let mut users = Vec::new();
    // Keys seen so far in this file, with where: duplicates after the first are bad.
    let mut seen: HashMap<String, String> = HashMap::new();
    for (place, record) in records(&text)? {
        let checked = match record {
            Ok(value) => check(&value),
            Err(why) => Err(why),
        };
        let user = match checked {
            Ok(user) => user,
            Err(why) => {
                summary.skipped.push((place, why));
                continue;
            }
        };
        match conflict(store, &seen, &user).await? {
            Some(why) => summary.skipped.push((place, why)),
            None => {
                seen.insert(user.username.key(), place.clone());
                if let Some(email) = &user.email {
                    seen.insert(email.key(), place);
                }
                users.push(user);
            }
        }
    }
    if users.is_empty() && !summary.skipped.is_empty() {
        for (place, why) in &summary.skipped {
            eprintln!("{place}: {why}");
        }
        bail!("no valid record in {}: nothing imported", path.display());
    }
    summary.imported = store.create_users(users).await.context("the import failed; nothing was imported")?;
    Ok(summary)
}

/// The records of the file, each with where it is.
fn records(text: &str) -> anyhow::Result<Vec<(String, Result<Value, String>)>> {
    if text.trim_start().starts_with('[') {
        let all: Vec<Value> = serde_json::from_str(text).context("the file starts with '[' but is not a JSON array")?;
        return Ok(all.into_iter().enumerate().map(|(i, v)| (format!("record {}", i + 1), Ok(v))).collect());
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let parsed = serde_json::from_str::<Value>(line).map_err(|e| format!("not JSON ({e})"));
            (format!("line {}", i + 1), parsed)
        })
        .collect())
}

/// A record made into a new user, or why it cannot be one. Never echoes a hash.
fn check(value: &Value) -> Result<NewUser, String> {
    let record = value.as_object().ok_or("not a JSON object")?;
    let username = match record.get("username") {
        Some(Value::String(s)) => Username::parse(s).map_err(|m| format!("username {m}"))?,
        Some(_) => return Err("username is not a string".into()),
        None => return Err("no username".into()),
    };
    let email = match record.get("email") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(Email::parse(s).map_err(|m| format!("email {m}"))?),
        Some(_) => return Err("email is not a string".into()),
    };
    let hash = match record.get("password_hash").or_else(|| record.get("password")) {
        Some(Value::String(s)) => s.trim().to_string(),
        Some(_) => return Err("password_hash is not a string".into()),
        None => return Err("no password_hash or password".into()),
    };
    if legacy::scheme_of(&hash).is_none() {
        return Err("the password hash is not bcrypt, Werkzeug pbkdf2 or scrypt, argon2, or hex SHA-256".into());
    }
    // Such a hash would never be checked at login: better to say so now.
    legacy::check_work_factor(&hash)?;
    let mut roles = Vec::new();
    match record.get("roles") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for role in list {
                let name = role.as_str().ok_or("roles must be strings")?;
                roles.push(Role::parse(name)?);
            }
        }
        Some(_) => return Err("roles is not a list".into()),
    }
    if is_true(record.get("is_admin")).ok_or("is_admin is not a boolean")? {
        roles.push(Role::parse(Role::ADMIN)?);
    }
    Ok(NewUser { id: Uuid::now_v7(), username, email, password_hash: hash, roles: normalize_roles(roles) })
}

/// `true`/`false`, 0/1, or mongoexport's `{"$numberInt": "1"}`; absent is false.
fn is_true(value: Option<&Value>) -> Option<bool> {
    match value {
        None | Some(Value::Null) => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Number(n)) => n.as_i64().map(|n| n != 0),
        Some(Value::Object(o)) => o.get("$numberInt").or_else(|| o.get("$numberLong"))?.as_str()?.parse::<i64>().ok().map(|n| n != 0),
        Some(_) => None,
    }
}

/// Why the user cannot go in next to the others of the file or those already stored.
async fn conflict(store: &DynStore, seen: &HashMap<String, String>, user: &NewUser) -> anyhow::Result<Option<String>> {
    let username_key = user.username.key();
    let email_key = user.email.as_ref().map(Email::key);
    if let Some(place) = seen.get(&username_key) {
        return Ok(Some(format!("username {:?} is already used at {place}", user.username.as_str())));
    }
    if let Some(place) = email_key.as_ref().and_then(|k| seen.get(k)) {
        return Ok(Some(format!("email is already used at {place}")));
    }
    if store.credentials_by_login(&username_key).await?.is_some() {
        return Ok(Some(format!("username {:?} is already taken", user.username.as_str())));
    }
    if let Some(key) = &email_key
        && store.credentials_by_login(key).await?.is_some()
    {
        return Ok(Some("email is already in use".into()));
    }
    Ok(None)
}
