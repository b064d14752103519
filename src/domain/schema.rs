//! The schema version rule: a binary runs on a database whose applied migrations it all
//! carries, and names the version a newer database needs.

use anyhow::bail;

/// One migration this binary carries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Migration {
    pub version: i64,
    pub description: String,
}

/// The binary's migrations against the database's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SchemaStatus {
    /// Every migration this binary carries, oldest first.
    pub known: Vec<Migration>,
    /// The versions the database applied, oldest first, with the description it recorded.
    pub applied: Vec<Migration>,
}

impl SchemaStatus {
    /// The newest version this binary knows.
    pub fn binary_version(&self) -> i64 {
        self.known.last().map_or(0, |m| m.version)
    }

    /// The newest version the database applied (0 for an empty database).
    pub fn database_version(&self) -> i64 {
        self.applied.last().map_or(0, |m| m.version)
    }

    /// What `gatehouse migrate` would run, in order.
    pub fn pending(&self) -> Vec<&Migration> {
        self.known.iter().filter(|m| !self.applied.iter().any(|a| a.version == m.version)).collect()
    }

    /// Applied migrations this binary does not carry: a newer binary wrote the schema.
    pub fn unknown(&self) -> Vec<&Migration> {
        self.applied.iter().filter(|a| !self.known.iter().any(|m| m.version == a.version)).collect()
    }

    /// Refuses a schema written by a newer binary, naming the version it needs.
    pub fn check_known(&self) -> anyhow::Result<()> {
        let unknown = self.unknown();
        if let Some(newest) = unknown.last() {
            let names: Vec<String> = unknown.iter().map(|m| format!("{} ({})", m.version, m.description)).collect();
            bail!(
                "the database's schema is at version {}, newer than this gatehouse knows (up to {}): it needs a gatehouse \
                 that carries migration {}; unknown migrations: {}. Run that version, or restore the backup taken before the upgrade",
                newest.version,
                self.binary_version(),
                newest.version,
                names.join(", ")
            );
        }
        Ok(())
    }
}
