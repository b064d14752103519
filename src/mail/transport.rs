//! Where a queued message goes: an SMTP server (GATEHOUSE_SMTP_URL) or, without one, one
//! `.eml` file per message in GATEHOUSE_MAIL_OUTBOX.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::Config;
use crate::store::QueuedMail;

/// One SMTP conversation gives up after this long; the message is retried later.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

impl Transport {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        match &config.smtp_url {
            Some(url) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                    .context("GATEHOUSE_SMTP_URL is not a usable SMTP URL")?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build();
                Ok(Self::Smtp(transport))
            }
            None => Ok(Self::Outbox(config.mail_outbox.clone())),
        }
    }

    /// Delivers one message. The error says what failed, never what the message holds.
    pub async fn deliver(&self, mail: &QueuedMail) -> Result<(), String> {
        match self {
            Self::Smtp(smtp) => {
                let from = mail.sender.parse().map_err(|e| format!("bad sender address: {e}"))?;
                let to = mail.recipient.parse().map_err(|e| format!("bad recipient address: {e}"))?;
                let envelope = Envelope::new(Some(from), vec![to]).map_err(|e| format!("bad envelope: {e}"))?;
                smtp.send_raw(&envelope, &mail.message).await.map(|_| ()).map_err(|e| e.to_string())
            }
            Self::Outbox(dir) => {
                write_eml(dir, mail).await.map_err(|e| format!("{e:#}"))?;
                Ok(())
            }
        }
    }
}

/// Writes the message under a temporary name, then renames it: a reader of the folder
/// never sees half a file.
async fn write_eml(dir: &std::path::Path, mail: &QueuedMail) -> anyhow::Result<()> {
    // Mails hold reset and verification links: the folder and the files are the owner's only.
    crate::files::create_private_dir(dir).await.with_context(|| format!("cannot create the outbox {}", dir.display()))?;
    let path = dir.join(format!("{}.eml", mail.id));
    let partial = dir.join(format!(".{}.eml.partial", mail.id));
    crate::files::write_private(&partial, &mail.message).await.with_context(|| format!("cannot write {}", partial.display()))?;
    tokio::fs::rename(&partial, &path).await.with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(mail_id = %mail.id, path = %path.display(), "mail written to the outbox (no SMTP server configured)");
    Ok(())
}
