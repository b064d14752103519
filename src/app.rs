//! The shared state, the router with its middleware, and the server with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::Response;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::accounts::Accounts;
use crate::auth::sessions::Sessions;
use crate::auth::{PasswordHasher, TokenService};
use crate::config::{Config, MetricsBind};
use crate::http;
use crate::store::{self, DynStore};

/// Request bodies larger than this answer 413.
pub const BODY_LIMIT_BYTES: usize = 256 * 1024;
/// A request still running after this answers 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Requests handled at once; one more answers 503 `unavailable` at once instead of queueing.
pub const MAX_IN_FLIGHT_REQUESTS: usize = 512;
/// Header names and values of one request, together; more answers 431. (hyper refuses
/// more than 100 headers, and a header block over about 400 KiB, on its own.)
pub const HEADER_LIMIT_BYTES: usize = 32 * 1024;
/// How long a shutdown waits for the mail worker to finish the message it is sending.
pub const MAIL_STOP_GRACE: Duration = Duration::from_secs(5);
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler and middleware reaches, behind one `Arc`: axum clones the state
/// for each layer and extractor of every request, and one reference count is the cheapest clone.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub config: Arc<Config>,
    pub store: DynStore,
    pub tokens: Arc<TokenService>,
    /// GATEHOUSE_RATE_LIMIT_PER_IP on the unauthenticated /v1/auth routes; `None` when off.
    pub ip_limiter: Option<Arc<http::limits::IpLimiter>>,
    /// Writes verification and reset mails into the queue (see [`crate::mail`]).
    pub mailer: Arc<crate::mail::Mailer>,
    /// The flows that HTTP and the command line share, over this state's parts.
    pub accounts: Accounts,
    /// Starting and rotating sessions.
    pub sessions: Sessions,
    /// The pages' templates, sentences and stylesheet.
    pub pages: Arc<crate::pages::Pages>,
    /// Signs the pages' CSRF tokens (a server secret, the same on every instance).
    pub csrf_secret: Arc<Vec<u8>>,
    /// Authorization codes issued per user and client.
    pub code_limiter: Arc<crate::accounts::oauth::CodeLimiter>,
    /// Sign-in through upstream providers.
    pub upstream: crate::upstream::Upstream,
    /// /health's database check, shared by the polls of one short window.
    pub database_check: http::health::DatabaseCheck,
}

impl AppState {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let store = store::connect_configured(&config).await?;
        Self::with_store(config, store).await
    }

    pub async fn with_store(config: Config, store: DynStore) -> anyhow::Result<Self> {
        crate::outbound::install_tls_provider();
        let secret = config.jwt_secret.as_ref().map(|s| s.expose().to_string());
        let tokens = TokenService::new(store.clone(), config.issuer(), config.audience.clone(), config.access_ttl(), secret.as_deref())
            .await
            .context("cannot load the signing keys")?;
        let candidate: [u8; 32] = rand::random();
        let refresh_secret = store.server_secret("refresh_successor", &candidate).await?;
        let candidate: [u8; 32] = rand::random();
        let csrf_secret = store.server_secret("page_csrf", &candidate).await?;
        let pages = Arc::new(crate::pages::Pages::load(&config.pages)?);
        let mailer = Arc::new(crate::mail::Mailer::new(&config, store.clone())?);
        let hasher = PasswordHasher::for_this_machine();
        let passkeys = crate::auth::passkeys::from_config(&config)?;
        let breach = crate::auth::breached::BreachCheck::new(&config.signin.breached_passwords, &config.signin.breached_passwords_api_url)?;
        let accounts = Accounts::new(&config, store.clone(), hasher, mailer.clone()).with_passkeys(passkeys).with_breach_check(breach);
        let tokens = Arc::new(tokens);
        let sessions = Sessions {
            store: store.clone(),
            tokens: tokens.clone(),
            refresh_secret: Arc::new(refresh_secret),
            refresh_ttl: config.refresh_ttl(),
            reuse_grace: config.refresh_reuse_grace(),
            sessions_per_client: config.oauth_sessions_per_client,
        };
        let upstream = crate::upstream::Upstream::new(&config, store.clone())?;
        Ok(Self(Arc::new(Services {
            upstream,
            mailer,
            ip_limiter: http::limits::ip_limiter(config.rate_limit_per_ip),
            config: Arc::new(config),
            store,
            tokens,
            accounts,
            sessions,
            pages,
            csrf_secret: Arc::new(csrf_secret),
            code_limiter: Arc::new(crate::accounts::oauth::code_limiter()),
            database_check: http::health::DatabaseCheck::default(),
        })))
    }
}

/// The store alone, for handlers that need nothing else (/metrics).
impl axum::extract::FromRef<AppState> for DynStore {
    fn from_ref(state: &AppState) -> Self {
        state.store.clone()
    }
}

/// The whole HTTP surface: API routes, docs, fallbacks, and the middleware stack.
pub fn router(state: AppState) -> Router {
    let (api, mut openapi) = http::api().split_for_parts();
    http::docs::declare_common_errors(&mut openapi);
    http::docs::state_configured_rules(&mut openapi, state.accounts.policy.min_length);
    let cors = cors_layer(&state.config.cors_origins);
    let public_metrics = state.config.metrics_bind.is_none();
    if !public_metrics {
        // Served on another listener or not at all: not a route of this address.
        openapi.paths.paths.remove("/metrics");
    }
    api.merge(http::docs::router(openapi))
        .merge(crate::pages::router(&state))
        .merge(if public_metrics { metrics_router() } else { Router::new() })
        .fallback(crate::pages::not_found)
        .layer(
            ServiceBuilder::new()
                .layer(SetSensitiveRequestHeadersLayer::new([
                    header::AUTHORIZATION,
                    header::COOKIE,
                    HeaderName::from_static(crate::http::caller::X_ACCESS_TOKEN),
                ]))
                .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(request_span).on_request(()).on_response(log_response).on_failure(()))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID))
                .layer(axum::middleware::from_fn_with_state(state.clone(), http::middleware::edge))
                .layer(HandleErrorLayer::new(http::overload::overloaded))
                .layer(LoadShedLayer::new())
                .layer(GlobalConcurrencyLimitLayer::new(MAX_IN_FLIGHT_REQUESTS))
                .layer(CatchPanicLayer::custom(http::middleware::panic_response))
                .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::REQUEST_TIMEOUT, REQUEST_TIMEOUT))
                .option_layer(cors)
                .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES)),
        )
        .with_state(state)
}

/// GET /metrics alone, for the public router or a listener of its own.
fn metrics_router() -> Router<AppState> {
    Router::new().route("/metrics", axum::routing::get(crate::metrics::serve))
}

fn request_span(request: &Request) -> Span {
    let route = request.extensions().get::<MatchedPath>().map_or("-", MatchedPath::as_str);
    let request_id = request.headers().get(&REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("-");
    // `user_id` is filled in by the AuthUser extractor once the caller is known.
    tracing::info_span!("request", method = %request.method(), route, request_id, user_id = tracing::field::Empty)
}

fn log_response(response: &Response, latency: Duration, _: &Span) {
    tracing::info!(status = response.status().as_u16(), latency_ms = latency.as_secs_f64() * 1000.0, "request finished");
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins.iter().filter(|o| !o.is_empty()).filter_map(|o| HeaderValue::from_str(o.trim()).ok()).collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, REQUEST_ID, HeaderName::from_static("x-access-token")])
            .expose_headers([REQUEST_ID, header::LOCATION, header::RETRY_AFTER])
            .max_age(Duration::from_secs(600)),
    )
}

/// The public URL when none is set: on a loopback address `http://localhost:PORT`, which
/// browsers treat as a secure context and passkeys accept as a relying party; elsewhere
/// the address itself.
fn default_public_url(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() { format!("http://localhost:{}", addr.port()) } else { format!("http://{addr}") }
}

/// A bound listener with its state: `build` then `run`.
pub struct Application {
    listener: TcpListener,
    /// /metrics on an address of its own (GATEHOUSE_METRICS_BIND).
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Application {
    /// Binds first, so that with port 0 the public URL (and the issuer) name the real port.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(config.bind).await.with_context(|| format!("GATEHOUSE_BIND: cannot listen on {}", config.bind))?;
        Self::build_on(config, listener).await
    }

    /// As [`Self::build`], on a listener bound already (a test that names its address in
    /// the public URL before the server starts).
    pub async fn build_on(mut config: Config, listener: TcpListener) -> anyhow::Result<Self> {
        let addr = listener.local_addr()?;
        if config.public_url.is_none() {
            config.public_url = Some(default_public_url(addr));
        }
        let metrics_listener = match config.metrics_bind {
            Some(MetricsBind::Separate(at)) => {
                Some(TcpListener::bind(at).await.with_context(|| format!("GATEHOUSE_METRICS_BIND: cannot listen on {at}"))?)
            }
            _ => None,
        };
        if config.metrics_bind != Some(MetricsBind::Off) {
            crate::metrics::handle();
        }
        let state = AppState::build(config).await?;
        Ok(Self { listener, metrics_listener, state })
    }

    /// Where /metrics is served apart from the API, when it is.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting and finishes what is in flight.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let public_url = self.state.config.public_url();
        tracing::info!(%addr, docs = %format!("{public_url}/docs"), "gatehouse listening on http://{addr}");
        let mail_transport = crate::mail::transport::Transport::from_config(&self.state.config)?;
        let tokens = self.state.tokens.clone();
        // Every instance re-reads the signing keys this often (GATEHOUSE_KEY_RELOAD_INTERVAL,
        // 20 s by default), so a `keys rotate` anywhere is picked up within the contract's 60 s.
        let reload_every = Duration::from_secs(self.state.config.key_reload_interval);
        let reloader = tokio::spawn(async move {
            let mut every = tokio::time::interval(reload_every);
            every.tick().await;
            loop {
                every.tick().await;
                if let Err(err) = tokens.reload().await {
                    tracing::warn!(error = %err, "could not reload signing keys");
                }
            }
        });
        let mut background = vec![reloader];
        let config = &self.state.config;
        let mail_worker = crate::mail::worker::Worker {
            store: self.state.store.clone(),
            transport: mail_transport,
            queued: self.state.mailer.queued.clone(),
            poll_every: Duration::from_secs(config.mail_poll_interval),
            retry_base: Duration::from_secs(config.mail_retry_base),
            max_attempts: config.mail_max_attempts,
        };
        let (stop_mail, mail_stop) = tokio::sync::watch::channel(false);
        let mut mail_task = tokio::spawn(mail_worker.run(mail_stop));
        background.push(tokio::spawn(crate::audit::prune_forever(self.state.store.clone(), self.state.config.audit_retention_days)));
        background.push(tokio::spawn(crate::retention::prune_forever(self.state.store.clone(), self.state.config.clone())));
        // Webhooks: the delivery worker, and pruning of old deliveries (see crate::webhooks).
        let webhook_settings = &self.state.config.webhooks;
        let webhook_worker = crate::webhooks::worker::Worker::new(self.state.store.clone(), webhook_settings.webhooks_allow_private)?;
        let (stop_webhooks, webhooks_stop) = tokio::sync::watch::channel(false);
        let mut webhook_task = tokio::spawn(webhook_worker.run(webhooks_stop, MAIL_STOP_GRACE));
        background.push(tokio::spawn(crate::webhooks::prune_forever(self.state.store.clone(), webhook_settings.webhook_retention_days)));
        let store = self.state.store.clone();
        background.push(tokio::spawn(async move { store.watch_changes().await }));
        if self.state.config.metrics_bind != Some(MetricsBind::Off) {
            background.push(tokio::spawn(async {
                let mut every = tokio::time::interval(crate::metrics::UPKEEP_EVERY);
                loop {
                    every.tick().await;
                    crate::metrics::run_upkeep();
                }
            }));
        }
        if let Some(listener) = self.metrics_listener {
            let metrics_app = metrics_router().with_state(self.state.clone());
            tracing::info!(addr = %listener.local_addr()?, "metrics served on their own address");
            background.push(tokio::spawn(async move {
                if let Err(err) = axum::serve(listener, metrics_app).await {
                    tracing::error!(error = %err, "metrics server stopped");
                }
            }));
        }
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        background.iter().for_each(tokio::task::JoinHandle::abort);
        // The mail worker finishes the message in hand; one stuck on a slow server is
        // abandoned (its lease runs out and another instance, or the next start, retries it).
        let _ = stop_mail.send(true);
        if tokio::time::timeout(MAIL_STOP_GRACE, &mut mail_task).await.is_err() {
            mail_task.abort();
        }
        let _ = stop_webhooks.send(true);
        if tokio::time::timeout(MAIL_STOP_GRACE * 2, &mut webhook_task).await.is_err() {
            webhook_task.abort();
        }
        served.context("server error")
    }

    pub async fn run(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
