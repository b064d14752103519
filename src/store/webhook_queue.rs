//! The webhook worker's side of the delivery queue: claiming due attempts under a lease
//! (on PostgreSQL with `FOR UPDATE SKIP LOCKED`, so that two instances never claim one row),
//! an attempt's outcome and the next attempt it queues, pruning, and the queue's figures.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::codec::Time;
use super::db::{classify, on_db};
use super::{Store, StoreResult};

/// A delivery the worker holds a lease on, with what sending it takes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedDelivery {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: String,
    pub attempt: i32,
    pub payload: String,
    pub url: String,
    pub secret: String,
    /// The secret before a rotation, while it still signs.
    pub previous_secret: Option<String>,
    in_flight: i64,
}

/// How an attempt ended.
pub struct AttemptOutcome {
    pub succeeded: bool,
    pub response_status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
    /// When the next attempt is due, after a failure that is not the last.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The queue at a glance, for the metrics.
pub struct QueueStats {
    pub pending: i64,
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// The head of an `INSERT ... SELECT` of a delivery row.
macro_rules! queue_select {
    () => {
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, attempt, status, created_at, next_attempt_at) "
    };
}

/// Due, unleased pending attempts of enabled endpoints holding fewer than $3 leases, oldest
/// first; $1 is now, $2 the batch.
macro_rules! due_deliveries {
    () => {
        "SELECT d.id, d.endpoint_id, d.event_id, d.attempt, d.payload, e.url, e.secret, \
         CASE WHEN e.previous_secret_until > $1 THEN e.previous_secret END AS previous_secret, \
         (SELECT count(*) FROM webhook_deliveries l WHERE l.endpoint_id = d.endpoint_id AND l.status = 'pending' \
          AND l.leased_until > $1) AS in_flight \
         FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
         WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.leased_until IS NULL OR d.leased_until <= $1) AND e.enabled \
         AND (SELECT count(*) FROM webhook_deliveries l WHERE l.endpoint_id = d.endpoint_id AND l.status = 'pending' \
          AND l.leased_until > $1) < $3 \
         ORDER BY d.next_attempt_at LIMIT $2"
    };
}

impl Store {
    /// Leases up to `limit` due attempts for `lease`, at most `per_endpoint` leased at once
    /// per endpoint (counting every instance's leases).
    pub async fn claim_deliveries(&self, limit: u32, per_endpoint: u32, lease: std::time::Duration) -> StoreResult<Vec<ClaimedDelivery>> {
        let now = Time::now();
        let until = Time(now.0 + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::seconds(30)));
        let find = self.db.pick(due_deliveries!(), concat!(due_deliveries!(), " FOR UPDATE OF d SKIP LOCKED"));
        on_db!(&self.db, c => {
            // A read first: most polls find nothing due, and take no write lock for it (on
            // SQLite a write would queue ahead of requests' writes).
            let any: Option<i32> = sqlx::query_scalar(
                "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
                 AND (leased_until IS NULL OR leased_until <= $1) LIMIT 1",
            )
            .bind(now)
            .fetch_optional(&c.pool)
            .await
            .map_err(classify)?;
            if any.is_none() {
                return Ok(Vec::new());
            }
            let mut tx = c.write().await?;
            let due: Vec<ClaimedDelivery> = sqlx::query_as(find)
                .bind(now)
                .bind(i64::from(limit))
                .bind(i64::from(per_endpoint))
                .fetch_all(&mut *tx)
                .await
                .map_err(classify)?;
            let mut taken: std::collections::HashMap<Uuid, i64> = std::collections::HashMap::new();
            let mut claimed = Vec::new();
            for delivery in due {
                let count = taken.entry(delivery.endpoint_id).or_insert(delivery.in_flight);
                if *count >= i64::from(per_endpoint) {
                    continue;
                }
                *count += 1;
                sqlx::query("UPDATE webhook_deliveries SET leased_until = $2 WHERE id = $1")
                    .bind(delivery.id)
                    .bind(until)
                    .execute(&mut *tx)
                    .await
                    .map_err(classify)?;
                claimed.push(delivery);
            }
            tx.commit().await?;
            Ok(claimed)
        })
    }

    /// Records how a leased attempt ended and queues the next one after a failure that is
    /// not the last, in one transaction.
    pub async fn finish_delivery(&self, id: Uuid, outcome: &AttemptOutcome) -> StoreResult<()> {
        let status = if outcome.succeeded { "succeeded" } else { "failed" };
        let next = outcome.next_attempt_at.filter(|_| !outcome.succeeded).map(Time);
        on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let done = sqlx::query(
                "UPDATE webhook_deliveries SET status = $2, response_status = $3, error = $4, duration_ms = $5, \
                 next_attempt_at = $6, leased_until = NULL WHERE id = $1 AND status = 'pending'",
            )
            .bind(id)
            .bind(status)
            .bind(outcome.response_status)
            .bind(&outcome.error)
            .bind(outcome.duration_ms)
            .bind(next)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            if let (Some(next), 1) = (next, done.rows_affected()) {
                sqlx::query(concat!(
                    queue_select!(),
                    "SELECT $1, endpoint_id, event_id, event_type, payload, attempt + 1, 'pending', $3, $4 \
                     FROM webhook_deliveries WHERE id = $2 ON CONFLICT DO NOTHING"
                ))
                .bind(Uuid::now_v7())
                .bind(id)
                .bind(Time::now())
                .bind(next)
                .execute(&mut *tx)
                .await
                .map_err(classify)?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Deletes finished attempts made before `before`; answers how many went.
    pub async fn prune_deliveries(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        Ok(on_db!(&self.db, c => sqlx::query("DELETE FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1")
            .bind(Time(before))
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected()))
    }

    /// Pending attempts, and when the oldest of them was queued.
    pub async fn delivery_queue(&self) -> StoreResult<QueueStats> {
        let (pending, oldest): (i64, Option<Time>) = on_db!(&self.db, c => sqlx::query_as(
            "SELECT count(*), min(created_at) FROM webhook_deliveries WHERE status = 'pending'",
        )
        .fetch_one(&c.pool)
        .await
        .map_err(classify)?);
        Ok(QueueStats { pending, oldest_pending: oldest.map(|t| t.0) })
    }
}
