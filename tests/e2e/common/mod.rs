//! Shared end-to-end harness: start the real `igor-host` binary with a
//! configuration built as the host's own `Config` ([`config`]) on a free
//! loopback port, talk to it over HTTP ([`client`]), against the fake clouds
//! ([`clouds`]), and read its log and store.

#![allow(dead_code)]

pub mod client;
pub mod clouds;
pub mod config;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use client::Client;
pub use config::{HostConfig, Plugin, plugin};

/// A running `igor-host serve` in a temporary directory.
pub struct Host {
    child: Child,
    pub url: String,
    port: u16,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    log_path: PathBuf,
    /// The process's environment beyond the test's own (its `TZ`).
    env: Vec<(String, String)>,
}

pub fn host_binary() -> &'static str {
    env!("CARGO_BIN_EXE_igor-host")
}

pub use igor_test_support::free_port;

impl Host {
    /// Starts the host with `config` in a new temporary directory, on a free
    /// port, and waits until it answers.
    pub async fn start(config: HostConfig) -> Host {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config_path = dir.path().join("host.toml");
        let text = config.to_toml(&dir.path().join("data"), port);
        std::fs::write(&config_path, text).unwrap();
        let log_path = dir.path().join("host.log");
        let cache = dir.path().join("data").join("cache");
        copy_cache(&shared_cache(), &cache);
        let env = config.env();
        let child = spawn_serve(&config_path, &log_path, &env);
        let host = Host {
            child,
            url: format!("http://127.0.0.1:{port}"),
            port,
            dir,
            config_path,
            log_path,
            env,
        };
        host.wait_ready().await;
        copy_cache(&cache, &shared_cache());
        host
    }

    /// The host process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the host with SIGKILL, as a crash would: no shutdown code runs.
    pub fn crash(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the host again on the same port, configuration and data.
    pub async fn restart(&mut self) {
        self.crash();
        self.child = spawn_serve(&self.config_path, &self.log_path, &self.env);
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(60) {
            if let Ok(r) = client.get(format!("{}/healthz", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("igor-host did not start; log:\n{}", self.log());
    }

    /// Everything the host logged so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        std::fs::File::open(&self.log_path)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    /// A document of the fitbit plugin, read by `igor-host get` from the
    /// host's store, as an operator would.
    pub fn stored(&self, path: &str) -> Option<serde_json::Value> {
        let output = self.run(&["get", path]);
        output
            .status
            .success()
            .then(|| serde_json::from_slice(&output.stdout).unwrap())
    }

    /// `igor-host ARGS` with this host's configuration.
    pub fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new(host_binary())
            .arg("--config")
            .arg(&self.config_path)
            .args(args)
            .output()
            .unwrap()
    }

    /// The same, which must succeed; its standard output.
    pub fn command(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "igor-host {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The status the host recorded for `representing` (its scheduled
    /// actions run in the background), once `ready` holds.
    pub async fn status_when(
        &self,
        representing: &str,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let url = format!("{}/status/{representing}", self.url);
        for _ in 0..300 {
            let response = reqwest::get(&url).await.unwrap();
            if response.status() == 200 {
                let status = response.json().await.unwrap();
                if ready(&status) {
                    return status;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no such status of {representing}; log:\n{}", self.log());
    }

    /// Sends SIGHUP (config reload).
    pub fn hangup(&self) {
        Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    /// Replaces the configuration (same data directory and port); the
    /// running host reads it on `hangup`.
    pub fn rewrite(&self, config: HostConfig) {
        let text = config.to_toml(&self.data_dir(), self.port);
        std::fs::write(&self.config_path, text).unwrap();
    }
}

/// `igor-host serve` with `config`, logging (appending) to `log_path`.
fn spawn_serve(config_path: &Path, log_path: &Path, env: &[(String, String)]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .unwrap();
    Command::new(host_binary())
        .arg("--config")
        .arg(config_path)
        .arg("serve")
        .env("IGOR_HOST_LOG", "info,igor_host=debug")
        .env("NO_COLOR", "1")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("starting igor-host")
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `igor-host call` once with `config` and returns (exit code, stdout, stderr).
pub fn call_once(config_path: &Path, target: &str) -> (i32, String, String) {
    let output = Command::new(host_binary())
        .arg("--config")
        .arg(config_path)
        .arg("call")
        .arg(target)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Compiled components shared by every host the tests start: compiling the
/// plugin takes seconds, loading it a few milliseconds. The host names its
/// cache files by the component's and the engine's hash and recompiles an
/// unusable file, so a shared copy is safe.
fn shared_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("component-cache")
}

/// Copies the cache files `from` has and `to` lacks (via a temporary name,
/// so a concurrent reader never sees half a file).
fn copy_cache(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    std::fs::create_dir_all(to).unwrap();
    // Each code file's check (`.cwasm.crc32`) before the code: the host
    // compiles again code it finds without one.
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(|e| !e.file_name().to_string_lossy().ends_with(".crc32"));
    for entry in entries {
        let name = entry.file_name();
        let target = to.join(&name);
        let text = name.to_string_lossy();
        if (text.ends_with(".cwasm") || text.ends_with(".cwasm.crc32")) && !target.exists() {
            static COPIES: AtomicUsize = AtomicUsize::new(0);
            let n = COPIES.fetch_add(1, Ordering::Relaxed);
            let partial = to.join(format!(
                ".{}.{}.{n}",
                name.to_string_lossy(),
                std::process::id()
            ));
            if std::fs::copy(entry.path(), &partial).is_ok() {
                let _ = std::fs::rename(&partial, &target);
            }
        }
    }
}

/// The SHA-256 of a token, as config's `token_sha256` wants it.
/// Points the forwarder of `igor` at `host`, sharing `secret`.
pub async fn forward_to(igor: &igor_test_support::real_igor::Igor, host: &Host, secret: &str) {
    igor.put_json(
        "plugindata/fitbit/host_url",
        &serde_json::json!({ "host_url": host.url }).to_string(),
    )
    .await;
    igor_test_support::real_igor::set_forward_secret(&igor.db, "fitbit", secret);
}

/// The section `## title` of the workspace's Markdown file `doc`, up to
/// the next `## ` heading.
pub fn doc_section(doc: &str, title: &str) -> String {
    let root = igor_test_support::real_igor::workspace_root();
    let text = std::fs::read_to_string(root.join(doc)).unwrap();
    let start = text
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("{doc} has no section {title:?}"));
    let end = text[start + 1..]
        .find("\n## ")
        .map_or(text.len(), |e| start + 1 + e);
    text[start..end].to_string()
}

pub fn sha256_hex(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The body of `GET url`, whatever its status.
pub async fn page_text(client: &reqwest::Client, url: &str) -> String {
    igor_test_support::text_of(client.get(url)).await
}

/// The hostile test guest with `manifest` written into it, as a file in
/// `dir` (the way `igor-fitbit/build.rs` writes the built-in plugin's).
pub fn hostile_with_manifest(dir: &Path, manifest: &str) -> PathBuf {
    let wasm = std::fs::read(igor_test_guests::HOSTILE).unwrap();
    let path = dir.join("hostile-with-manifest.wasm");
    std::fs::write(
        &path,
        igor_build_support::manifest::with_manifest(&wasm, manifest),
    )
    .unwrap();
    path
}

/// A loopback server answering every request with `body`; its base URL.
pub async fn upstream(body: &'static str) -> String {
    let app = axum::Router::new().fallback(move || async move { body });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}
