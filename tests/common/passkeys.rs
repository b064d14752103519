//! Passkeys in tests: a server whose public URL can carry them (`http://localhost:PORT`,
//! since an IP address is no relying party), Chromium's virtual authenticator (the
//! WebDriver extension commands of the WebAuthn spec), and the browser's own
//! `navigator.credentials` called on options the API handed out.

use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use gatehouse::config::Config;
use serde_json::{Value, json};

use super::TestApp;
use super::browser::Browser;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

/// Settings for a server reached at `http://localhost:PORT` on a port picked now.
pub fn on_localhost(config: &mut Config) -> String {
    let port = free_port();
    config.bind = format!("127.0.0.1:{port}").parse().expect("address");
    let url = format!("http://localhost:{port}");
    config.public_url = Some(url.clone());
    url
}

/// A server with passkeys on, on this binary's store.
pub async fn passkey_app() -> TestApp {
    TestApp::spawn_with(|c| {
        on_localhost(c);
    })
    .await
}

impl TestApp {
    /// The address a browser must use: the public URL (on localhost), not the socket's IP.
    pub fn page(&self, path: &str) -> String {
        format!("{}{path}", self.state.config.public_url())
    }
}

/// One of the WebDriver WebAuthn extension commands.
/// (Or, with a path starting `goog/`, one of chromedriver's own.)
#[derive(Debug)]
struct WebAuthnCommand {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        match self.path.strip_prefix("goog/") {
            Some(own) => base_url.join(&format!("session/{session}/goog/{own}")),
            None => base_url.join(&format!("session/{session}/webauthn/{}", self.path)),
        }
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (self.method.clone(), self.body.as_ref().map(Value::to_string))
    }
}

impl Browser {
    /// Adds a virtual platform authenticator that keeps discoverable credentials, verifies
    /// its user and answers by itself; its id.
    pub async fn add_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserVerified": true,
            "automaticPresenceSimulation": true,
        });
        let command = WebAuthnCommand { method: http::Method::POST, path: "authenticator".into(), body: Some(options) };
        let id = self.client.issue_cmd(command).await.expect("a virtual authenticator");
        id.as_str().map(str::to_string).unwrap_or_else(|| id["authenticatorId"].as_str().expect("its id").to_string())
    }

    /// Turns the sign-in page's passkey autofill (conditional UI) off in the pages opened
    /// from now on, or back on (`id`: what turning it off answered). The virtual
    /// authenticator answers an autofill request at once, as if a person had picked the
    /// passkey, so a test that types a password turns it off first.
    pub async fn autofill_off(&self) -> String {
        let source = "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);";
        let body = json!({ "cmd": "Page.addScriptToEvaluateOnNewDocument", "params": { "source": source } });
        let command = WebAuthnCommand { method: http::Method::POST, path: "goog/cdp/execute".into(), body: Some(body) };
        let answer = self.client.issue_cmd(command).await.expect("a script for new pages");
        answer["identifier"].as_str().expect("its identifier").to_string()
    }

    pub async fn autofill_on(&self, id: &str) {
        let body = json!({ "cmd": "Page.removeScriptToEvaluateOnNewDocument", "params": { "identifier": id } });
        let command = WebAuthnCommand { method: http::Method::POST, path: "goog/cdp/execute".into(), body: Some(body) };
        self.client.issue_cmd(command).await.expect("the script is removed");
    }

    /// Waits until the open page's path and query are `expected`.
    pub async fn wait_for_path(&self, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.path().await != expected {
            assert!(Instant::now() < deadline, "never reached {expected}; at {} saying {}", self.path().await, self.text().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The credentials the virtual authenticator holds.
    pub async fn stored_credentials(&self, authenticator: &str) -> Vec<Value> {
        let command = WebAuthnCommand { method: http::Method::GET, path: format!("authenticator/{authenticator}/credentials"), body: None };
        let found = self.client.issue_cmd(command).await.expect("the credentials");
        found.as_array().cloned().unwrap_or_default()
    }

    /// `navigator.credentials.create` (`kind` "create") or `get` on the API's `options`, on
    /// the open page; the answer as the JSON the API takes.
    pub async fn ceremony(&self, kind: &str, options: &Value) -> Value {
        let answer = self.client.execute_async(CEREMONY, vec![json!(kind), options["publicKey"].clone()]).await.expect("the script runs");
        assert!(answer.get("error").is_none(), "the browser refused the ceremony: {answer}");
        answer
    }

    /// Clicks the button with this id and waits for the page it leads to.
    pub async fn click_and_wait(&self, id: &str) {
        let old_page = self.client.find(fantoccini::Locator::Css("html")).await.expect("a page");
        let deadline = Instant::now() + Duration::from_secs(10);
        // The passkey forms are shown by the page's script once it ran.
        let button = loop {
            let button = self.client.find(fantoccini::Locator::Id(id)).await.unwrap_or_else(|e| panic!("no #{id}: {e}"));
            if button.is_displayed().await.unwrap_or(false) {
                break button;
            }
            assert!(Instant::now() < deadline, "#{id} never showed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        button.click().await.expect("clicked");
        while old_page.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "#{id} led to no new page");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.client.wait().for_element(fantoccini::Locator::Css("body")).await.expect("the new page loads");
    }
}

/// Base64url in and out around `navigator.credentials`, written here rather than taken from
/// the page's script, so that the API is driven by the browser alone.
const CEREMONY: &str = r#"
const [kind, publicKey, done] = arguments;
const dec = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0)).buffer;
const enc = (b) => b ? btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") : null;
const strip = (v) => Array.isArray(v) ? v.map(strip) : (v && typeof v === "object") ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== null).map(([k, x]) => [k, strip(x)])) : v;
const o = strip(publicKey);
o.challenge = dec(o.challenge);
if (o.user) o.user.id = dec(o.user.id);
(o.excludeCredentials || []).concat(o.allowCredentials || []).forEach((c) => { c.id = dec(c.id); });
(kind === "create" ? navigator.credentials.create({ publicKey: o }) : navigator.credentials.get({ publicKey: o }))
  .then((c) => {
    const r = c.response;
    const response = { clientDataJSON: enc(r.clientDataJSON) };
    if (kind === "create") { response.attestationObject = enc(r.attestationObject); response.transports = r.getTransports(); }
    else { response.authenticatorData = enc(r.authenticatorData); response.signature = enc(r.signature); response.userHandle = enc(r.userHandle); }
    done({ id: c.id, rawId: enc(c.rawId), type: c.type, response, extensions: c.getClientExtensionResults() });
  })
  .catch((e) => done({ error: String(e) }));
"#;

impl Browser {
    /// Makes the open tab's pages see `prefers-color-scheme: scheme` (Chromium's
    /// Emulation.setEmulatedMedia, through chromedriver's CDP passthrough).
    pub async fn prefer_color_scheme(&self, scheme: &str) {
        let body =
            json!({ "cmd": "Emulation.setEmulatedMedia", "params": { "features": [{ "name": "prefers-color-scheme", "value": scheme }] } });
        let command = WebAuthnCommand { method: http::Method::POST, path: "goog/cdp/execute".into(), body: Some(body) };
        self.client.issue_cmd(command).await.expect("the colour scheme is emulated");
    }
}
