//! `gatehouse import`: legacy password hashes made by independent implementations are
//! imported through the real binary, log in over HTTP, and are rehashed to argon2id.

mod common;

pub const STORE: common::StoreKind = common::StoreKind::Sqlite;

use std::path::Path;

use common::TestApp;
use gatehouse::store::NewUser;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Fixed vectors: (username, password, stored hash). Made once with Python 3.11 in a
/// throw-away virtual environment (Werkzeug 3.1.9, bcrypt 5.0.0, passlib 1.7.4 with
/// argon2-cffi 25.1.0), not with this crate's code:
/// - pbkdf2: `werkzeug.security.generate_password_hash(pw, method="pbkdf2:sha256:600000")`
/// - scrypt: `werkzeug.security.generate_password_hash(pw, method="scrypt")`
/// - 2b / 2a: `bcrypt.hashpw(pw, bcrypt.gensalt(rounds=10, prefix=b"2b" / b"2a"))`
/// - 2y: `passlib.hash.bcrypt.using(ident="2y", rounds=5).hash(pw)` with passlib's own
///   pure-Python backend (PASSLIB_BUILTIN_BCRYPT=enabled), cross-checked with `bcrypt.checkpw`
/// - sha256: `hashlib.sha256(pw.encode()).hexdigest()`
/// - argon2: `passlib.hash.argon2.using(type="ID", memory_cost=65536, time_cost=3, parallelism=4).hash(pw)`
///   (other parameters than this server's, so it must be rehashed too)
const VECTORS: &[(&str, &str, &str)] = &[
    (
        "werk_pbkdf2",
        "pbkdf2 legacy pass 1",
        "pbkdf2:sha256:600000$PlktplEe2wfQFgsS$8506bdf8e735d2c6559a2b56960c856f2f93986537e64f1d82b89d3323183ec5",
    ),
    (
        "werk_scrypt",
        "scrypt legacy pass 2",
        "scrypt:32768:8:1$PeRTQEmIxwVZaCBs$fa29460eb2e34788999e22d555d91af87e41d33136cbe1a5d9ef494898a2775efe847dfc265397c9e4c325f1e31afbf58c983bb143eefd595b545d2c783089f3",
    ),
    ("bcrypt_2b", "bcrypt legacy pass 3", "$2b$10$Eu14af7qOKeUIEUUXPo1/.mjZnSpBDhfCT6NEAcV6ChPjdvSv9jMW"),
    ("bcrypt_2a", "bcrypt legacy pass 4", "$2a$10$hTxYA8majCS.W5YCehH/quy66RbbyKI7vkysSP/4P3IM/5niN8hEy"),
    ("bcrypt_2y", "bcrypt legacy pass 5", "$2y$05$YshJDqDDaGmsuaBfI7E2ce91o7xN/z9Rdm7x57EuW0NhWEH3vA6Qm"),
    ("plain_sha", "sha256 legacy pass 6", "f43221b5cee86e19d7a6cd060755e1032af4cf0a146cbae02244c8557418a802"),
    (
        "old_argon",
        "argon2 legacy pass 7",
        "$argon2id$v=19$m=65536,t=3,p=4$PocQojQmxLhXitG6N+Z8rw$dlGi9KAMrIvo1kv9SG41ZmbYPx4PGtlSNJPNjdb/cLU",
    ),
];

const CURRENT_ARGON2: &str = "$argon2id$v=19$m=19456,t=2,p=1$";

async fn run_import(app: &TestApp, file: &Path) -> (bool, String, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .arg("import")
        .arg(file)
        .current_dir(dir.path())
        .env("GATEHOUSE_DATABASE_URL", &app.database_url)
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .await
        .expect("the binary runs");
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

async fn stored_hash(app: &TestApp, username: &str) -> String {
    let store = gatehouse::store::connect(&app.database_url).await.expect("store");
    store.credentials_by_login(username).await.expect("lookup").expect("the user exists").password_hash
}

#[tokio::test]
async fn legacy_hashes_are_imported_log_in_with_the_old_password_and_are_rehashed_to_argon2id() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("users.jsonl");
    let mut lines: Vec<String> = VECTORS
        .iter()
        .map(|(user, _, hash)| json!({ "username": user, "email": format!("{user}@example.com"), "password_hash": hash }).to_string())
        .collect();
    // Line 8: a mongoexport record with an ObjectId, the `password` column and is_admin.
    lines.push(
        json!({ "_id": { "$oid": "5f1b2c3d4e5f60718293a4b5" }, "username": "mongo_admin", "password": VECTORS[2].2, "is_admin": true })
            .to_string(),
    );
    lines.push("{ not json".into()); // line 9
    lines.push(json!({ "email": "x@example.com", "password_hash": VECTORS[2].2 }).to_string()); // line 10
    lines.push(json!({ "username": "bad_hash", "password_hash": "md5$abc$def" }).to_string()); // line 11
    lines.push(json!({ "username": "BCRYPT_2B", "password_hash": VECTORS[2].2 }).to_string()); // line 12: duplicate
    std::fs::write(&file, lines.join("\n") + "\n").expect("write file");

    let (ok, stdout, stderr) = run_import(&app, &file).await;

    assert!(ok, "import failed: {stderr}");
    assert!(stdout.contains("imported 8 users, skipped 4 records"), "summary: {stdout}");
    for line in ["line 9:", "line 10:", "line 11:", "line 12:"] {
        assert!(stderr.contains(line), "{line} reported in {stderr}");
    }
    assert!(!stderr.contains("md5$abc$def"), "no hash echoed: {stderr}");
    for (user, password, hash) in VECTORS {
        assert_eq!(&stored_hash(&app, user).await, hash, "{user} stored as it was");
        assert_eq!(app.post_login(user, "not the old password").await.status(), StatusCode::UNAUTHORIZED, "{user}");
        assert_eq!(&stored_hash(&app, user).await, hash, "a failed login keeps {user}'s hash");

        let res = app.post_login(user, password).await;

        assert_eq!(res.status(), StatusCode::OK, "{user} logs in with the old password");
        let rehashed = stored_hash(&app, user).await;
        assert!(rehashed.starts_with(CURRENT_ARGON2), "{user} rehashed: {rehashed}");
        assert_eq!(app.post_login(user, password).await.status(), StatusCode::OK, "{user} after the rehash");
    }
    let admin: Value = app.post_login("mongo_admin", VECTORS[2].1).await.json().await.expect("pair");
    assert_eq!(admin["user"]["roles"], json!(["admin", "user"]));
}

#[tokio::test]
async fn a_mongoexport_json_array_is_imported_and_its_bad_records_reported_by_position() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("users.json");
    let records = json!([
        { "_id": { "$oid": "5f1b2c3d4e5f60718293a4b6" }, "username": "arr_one", "password_hash": VECTORS[5].2, "roles": ["editor"] },
        { "_id": { "$oid": "5f1b2c3d4e5f60718293a4b7" }, "username": "no hash allowed here" },
        { "_id": { "$oid": "5f1b2c3d4e5f60718293a4b8" }, "username": "arr_two", "password": VECTORS[3].2, "is_admin": { "$numberInt": "0" } },
    ]);
    std::fs::write(&file, serde_json::to_string_pretty(&records).expect("json")).expect("write file");

    let (ok, stdout, stderr) = run_import(&app, &file).await;

    assert!(ok, "import failed: {stderr}");
    assert!(stdout.contains("imported 2 users, skipped 1 records"), "summary: {stdout}");
    assert!(stderr.contains("record 2:"), "{stderr}");
    let one: Value = app.post_login("arr_one", VECTORS[5].1).await.json().await.expect("pair");
    assert_eq!(one["user"]["roles"], json!(["editor", "user"]));
    assert_eq!(app.post_login("arr_two", VECTORS[3].1).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_import_that_clashes_with_existing_users_skips_them_and_fails_when_nothing_is_left() {
    let app = TestApp::spawn().await;
    app.user("taken").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("users.jsonl");
    std::fs::write(&file, json!({ "username": "Taken", "password_hash": VECTORS[5].2 }).to_string()).expect("write");

    let (ok, _, stderr) = run_import(&app, &file).await;

    assert!(!ok, "an import of nothing fails");
    assert!(stderr.contains("line 1:") && stderr.contains("already taken"), "{stderr}");
}

#[tokio::test]
async fn the_batch_insert_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    app.user("existing").await;
    let store = gatehouse::store::connect(&app.database_url).await.expect("store");
    let user = |name: &str| NewUser {
        id: uuid::Uuid::now_v7(),
        username: gatehouse::domain::Username::parse(name).expect("username"),
        email: None,
        password_hash: VECTORS[5].2.to_string(),
        roles: vec![gatehouse::domain::Role::user()],
    };

    let result = store.create_users(vec![user("fresh_one"), user("fresh_two"), user("existing")]).await;

    assert!(result.is_err(), "a conflict fails the batch");
    assert!(store.credentials_by_login("fresh_one").await.expect("lookup").is_none(), "nothing half-imported");
    assert!(store.credentials_by_login("fresh_two").await.expect("lookup").is_none(), "nothing half-imported");
}

#[tokio::test]
async fn hashes_whose_work_factor_would_pin_a_core_are_refused_by_line_number() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("users.jsonl");
    let costly = [
        "$2b$31$Eu14af7qOKeUIEUUXPo1/.mjZnSpBDhfCT6NEAcV6ChPjdvSv9jMW",
        "$argon2id$v=19$m=2097152,t=3,p=4$PocQojQmxLhXitG6N+Z8rw$dlGi9KAMrIvo1kv9SG41ZmbYPx4PGtlSNJPNjdb/cLU",
        "$argon2id$v=19$m=65536,t=21,p=4$PocQojQmxLhXitG6N+Z8rw$dlGi9KAMrIvo1kv9SG41ZmbYPx4PGtlSNJPNjdb/cLU",
        "$argon2id$v=19$m=65536,t=3,p=17$PocQojQmxLhXitG6N+Z8rw$dlGi9KAMrIvo1kv9SG41ZmbYPx4PGtlSNJPNjdb/cLU",
        "pbkdf2:sha256:10000001$PlktplEe2wfQFgsS$8506bdf8e735d2c6559a2b56960c856f2f93986537e64f1d82b89d3323183ec5",
        "scrypt:2097152:1:1$PeRTQEmIxwVZaCBs$fa29460eb2e34788999e22d555d91af87e41d33136cbe1a5d9ef494898a2775e",
    ];
    // Line 1 is a good record; lines 2 to 7 are too costly to check.
    let mut lines = vec![json!({ "username": "fine", "password_hash": VECTORS[4].2 }).to_string()];
    lines.extend(costly.iter().enumerate().map(|(i, hash)| json!({ "username": format!("costly{i}"), "password_hash": hash }).to_string()));
    std::fs::write(&file, lines.join("\n") + "\n").expect("write file");

    let (ok, stdout, stderr) = run_import(&app, &file).await;

    assert!(ok, "import failed: {stderr}");
    assert!(stdout.contains("imported 1 users, skipped 6 records"), "summary: {stdout}");
    for line in 2..=7 {
        let report = stderr.lines().find(|l| l.contains(&format!("line {line}:"))).unwrap_or_else(|| panic!("line {line} in {stderr}"));
        assert!(report.contains("work factor"), "{report}");
    }
    for hash in costly {
        assert!(!stderr.contains(hash), "no hash echoed: {stderr}");
    }
    assert_eq!(app.post_login("fine", VECTORS[4].1).await.status(), StatusCode::OK);
}
