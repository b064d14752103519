//! Files this service writes hold secrets (the SQLite database keeps the signing keys, the
//! refresh secret, TOTP secrets and queued reset links; the outbox keeps those links too):
//! they are created readable by their owner only, with an explicit mode, whatever the umask.

use std::io;
use std::path::Path;

/// Mode of a file that holds secrets.
#[cfg(unix)]
const PRIVATE_FILE: u32 = 0o600;
/// Mode of a folder that holds such files.
#[cfg(unix)]
const PRIVATE_DIR: u32 = 0o700;

/// Creates `path` empty, readable by its owner only, unless it exists.
pub fn create_private_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

/// Creates the folder (and its missing parents) readable by its owner only; a folder that
/// exists is left as it is.
pub async fn create_private_dir(path: &Path) -> io::Result<()> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(PRIVATE_DIR);
    builder.create(path).await
}

/// Writes `bytes` to `path` (replacing it), readable by its owner only: the mode is set
/// before the first byte, even on a file left over from before.
pub async fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use tokio::io::AsyncWriteExt as _;
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(PRIVATE_FILE);
    let mut file = options.open(path).await?;
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(PRIVATE_FILE)).await?;
    file.write_all(bytes).await?;
    file.flush().await
}

/// A private folder (0700) made beside a file still to be written: the file is written
/// inside it, where no one else can reach or swap it, then linked into place.
pub struct Staging {
    dir: std::path::PathBuf,
}

impl Staging {
    /// A fresh folder next to `target`, with a name no one else has made.
    pub fn beside(target: &Path) -> io::Result<Self> {
        let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = target.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file name"))?;
        let mut staged = std::ffi::OsString::from(".");
        staged.push(name);
        staged.push(format!(".{:016x}.partial", rand::random::<u64>()));
        let dir = parent.join(staged);
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, PRIVATE_DIR);
        // Not recursive: it fails on anything already there, a link included.
        builder.create(&dir)?;
        let staging = Self { dir };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, PRIVATE_FILE);
        options.open(staging.file())?;
        Ok(staging)
    }

    /// The file to write, made empty with mode 0600.
    pub fn file(&self) -> std::path::PathBuf {
        self.dir.join("file")
    }

    /// Gives the written file mode 0600 and the name `target`. A hard link, unlike a
    /// rename, never replaces: anything at `target` (a file, a dangling link) is refused.
    pub fn publish(self, target: &Path) -> io::Result<()> {
        let file = std::fs::File::open(self.file())?;
        #[cfg(unix)]
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(PRIVATE_FILE))?;
        file.sync_all()?;
        std::fs::hard_link(self.file(), target)?;
        if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::File::open(parent).and_then(|d| d.sync_all()).ok();
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The permission bits (as in `ls -l`, octal) of a file that group or others may use.
#[cfg(unix)]
pub fn shared_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

#[cfg(not(unix))]
pub fn shared_mode(_: &Path) -> Option<u32> {
    None
}

/// Prepares the file of a SQLite database before it is opened: a new one is created empty
/// with mode 0600 (SQLite gives its -wal and -shm files the same mode); one that other
/// users can read is reported, as its secrets are theirs to read.
pub fn prepare_sqlite_file(path: &Path) -> io::Result<()> {
    if !path.exists() {
        return create_private_file(path);
    }
    if let Some(mode) = shared_mode(path) {
        tracing::warn!(
            path = %path.display(),
            mode = %format!("{mode:o}"),
            "the SQLite database can be read by other users; it holds signing keys and secrets: chmod 600 it and its -wal and -shm files"
        );
    }
    Ok(())
}

/// True for a SQLite URL that names no file (`sqlite::memory:`, `?mode=memory`).
pub fn sqlite_in_memory(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (database, params) = rest.split_once('?').unwrap_or((rest, ""));
    database.is_empty() || database == ":memory:" || params.split('&').any(|p| p == "mode=memory")
}

/// The file of a `sqlite://` URL (none for PostgreSQL or an in-memory database).
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !sqlite_in_memory(url)).then(|| std::path::PathBuf::from(path))
}

/// Whether two SQLite URLs name one file, however spelled (`./x.db` and `x.db`, a link):
/// the same device and inode.
#[cfg(unix)]
pub fn same_sqlite_file(a: &str, b: &str) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    let id = |url: &str| sqlite_path(url).and_then(|p| std::fs::metadata(p).ok()).map(|m| (m.dev(), m.ino()));
    matches!((id(a), id(b)), (Some(a), Some(b)) if a == b)
}

#[cfg(not(unix))]
pub fn same_sqlite_file(a: &str, b: &str) -> bool {
    let path = |url: &str| sqlite_path(url).and_then(|p| std::fs::canonicalize(p).ok());
    matches!((path(a), path(b)), (Some(a), Some(b)) if a == b)
}

/// Open descriptors of the database files this process uses, each with a shared lock.
/// They are never closed: on POSIX systems, closing any descriptor of a file drops every
/// `fcntl` lock the process holds on it, SQLite's own locks included.
static HELD_LOCKS: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());

/// Marks the SQLite database at `path` as in use by this process until it exits, with a
/// shared `flock` (SQLite itself uses `fcntl` locks, which do not meet these). Servers and
/// commands share it; `gatehouse restore` needs it exclusive, so it never replaces a
/// database under a process that has it open, and none opens one it is replacing.
pub fn hold_in_use(path: &Path) -> io::Result<()> {
    let file = std::fs::File::open(path)?;
    file.try_lock_shared().map_err(|_| {
        io::Error::new(
            io::ErrorKind::WouldBlock,
            format!("{} is being replaced by gatehouse restore; try again when it ends", path.display()),
        )
    })?;
    HELD_LOCKS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(file);
    Ok(())
}

/// The exclusive lock `gatehouse restore` holds while it replaces the database at `path`;
/// refused while any process (a server, a command) has the database open.
pub fn lock_unused(path: &Path) -> io::Result<std::fs::File> {
    let file = std::fs::File::open(path)?;
    file.try_lock().map_err(|_| {
        io::Error::new(io::ErrorKind::WouldBlock, format!("{} is in use by a running server or command; stop it first", path.display()))
    })?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::sqlite_in_memory;

    #[test]
    fn in_memory_sqlite_urls_are_told_from_files() {
        for memory in ["sqlite::memory:", "sqlite://:memory:", "sqlite://shared?mode=memory&cache=shared"] {
            assert!(sqlite_in_memory(memory), "{memory}");
        }
        for file in ["sqlite://gatehouse.db", "sqlite:///var/lib/gatehouse/db.sqlite?mode=rwc", "sqlite:data.db"] {
            assert!(!sqlite_in_memory(file), "{file}");
        }
    }
}
