//! A real browser for the page tests: the distribution's Chromium, driven through its
//! chromedriver over WebDriver (fantoccini), headless, one driver per test.
//!
//! Without Chromium or chromedriver a test says so loudly and passes without running;
//! under CI=true that is a failure instead (.ci/run installs both).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn find(names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| {
        let out = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port()
}

/// A headless Chromium, or `None` (after saying why) when this machine has none.
pub async fn open() -> Option<Browser> {
    let (Some(chromium), Some(driver)) = (find(&["chromium", "chromium-browser", "google-chrome"]), find(&["chromedriver"])) else {
        assert!(std::env::var("CI").is_err(), "CI=true: Chromium and chromedriver must be installed for the browser tests");
        eprintln!(
            "\n*** SKIPPED: no Chromium or chromedriver on this machine; `apt-get install chromium chromium-driver` runs the browser tests ***\n"
        );
        return None;
    };
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let mut browser_driver = Some(child);
    let url = format!("http://127.0.0.1:{port}");
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"],
        },
    });
    let Value::Object(capabilities) = capabilities else { unreachable!() };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
            Ok(client) => return Some(Browser { client, driver: browser_driver.take().expect("the driver") }),
            Err(err) => {
                assert!(Instant::now() < deadline, "no WebDriver session from chromedriver: {err}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

impl Browser {
    /// Signs in through the sign-in page.
    pub async fn sign_in(&self, app: &super::TestApp, login: &str, password: &str) {
        self.goto(&app.page("/login")).await;
        self.fill("username", login).await;
        self.fill("password", password).await;
        self.press("Sign in").await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    /// Types into the field labelled by `id`, replacing what it held.
    pub async fn fill(&self, id: &str, value: &str) {
        let field = self.client.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("no field #{id}: {e}"));
        field.clear().await.expect("cleared");
        field.send_keys(value).await.expect("typed");
    }

    /// Clicks the button whose text is `label` (the first one on the page) and waits for
    /// the page it leads to (the old document gone, the new one loaded).
    pub async fn press(&self, label: &str) {
        let old_page = self.client.find(Locator::Css("html")).await.expect("a page");
        let xpath = format!("//button[normalize-space()='{label}']");
        self.client
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {label:?}: {e}"))
            .click()
            .await
            .expect("clicked");
        let deadline = Instant::now() + Duration::from_secs(10);
        while old_page.tag_name().await.is_ok() {
            assert!(Instant::now() < deadline, "pressing {label:?} led to no new page");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.client.wait().for_element(Locator::Css("body")).await.expect("the new page loads");
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("a URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The visible text of the page's main part.
    pub async fn text(&self) -> String {
        self.client.find(Locator::Css("main")).await.expect("a main element").text().await.expect("its text")
    }

    pub async fn screenshot(&self, file: &std::path::Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(file, png).expect("the screenshot is written");
    }

    pub async fn close(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        let _ = self.driver.kill();
    }
}

/// axe-core's script: GATEHOUSE_AXE_JS, else `target/axe/package/axe.min.js` (where .ci/run
/// unpacks `npm pack axe-core@4`); `None`, said loudly, when neither is there.
pub fn axe_script() -> Option<String> {
    let path = std::env::var("GATEHOUSE_AXE_JS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/axe/package/axe.min.js"));
    match std::fs::read_to_string(&path) {
        Ok(script) => Some(script),
        Err(_) => {
            assert!(std::env::var("CI").is_err(), "CI=true: axe-core must be at {}", path.display());
            eprintln!(
                "\n*** SKIPPED: no axe-core at {}; `mkdir -p target/axe && cd target/axe && npm pack axe-core@4 && tar xzf axe-core-*.tgz` ***\n",
                path.display()
            );
            None
        }
    }
}

impl Browser {
    /// The serious and critical accessibility violations axe-core finds on the open page.
    pub async fn accessibility_violations(&self, axe: &str) -> Vec<String> {
        self.client.execute(&format!("{axe}\nreturn true;"), vec![]).await.expect("axe-core loads");
        let found = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1]; \
                 axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length })))).catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: 0 }]));",
                vec![],
            )
            .await
            .expect("axe-core runs");
        found
            .as_array()
            .into_iter()
            .flatten()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| format!("{} ({}): {} on {} element(s)", v["id"], v["impact"], v["help"], v["nodes"]))
            .collect()
    }

    /// Whether the open page needs horizontal scrolling at the window's width.
    pub async fn overflows_sideways(&self) -> bool {
        let wide = self.client.execute("return document.documentElement.scrollWidth > window.innerWidth;", vec![]).await.expect("measured");
        wide.as_bool().unwrap_or(true)
    }
}
