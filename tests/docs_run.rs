//! Every shell block of README.md and of the guides in docs/ runs as pasted, in order, in
//! an empty folder beside a fresh server, with `gatehouse` on PATH (what `cargo install
//! --path .` does) and `curl` and `python3` from the machine. The one change made to the
//! text: the documents' port 8080 becomes the port this test's server got, so the test
//! never needs 8080 free. README's first block (the server start and the test command
//! itself) is what this test does around the others.
//!
//! Each document gets its own folder and server, and its blocks run in one bash with
//! `set -euo pipefail`, so a block that fails, or a variable a later block needs and an
//! earlier one did not set, fails the test; what the commands print is then checked.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server of one document, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A folder whose `gatehouse` is the binary under test.
fn bin_dir(root: &Path) -> PathBuf {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).expect("bin folder");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_gatehouse"), bin.join("gatehouse")).expect("gatehouse on PATH");
    bin
}

fn path_with(bin: &Path) -> String {
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// Starts `gatehouse` (serve, every setting at its default but the port) in `folder`.
fn start(folder: &Path, bin: &Path) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("address").port();
    let child = Command::new(bin.join("gatehouse"))
        .current_dir(folder)
        .env("PATH", path_with(bin))
        .env("GATEHOUSE_BIND", format!("127.0.0.1:{port}"))
        .env("GATEHOUSE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port }
}

/// The ```sh blocks of a Markdown document, in order.
fn shell_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// Runs the document's blocks (all but those `skip` picks) beside a fresh server; answers
/// what they printed.
fn run_document(relative: &str, skip: impl Fn(&str) -> bool) -> String {
    let root = tempfile::tempdir().expect("temp dir");
    let bin = bin_dir(root.path());
    let folder = root.path().join("work");
    std::fs::create_dir_all(&folder).expect("work folder");
    let server = start(&folder, &bin);
    let text = std::fs::read_to_string(repo(relative)).expect("the document");
    let blocks: Vec<String> = shell_blocks(&text).into_iter().filter(|b| !skip(b)).collect();
    assert!(!blocks.is_empty(), "{relative} has shell blocks");
    let script = format!("set -euo pipefail\n{}", blocks.join("\n")).replace(":8080", &format!(":{}", server.port));
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&folder)
        .env("PATH", path_with(&bin))
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .expect("bash runs");
    let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{relative}: a block failed ({}):\n{printed}", out.status);
    drop(server);
    printed
}

fn assert_printed(relative: &str, printed: &str, expected: &[&str]) {
    for needle in expected {
        assert!(printed.contains(needle), "{relative}: expected {needle:?} in what the blocks printed:\n{printed}");
    }
}

#[test]
fn the_readmes_quick_start_makes_an_admin_and_registers_the_flask_example() {
    let printed = run_document("README.md", |block| block.contains("cargo test"));
    assert_printed("README.md", &printed, &["\"client_id\":\"gh_", "\"client_secret\":", "offline_access", "shown this once"]);
}

#[test]
fn the_curl_tour_registers_verifies_logs_in_refreshes_logs_out_resets_and_turns_totp_on_and_off() {
    let printed = run_document("docs/tour.md", |_| false);
    assert_printed(
        "docs/tour.md",
        &printed,
        &[
            "\"username\":\"alice\"",
            "HTTP/1.1 204",
            "\"code\":\"invalid_token\"",
            "\"recovery_codes\":[",
            "\"code\":\"mfa_required\"",
            "\"mfa_token\":",
        ],
    );
    assert_eq!(printed.matches("HTTP/1.1 204").count(), 4, "verify, logout, reset and TOTP off each answer 204:\n{printed}");
}

#[test]
fn the_operations_guide_makes_an_admin_and_a_private_backup() {
    let printed = run_document("docs/operations.md", |_| false);
    assert_printed("docs/operations.md", &printed, &["root"]);
}

#[test]
fn the_openid_connect_guide_registers_a_client() {
    let printed = run_document("docs/openid-connect.md", |_| false);
    assert_printed("docs/openid-connect.md", &printed, &["\"client_id\":\"gh_", "\"redirect_uris\":[\"http://127.0.0.1:5000/callback\"]"]);
}
