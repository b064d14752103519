//! Webhook endpoints and their deliveries: registration and changes, secret rotation, test
//! events, the deliveries list and retries. The worker's side of the queue (claims under a
//! lease, outcomes, pruning) is in [`super::webhook_queue`].

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::codec::{MaybeTime, Time};
use super::db::{classify, on_db};
use super::events::{EventType, event_body, new_event_id};
use super::{Page, Store, StoreError, StoreResult};

/// An endpoint as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    #[schema(example = "https://app.example.com/webhooks/gatehouse")]
    pub url: String,
    /// Event types it receives, or `["*"]` for all.
    #[schema(example = json!(["user.deleted", "user.disabled"]))]
    pub events: Vec<String>,
    pub description: String,
    pub enabled: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct WebhookRow {
    id: Uuid,
    url: String,
    events: String,
    description: String,
    enabled: bool,
    created_at: Time,
}

impl From<WebhookRow> for Webhook {
    fn from(r: WebhookRow) -> Self {
        Self {
            id: r.id,
            url: r.url,
            events: serde_json::from_str(&r.events).unwrap_or_default(),
            description: r.description,
            enabled: r.enabled,
            created_at: r.created_at.0,
        }
    }
}

macro_rules! webhook_columns {
    () => {
        "id, url, events, description, enabled, created_at"
    };
}

/// An endpoint to register, checked already.
pub struct NewWebhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<String>,
    pub description: String,
    pub secret: String,
}

/// A change to an endpoint; `None` leaves a field as it is.
#[derive(Default)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
}

/// One attempt (made, or waiting) to deliver an event to an endpoint.
#[derive(Debug, Clone, Serialize, ToSchema, sqlx::FromRow)]
pub struct Delivery {
    pub id: Uuid,
    /// The event's id: the `webhook-id` header, the same on every attempt.
    #[schema(example = "msg_0192f1c4a3b07d5e8f21a9c3b4d5e6f7")]
    pub event_id: String,
    #[serde(rename = "type")]
    #[sqlx(rename = "event_type")]
    #[schema(example = "user.deleted")]
    pub kind: String,
    /// 1 for the first attempt.
    pub attempt: i32,
    /// `pending`, `succeeded` or `failed`.
    #[schema(example = "succeeded")]
    pub status: String,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<i32>,
    /// Why the attempt failed: the status and the start of the answer, or the connection's error.
    pub error: Option<String>,
    pub duration_ms: Option<i64>,
    #[sqlx(try_from = "Time")]
    pub created_at: DateTime<Utc>,
    /// When this pending attempt, or the attempt after this failed one, is due.
    #[sqlx(try_from = "MaybeTime")]
    pub next_attempt_at: Option<DateTime<Utc>>,
}

macro_rules! delivery_columns {
    () => {
        "id, event_id, event_type, attempt, status, response_status, error, duration_ms, created_at, next_attempt_at"
    };
}

/// The head of an `INSERT ... SELECT` of a delivery row.
macro_rules! queue_select {
    () => {
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, payload, attempt, status, created_at, next_attempt_at) "
    };
}

impl Store {
    pub async fn create_webhook(&self, new: NewWebhook) -> StoreResult<Webhook> {
        let now = Time::now();
        let events = serde_json::to_string(&new.events).map_err(|e| StoreError::Other(e.into()))?;
        on_db!(&self.db, c => sqlx::query(
            "INSERT INTO webhook_endpoints (id, url, events, description, enabled, secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, true, $5, $6, $6)",
        )
        .bind(new.id)
        .bind(&new.url)
        .bind(&events)
        .bind(&new.description)
        .bind(&new.secret)
        .bind(now)
        .execute(&c.pool)
        .await
        .map_err(classify)
        .map(|_| ())?);
        self.webhook(new.id).await?.ok_or(StoreError::NotFound)
    }

    /// Every endpoint, oldest first.
    pub async fn webhooks(&self) -> StoreResult<Vec<Webhook>> {
        let sql = concat!("SELECT ", webhook_columns!(), " FROM webhook_endpoints ORDER BY created_at, id");
        let rows: Vec<WebhookRow> = on_db!(&self.db, c => sqlx::query_as(sql).fetch_all(&c.pool).await.map_err(classify)?);
        Ok(rows.into_iter().map(Webhook::from).collect())
    }

    pub async fn webhook(&self, id: Uuid) -> StoreResult<Option<Webhook>> {
        let sql = concat!("SELECT ", webhook_columns!(), " FROM webhook_endpoints WHERE id = $1");
        let row: Option<WebhookRow> = on_db!(&self.db, c => sqlx::query_as(sql).bind(id).fetch_optional(&c.pool).await.map_err(classify)?);
        Ok(row.map(Webhook::from))
    }

    /// `NotFound` for an unknown id.
    pub async fn update_webhook(&self, id: Uuid, patch: WebhookPatch) -> StoreResult<Webhook> {
        let events = patch.events.map(|e| serde_json::to_string(&e)).transpose().map_err(|e| StoreError::Other(e.into()))?;
        let done = on_db!(&self.db, c => sqlx::query(
            "UPDATE webhook_endpoints SET url = COALESCE($2, url), events = COALESCE($3, events), \
             description = COALESCE($4, description), enabled = COALESCE($5, enabled), updated_at = $6 WHERE id = $1",
        )
        .bind(id)
        .bind(patch.url)
        .bind(events)
        .bind(patch.description)
        .bind(patch.enabled)
        .bind(Time::now())
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        self.webhook(id).await?.ok_or(StoreError::NotFound)
    }

    /// Deletes an endpoint and its deliveries; false when there was none.
    pub async fn delete_webhook(&self, id: Uuid) -> StoreResult<bool> {
        let done = on_db!(&self.db, c => sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
            .bind(id)
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected());
        Ok(done > 0)
    }

    /// Makes `secret` the signing secret; the one it replaces signs too until `overlap_until`.
    pub async fn rotate_webhook_secret(&self, id: Uuid, secret: &str, overlap_until: DateTime<Utc>) -> StoreResult<Webhook> {
        let done = on_db!(&self.db, c => sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_until = $3, secret = $2, updated_at = $4 WHERE id = $1",
        )
        .bind(id)
        .bind(secret)
        .bind(Time(overlap_until))
        .bind(Time::now())
        .execute(&c.pool)
        .await
        .map_err(classify)?
        .rows_affected());
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        self.webhook(id).await?.ok_or(StoreError::NotFound)
    }

    /// Queues a `webhook.test` event to this endpoint alone.
    pub async fn queue_webhook_test(&self, id: Uuid) -> StoreResult<Delivery> {
        let now = Time::now();
        let data = serde_json::json!({ "webhook_id": id, "message": "A test event sent on an admin's request." });
        let body = event_body(EventType::WebhookTest, now, &data)?;
        let delivery = Uuid::now_v7();
        let inserted = on_db!(&self.db, c => sqlx::query(concat!(queue_select!(), "SELECT $1, id, $3, $4, $5, 1, 'pending', $6, $6 FROM webhook_endpoints WHERE id = $2"))
            .bind(delivery)
            .bind(id)
            .bind(new_event_id())
            .bind(EventType::WebhookTest.as_str())
            .bind(&body)
            .bind(now)
            .execute(&c.pool)
            .await
            .map_err(classify)?
            .rows_affected());
        if inserted == 0 {
            return Err(StoreError::NotFound);
        }
        self.delivery(id, delivery).await?.ok_or(StoreError::NotFound)
    }

    pub async fn delivery(&self, endpoint: Uuid, id: Uuid) -> StoreResult<Option<Delivery>> {
        let sql = concat!("SELECT ", delivery_columns!(), " FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2");
        on_db!(&self.db, c => sqlx::query_as(sql).bind(id).bind(endpoint).fetch_optional(&c.pool).await.map_err(classify))
    }

    /// An endpoint's attempts, newest first.
    pub async fn deliveries(&self, endpoint: Uuid, offset: i64, limit: i64) -> StoreResult<Page<Delivery>> {
        let sql = concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        );
        let (items, total): (Vec<Delivery>, i64) = on_db!(&self.db, c => {
            let items = sqlx::query_as(sql).bind(endpoint).bind(limit).bind(offset).fetch_all(&c.pool).await.map_err(classify)?;
            let total = sqlx::query_scalar("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1")
                .bind(endpoint)
                .fetch_one(&c.pool)
                .await
                .map_err(classify)?;
            (items, total)
        });
        Ok(Page { items, total: u64::try_from(total).unwrap_or_default() })
    }

    /// Sends the event of one of an endpoint's deliveries again, now: its waiting attempt
    /// is made due, or a new attempt is queued. Answers that attempt.
    pub async fn retry_delivery(&self, endpoint: Uuid, id: Uuid) -> StoreResult<Delivery> {
        let now = Time::now();
        let pending = on_db!(&self.db, c => {
            let mut tx = c.write().await?;
            let event: Option<(String,)> = sqlx::query_as("SELECT event_id FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2")
                .bind(id)
                .bind(endpoint)
                .fetch_optional(&mut *tx)
                .await
                .map_err(classify)?;
            let Some((event_id,)) = event else { return Err(StoreError::NotFound) };
            // A waiting attempt is made due; one in flight is left to finish.
            sqlx::query(
                "UPDATE webhook_deliveries SET next_attempt_at = $3 WHERE endpoint_id = $1 AND event_id = $2 AND status = 'pending' \
                 AND (leased_until IS NULL OR leased_until <= $3)",
            )
            .bind(endpoint)
            .bind(&event_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            sqlx::query(concat!(
                queue_select!(),
                "SELECT $1, endpoint_id, event_id, event_type, payload, max(attempt) + 1, 'pending', $4, $4 \
                 FROM webhook_deliveries WHERE endpoint_id = $2 AND event_id = $3 GROUP BY endpoint_id, event_id, event_type, payload \
                 ON CONFLICT DO NOTHING"
            ))
            .bind(Uuid::now_v7())
            .bind(endpoint)
            .bind(&event_id)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
            let pending: Uuid = sqlx::query_scalar(
                "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2 AND status = 'pending'",
            )
            .bind(endpoint)
            .bind(&event_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(classify)?;
            tx.commit().await?;
            pending
        });
        self.delivery(endpoint, pending).await?.ok_or(StoreError::NotFound)
    }
}
