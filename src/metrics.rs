//! Prometheus metrics: one recorder per process, recorded with the `metrics` macros and
//! rendered as text by the /metrics route (on the public address or a listener of its own,
//! see GATEHOUSE_METRICS_BIND). The README lists every series for dashboards.
//!
//! A process has one global recorder, installed on first use; every server of the
//! process (tests start many) records into it, so tests compare values before and after.

use std::collections::HashMap;
use std::sync::{LazyLock, OnceLock, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use metrics::{Counter, Histogram, counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::store::DynStore;

pub const HTTP_REQUESTS: &str = "gatehouse_http_requests_total";
pub const HTTP_DURATION: &str = "gatehouse_http_request_duration_seconds";
pub const LOGINS: &str = "gatehouse_logins_total";
pub const REFRESHES: &str = "gatehouse_refreshes_total";
pub const REGISTRATIONS: &str = "gatehouse_registrations_total";
pub const RATE_LIMITED: &str = "gatehouse_rate_limited_total";
pub const MAILS: &str = "gatehouse_mails_total";
pub const OAUTH_TOKENS: &str = "gatehouse_oauth_tokens_total";
pub const PASSWORD_HASH_DURATION: &str = "gatehouse_password_hash_duration_seconds";
pub const PASSWORD_HASH_WAITING: &str = "gatehouse_password_hash_waiting";
pub const PASSWORD_HASH_RUNNING: &str = "gatehouse_password_hash_running";
pub const DB_CONNECTIONS: &str = "gatehouse_db_connections";
pub const WEBHOOK_DELIVERIES: &str = "gatehouse_webhook_deliveries_total";
pub const WEBHOOK_QUEUE_DEPTH: &str = "gatehouse_webhook_queue_depth";
pub const WEBHOOK_OLDEST_PENDING: &str = "gatehouse_webhook_oldest_pending_seconds";
pub const EMAIL_CODES: &str = "gatehouse_email_codes_total";
pub const BREACH_CHECKS: &str = "gatehouse_breached_password_checks_total";

/// How often histogram samples are folded in when nobody scrapes.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(10);

/// Request latency buckets, in seconds.
const HTTP_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Password hashing buckets, in seconds: argon2id takes tens of milliseconds in release.
const HASH_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// The process's recorder, installed on first call; `None` when another recorder was
/// installed first (then /metrics shows nothing, and nothing fails).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full(PASSWORD_HASH_DURATION.into()), HASH_BUCKETS));
            match builder.map_err(anyhow::Error::from).and_then(|b| b.install_recorder().map_err(anyhow::Error::from)) {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "metrics recorder not installed");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route template, method and status");
    describe_histogram!(HTTP_DURATION, Unit::Seconds, "HTTP request latency, by route template, method and status");
    describe_counter!(LOGINS, "Login attempts, by outcome");
    describe_counter!(REFRESHES, "Refresh token exchanges, by outcome");
    describe_counter!(REGISTRATIONS, "Accounts registered");
    describe_counter!(RATE_LIMITED, "Requests refused with 429, by kind");
    describe_counter!(MAILS, "Mail delivery attempts, by outcome: sent, retry, dropped");
    describe_counter!(OAUTH_TOKENS, "OpenID Connect token requests, by grant and outcome (issued or the OAuth error)");
    describe_counter!(
        EMAIL_CODES,
        "Sign-in code requests, by outcome: mailed, capped (past the hourly cap), none (no code goes to that address)"
    );
    describe_counter!(BREACH_CHECKS, "Breached-password lookups, by outcome: clean, breached, unavailable (failed open)");
    describe_histogram!(PASSWORD_HASH_DURATION, Unit::Seconds, "Time to hash or verify a password, by operation");
    describe_gauge!(PASSWORD_HASH_WAITING, "Password hashes waiting for a free slot");
    describe_gauge!(PASSWORD_HASH_RUNNING, "Password hashes computing now (at most one per slot)");
    describe_gauge!(DB_CONNECTIONS, "Database pool connections, by state (in_use, idle)");
    describe_counter!(WEBHOOK_DELIVERIES, "Webhook delivery attempts, by outcome: succeeded, retry, failed");
    describe_gauge!(WEBHOOK_QUEUE_DEPTH, "Webhook deliveries waiting to be sent (every instance's)");
    describe_gauge!(WEBHOOK_OLDEST_PENDING, Unit::Seconds, "Age of the oldest webhook delivery waiting to be sent");
}

/// Renders every series in Prometheus text format.
pub fn render(store: &DynStore) -> String {
    let Some(handle) = handle() else { return String::new() };
    let pool = store.pool_status();
    gauge!(DB_CONNECTIONS, "state" => "in_use").set(f64::from(pool.size.saturating_sub(pool.idle)));
    gauge!(DB_CONNECTIONS, "state" => "idle").set(f64::from(pool.idle));
    handle.render()
}

/// Prometheus text: request counts and latencies by route, pool and process figures.
/// Served here unless GATEHOUSE_METRICS_BIND moves it to an address of its own or turns it off.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text exposition format 0.0.4", body = String, content_type = "text/plain; version=0.0.4")))]
pub async fn serve(State(store): State<DynStore>) -> Response {
    let body = render(&store);
    ([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"))], body).into_response()
}

/// Keeps histograms from growing between scrapes.
pub fn run_upkeep() {
    if let Some(handle) = handle() {
        handle.run_upkeep();
    }
}

/// Counts every answer by route template (never the raw path; `unmatched` when no route
/// matched), method and status, with its latency. Every label value comes from a closed
/// set, so that no client can add series: the templates of the router, the standard
/// methods or `other`, and the status codes this server answers with.
pub struct RequestTimer {
    route: Option<MatchedPath>,
    method: &'static str,
    started: Instant,
}

impl RequestTimer {
    pub fn start(request: &Request) -> Self {
        Self { route: request.extensions().get::<MatchedPath>().cloned(), method: method_label(request.method()), started: Instant::now() }
    }

    pub fn finish(self, response: &Response) {
        let route = self.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let (requests, duration) = request_series(route, self.method, response.status().as_u16());
        requests.increment(1);
        duration.record(self.started.elapsed().as_secs_f64());
    }
}

type SeriesKey = (&'static str, u16);
type RouteSeries = HashMap<String, HashMap<SeriesKey, (Counter, Histogram)>>;
/// The handles of each route's series, by method and status: made once, then found
/// without building label strings or looking them up in the recorder on every request.
static REQUEST_SERIES: LazyLock<RwLock<RouteSeries>> = LazyLock::new(RwLock::default);

fn request_series(route: &str, method: &'static str, status: u16) -> (Counter, Histogram) {
    let key = (method, status);
    if let Some(found) = REQUEST_SERIES.read().unwrap_or_else(|p| p.into_inner()).get(route).and_then(|m| m.get(&key)) {
        return found.clone();
    }
    let labels = [("route", route.to_string()), ("method", method.to_string()), ("status", status.to_string())];
    let made = (counter!(HTTP_REQUESTS, &labels), histogram!(HTTP_DURATION, &labels));
    let mut series = REQUEST_SERIES.write().unwrap_or_else(|p| p.into_inner());
    series.entry(route.to_string()).or_default().insert(key, made.clone());
    made
}

/// A standard method by name; any other (HTTP allows inventing them) is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Login outcomes: `success`, `invalid_credentials`, `locked`, `disabled`.
pub fn login(outcome: &'static str) {
    counter!(LOGINS, "outcome" => outcome).increment(1);
}

/// Refresh outcomes: `rotated`, `grace_reuse`, `reuse_detected`.
pub fn refresh(outcome: &'static str) {
    counter!(REFRESHES, "outcome" => outcome).increment(1);
}

/// A token request: `grant` and `outcome` come from closed sets (the grant types, `issued`
/// and RFC 6749's error codes), so no caller can add series.
pub fn oauth_token(grant: &'static str, outcome: &'static str) {
    counter!(OAUTH_TOKENS, "grant" => grant, "outcome" => outcome).increment(1);
}

/// A sign-in code request: `mailed`, `capped` or `none`.
pub fn email_code(outcome: &'static str) {
    counter!(EMAIL_CODES, "outcome" => outcome).increment(1);
}

/// A breached-password lookup: `clean`, `breached` or `unavailable`.
pub fn breach_check(outcome: &'static str) {
    counter!(BREACH_CHECKS, "outcome" => outcome).increment(1);
}

pub fn registered() {
    counter!(REGISTRATIONS).increment(1);
}

/// One delivery attempt of a queued mail: `sent`, `retry` (will be tried again) or `dropped`.
pub fn mail(outcome: &'static str) {
    counter!(MAILS, "outcome" => outcome).increment(1);
}

/// Call wherever a 429 is answered, with what was limited (`login_ip`, `login_lockout`, ...).
/// One webhook delivery attempt ended: `succeeded`, `retry` (failed, another is queued) or `failed`.
pub fn webhook_delivery(outcome: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "outcome" => outcome).increment(1);
}

/// The webhook queue as last measured: pending deliveries and the oldest one's age.
pub fn webhook_queue(pending: i64, oldest_age_secs: f64) {
    gauge!(WEBHOOK_QUEUE_DEPTH).set(pending as f64);
    gauge!(WEBHOOK_OLDEST_PENDING).set(oldest_age_secs);
}

pub fn rate_limited(kind: &'static str) {
    counter!(RATE_LIMITED, "kind" => kind).increment(1);
}

/// One password hash or verification (`op` is `hash` or `verify`) and how long it took.
pub fn password_hashed(op: &'static str, took: Duration) {
    histogram!(PASSWORD_HASH_DURATION, "op" => op).record(took.as_secs_f64());
}

/// A hash starts (`1.0`) or ends (`-1.0`) computing.
pub fn hash_running(change: f64) {
    gauge!(PASSWORD_HASH_RUNNING).increment(change);
}

/// Counts a hash waiting for a slot while it lives.
pub struct Waiting(());

impl Waiting {
    pub fn start() -> Self {
        gauge!(PASSWORD_HASH_WAITING).increment(1.0);
        Self(())
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        gauge!(PASSWORD_HASH_WAITING).decrement(1.0);
    }
}
