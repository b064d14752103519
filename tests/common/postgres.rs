//! A real PostgreSQL server for the tests, started from the machine's server binaries.
//!
//! One shared server per test binary ([`shared`]); each test gets a fresh database on it
//! ([`PgServer::create_database`]). Tests that stop the server (outages) start their own
//! with [`PgServer::start`].
//!
//! Where it runs: a temp directory (`gatehouse-pg-*`) holding the data directory, the log
//! and the unix socket; a free port on 127.0.0.1. PostgreSQL refuses to run as root, so as
//! root every server command runs through `runuser -u postgres`.
//!
//! How it stops: statics are never dropped in Rust, so the shared server could outlive
//! its test binary. Each server therefore gets a watchdog: a small `sh` loop, deaf to
//! SIGINT/SIGTERM/SIGHUP, that waits for the test process to end (however it ends: success,
//! panic, Ctrl-C, SIGKILL), then runs `pg_ctl stop -m immediate` and deletes the temp
//! directory. Servers owned by a test are also stopped by their `Drop`.
//!
//! Where the binaries are looked for: `GATEHOUSE_PG_BINDIR` alone when set; otherwise
//! `pg_config --bindir`, the newest `/usr/lib/postgresql/*/bin`, then `PATH`. When none
//! has `initdb`, `pg_ctl` and `postgres`, the PostgreSQL tests print a banner on stderr
//! and, under `CI=true`, fail; elsewhere the test binary exits early (successfully) after
//! the banner.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use sqlx::Connection as _;

pub struct PgServer {
    bindir: PathBuf,
    root: PathBuf,
    as_postgres_user: bool,
    pub port: u16,
}

/// The server every test of this binary shares.
pub fn shared() -> &'static PgServer {
    static SHARED: OnceLock<PgServer> = OnceLock::new();
    SHARED.get_or_init(PgServer::start)
}

impl PgServer {
    /// Initialises and starts a new server; panics with the server's own words on failure.
    pub fn start() -> Self {
        let bindir = find_bindir().unwrap_or_else(|| missing_binaries());
        let as_postgres_user = running_as_root();
        let root = tempfile::Builder::new().prefix("gatehouse-pg-").tempdir().expect("temp dir for PostgreSQL").keep();
        if as_postgres_user {
            run(Command::new("chown").arg("postgres:postgres").arg(&root), "chown the PostgreSQL temp dir to postgres");
        }
        let port = free_port();
        let server = Self { bindir, root, as_postgres_user, port };
        server.watch_for_exit();
        let data = server.data_dir();
        run(
            server.command("initdb").arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"]),
            "initdb",
        );
        server.start_again();
        server
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// A server command, as the `postgres` user when we are root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bindir.join(program);
        let mut cmd = if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(exe);
            cmd
        } else {
            Command::new(exe)
        };
        cmd.stdin(Stdio::null());
        cmd
    }

    /// Starts (or restarts, after [`stop`](Self::stop)) the server on its port and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!(
            "-k {root} -p {port} -c listen_addresses=127.0.0.1 -c max_connections=400 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            root = self.root.display(),
            port = self.port
        );
        run(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.root.join("server.log"))
                .args(["-w", "-t", "60", "-o", &options, "start"]),
            "pg_ctl start",
        );
    }

    /// Stops the server; the data directory stays, so [`start_again`](Self::start_again) brings it back.
    pub fn stop(&self) {
        run(self.command("pg_ctl").arg("-D").arg(self.data_dir()).args(["-m", "fast", "-w", "stop"]), "pg_ctl stop");
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// A new empty database on this server; returns its URL.
    pub async fn create_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres")).await.expect("connect to the test PostgreSQL server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut admin).await.expect("CREATE DATABASE");
        let _ = admin.close().await;
        self.url(&name)
    }

    /// The watchdog: stops the server and removes its directory once this process is gone.
    // It outlives this process on purpose, so it is never waited for.
    #[allow(clippy::zombie_processes)]
    fn watch_for_exit(&self) {
        let pg_ctl = self.bindir.join("pg_ctl");
        let stop = format!(
            "{runuser}{pg_ctl} -D {data} -m immediate -w stop",
            runuser = if self.as_postgres_user { "runuser -u postgres -- " } else { "" },
            pg_ctl = pg_ctl.display(),
            data = self.data_dir().display()
        );
        let script = format!(
            "trap '' INT TERM HUP; while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {root}",
            pid = std::process::id(),
            root = self.root.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the PostgreSQL watchdog");
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = self.command("pg_ctl").arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn run(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"].iter().all(|b| dir.join(b).is_file())
}

fn find_bindir() -> Option<PathBuf> {
    // An explicit directory is the only one tried (and lets CI prove the missing-server path).
    if let Some(dir) = std::env::var_os("GATEHOUSE_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return has_server_binaries(&dir).then_some(dir);
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        candidates.push(String::from_utf8_lossy(&out.stdout).trim().into());
    }
    if let Ok(entries) = std::fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> =
            entries.flatten().filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin")))).collect();
        versions.sort();
        candidates.extend(versions.into_iter().rev().map(|(_, p)| p));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates.into_iter().find(|dir| has_server_binaries(dir))
}

/// No server binaries: say so where it cannot be missed, fail under CI, skip elsewhere.
fn missing_binaries() -> ! {
    let ci = std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let banner = "\n\
        ==================================================================================\n\
        POSTGRESQL TESTS NOT RUN: no PostgreSQL server binaries (initdb, pg_ctl, postgres)\n\
        were found in GATEHOUSE_PG_BINDIR, `pg_config --bindir`, /usr/lib/postgresql/*/bin\n\
        or PATH. Install them (Debian/Ubuntu: apt-get install -y postgresql) or set\n\
        GATEHOUSE_PG_BINDIR.\n\
        ==================================================================================\n";
    // Straight to the process's stderr: the test harness's capture would swallow eprintln!.
    let _ = std::io::stderr().write_all(banner.as_bytes());
    if ci {
        panic!("CI=true and no PostgreSQL server binaries: the PostgreSQL tests cannot be skipped under CI");
    }
    let _ = std::io::stderr().write_all(b"Not under CI: skipping every PostgreSQL test of this binary.\n");
    std::process::exit(0);
}
