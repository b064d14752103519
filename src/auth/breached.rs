//! Known breached passwords (NIST SP 800-63B 3.1.1.2): a new password found in a breach
//! corpus is refused, a login's password found there is flagged.
//!
//! The corpus is Pwned Passwords, keyed by the password's SHA-1. Over the range API only
//! the first 5 hex digits of the SHA-1 leave the server (k-anonymity), with `Add-Padding`
//! so that the answer's size tells nothing either; a lookup that fails or takes more than
//! 2 s lets the password through (fail open) with a warning and a metric. A local copy is
//! read in the layout the corpus's own downloader writes with `--single false`: one file
//! per prefix, `PREFIX.txt` (upper-case hex), lines `SUFFIX:COUNT`.

use std::path::PathBuf;
use std::time::Duration;

use sha1::{Digest, Sha1};

use crate::config::signin::BreachSource;

/// How long a range lookup may take before the password is let through.
pub const API_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct BreachCheck {
    source: Source,
}

#[derive(Clone)]
enum Source {
    Api { client: reqwest::Client, base: String },
    Files(PathBuf),
    Off,
}

impl BreachCheck {
    pub fn new(source: &BreachSource, api_url: &str) -> anyhow::Result<Self> {
        let source = match source {
            BreachSource::Api => {
                Source::Api { client: crate::outbound::client(API_TIMEOUT)?, base: api_url.trim_end_matches('/').to_string() }
            }
            BreachSource::File(dir) => {
                anyhow::ensure!(dir.is_dir(), "GATEHOUSE_BREACHED_PASSWORDS: {} is not a folder of range files", dir.display());
                Source::Files(dir.clone())
            }
            BreachSource::Off => Source::Off,
        };
        Ok(Self { source })
    }

    /// No lookups (the command line, and tests that do not test this).
    pub fn off() -> Self {
        Self { source: Source::Off }
    }

    /// Whether lookups are made at all.
    pub fn is_on(&self) -> bool {
        !matches!(self.source, Source::Off)
    }

    /// Whether the password is in the corpus. A source that cannot answer says no (fail open).
    pub async fn is_breached(&self, password: &str) -> bool {
        let digest = Sha1::digest(password.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02X}")).collect();
        let (prefix, suffix) = hex.split_at(5);
        let range = match &self.source {
            Source::Off => return false,
            Source::Api { client, base } => fetch_range(client, base, prefix).await,
            Source::Files(dir) => read_range(dir, prefix).await,
        };
        let found = match range {
            Ok(body) => in_range(&body, suffix),
            Err(why) => {
                tracing::warn!(error = %why, "breached-password lookup failed; the password is let through");
                crate::metrics::breach_check("unavailable");
                return false;
            }
        };
        crate::metrics::breach_check(if found { "breached" } else { "clean" });
        found
    }
}

async fn fetch_range(client: &reqwest::Client, base: &str, prefix: &str) -> anyhow::Result<String> {
    let res = client.get(format!("{base}/range/{prefix}")).header("Add-Padding", "true").send().await?.error_for_status()?;
    Ok(res.text().await?)
}

async fn read_range(dir: &std::path::Path, prefix: &str) -> anyhow::Result<String> {
    match tokio::fs::read_to_string(dir.join(format!("{prefix}.txt"))).await {
        Ok(body) => Ok(body),
        // A prefix without a file has no breached passwords (a partial copy).
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(err) => Err(err.into()),
    }
}

/// Whether `suffix` is a line of the range with a count above 0 (padding lines have 0).
fn in_range(body: &str, suffix: &str) -> bool {
    body.lines()
        .filter_map(|line| line.trim().split_once(':'))
        .any(|(s, count)| s.eq_ignore_ascii_case(suffix) && count.trim().parse::<u64>().is_ok_and(|n| n > 0))
}

#[cfg(test)]
mod tests {
    use super::in_range;

    #[test]
    fn a_suffix_counts_when_listed_with_a_count_and_padding_does_not() {
        let body = "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n";
        assert!(in_range(body, "0018a45c4d1def81644b54ab7f969b88d65"));
        assert!(!in_range(body, "00D4F6E8FA6EECAD2A3AA415EEC418D38EC"), "a padding line");
        assert!(!in_range(body, "FFFFF"));
    }
}
