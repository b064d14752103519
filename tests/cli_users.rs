//! `gatehouse user list | set-roles | disable | enable | delete | reset-mfa | passkeys |
//! remove-passkey`, run as the binary.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "correct horse battery staple";

struct Cli {
    dir: tempfile::TempDir,
    database_url: String,
}

impl Cli {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = format!("sqlite://{}", dir.path().join("gatehouse.db").display());
        Self { dir, database_url }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(args)
            .current_dir(self.dir.path())
            .env("GATEHOUSE_DATABASE_URL", &self.database_url)
            .env("GATEHOUSE_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("stdin written");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("the binary finishes")
    }

    /// Runs and expects success; returns standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(out.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and expects failure; returns standard error.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(!out.status.success(), "{args:?} should fail: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn create(&self, username: &str, admin: bool) {
        let mut args = vec!["user", "create", username];
        if admin {
            args.push("--admin");
        }
        let out = self.run(&args, Some(&format!("{PASSWORD}\n")));
        assert!(out.status.success(), "create {username}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// The line of `user list` that shows this user.
fn row<'a>(list: &'a str, username: &str) -> Option<&'a str> {
    list.lines().find(|l| l.split_whitespace().nth(1) == Some(username))
}

#[test]
fn user_subcommands_list_set_roles_disable_enable_and_delete_under_the_last_admin_rule() {
    let cli = Cli::new();
    cli.create("root", true);
    cli.create("bob", false);

    let list = cli.ok(&["user", "list"]);
    assert!(row(&list, "root").is_some_and(|r| r.contains("admin,user") && r.contains("enabled")), "{list}");
    assert!(row(&list, "bob").is_some_and(|r| r.contains(" user ")), "{list}");
    assert!(list.contains("2 user(s)"), "{list}");

    // The only admin cannot step down, be disabled or be deleted.
    for args in [&["user", "set-roles", "root", "user"][..], &["user", "disable", "root"], &["user", "delete", "root"]] {
        let err = cli.fails(args);
        assert!(err.contains("last enabled admin"), "{args:?}: {err}");
    }

    let out = cli.ok(&["user", "set-roles", "bob", "admin", "editor"]);
    assert!(out.contains("admin,editor,user"), "`user` is always kept: {out}");
    let admins = cli.ok(&["user", "list", "--role", "editor"]);
    assert!(row(&admins, "bob").is_some() && row(&admins, "root").is_none(), "{admins}");

    cli.ok(&["user", "disable", "bob"]);
    assert!(row(&cli.ok(&["user", "list"]), "bob").is_some_and(|r| r.contains("disabled")));
    cli.ok(&["user", "enable", "bob"]);
    assert!(row(&cli.ok(&["user", "list", "--query", "BO"]), "bob").is_some_and(|r| r.contains("enabled")));
    assert!(row(&cli.ok(&["user", "list", "--q", "BO"]), "bob").is_some(), "the earlier spelling still works");
    assert!(row(&cli.ok(&["user", "list", "--query", "zz-nobody"]), "bob").is_none());

    // With bob an enabled admin, root may now step down.
    cli.ok(&["user", "set-roles", "root", "user"]);
    cli.ok(&["user", "delete", "root"]);
    let list = cli.ok(&["user", "list"]);
    assert!(row(&list, "root").is_none() && list.contains("1 user(s)"), "{list}");
}

#[test]
fn user_subcommands_fail_clearly_on_unknown_users_and_bad_roles() {
    let cli = Cli::new();
    cli.create("root", true);

    for args in [
        &["user", "disable", "nobody"][..],
        &["user", "enable", "nobody"],
        &["user", "delete", "nobody"],
        &["user", "set-roles", "nobody", "editor"],
    ] {
        let err = cli.fails(args);
        assert!(err.contains("no user named \"nobody\""), "{args:?}: {err}");
    }
    let err = cli.fails(&["user", "set-roles", "root", "Not A Role"]);
    assert!(err.contains("must be 1 to 32"), "{err}");
    assert!(cli.fails(&["user", "set-roles", "root"]).contains("required"), "at least one role");
}

/// Runs `work` on the library's store of the CLI's database.
fn with_store<T>(cli: &Cli, work: impl AsyncFnOnce(gatehouse::store::DynStore) -> T) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        let store = gatehouse::store::connect(&cli.database_url).await.expect("store");
        work(store).await
    })
}

fn user_id(cli: &Cli, username: &str) -> uuid::Uuid {
    let list = cli.ok(&["user", "list"]);
    row(&list, username).and_then(|r| r.split_whitespace().next()).and_then(|id| id.parse().ok()).expect("the user's id")
}

#[test]
fn user_reset_mfa_turns_a_users_totp_off_and_records_it() {
    let cli = Cli::new();
    cli.create("root", true);
    cli.create("bob", false);
    let bob = user_id(&cli, "bob");
    with_store(&cli, async |store| {
        store.set_pending_totp(bob, &[7; 20]).await.expect("pending");
        assert!(store.enable_totp(bob, &[7; 20], 1, &[vec![1; 32]]).await.expect("enabled"));
    });

    let out = cli.ok(&["user", "reset-mfa", "bob"]);

    assert!(out.contains("TOTP turned off for bob"), "{out}");
    let (on, events) = with_store(&cli, async |store| {
        let on = store.user_by_id(bob).await.expect("read").expect("bob").mfa_enabled;
        let query = gatehouse::store::AuditQuery {
            page: 1,
            per_page: 10,
            user_id: Some(bob),
            kind: Some(gatehouse::store::AuditType::MfaDisabled),
            since: None,
            until: None,
        };
        (on, store.list_audit(&query).await.expect("audit").total)
    });
    assert!(!on);
    assert_eq!(events, 1);
    let again = cli.ok(&["user", "reset-mfa", "bob"]);
    assert!(again.contains("has no TOTP on"), "{again}");
    assert!(cli.fails(&["user", "reset-mfa", "nobody"]).contains("no user named \"nobody\""));
}

#[test]
fn user_create_with_an_email_queues_a_verification_mail_that_a_running_server_sends() {
    let cli = Cli::new();
    let out = cli.run(&["user", "create", "mallory", "--email", "mallory@example.com"], Some(&format!("{PASSWORD}\n")));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("verification mail to mallory@example.com is queued"));

    // Without SMTP the server writes the queued mail to ./outbox in its working directory.
    let mut server = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("serve")
        .current_dir(cli.dir.path())
        .env("GATEHOUSE_DATABASE_URL", &cli.database_url)
        .env("GATEHOUSE_BIND", "127.0.0.1:0")
        .env("GATEHOUSE_METRICS_BIND", "off")
        .env("GATEHOUSE_BREACHED_PASSWORDS", "off")
        .env("GATEHOUSE_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let outbox = cli.dir.path().join("outbox");
    let mut mails = Vec::new();
    for _ in 0..300 {
        mails = std::fs::read_dir(&outbox).map(|entries| entries.flatten().map(|e| e.path()).collect()).unwrap_or_default();
        if !mails.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    server.kill().expect("the server stops");
    server.wait().expect("exit status");
    assert_eq!(mails.len(), 1, "one mail in the outbox");
    let mail = std::fs::read_to_string(&mails[0]).expect("the .eml file").replace("=\r\n", "");
    assert!(mail.contains("To: mallory@example.com"), "{mail}");
    assert!(mail.contains("verify-email?token="), "{mail}");
}

/// Every audit event of the CLI's database, oldest first: (type, actor, user, detail).
fn audit_events(cli: &Cli) -> Vec<(String, Option<uuid::Uuid>, Option<uuid::Uuid>, serde_json::Value)> {
    with_store(cli, async |store| {
        let query = gatehouse::store::AuditQuery { page: 1, per_page: 100, ..Default::default() };
        let mut events = store.list_audit(&query).await.expect("audit").items;
        events.sort_by_key(|e| e.time);
        events.into_iter().map(|e| (e.kind, e.actor_id, e.user_id, e.detail)).collect()
    })
}

#[test]
fn user_create_roles_disable_enable_delete_and_reset_mfa_are_audited_as_done_by_the_cli() {
    let cli = Cli::new();
    cli.create("root", true);
    cli.create("bob", false);
    let bob = user_id(&cli, "bob");
    cli.ok(&["user", "set-roles", "bob", "editor"]);
    cli.ok(&["user", "disable", "bob"]);
    cli.ok(&["user", "enable", "bob"]);
    with_store(&cli, async |store| {
        store.set_pending_totp(bob, &[7; 20]).await.expect("pending");
        assert!(store.enable_totp(bob, &[7; 20], 1, &[vec![1; 32]]).await.expect("enabled"));
    });
    cli.ok(&["user", "reset-mfa", "bob"]);
    cli.ok(&["user", "delete", "bob"]);

    let events = audit_events(&cli);
    let kinds: Vec<&str> = events.iter().map(|(kind, ..)| kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["user.registered", "user.registered", "user.roles_changed", "user.disabled", "user.enabled", "mfa.disabled", "user.deleted"],
        "{events:?}"
    );
    for (kind, actor, user, detail) in &events {
        assert_eq!(*actor, None, "{kind}: no actor from the command line");
        assert!(user.is_some(), "{kind}: names the account");
        assert_eq!(detail["via"], "cli", "{kind}: {detail}");
    }
    assert_eq!(events[1].2, Some(bob));
    assert_eq!(events[1].3["username"], "bob");
    assert_eq!(events[2].3["after"], serde_json::json!(["editor", "user"]));
}

#[test]
fn user_list_and_keys_list_print_one_json_object_a_line_with_json() {
    let cli = Cli::new();
    cli.create("root", true);
    cli.create("bob", false);
    cli.ok(&["keys", "rotate"]);

    let users: Vec<serde_json::Value> =
        cli.ok(&["user", "list", "--json"]).lines().map(|l| serde_json::from_str(l).expect("a JSON object a line")).collect();
    let keys: Vec<serde_json::Value> =
        cli.ok(&["keys", "list", "--json"]).lines().map(|l| serde_json::from_str(l).expect("a JSON object a line")).collect();

    let names: Vec<&str> = users.iter().map(|u| u["username"].as_str().expect("username")).collect();
    assert_eq!(names, ["root", "bob"]);
    assert_eq!(users[0]["roles"], serde_json::json!(["admin", "user"]));
    assert!(users.iter().all(|u| u.get("password_hash").is_none()), "never a hash");
    assert!(!keys.is_empty() && keys.iter().all(|k| k["kid"].is_string() && k.get("private_key").is_none()), "{keys:?}");
    for alg in ["EdDSA", "RS256"] {
        let active = keys.iter().filter(|k| k["state"] == "active" && k["algorithm"] == alg).count();
        assert_eq!(active, 1, "one active key of each kind: {keys:?}");
    }
}

#[test]
fn user_passkeys_lists_a_users_passkeys_and_remove_passkey_removes_one_with_an_audit_event() {
    let cli = Cli::new();
    cli.create("bob", false);
    let bob = user_id(&cli, "bob");
    let passkey = gatehouse::store::PasskeyRecord {
        id: uuid::Uuid::now_v7(),
        user_id: bob,
        credential_id: "Ym9icy1rZXk".into(),
        name: "Yubikey".into(),
        authenticator: "security_key".into(),
        credential: "{}".into(),
        sign_count: 3,
        backup_eligible: false,
        backup_state: false,
        created_at: chrono::Utc::now(),
        last_used_at: None,
    };
    with_store(&cli, async |store| store.insert_passkey(&passkey).await.expect("a passkey"));

    let listed = cli.ok(&["user", "passkeys", "bob"]);
    assert!(listed.contains(&passkey.id.to_string()) && listed.contains("Yubikey") && listed.contains("security_key"), "{listed}");
    assert!(listed.contains("1 passkey(s)"), "{listed}");
    let json = cli.ok(&["user", "passkeys", "bob", "--json"]);
    let line: serde_json::Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!((line["name"].as_str(), line["sign_count"].as_i64()), (Some("Yubikey"), Some(3)));
    assert!(line.get("credential").is_none(), "the key itself is never printed");

    let id = passkey.id.to_string();
    assert!(cli.ok(&["user", "remove-passkey", "bob", &id]).contains("removed passkey"));
    assert!(cli.fails(&["user", "remove-passkey", "bob", &id]).contains("has no passkey"));
    assert!(cli.ok(&["user", "passkeys", "bob"]).contains("0 passkey(s)"));
    let removed = audit_events(&cli).into_iter().filter(|(kind, ..)| kind == "passkey.removed").collect::<Vec<_>>();
    assert_eq!(removed.len(), 1);
    assert_eq!((removed[0].1, removed[0].2), (None, Some(bob)), "no actor: the command line");
}
