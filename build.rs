//! Tells the tests whether this machine has the tools the browser and protocol-client
//! tests need (scripts/test-deps.sh installs them). Without them those tests are marked
//! ignored, so `cargo test` says so in its summary instead of counting them as passed.
//! Under CI=true they always run, and a missing tool fails them.
//!
//! It also names the commit the binary is built from (`GATEHOUSE_COMMIT`, shown by
//! `gatehouse --version`): `git rev-parse --short HEAD`, or `unknown` outside a checkout.

use std::path::Path;

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(name).is_file()))
}

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_tools)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rerun-if-env-changed=PATH");
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let target = Path::new("target");
    let tools = (on_path("chromium") || on_path("chromium-browser") || on_path("google-chrome"))
        && on_path("chromedriver")
        && on_path("node")
        && target.join("axe/package/axe.min.js").is_file()
        && target.join("oidc-venv/bin/python").exists()
        && target.join("oidc-node/node_modules/openid-client").is_dir()
        && target.join("oidc-node/node_modules/express-session").is_dir()
        && target.join("oidc-upstream/node_modules/oidc-provider").is_dir();
    if tools || ci {
        println!("cargo::rustc-cfg=test_tools");
    }
    commit();
}

fn git(args: &[&str]) -> Option<String> {
    let output = std::process::Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// GATEHOUSE_COMMIT, rebuilt when HEAD moves (a checkout, or a commit on its branch).
fn commit() {
    let commit = if Path::new(".git").exists() { git(&["rev-parse", "--short", "HEAD"]) } else { None };
    println!("cargo::rustc-env=GATEHOUSE_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
    if commit.is_none() {
        return;
    }
    // In a worktree `.git` is a file: ask git where HEAD and its branch live.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    }
    for path in watched.into_iter().flatten().filter(|p| Path::new(p).exists()) {
        println!("cargo::rerun-if-changed={path}");
    }
}
