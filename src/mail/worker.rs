//! The background worker that empties the mail queue: it wakes when a message is queued
//! here and polls for due retries and for messages queued by other instances.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, watch};

use super::transport::Transport;
use crate::store::{DynStore, QueuedMail};

/// A claimed message is skipped by other workers this long: longer than one SMTP
/// conversation may take, so that a message is not sent twice.
pub const LEASE: Duration = Duration::from_secs(120);
/// Messages claimed per round trip.
const BATCH: u32 = 10;
/// The longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

pub struct Worker {
    pub store: DynStore,
    pub transport: Transport,
    pub queued: Arc<Notify>,
    pub poll_every: Duration,
    pub retry_base: Duration,
    pub max_attempts: u32,
}

impl Worker {
    /// Delivers until `stop` turns true; a message being sent then is finished first, so
    /// that a shutdown does not leave it leased (and delayed) or sent twice.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            self.drain(&stop).await;
            tokio::select! {
                () = self.queued.notified() => {}
                () = tokio::time::sleep(self.poll_every) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Sends every due message, or until told to stop.
    async fn drain(&self, stop: &watch::Receiver<bool>) {
        while !*stop.borrow() {
            let batch = match self.store.claim_mail(BATCH, LEASE).await {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::warn!(error = %err, "could not read the mail queue");
                    return;
                }
            };
            if batch.is_empty() {
                return;
            }
            for mail in batch {
                self.deliver(mail).await;
            }
        }
    }

    async fn deliver(&self, mail: QueuedMail) {
        let outcome = self.transport.deliver(&mail).await;
        let recorded = match outcome {
            Ok(()) => {
                tracing::info!(mail_id = %mail.id, attempts = mail.attempts + 1, "mail delivered");
                crate::metrics::mail("sent");
                self.store.mail_sent(mail.id).await
            }
            Err(error) => {
                let error: String = error.chars().take(500).collect();
                let attempts = mail.attempts + 1;
                if attempts >= self.max_attempts {
                    tracing::error!(mail_id = %mail.id, attempts, %error, "mail given up after too many failed deliveries");
                    crate::metrics::mail("dropped");
                    self.store.mail_failed(mail.id, None, &error).await
                } else {
                    let wait = backoff(self.retry_base, mail.attempts);
                    tracing::warn!(mail_id = %mail.id, attempts, retry_in_secs = wait.as_secs(), %error, "mail delivery failed; will retry");
                    crate::metrics::mail("retry");
                    let at = chrono::Utc::now() + chrono::Duration::from_std(wait).unwrap_or_else(|_| chrono::Duration::hours(1));
                    self.store.mail_failed(mail.id, Some(at), &error).await
                }
            }
        };
        if let Err(err) = recorded {
            tracing::warn!(mail_id = %mail.id, error = %err, "could not update the mail queue");
        }
    }
}

/// `base`, then twice as long after each further failure, at most an hour.
fn backoff(base: Duration, failures_before: u32) -> Duration {
    base.saturating_mul(2u32.saturating_pow(failures_before.min(20))).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_doubles_after_each_failure_up_to_an_hour() {
        let base = Duration::from_secs(30);
        assert_eq!(backoff(base, 0), Duration::from_secs(30));
        assert_eq!(backoff(base, 1), Duration::from_secs(60));
        assert_eq!(backoff(base, 3), Duration::from_secs(240));
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
    }
}
