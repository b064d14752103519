//! Outbound HTTP: the one way this server calls other servers (upstream identity
//! providers, webhook receivers, the breached-password range API). TLS is rustls with
//! the ring provider, certificates checked against the platform's roots.

use std::time::Duration;

/// Makes ring the process's TLS provider (reqwest is built without one of its own); a
/// second call finds it there. The server calls it at start, a program that builds its
/// own reqwest clients (the tests) before the first.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client with this timeout for the whole request, no redirects followed (a caller
/// that wants one follows it itself, after checking where it goes), and no proxy from the
/// environment.
pub fn client(timeout: Duration) -> reqwest::Result<reqwest::Client> {
    builder(timeout).build()
}

/// [`client`]'s settings, for a caller that adds its own (webhooks add their resolver).
pub fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_client_builds_with_the_ring_provider_and_reaches_a_loopback_server() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "pong" }));
            axum::serve(listener, app).await.expect("serve");
        });
        let client = client(Duration::from_secs(2)).expect("a client");
        let body = client.get(format!("http://{addr}/")).send().await.expect("sent").text().await.expect("body");
        assert_eq!(body, "pong");
        assert!(client.get("https://127.0.0.1:1/").send().await.is_err(), "nothing listens there");
    }
}
