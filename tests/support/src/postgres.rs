//! A private PostgreSQL cluster for tests: `initdb` and `postgres` from
//! Debian's packages (`/usr/lib/postgresql/N/bin`) in a temporary directory,
//! on a free loopback port, run as an unprivileged user when the tests run
//! as root (the `postgres` system user the package creates).
//!
//! [`cluster`] starts one per test binary on first use; each test takes its
//! own database with [`Cluster::database`]. The server runs under a small
//! shell that holds a pipe from the test process: when the test process
//! ends, however it ends, the pipe closes and the shell stops the server and
//! removes the directory.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::free_port;

/// The Debian package that provides the server binaries.
pub const PACKAGE: &str = "postgresql";

/// A running cluster; stopped when the test process exits.
pub struct Cluster {
    pub port: u16,
    bin: PathBuf,
    run_as: Option<String>,
    socket_dir: PathBuf,
    /// Held open for the life of the process: its end stops the server.
    _lifeline: Mutex<(Child, ChildStdin)>,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The test binary's cluster, started on first use. Panics, naming the
/// package to install, when PostgreSQL is missing.
pub fn cluster() -> &'static Cluster {
    CLUSTER.get_or_init(Cluster::start)
}

/// The newest `/usr/lib/postgresql/N/bin` with `initdb` and `postgres`.
pub fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").exists() && bin.join("postgres").exists()).then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn effective_uid() -> u32 {
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}

fn user_ids(user: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.first() == Some(&user) && fields.len() > 3)
            .then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))
            .flatten()
    })
}

/// Quotes a word for `sh`.
fn quoted(word: impl AsRef<str>) -> String {
    format!("'{}'", word.as_ref().replace('\'', r"'\''"))
}

impl Cluster {
    fn start() -> Cluster {
        let bin = server_bin().unwrap_or_else(|| {
            panic!(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
                 install Debian's `{PACKAGE}` package (apt-get install {PACKAGE})"
            )
        });
        let run_as = (effective_uid() == 0).then(|| "postgres".to_string());
        // Not a tempfile::TempDir: the shell below removes it, after the
        // server has stopped.
        let dir =
            std::env::temp_dir().join(format!("igor-pg-{}-{}", std::process::id(), free_port()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        if let Some(user) = &run_as {
            let (uid, gid) = user_ids(user).unwrap_or_else(|| {
                panic!(
                    "running as root, PostgreSQL needs the unprivileged `{user}` user, which \
                     Debian's `{PACKAGE}` package creates: install it"
                )
            });
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
        }
        let data = dir.join("data");
        let port = free_port();
        let as_user = |line: String| match &run_as {
            // setpriv execs (no process in between), so the shell below
            // signals the server itself.
            Some(user) => format!(
                "setpriv --reuid={user} --regid={user} --init-groups -- {line}",
                user = quoted(user)
            ),
            None => line,
        };
        let initdb = as_user(format!(
            "{} -D {} -U postgres --auth=trust --no-sync -E UTF8 --locale=C.UTF-8",
            quoted(bin.join("initdb").to_string_lossy()),
            quoted(data.to_string_lossy())
        ));
        let output = Command::new("sh").arg("-c").arg(&initdb).output().unwrap();
        assert!(
            output.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let postgres = as_user(format!(
            "{} -D {} -h 127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            quoted(bin.join("postgres").to_string_lossy()),
            quoted(data.to_string_lossy()),
            quoted(dir.to_string_lossy()),
        ));
        // The server in the background; its log to stdout until ready; then
        // wait for stdin to close, stop the server (SIGINT: fast shutdown)
        // and remove the directory.
        let script = format!(
            "{postgres} > {log} 2>&1 & pid=$!\n\
             echo started\n\
             cat > /dev/null\n\
             kill -INT $pid; wait $pid; rm -rf {dir}\n",
            log = quoted(dir.join("server.log").to_string_lossy()),
            dir = quoted(dir.to_string_lossy()),
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let cluster = Cluster {
            port,
            bin,
            run_as,
            socket_dir: dir.clone(),
            _lifeline: Mutex::new((child, stdin)),
        };
        cluster.wait_ready(&dir.join("server.log"));
        cluster
    }

    fn wait_ready(&self, log: &Path) {
        let started = std::time::Instant::now();
        while started.elapsed() < std::time::Duration::from_secs(60) {
            if self.psql("postgres", "SELECT 1").is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!(
            "PostgreSQL did not start within 60 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
    }

    /// Runs SQL in `database` with `psql`; its output, or its error text.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let output = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", database, "-c", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// A new, empty database for one test; its connection URL.
    pub fn database(&self, prefix: &str) -> String {
        let name = format!("{prefix}_{}", DATABASES.fetch_add(1, Ordering::SeqCst));
        self.psql("postgres", &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        self.url(&name)
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Where the server's Unix socket lives.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// Who the server runs as (`None`: the test's own user).
    pub fn run_as(&self) -> Option<&str> {
        self.run_as.as_deref()
    }
}
