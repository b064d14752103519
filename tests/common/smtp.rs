//! A small SMTP server on loopback for the mail tests: it speaks enough of RFC 5321
//! (220, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for lettre, without TLS, keeps what
//! it receives, and can refuse transactions with 451 to exercise the retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, Notify};

/// One message as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// The message after dot-unstuffing, transfer encodings still in place.
    pub data: String,
}

impl Received {
    /// The text with quoted-printable soft breaks and escapes undone, so links read whole.
    pub fn decoded(&self) -> String {
        decode_quoted_printable(&self.data)
    }
}

#[derive(Clone)]
pub struct SmtpServer {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    refusing: Arc<AtomicBool>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl SmtpServer {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("SMTP listener");
        let port = listener.local_addr().expect("address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let refusing = Arc::new(AtomicBool::new(false));
        let (r, a, f) = (received.clone(), arrived.clone(), refusing.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (r, a, f) = (r.clone(), a.clone(), f.clone());
                tokio::spawn(async move {
                    let _ = converse(stream, r, a, f).await;
                });
            }
        });
        Self { port, received, arrived, refusing, task: Arc::new(task) }
    }

    /// `smtp://127.0.0.1:PORT`: plain SMTP, no TLS (lettre's URL without `tls=`).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// While on, every MAIL FROM answers 451 (try again later).
    pub fn refuse(&self, on: bool) {
        self.refusing.store(on, Ordering::SeqCst);
    }

    pub async fn received(&self) -> Vec<Received> {
        self.received.lock().await.clone()
    }

    /// Waits until at least `count` messages have arrived; panics after `within`.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.arrived.notified();
            let now = self.received().await;
            if now.len() >= count {
                return now;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("expected {count} mails within {within:?}, got {}", self.received().await.len());
            }
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

async fn converse(
    stream: TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    arrived: Arc<Notify>,
    refusing: Arc<AtomicBool>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 test.localhost ESMTP ready\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_string();
        let verb = command.split([' ', ':']).next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-test.localhost\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" => b"250 test.localhost\r\n",
            "MAIL" if refusing.load(Ordering::SeqCst) => b"451 4.3.0 try again later\r\n",
            "MAIL" => {
                from = address_of(&command);
                to.clear();
                b"250 2.1.0 ok\r\n"
            }
            "RCPT" => {
                to.push(address_of(&command));
                b"250 2.1.5 ok\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                received.lock().await.push(Received { from: from.clone(), to: to.clone(), data });
                arrived.notify_waiters();
                b"250 2.0.0 queued\r\n"
            }
            "RSET" => {
                from.clear();
                to.clear();
                b"250 2.0.0 ok\r\n"
            }
            "NOOP" => b"250 2.0.0 ok\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not recognised\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// `MAIL FROM:<a@b> SIZE=1` -> `a@b`.
fn address_of(command: &str) -> String {
    command.split('<').nth(1).and_then(|rest| rest.split('>').next()).unwrap_or("").to_string()
}

/// Undoes quoted-printable: soft line breaks (`=` at a line end) and `=XX` escapes.
pub fn decode_quoted_printable(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes[i + 1..].starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            if bytes[i + 1..].starts_with(b"\n") {
                i += 2;
                continue;
            }
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The token of the first `{path}?token=` link in a decoded message.
pub fn token_in(message: &str, path: &str) -> Option<String> {
    let marker = format!("/{path}?token=");
    let start = message.find(&marker)? + marker.len();
    let token: String = message[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect();
    (!token.is_empty()).then_some(token)
}

impl super::TestApp {
    /// A server that sends its mail to `smtp`, looks at the queue every second and retries
    /// after a second; links start with `https://gatehouse.test`.
    pub async fn spawn_with_smtp(smtp: &SmtpServer, adjust: impl FnOnce(&mut gatehouse::config::Config)) -> Self {
        let url = smtp.url();
        Self::spawn_with(|config| {
            smtp_settings(config, &url);
            adjust(config);
        })
        .await
    }
}

/// The settings of [`super::TestApp::spawn_with_smtp`], for servers started otherwise.
pub fn smtp_settings(config: &mut gatehouse::config::Config, url: &str) {
    config.smtp_url = Some(gatehouse::config::SmtpUrl::parse(url).expect("SMTP URL"));
    config.public_url = Some("https://gatehouse.test".into());
    config.mail_poll_interval = 1;
    config.mail_retry_base = 1;
}

/// Waits for the `count`-th mail and returns the token of its `path` link.
pub async fn nth_token(smtp: &SmtpServer, count: usize, path: &str) -> (Received, String) {
    let mail = smtp.wait_for(count, Duration::from_secs(20)).await.swap_remove(count - 1);
    let token = token_in(&mail.decoded(), path).unwrap_or_else(|| panic!("a {path} link in {}", mail.decoded()));
    (mail, token)
}
