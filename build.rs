//! Tells the tests whether this machine has the tools the browser and protocol-client
//! tests need (scripts/test-deps.sh installs them). Without them those tests are marked
//! ignored, so `cargo test` says so in its summary instead of counting them as passed.
//! Under CI=true they always run, and a missing tool fails them.

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
        && target.join("oidc-node/node_modules/express-session").is_dir();
    if tools || ci {
        println!("cargo::rustc-cfg=test_tools");
    }
}
