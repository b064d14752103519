//! The `gatehouse` binary end to end: subcommands against a fresh SQLite file, and the
//! server then answering over HTTP for what they did.

mod common;

pub const STORE: common::StoreKind = common::StoreKind::Sqlite;

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use reqwest::StatusCode;
use serde_json::Value;

use common::{PASSWORD, TestApp};

#[path = "cli/setup.rs"]
mod setup;
#[path = "cli/webhook_commands.rs"]
mod webhook_commands;

/// A scratch directory with its own database; the binary runs inside it, so no `.env`
/// from elsewhere is read.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn database_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("gatehouse.db").display())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        cmd.args(args).current_dir(self.dir.path()).env("GATEHOUSE_DATABASE_URL", self.database_url()).env("GATEHOUSE_LOG", "warn");
        for (name, _) in std::env::vars() {
            if name.starts_with("GATEHOUSE_") && name != "GATEHOUSE_DATABASE_URL" && name != "GATEHOUSE_LOG" {
                cmd.env_remove(name);
            }
        }
        cmd
    }

    fn run(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Output {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied()).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("gatehouse runs");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin written");
        child.wait_with_output().expect("gatehouse exits")
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn migrate_creates_the_database_and_exits_zero() {
    let scratch = Scratch::new();

    let output = scratch.run(&["migrate"], "", &[]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("up to date"));
    assert!(scratch.dir.path().join("gatehouse.db").exists());
    let again = scratch.run(&["migrate"], "", &[]);
    assert!(again.status.success(), "migrating twice is fine: {}", stderr(&again));
}

#[tokio::test]
async fn user_create_reads_the_password_from_stdin_and_the_admin_then_logs_in_over_http() {
    let scratch = Scratch::new();

    let output = scratch.run(&["user", "create", "root-admin", "--email", "root@example.com", "--admin"], &format!("{PASSWORD}\n"), &[]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("root-admin"));
    assert!(!stdout(&output).contains(PASSWORD) && !stderr(&output).contains(PASSWORD), "the password is never echoed");
    let url = scratch.database_url();
    let app = TestApp::spawn_with(|c| c.database_url = url).await;
    let res = app.post_login("ROOT-ADMIN", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    let pair: Value = res.json().await.expect("json");
    assert_eq!(pair["user"]["roles"], serde_json::json!(["admin", "user"]));
    assert_eq!(pair["user"]["email"], "root@example.com");
}

#[test]
fn user_create_refuses_a_weak_password_or_a_taken_name_with_a_message() {
    let scratch = Scratch::new();

    let weak = scratch.run(&["user", "create", "alice"], "password\n", &[]);
    let first = scratch.run(&["user", "create", "alice"], &format!("{PASSWORD}\n"), &[]);
    let taken = scratch.run(&["user", "create", "ALICE"], &format!("{PASSWORD}\n"), &[]);
    let empty = scratch.run(&["user", "create", "bob"], "", &[]);

    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("password"), "{}", stderr(&weak));
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!taken.status.success());
    assert!(stderr(&taken).contains("taken") || stderr(&taken).contains("Username"), "{}", stderr(&taken));
    assert!(!empty.status.success());
}

#[test]
fn keys_rotate_adds_an_active_key_of_each_kind_and_keys_list_shows_the_retired_ones() {
    let scratch = Scratch::new();

    let first = scratch.run(&["keys", "rotate"], "", &[]);
    let second = scratch.run(&["keys", "rotate"], "", &[]);
    let list = scratch.run(&["keys", "list"], "", &[]);

    assert!(first.status.success() && second.status.success(), "{}", stderr(&second));
    assert!(list.status.success(), "{}", stderr(&list));
    let listing = stdout(&list);
    let rows: Vec<&str> = listing.lines().skip(1).filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(rows.len(), 4, "an Ed25519 and an RSA key each time: {listing}");
    for alg in ["EdDSA", "RS256"] {
        let of_alg: Vec<&&str> = rows.iter().filter(|r| r.contains(alg)).collect();
        assert_eq!(of_alg.iter().filter(|r| r.contains("active")).count(), 1, "{listing}");
        assert_eq!(of_alg.iter().filter(|r| r.contains("retired")).count(), 1, "{listing}");
    }
}

#[tokio::test]
async fn a_key_rotated_by_the_cli_is_used_by_a_server_started_after_it_and_old_tokens_still_verify() {
    let scratch = Scratch::new();
    let url = scratch.database_url();
    let app = TestApp::spawn_with(|c| c.database_url = url).await;
    let alice = app.user("alice").await;

    let output = scratch.run(&["keys", "rotate"], "", &[]);
    app.state.tokens.reload().await.expect("reloaded");

    assert!(output.status.success(), "{}", stderr(&output));
    let new_kid = stdout(&output).split_whitespace().nth(3).expect("kid in the output").trim_end_matches(';').to_string();
    let jwks: Value = app.get("/.well-known/jwks.json", None).await.json().await.expect("jwks");
    let ed25519 = jwks["keys"].as_array().expect("keys").iter().filter(|k| k["alg"] == "EdDSA").count();
    assert_eq!(ed25519, 2, "the old key stays published beside the new one");
    assert_eq!(app.get_me(&alice.access).await.status(), StatusCode::OK);
    let fresh = app.login("alice", PASSWORD).await;
    let header = fresh.access.split('.').next().expect("header");
    use base64::Engine as _;
    let header: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(header).expect("b64")).expect("json");
    assert_eq!(header["kid"], new_kid.as_str());
}

#[test]
fn a_bad_setting_value_stops_with_a_message_naming_the_setting() {
    let scratch = Scratch::new();

    let output = scratch.run(&["migrate"], "", &[("GATEHOUSE_ACCESS_TTL", "abc")]);

    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("GATEHOUSE_ACCESS_TTL"), "{message}");
    assert!(message.contains("abc"), "{message}");
}

#[test]
fn a_template_quota_of_zero_or_not_a_number_stops_the_start() {
    let scratch = Scratch::new();

    let count = scratch.run(&["migrate"], "", &[("GATEHOUSE_TEMPLATES_MAX_COUNT", "0")]);
    let bytes = scratch.run(&["migrate"], "", &[("GATEHOUSE_TEMPLATES_MAX_BYTES", "16MiB")]);

    assert!(!count.status.success() && !bytes.status.success());
    assert!(stderr(&count).contains("GATEHOUSE_TEMPLATES_MAX_COUNT"), "{}", stderr(&count));
    assert!(stderr(&bytes).contains("GATEHOUSE_TEMPLATES_MAX_BYTES"), "{}", stderr(&bytes));
}

#[test]
fn bad_mail_settings_stop_the_start_without_printing_smtp_credentials() {
    let scratch = Scratch::new();

    let smtp = scratch.run(&["migrate"], "", &[("GATEHOUSE_SMTP_URL", "http://mailer:smtp-pass-77@mail.example.com")]);
    let from = scratch.run(&["migrate"], "", &[("GATEHOUSE_MAIL_FROM", "not an address")]);

    assert!(!smtp.status.success() && !from.status.success());
    let message = stderr(&smtp);
    assert!(message.contains("GATEHOUSE_SMTP_URL") && message.contains("smtp://"), "{message}");
    assert!(!message.contains("smtp-pass-77"), "the credentials are never printed: {message}");
    assert!(stderr(&from).contains("GATEHOUSE_MAIL_FROM"), "{}", stderr(&from));
}

#[test]
fn a_jwt_secret_under_32_bytes_is_refused_at_start() {
    let scratch = Scratch::new();

    let output = scratch.run(&["migrate"], "", &[("GATEHOUSE_JWT_SECRET", "too-short")]);

    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains("GATEHOUSE_JWT_SECRET") && message.contains("32 bytes"), "{message}");
    assert!(!message.contains("too-short"), "the secret itself is never printed: {message}");
}

#[test]
fn a_setting_in_a_dot_env_file_is_read_and_its_bad_value_refused() {
    let scratch = Scratch::new();
    std::fs::write(scratch.dir.path().join(".env"), "GATEHOUSE_REFRESH_REUSE_GRACE=forever\n").expect(".env written");

    let output = scratch.run(&["migrate"], "", &[]);

    assert!(!output.status.success());
    assert!(stderr(&output).contains("GATEHOUSE_REFRESH_REUSE_GRACE"), "{}", stderr(&output));
}

#[tokio::test]
async fn keys_rotate_replaces_the_ed25519_and_the_rsa_key_together_and_records_both_kids() {
    let scratch = Scratch::new();
    assert!(scratch.run(&["migrate"], "", &[]).status.success());

    let rotated = scratch.run(&["keys", "rotate"], "", &[]);

    assert!(rotated.status.success(), "{}", stderr(&rotated));
    let store = gatehouse::store::connect(&scratch.database_url()).await.expect("store");
    let query =
        gatehouse::store::AuditQuery { page: 1, per_page: 10, kind: Some(gatehouse::store::AuditType::KeysRotated), ..Default::default() };
    let events = store.list_audit(&query).await.expect("audit").items;
    assert_eq!(events.len(), 1);
    let kid = events[0].detail["kid"].as_str().expect("kid");
    let rsa_kid = events[0].detail["rsa_kid"].as_str().expect("rsa_kid");
    assert!(stdout(&rotated).contains(kid) && stdout(&rotated).contains(rsa_kid), "{}", stdout(&rotated));
    assert_eq!(events[0].actor_id, None);
    let keys = store.signing_keys().await.expect("keys");
    let active: Vec<(&str, &str)> =
        keys.iter().filter(|k| k.retired_at.is_none()).map(|k| (k.algorithm.as_str(), k.kid.as_str())).collect();
    assert!(active.contains(&("EdDSA", kid)) && active.contains(&("RS256", rsa_kid)), "{active:?}");

    // A second rotation retires both: one active key per algorithm.
    assert!(scratch.run(&["keys", "rotate"], "", &[]).status.success());
    let keys = store.signing_keys().await.expect("keys");
    assert_eq!(keys.iter().filter(|k| k.retired_at.is_none()).count(), 2);
    assert!(keys.iter().any(|k| k.kid == rsa_kid && k.retired_at.is_some()));
}

#[test]
fn migrate_dry_run_on_a_database_not_made_yet_lists_every_migration_and_creates_nothing() {
    let scratch = Scratch::new();

    let output = scratch.run(&["migrate", "--dry-run"], "", &[]);

    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("would create it and run") && stdout(&output).contains("core"), "{}", stdout(&output));
    assert!(!scratch.dir.path().join("gatehouse.db").exists(), "a dry run changes nothing");
}

#[test]
fn backup_on_postgres_prints_a_private_pg_dump_command_without_the_password_and_makes_no_file() {
    let scratch = Scratch::new();
    let url = "postgres://gate:s3cret-pass@db.internal:5432/gatehouse";

    let output = scratch.run(&["backup", "out.dump"], "", &[("GATEHOUSE_DATABASE_URL", url)]);

    assert!(!output.status.success(), "no backup was made, so no success");
    assert!(
        stdout(&output).contains("pg_dump --format=custom --file=out.dump 'postgres://gate@db.internal:5432/gatehouse'"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("(umask 077 && pg_dump"), "the dump is made readable by its owner only: {}", stdout(&output));
    assert!(!stdout(&output).contains("s3cret") && !stderr(&output).contains("s3cret"), "the password is never printed");
    assert!(!scratch.dir.path().join("out.dump").exists());
}

#[test]
fn client_create_prints_the_client_with_its_secret_once_and_list_show_rotate_delete_find_it() {
    let scratch = Scratch::new();
    let args =
        ["client", "create", "Photo app", "--redirect-uri", "https://photos.example.com/cb", "--scope", "openid", "--scope", "email"];
    let out = scratch.run(&args, "", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let created: Value = serde_json::from_str(stdout(&out).trim()).expect("one JSON object");
    let client_id = created["client_id"].as_str().expect("client_id").to_string();
    let secret = created["client_secret"].as_str().expect("a secret, this once").to_string();
    assert_eq!(created["scopes"], serde_json::json!(["openid", "email"]));
    assert!(stderr(&out).contains("shown this once"));

    let listed = stdout(&scratch.run(&["client", "list"], "", &[]));
    assert!(listed.contains(&client_id) && !listed.contains(&secret), "{listed}");
    let shown: Value = serde_json::from_str(stdout(&scratch.run(&["client", "show", &client_id], "", &[])).trim()).expect("JSON");
    assert_eq!(shown["id"], created["id"]);
    let rotated: Value =
        serde_json::from_str(stdout(&scratch.run(&["client", "rotate-secret", &client_id], "", &[])).trim()).expect("JSON");
    assert_ne!(rotated["client_secret"].as_str().expect("new secret"), secret);

    let bad = scratch.run(&["client", "create", "x", "--redirect-uri", "http://evil.example.com/cb"], "", &[]);
    assert!(!bad.status.success() && stderr(&bad).contains("redirect_uris[0]"), "{}", stderr(&bad));
    let api = scratch.run(
        &["client", "create", "API app", "--redirect-uri", "https://a.example.com/cb", "--resource", "https://api.example.com"],
        "",
        &[],
    );
    let with_resource: Value = serde_json::from_str(stdout(&api).trim()).expect("one JSON object");
    assert_eq!(with_resource["resources"], serde_json::json!(["https://api.example.com"]));
    let bad = scratch.run(&["client", "create", "x", "--redirect-uri", "https://a.example.com/cb", "--resource", "gatehouse"], "", &[]);
    assert!(!bad.status.success() && stderr(&bad).contains("resources[0]"), "{}", stderr(&bad));
    let deleted = scratch.run(&["client", "delete", created["id"].as_str().expect("id")], "", &[]);
    assert!(deleted.status.success() && stdout(&deleted).contains("deleted client"), "{}", stderr(&deleted));
    assert!(!scratch.run(&["client", "show", &client_id], "", &[]).status.success(), "gone");
}

#[cfg(unix)]
#[tokio::test]
async fn copy_with_force_to_the_configured_sqlite_file_spelled_differently_is_refused_and_empties_nothing() {
    let scratch = Scratch::new();
    let created = scratch.run(&["user", "create", "alice"], &format!("{PASSWORD}\n"), &[]);
    assert!(created.status.success(), "{}", stderr(&created));
    std::os::unix::fs::symlink(scratch.dir.path().join("gatehouse.db"), scratch.dir.path().join("link.db")).expect("a link");

    for to in ["sqlite://./gatehouse.db", "sqlite:gatehouse.db?mode=rwc", "sqlite://link.db"] {
        let output = scratch.run(&["copy", "--to", to, "--force"], "", &[]);
        assert!(!output.status.success(), "{to} is the configured database");
        assert!(stderr(&output).contains("the configured database itself"), "{to}: {}", stderr(&output));
    }

    let url = scratch.database_url();
    let app = TestApp::spawn_with(|c| c.database_url = url).await;
    assert_eq!(app.post_login("alice", PASSWORD).await.status(), StatusCode::OK, "the database kept its users");
}

#[test]
fn provider_add_reads_the_secret_from_stdin_seals_it_and_list_show_remove_never_print_it() {
    let scratch = Scratch::new();
    let secret = "gh-client-secret-never-shown";
    let args = ["provider", "add", "github", "--kind", "github", "--name", "GitHub", "--client-id", "Iv1.cli"];

    let added = scratch.run(&args, &format!("{secret}\n"), &[]);

    assert!(added.status.success(), "{}", stderr(&added));
    let provider: Value = serde_json::from_str(stdout(&added).trim()).expect("JSON");
    assert_eq!(provider["slug"], "github");
    assert_eq!(provider["scopes"], serde_json::json!(["read:user", "user:email"]));
    assert!(stderr(&added).contains("/login/github/callback"), "names the redirect URI to register");
    let database = std::fs::read(scratch.dir.path().join("gatehouse.db")).expect("database");
    assert!(!database.windows(secret.len()).any(|w| w == secret.as_bytes()), "sealed, not in the clear");
    let key_file = scratch.dir.path().join("gatehouse-secrets.key");
    assert_eq!(gatehouse::files::shared_mode(&key_file), None, "the key file is its owner's only");
    for args in [&["provider", "list"][..], &["provider", "show", "github"]] {
        let shown = scratch.run(args, "", &[]);
        assert!(shown.status.success());
        assert!(stdout(&shown).contains("Iv1.cli") && !stdout(&shown).contains(secret));
    }
    let taken = scratch.run(&args, &format!("{secret}\n"), &[]);
    assert!(!taken.status.success() && stderr(&taken).contains("already in use"), "{}", stderr(&taken));
    let removed = scratch.run(&["provider", "remove", "github"], "", &[]);
    assert!(removed.status.success());
    assert!(!scratch.run(&["provider", "show", "github"], "", &[]).status.success());
}

#[test]
fn the_org_commands_create_list_show_add_and_remove_members_keep_the_last_owner_and_delete() {
    let scratch = Scratch::new();
    for name in ["alice", "bob"] {
        assert!(scratch.run(&["user", "create", name], &format!("{PASSWORD}\n"), &[]).status.success(), "user {name}");
    }

    let created = scratch.run(&["org", "create", "acme", "Acme Corporation", "--owner", "alice"], "", &[]);
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("\"slug\":\"acme\""), "{}", stdout(&created));
    let added = scratch.run(&["org", "add-member", "acme", "bob", "--role", "billing"], "", &[]);
    assert!(stdout(&added).contains("bob is a member of acme with roles billing, member"), "{}", stderr(&added));
    let shown = stdout(&scratch.run(&["org", "show", "acme"], "", &[]));
    assert!(shown.contains("\"username\":\"alice\"") && shown.contains("\"owner\"") && shown.contains("\"username\":\"bob\""), "{shown}");
    assert!(stdout(&scratch.run(&["org", "list"], "", &[])).contains("Acme Corporation"));

    let last_owner = scratch.run(&["org", "remove-member", "acme", "alice"], "", &[]);
    assert!(!last_owner.status.success());
    assert!(stderr(&last_owner).contains("last owner"), "{}", stderr(&last_owner));
    let duplicate = scratch.run(&["org", "create", "acme", "Again", "--owner", "bob"], "", &[]);
    assert!(!duplicate.status.success() && stderr(&duplicate).contains("slug"), "{}", stderr(&duplicate));
    assert!(scratch.run(&["org", "remove-member", "acme", "bob"], "", &[]).status.success());
    assert!(scratch.run(&["org", "delete", "acme"], "", &[]).status.success());
    assert!(!scratch.run(&["org", "show", "acme"], "", &[]).status.success(), "gone after delete");
}
