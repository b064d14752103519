//! The operator's commands around the server: `healthcheck`, `config check`,
//! `completions`, `man`, `--version`, `user set-password`, and how errors, colours and
//! help come out.

use reqwest::StatusCode;

use super::{Scratch, stderr, stdout};
use crate::common::{PASSWORD, TestApp};

/// A loopback port nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[tokio::test]
async fn healthcheck_exits_zero_while_the_server_answers_and_one_when_nothing_listens() {
    let scratch = Scratch::new();
    let app = TestApp::spawn().await;
    let port = app.addr.port().to_string();

    // A server bound to every address is asked over loopback.
    let (healthy, down) = tokio::task::spawn_blocking(move || {
        let healthy = scratch.run(&["healthcheck"], "", &[("GATEHOUSE_BIND", &format!("0.0.0.0:{port}"))]);
        let closed = format!("127.0.0.1:{}", closed_port());
        (healthy, scratch.run(&["healthcheck", "--timeout", "2"], "", &[("GATEHOUSE_BIND", &closed)]))
    })
    .await
    .expect("ran");
    let port = app.addr.port();

    assert!(healthy.status.success(), "{}", stderr(&healthy));
    assert!(stdout(&healthy).contains(&format!("http://127.0.0.1:{port}/health")), "{}", stdout(&healthy));
    assert_eq!(down.status.code(), Some(1));
    assert!(stderr(&down).contains("unhealthy"), "{}", stderr(&down));
}

#[tokio::test]
async fn healthcheck_fails_when_health_answers_anything_but_200() {
    let scratch = Scratch::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let unhealthy = axum::Router::new().route("/health", axum::routing::get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "down") }));
    tokio::spawn(async move { axum::serve(listener, unhealthy).await });

    let bind = format!("127.0.0.1:{port}");
    let output = tokio::task::spawn_blocking(move || scratch.run(&["healthcheck"], "", &[("GATEHOUSE_BIND", &bind)])).await.expect("ran");

    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("503"), "{}", stderr(&output));
}

#[test]
fn config_check_prints_every_setting_with_its_source_and_hides_secrets() {
    let scratch = Scratch::new();
    let env = [
        ("GATEHOUSE_DATABASE_URL", "postgres://gatehouse:db-pass-31@db.internal/gatehouse"),
        ("GATEHOUSE_JWT_SECRET", "a-signing-secret-of-more-than-32-bytes"),
        ("GATEHOUSE_SMTP_URL", "smtps://mailer:smtp-pass-31@mail.internal"),
        ("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"),
    ];

    let output = scratch.run(&["config", "check", "--access-ttl", "600"], "", &env);

    assert!(output.status.success(), "{}", stderr(&output));
    let shown = stdout(&output);
    for secret in ["db-pass-31", "a-signing-secret", "smtp-pass-31"] {
        assert!(!shown.contains(secret) && !stderr(&output).contains(secret), "{secret} is printed: {shown}");
    }
    let line = |name: &str| shown.lines().find(|l| l.split_whitespace().next() == Some(name)).unwrap_or_default().to_string();
    assert!(line("GATEHOUSE_DATABASE_URL").contains("postgres://***@db.internal/gatehouse"), "{shown}");
    assert!(line("GATEHOUSE_JWT_SECRET").contains("(hidden)"), "{shown}");
    assert!(line("GATEHOUSE_SMTP_URL").contains("mail.internal"), "{shown}");
    assert!(line("GATEHOUSE_ACCESS_TTL").contains("flag") && line("GATEHOUSE_ACCESS_TTL").ends_with("600"), "{shown}");
    assert!(line("GATEHOUSE_PUBLIC_URL").contains("env"), "{shown}");
    assert!(line("GATEHOUSE_REFRESH_TTL").contains("default"), "{shown}");
    assert!(shown.contains("issuer: https://auth.example.com"), "{shown}");
    assert!(!scratch.dir.path().join("gatehouse.db").exists(), "the database is not opened");
}

#[test]
fn config_check_refuses_a_bad_value_or_a_missing_template_folder_with_one_clear_message() {
    let scratch = Scratch::new();

    let bad = scratch.run(&["config", "check"], "", &[("GATEHOUSE_REFRESH_TTL", "a month")]);
    let missing = scratch.run(&["config", "check"], "", &[("GATEHOUSE_MAIL_TEMPLATES", "no-such-folder")]);

    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("GATEHOUSE_REFRESH_TTL") && stderr(&bad).contains("a month"), "{}", stderr(&bad));
    assert_eq!(missing.status.code(), Some(1));
    assert_eq!(stderr(&missing).matches("no-such-folder").count(), 1, "printed once: {}", stderr(&missing));
}

#[test]
fn an_error_is_printed_once_and_log_lines_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let scratch = Scratch::new();

    let failed = scratch.run(&["user", "disable", "nobody"], "", &[("GATEHOUSE_LOG", "info")]);
    // Passkeys cannot work on an IP address: a warning is logged.
    let warned = scratch.run(&["config", "check"], "", &[("GATEHOUSE_PUBLIC_URL", "http://127.0.0.1:8080")]);

    assert!(!failed.status.success());
    let message = stderr(&failed);
    assert_eq!(message.matches("no user named \"nobody\"").count(), 1, "{message}");
    let log = stderr(&warned);
    assert!(log.contains("WARN") && log.contains("passkeys are off"), "{log}");
    assert!(!log.contains('\u{1b}') && !message.contains('\u{1b}'), "no ANSI escape codes: {log:?}");
}

#[test]
fn version_names_the_crate_version_and_the_commit_it_was_built_from() {
    let scratch = Scratch::new();

    let output = scratch.run(&["--version"], "", &[]);

    let shown = stdout(&output);
    assert!(shown.starts_with(&format!("gatehouse {} (commit ", env!("CARGO_PKG_VERSION"))), "{shown}");
    let head = std::process::Command::new("git").args(["rev-parse", "--short", "HEAD"]).current_dir(env!("CARGO_MANIFEST_DIR")).output();
    let expected = match head {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => "unknown".to_string(),
    };
    assert!(shown.trim_end().ends_with(&format!("(commit {expected})")), "{shown} is not built from {expected}");
}

#[test]
fn completions_for_bash_zsh_and_fish_and_the_man_page_name_the_subcommands() {
    let scratch = Scratch::new();

    let bash = scratch.run(&["completions", "bash"], "", &[]);
    let zsh = scratch.run(&["completions", "zsh"], "", &[]);
    let fish = scratch.run(&["completions", "fish"], "", &[]);
    let man = scratch.run(&["man"], "", &[]);

    for output in [&bash, &zsh, &fish, &man] {
        assert!(output.status.success(), "{}", stderr(output));
        assert!(stdout(output).contains("healthcheck"), "{}", stdout(output));
    }
    assert!(stdout(&zsh).starts_with("#compdef gatehouse"));
    assert!(stdout(&fish).contains("complete -c gatehouse"));
    assert!(stdout(&man).starts_with(".ie") || stdout(&man).contains(".TH gatehouse"), "{}", stdout(&man));
    let script = scratch.dir.path().join("gatehouse.bash");
    std::fs::write(&script, stdout(&bash)).expect("written");
    let syntax = std::process::Command::new("bash").arg("-n").arg(&script).output().expect("bash runs");
    assert!(syntax.status.success(), "the bash script parses: {}", stderr(&syntax));
}

#[test]
fn a_subcommands_help_shows_its_own_options_before_the_server_settings() {
    let scratch = Scratch::new();

    let output = scratch.run(&["user", "list", "--help"], "", &[]);

    let help = stdout(&output);
    let own = help.find("--query").expect("its own option");
    let heading = help.find("Server settings:").expect("the settings' heading");
    let setting = help.find("--database-url").expect("a setting");
    assert!(own < heading && heading < setting, "{help}");
}

#[tokio::test]
async fn user_set_password_takes_stdin_under_the_api_rules_and_signs_the_user_out_with_an_audit_event() {
    let scratch = Scratch::new();
    let url = scratch.database_url();
    let app = TestApp::spawn_with(|c| c.database_url = url).await;
    let alice = app.user("alice").await;
    let new = "a fresh and long passphrase 31";

    // The scratch folder (which holds the database) comes back, to outlive the server.
    let (weak, set, _scratch) = tokio::task::spawn_blocking(move || {
        let weak = scratch.run(&["user", "set-password", "alice"], "password\n", &[]);
        let set = scratch.run(&["user", "set-password", "alice"], &format!("{new}\n"), &[]);
        (weak, set, scratch)
    })
    .await
    .expect("ran");

    assert_eq!(weak.status.code(), Some(1));
    assert!(stderr(&weak).contains("password"), "{}", stderr(&weak));
    assert!(set.status.success(), "{}", stderr(&set));
    assert!(!stdout(&set).contains(new) && !stderr(&set).contains(new), "the password is never echoed");
    assert_eq!(app.post_refresh(&alice.refresh).await.status(), StatusCode::UNAUTHORIZED, "the session is signed out");
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.post_login("alice", new).await.status(), StatusCode::OK);
    let query = gatehouse::store::AuditQuery { page: 1, per_page: 100, ..Default::default() };
    let events = app.state.store.list_audit(&query).await.expect("audit").items;
    let changed: Vec<_> = events.iter().filter(|e| e.kind == "password.changed").collect();
    assert_eq!(changed.len(), 1, "the weak password changed nothing: {events:?}");
    assert_eq!(changed[0].actor_id, None);
    assert_eq!(changed[0].user_id.map(|id| id.to_string()), Some(alice.id.clone()));
    assert_eq!(changed[0].detail["via"], "cli");
}
