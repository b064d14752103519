//! The operator's commands: `migrate` (with `--dry-run` and `--status`), `backup`, `restore`,
//! `export`, and `import` of an export.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::config::Config;
use crate::progress::{Progress, Unit};
use crate::store::{self, DynStore, schema};

pub async fn migrate(config: &Config, dry_run: bool, status: bool, json: bool) -> anyhow::Result<()> {
    let url = &config.database_url;
    if !dry_run && !status {
        let before = schema::inspect(url).await?;
        let store = store::connect(url).await?;
        let after = store.schema_status().await?;
        let ran = match &before {
            Some(before) => before.pending().len(),
            None => after.applied.len(),
        };
        match ran {
            0 => println!("schema is up to date (version {})", after.database_version()),
            n => println!("ran {n} migration(s); schema is up to date (version {})", after.database_version()),
        }
        return Ok(());
    }
    let Some(schema) = schema::inspect(url).await? else {
        // A SQLite file not made yet: nothing to read, and nothing is created.
        let known = store::schema::known_migrations(url);
        if json {
            println!(
                "{}",
                serde_json::json!({ "database_version": null, "binary_version": known.last().map(|m| m.version), "pending": known })
            );
        } else {
            println!("no database at {} yet; gatehouse migrate (or the server) would create it and run:", crate::config::redact_url(url));
            known.iter().for_each(|m| println!("  {:>4}  {}", m.version, m.description));
        }
        return Ok(());
    };
    if json {
        let state = state_of(&schema);
        let line = serde_json::json!({ "database_version": schema.database_version(), "binary_version": schema.binary_version(),
            "state": state, "pending": schema.pending(), "unknown": schema.unknown() });
        println!("{line}");
    } else if status {
        println!("database schema version: {}", schema.database_version());
        println!("this gatehouse's version: {}", schema.binary_version());
        match state_of(&schema) {
            "newer" => println!("state: the database is newer than this gatehouse; it needs migration {}", schema.database_version()),
            "behind" => println!("state: {} migration(s) to run: gatehouse migrate --dry-run lists them", schema.pending().len()),
            _ => println!("state: up to date"),
        }
    } else {
        schema.check_known()?;
        match schema.pending().as_slice() {
            [] => println!("nothing to run: the schema is up to date (version {})", schema.database_version()),
            pending => {
                println!("gatehouse migrate would run {} migration(s), changing nothing now:", pending.len());
                pending.iter().for_each(|m| println!("  {:>4}  {}", m.version, m.description));
            }
        }
    }
    Ok(())
}

fn state_of(schema: &crate::domain::schema::SchemaStatus) -> &'static str {
    if !schema.unknown().is_empty() {
        "newer"
    } else if !schema.pending().is_empty() {
        "behind"
    } else {
        "current"
    }
}

/// `gatehouse backup FILE`: SQLite's `VACUUM INTO`, a consistent copy while writers go on,
/// into a private folder beside FILE, then linked to FILE, which must not exist (not even as
/// a dangling link); progress is the copy's size so far.
pub async fn backup(config: &Config, file: &Path) -> anyhow::Result<()> {
    let url = &config.database_url;
    if crate::files::sqlite_path(url).is_none() {
        if url.starts_with("sqlite:") {
            bail!("an in-memory SQLite database cannot be backed up");
        }
        // pg_dump creates its file with the umask's mode: the dump holds every secret.
        println!("PostgreSQL is backed up with its own tool, which copies a running database consistently:");
        println!("  (umask 077 && pg_dump --format=custom --file={} '{}')", file.display(), without_password(url));
        println!("(the password is left out: give it in PGPASSWORD or ~/.pgpass). Restore it with:");
        println!("  pg_restore --clean --if-exists --dbname='{}' {}", without_password(url), file.display());
        bail!("no backup was made: run pg_dump as shown");
    }
    // Not even an empty file or a link: writing through either could leave the secrets
    // readable by others, or somewhere else.
    if std::fs::symlink_metadata(file).is_ok() {
        bail!("{} exists; a backup never replaces a file", file.display());
    }
    let staging =
        crate::files::Staging::beside(file).with_context(|| format!("cannot create a private folder beside {}", file.display()))?;
    let store = store::connect(url).await?;
    let mut progress = Progress::new("backed up", Unit::Bytes, store.sqlite_size().await?);
    let copying = {
        let (store, staged) = (store.clone(), staging.file());
        tokio::spawn(async move { store.backup_sqlite(&staged).await })
    };
    while !copying.is_finished() {
        progress.set(std::fs::metadata(staging.file()).map_or(0, |m| m.len()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    copying.await.context("the backup stopped")??;
    progress.set(std::fs::metadata(staging.file()).map_or(0, |m| m.len()));
    staging.publish(file).with_context(|| format!("cannot write {}; no backup was made", file.display()))?;
    println!("{}", progress.finish());
    println!("backup written to {} (readable by its owner only); gatehouse restore puts it back", file.display());
    Ok(())
}

/// The URL with its password removed (the user name stays), to print.
fn without_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let user = &url[scheme + 3..at];
            let user = user.split(':').next().unwrap_or(user);
            format!("{}://{user}@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_string(),
    }
}

/// `gatehouse restore FILE`: copies FILE beside the database, checks the copy (integrity,
/// a schema this binary knows), then, holding the database's exclusive lock (refused while
/// a server or command has it open), renames the copy over it.
pub async fn restore(config: &Config, file: &Path) -> anyhow::Result<()> {
    let url = &config.database_url;
    let Some(target) = crate::files::sqlite_path(url) else {
        bail!("restore replaces a SQLite database; restore PostgreSQL with pg_restore (gatehouse backup prints the command)");
    };
    let size = std::fs::metadata(file).with_context(|| format!("cannot read {}", file.display()))?.len();
    let staged = sibling(&target, "restoring");
    let _ = std::fs::remove_file(&staged);
    let progress = Progress::new("copied", Unit::Bytes, Some(size));
    let (from, to) = (file.to_path_buf(), staged.clone());
    let progress = tokio::task::spawn_blocking(move || copy_with_progress(&from, &to, progress)).await??;
    println!("{}", progress.finish());
    let checked = match schema::check_sqlite_copy(&staged).await {
        Ok(checked) => checked,
        Err(err) => {
            remove_with_journals(&staged);
            return Err(err.context(format!("{} was not restored; the database is unchanged", file.display())));
        }
    };
    let _lock = match target.exists() {
        true => match crate::files::lock_unused(&target) {
            Ok(lock) => Some(lock),
            Err(err) => {
                remove_with_journals(&staged);
                bail!("{err}; nothing was restored");
            }
        },
        false => None,
    };
    // A crashed server's journal belongs to the database being replaced: it must not be
    // replayed into the restored one.
    for journal in [sibling(&target, "wal"), sibling(&target, "shm")] {
        let _ = std::fs::remove_file(journal);
    }
    std::fs::rename(&staged, &target).with_context(|| format!("cannot move the restored copy to {}", target.display()))?;
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    }
    println!(
        "restored {} into {}: {} users, schema version {} (this gatehouse's is {}; it migrates at start)",
        file.display(),
        target.display(),
        checked.users,
        checked.schema.database_version(),
        checked.schema.binary_version()
    );
    Ok(())
}

/// `db` + `-suffix`, as SQLite names its -wal and -shm files.
fn sibling(db: &Path, suffix: &str) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(format!("-{suffix}"));
    PathBuf::from(name)
}

fn remove_with_journals(db: &Path) {
    for path in [db.to_path_buf(), sibling(db, "wal"), sibling(db, "shm")] {
        let _ = std::fs::remove_file(path);
    }
}

fn copy_with_progress(from: &Path, to: &Path, mut progress: Progress) -> anyhow::Result<Progress> {
    use std::io::{Read, Write};
    crate::files::create_private_file(to).with_context(|| format!("cannot create {}", to.display()))?;
    let mut input = std::fs::File::open(from).with_context(|| format!("cannot read {}", from.display()))?;
    let mut output = std::fs::OpenOptions::new().write(true).truncate(true).open(to)?;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        output.write_all(&buffer[..n])?;
        progress.add(n as u64);
    }
    output.sync_all()?;
    Ok(progress)
}

pub async fn export(config: &Config, file: &Path) -> anyhow::Result<()> {
    let store = store::connect(&config.database_url).await?;
    let summary = crate::export::export_file(&store, file).await?;
    println!("{summary}");
    println!("{} holds password hashes, TOTP secrets and passkeys: it is readable by its owner only; keep it so", file.display());
    Ok(())
}

pub async fn import_export(store: &DynStore, file: &Path) -> anyhow::Result<()> {
    let result = crate::export::import_file(store, file).await?;
    for (place, why) in &result.skipped {
        eprintln!("skipped {place}: {why}");
    }
    let audit = crate::audit::Audit::offline(store.clone());
    crate::audit::users_imported(&audit, result.imported, result.skipped.len() as u64, crate::export::FORMAT).await;
    println!("{}", result.summary);
    println!("imported {} users, skipped {} records", result.imported, result.skipped.len());
    Ok(())
}
