//! A real Igor (igor-iot 0.99.1 from `tests/igor-venv`) on a free loopback
//! port with a fresh database, for tests of the Igor bridge.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::free_port;

/// The workspace's Igor venv; panics with the fix when it is missing.
pub fn venv() -> PathBuf {
    let venv = workspace_root().join("tests/igor-venv");
    let ok = venv.join("bin/igorServer").exists()
        && venv.join("bin/igorSetup").exists()
        && venv.join("bin/python").exists();
    assert!(
        ok,
        "no Igor venv at {}: run tests/igor/setup-venv.sh (needs Python 3.11 and PyPI)",
        venv.display()
    );
    venv
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Run with access control (`--noCapabilities` otherwise).
    pub capabilities: bool,
    /// `igorSetup addstd` these before the first start.
    pub addstd: Vec<String>,
    /// Replace `plugins/fitbit` by the forwarder in `igor/plugin/` (after
    /// `addstd fitbit`, so the original fragment and action stay).
    pub forwarder: bool,
}

/// A running `igorServer`; stopped (killed) when dropped.
pub struct Igor {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub options: Options,
    log: PathBuf,
    /// Where Igor's own std fitbit plugin finds "the Fitbit cloud".
    fitbit_origin: Option<String>,
}

impl Igor {
    pub async fn start(options: Options) -> Igor {
        Self::start_inner(options, None).await
    }

    /// Like `start`, with python-fitbit (used by Igor's original std fitbit
    /// plugin) pointed at `origin`, e.g. a fake Fitbit on loopback, by
    /// `tests/igor/original-fitbit.py`.
    pub async fn start_with_fitbit_origin(options: Options, origin: &str) -> Igor {
        Self::start_inner(options, Some(origin.to_string())).await
    }

    async fn start_inner(options: Options, fitbit_origin: Option<String>) -> Igor {
        let venv = venv();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        run(Command::new(venv.join("bin/igorSetup"))
            .arg("-d")
            .arg(&db)
            .arg("initialize"));
        for name in &options.addstd {
            run(Command::new(venv.join("bin/igorSetup"))
                .arg("-d")
                .arg(&db)
                .arg("addstd")
                .arg(name));
        }
        if options.forwarder {
            install_forwarder(&db, "fitbit");
        }
        let port = free_port();
        let mut igor = Igor {
            child: None,
            port,
            url: format!("http://127.0.0.1:{port}"),
            log: dir.path().join("igor.log"),
            dir,
            db,
            options,
            fitbit_origin,
        };
        igor.spawn().await;
        igor
    }

    async fn spawn(&mut self) {
        let log = std::fs::File::create(&self.log).unwrap();
        let mut command = match &self.fitbit_origin {
            None => Command::new(venv().join("bin/igorServer")),
            Some(origin) => {
                let mut python = Command::new(venv().join("bin/python"));
                python
                    .arg(workspace_root().join("tests/igor/original-fitbit.py"))
                    .env("FITBIT_ORIGIN", origin);
                python
            }
        };
        command
            .arg("-d")
            .arg(&self.db)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("--nossl")
            .arg("--nologfile");
        if !self.options.capabilities {
            command.arg("--noCapabilities");
        }
        let child = command
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting igorServer");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client
                .get(format!("{}/data/services/igor/url", self.url))
                .header("accept", "application/json")
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("igorServer exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "igorServer did not answer within 30 s:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the server (its database stays for `restart`).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }

    /// Adds the Igor user `guest` (any password), who may open the fitbit
    /// plugin's pages (GET on its entry points) and write only below its
    /// own identity, as Igor's `user` plugin sets a user up; and gives the
    /// plugin the right to read its settings whoever calls it, as the
    /// standard fragment does. Igor is restarted for it.
    pub async fn add_guest(&mut self) {
        self.stop();
        let path = self.db.join("database.xml");
        let xml = std::fs::read_to_string(&path).unwrap();
        let plugin_right = "<plugindata><fitbit><au:capability><cid>fitbit-own</cid>\
            <obj>/data/plugindata/fitbit</obj><get>descendant-or-self</get>\
            <parent>root</parent></au:capability></fitbit>";
        // Igor writes an empty element as `<plugindata/>` once it has saved.
        let xml = if xml.contains("<plugindata/>") {
            xml.replacen("<plugindata/>", &format!("{plugin_right}</plugindata>"), 1)
        } else {
            xml.replacen("<plugindata>", plugin_right, 1)
        };
        assert!(xml.contains("fitbit-own"), "{xml}");
        let guest = "<guest>\
            <au:capability><cid>guest-plugin</cid><obj>/plugin/fitbit</obj>\
            <get>descendant-or-self</get><parent>root</parent></au:capability>\
            <au:capability><cid>guest-data</cid><obj>/data/identities/guest</obj>\
            <get>descendant-or-self</get><put>descendant</put><post>descendant</post>\
            <delete>descendant</delete><parent>root</parent></au:capability>\
            </guest></identities>";
        std::fs::write(&path, xml.replacen("</identities>", guest, 1)).unwrap();
        self.restart().await;
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The server's process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Another Igor client: a raw request to `/data/<path>` (admin on a
    /// database with capabilities).
    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        accept: &str,
        body: Option<(&str, &str)>,
    ) -> (u16, String) {
        let mut request = reqwest::Client::new()
            .request(method, format!("{}/data/{path}", self.url))
            .header("accept", accept)
            .basic_auth("admin", Some(""));
        if let Some((content_type, body)) = body {
            request = request
                .header("content-type", content_type)
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn get_json(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = self
            .raw(reqwest::Method::GET, path, "application/json", None)
            .await;
        match status {
            200 => Some(serde_json::from_str(&body).unwrap()),
            404 => None,
            other => panic!("GET {path}: {other} {body}"),
        }
    }

    pub async fn put_json(&self, path: &str, json: &str) {
        let (status, body) = self
            .raw(
                reqwest::Method::PUT,
                path,
                "application/json",
                Some(("application/json", json)),
            )
            .await;
        assert_eq!(status, 200, "PUT {path}: {body}");
    }

    pub async fn raw_xml(&self, path: &str) -> String {
        let (status, body) = self
            .raw(
                reqwest::Method::GET,
                &format!("{path}?.VARIANT=raw"),
                "application/xml",
                None,
            )
            .await;
        assert_eq!(status, 200, "GET raw {path}: {body}");
        body
    }

    /// Gives `user` a password (Igor's pbkdf2 hash), so that a wrong one is
    /// refused.
    pub async fn set_password(&self, user: &str, password: &str) {
        let out = Command::new(venv().join("bin/python"))
            .arg("-c")
            .arg("import sys, passlib.hash; print(passlib.hash.pbkdf2_sha256.hash(sys.argv[1]))")
            .arg(password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
        self.put_json(
            &format!("identities/{user}/encryptedPassword"),
            &serde_json::json!({ "encryptedPassword": hash }).to_string(),
        )
        .await;
    }
}

/// The first weigh-in's weight in `weight` of a `sensors/N/U` document as
/// Igor gives it back (a one-element list comes back as its element).
pub fn first_weight(weight: &serde_json::Value) -> f64 {
    let entry = weight.as_array().and_then(|l| l.first()).unwrap_or(weight);
    entry["weight"].as_f64().expect("a weight")
}

/// Puts the forwarder in `igor/plugin/` in place of the plugin `name` of
/// the database `db` (Igor must be stopped).
pub fn install_forwarder(db: &Path, name: &str) {
    let target = db.join("plugins").join(name);
    let _ = std::fs::remove_file(&target);
    let _ = std::fs::remove_dir_all(&target);
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(workspace_root().join("igor/plugin")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
}

/// Gives the forwarder installed as `name` its forward secret, in the file
/// beside Igor's database where it looks for it, readable by its owner only.
pub fn set_forward_secret(db: &Path, name: &str, secret: &str) {
    use std::os::unix::fs::OpenOptionsExt;
    let path = db.join(format!("{name}.forward_secret"));
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .unwrap();
    std::io::Write::write_all(&mut file, secret.as_bytes()).unwrap();
}

impl Drop for Igor {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(command: &mut Command) {
    let out = command.output().expect("running igorSetup");
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        command,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
