//! The background worker that delivers webhook events: it claims due attempts from the
//! queue in the database (a lease each, so one cut off by a crash goes again once the lease
//! runs out), sends each in its own task, at most [`PER_ENDPOINT`] at once to one endpoint
//! and [`IN_FLIGHT`] in all, so that a slow or dead endpoint holds up neither requests nor
//! other endpoints, and records each outcome with the next attempt after a failure.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::{Notify, Semaphore, watch};

use super::address::{PublicResolver, check_target};
use super::sign::signature_header;
use crate::store::{AttemptOutcome, ClaimedDelivery, DynStore};

/// One request may take this long, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// A claimed attempt is left to its claimer this long: longer than one request may take,
/// and short enough that one cut off by a crash is retried within the contract's 60 s.
pub const LEASE: Duration = Duration::from_secs(30);
/// How often the queue is looked at for due attempts (and those queued by other instances).
pub const POLL_EVERY: Duration = Duration::from_secs(1);
/// Attempts in flight to one endpoint at once, per instance.
pub const PER_ENDPOINT: u32 = 4;
/// Attempts in flight at once, per instance.
pub const IN_FLIGHT: usize = 32;
/// The waits after each failed attempt: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h;
/// after the eighth attempt fails, the delivery is `failed`.
pub const SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 3600),
    Duration::from_secs(5 * 3600),
    Duration::from_secs(10 * 3600),
    Duration::from_secs(10 * 3600),
];
/// How much of a receiver's answer or error is kept.
const ERROR_MAX: usize = 300;
/// How often the queue's depth and age are measured for the metrics.
const MEASURE_EVERY: Duration = Duration::from_secs(10);

pub struct Worker {
    store: DynStore,
    client: reqwest::Client,
    allow_private: bool,
}

impl Worker {
    pub fn new(store: DynStore, allow_private: bool) -> anyhow::Result<Self> {
        let mut builder = crate::outbound::builder(TIMEOUT);
        if !allow_private {
            builder = builder.dns_resolver(PublicResolver);
        }
        Ok(Self { store, client: builder.build()?, allow_private })
    }

    /// Delivers until `stop` turns true, then gives attempts in flight `grace` to finish (an
    /// attempt abandoned then is retried once its lease runs out).
    pub async fn run(self, mut stop: watch::Receiver<bool>, grace: Duration) {
        let this = Arc::new(self);
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let finished = Arc::new(Notify::new());
        let mut tasks = tokio::task::JoinSet::new();
        let mut measured = Instant::now() - MEASURE_EVERY;
        while !*stop.borrow() {
            if measured.elapsed() >= MEASURE_EVERY {
                this.measure().await;
                measured = Instant::now();
            }
            let free = slots.available_permits();
            let mut claimed = 0;
            if free > 0 {
                match this.store.claim_deliveries(u32::try_from(free).unwrap_or(1), PER_ENDPOINT, LEASE).await {
                    Ok(batch) => {
                        claimed = batch.len();
                        for delivery in batch {
                            let Ok(slot) = slots.clone().acquire_owned().await else { break };
                            let (this, finished) = (this.clone(), finished.clone());
                            tasks.spawn(async move {
                                this.deliver(delivery).await;
                                drop(slot);
                                finished.notify_one();
                            });
                        }
                    }
                    Err(err) => tracing::warn!(error = %err, "could not read the webhook queue"),
                }
            }
            while tasks.try_join_next().is_some() {}
            if claimed > 0 && slots.available_permits() > 0 {
                continue;
            }
            tokio::select! {
                () = finished.notified() => {}
                () = tokio::time::sleep(POLL_EVERY) => {}
                _ = stop.changed() => {}
            }
        }
        if tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await.is_err() {
            tasks.abort_all();
        }
    }

    async fn deliver(&self, delivery: ClaimedDelivery) {
        let started = Instant::now();
        let answer = self.send(&delivery).await;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (succeeded, response_status, error) = match answer {
            Ok((status, _)) if (200..300).contains(&status) => (true, Some(i32::from(status)), None),
            Ok((status, body)) => (false, Some(i32::from(status)), Some(cut(&format!("HTTP {status}: {body}")))),
            Err(error) => (false, None, Some(cut(&error))),
        };
        let retry_in = usize::try_from(delivery.attempt).ok().and_then(|n| SCHEDULE.get(n.wrapping_sub(1)));
        let next_attempt_at =
            retry_in.filter(|_| !succeeded).and_then(|wait| chrono::Duration::from_std(*wait).ok()).map(|wait| Utc::now() + wait);
        let outcome = match (succeeded, next_attempt_at) {
            (true, _) => "succeeded",
            (false, Some(_)) => "retry",
            (false, None) => "failed",
        };
        crate::metrics::webhook_delivery(outcome);
        match &error {
            None => {
                tracing::info!(delivery_id = %delivery.id, event_id = %delivery.event_id, attempt = delivery.attempt, duration_ms, "webhook delivered")
            }
            Some(error) => {
                tracing::warn!(delivery_id = %delivery.id, event_id = %delivery.event_id, attempt = delivery.attempt, outcome, %error, "webhook delivery failed")
            }
        }
        let outcome = AttemptOutcome { succeeded, response_status, error, duration_ms, next_attempt_at };
        if let Err(err) = self.store.finish_delivery(delivery.id, &outcome).await {
            tracing::warn!(delivery_id = %delivery.id, error = %err, "could not record a webhook delivery");
        }
    }

    /// One POST: the status and the start of the answer, or why none came.
    async fn send(&self, delivery: &ClaimedDelivery) -> Result<(u16, String), String> {
        let url = reqwest::Url::parse(&delivery.url).map_err(|e| format!("bad URL: {e}"))?;
        check_target(&url, self.allow_private)?;
        let timestamp = Utc::now().timestamp();
        let secrets: Vec<&str> = std::iter::once(delivery.secret.as_str()).chain(delivery.previous_secret.as_deref()).collect();
        let signature = signature_header(&secrets, &delivery.event_id, timestamp, &delivery.payload);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.payload.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        Ok((status, body))
    }

    async fn measure(&self) {
        match self.store.delivery_queue().await {
            Ok(stats) => {
                let age = stats.oldest_pending.map_or(0.0, |at| (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0);
                crate::metrics::webhook_queue(stats.pending, age);
            }
            Err(err) => tracing::warn!(error = %err, "could not measure the webhook queue"),
        }
    }
}

/// An error with its causes (reqwest's own text omits them: "error sending request").
fn describe(err: &reqwest::Error) -> String {
    let mut text = String::from(if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    });
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn cut(text: &str) -> String {
    text.chars().take(ERROR_MAX).collect()
}
