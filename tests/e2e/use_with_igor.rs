//! "Use with Igor, built from source" (docs/igor-from-source.md), followed
//! as written: its shell commands and its configuration file are read from it
//! and run against a fresh Igor 0.99.1 with access control on (only ports, `DIR`, the config file's
//! place and the provider endpoints are changed, to the fake Google). What a
//! person does in the browser (log in, enter the client credentials,
//! authorise) is done over HTTP in between, as the document describes it.
//! Also: the plugin installed in Igor under another name, `_fitbit`.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Client, Host, HostConfig, plugin};
use igor_test_support::fake_google::DEFAULT_HEALTH_USER_ID;
use igor_test_support::free_port;
use igor_test_support::real_igor;
use igor_test_support::{FakeGoogle, consent};
use real_igor::{Igor, Options, first_weight, install_forwarder, venv, workspace_root};
use serde_json::Value;

const CLIENT_ID: &str = "readme-client.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-readme";

/// The commands and the configuration file of a section of docs/igor-from-source.md.
struct Section {
    text: String,
    /// Each indented code block's commands (continuation lines joined).
    blocks: Vec<Vec<String>>,
    toml: String,
}

fn readme_section(title: &str) -> Section {
    let text = common::doc_section("docs/igor-from-source.md", title);
    let (mut blocks, mut toml) = (Vec::new(), None);
    let mut lines = text.lines().peekable();
    let mut previous_blank = true;
    while let Some(line) = lines.next() {
        let indent = line.len() - line.trim_start().len();
        if line.trim_start().starts_with("```toml") {
            let body: Vec<&str> = lines
                .by_ref()
                .take_while(|l| l.trim() != "```")
                .map(|l| l.get(indent..).unwrap_or(""))
                .collect();
            toml = Some(body.join("\n") + "\n");
        } else if indent >= 7 && previous_blank && !line.trim().is_empty() {
            let mut code = vec![line.trim().to_string()];
            while let Some(next) = lines.next_if(|l| !l.trim().is_empty()) {
                code.push(next.trim().to_string());
            }
            blocks.push(join_continuations(&code));
        }
        previous_blank = line.trim().is_empty();
    }
    Section {
        text,
        blocks,
        toml: toml.expect("the section shows a configuration file"),
    }
}

fn join_continuations(lines: &[String]) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in lines {
        match line.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    commands
}

/// Runs the document's commands: from the repository root, with Igor's commands on
/// PATH and a private HOME; `&` and `serve` start background processes.
struct Shell {
    dir: PathBuf,
    home: PathBuf,
    config: PathBuf,
    igor_port: u16,
    host_port: u16,
    background: Vec<Child>,
}

impl Shell {
    fn substitute(&self, command: &str) -> String {
        command
            .replace("DIR", &self.dir.display().to_string())
            .replace(
                "cargo run --release -p igor-fitbit --",
                common::host_binary(),
            )
            .replace("igor-host.toml", &self.config.display().to_string())
            .replace("9333", "\u{1}IGOR\u{1}")
            .replace("9334", "\u{1}HOST\u{1}")
            .replace("\u{1}IGOR\u{1}", &self.igor_port.to_string())
            .replace("\u{1}HOST\u{1}", &self.host_port.to_string())
    }

    fn command(&self, command: &str) -> Command {
        let path = format!(
            "{}:{}",
            venv().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut shell = Command::new("bash");
        shell
            .arg("-c")
            .arg(command)
            .current_dir(workspace_root())
            .env("PATH", path)
            .env("HOME", &self.home)
            .env_remove("XDG_DATA_HOME")
            .env_remove("IGOR_HOST_CONFIG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        shell
    }

    /// Runs a command and returns its standard output; it must succeed.
    fn run(&self, command: &str) -> String {
        let command = self.substitute(command);
        let output = self.command(&command).output().unwrap();
        assert!(
            output.status.success(),
            "`{command}` failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Starts a command in the background; its output goes to `log`.
    fn start(&mut self, command: &str, log: &Path) {
        let command = self.substitute(command.trim_end_matches('&').trim());
        let out = std::fs::File::create(log).unwrap();
        let child = self
            .command(&format!("exec {command}"))
            .env("PYTHONUNBUFFERED", "1")
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        self.background.push(child);
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        for child in &mut self.background {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Polls `url` until `ready` holds for its answer (status, body).
async fn wait_for(url: &str, what: &str, log: &Path, ready: impl Fn(u16, &str) -> bool) -> String {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
        {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            if ready(status, &body) {
                return body;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not happen; log:\n{}", log_of(log));
}

/// The document's file, pointed at the fake Google instead of Google.
fn config_for_fake(toml: &str, google: &FakeGoogle) -> String {
    let config = toml
        .replace(
            "https://accounts.google.com/o/oauth2/v2/auth",
            &google.authorize_url(),
        )
        .replace("https://oauth2.googleapis.com/token", &google.token_url())
        .replace("https://oauth2.googleapis.com/revoke", &google.revoke_url())
        .replace("https://oauth2.googleapis.com", &google.url())
        .replace("https://health.googleapis.com", &google.url());
    let last_table = config
        .lines()
        .rfind(|l| l.trim_start().starts_with('['))
        .unwrap_or("");
    assert_eq!(
        last_table.split('#').next().unwrap().trim(),
        "[plugin.config]",
        "the file ends with the plugin's settings:\n{config}"
    );
    // The fake listens on loopback, which a plugin may reach only when
    // told so; its settings alone let it reach the fake's address.
    format!("{config}[plugin.egress]\nallow_loopback = true\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_steps_work_as_written() {
    let section = readme_section("Step by step");
    let kinds: Vec<Vec<&str>> = section
        .blocks
        .iter()
        .map(|b| b.iter().map(|c| c.split(' ').next().unwrap()).collect())
        .collect();
    assert_eq!(
        kinds,
        [
            vec!["igorSetup", "igorSetup", "rm", "cp", "(umask"],
            vec!["igorServer", "igorVar", "igorVar"],
            vec!["cargo"],
            vec!["curl", "igorVar", "cargo"],
        ],
        "the steps this test follows"
    );
    let google = FakeGoogle::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let mut shell = Shell {
        dir: tmp.path().join("igor-db"),
        home: home.clone(),
        config: tmp.path().join("igor-host.toml"),
        igor_port: free_port(),
        host_port: free_port(),
        background: Vec::new(),
    };
    let igor = format!("http://127.0.0.1:{}", shell.igor_port);
    let (igor_log, host_log) = (tmp.path().join("igor.log"), tmp.path().join("host.log"));

    // 1. A fresh database with the forwarder in place of the fitbit plugin,
    // copied by a path relative to the repository root.
    for command in &section.blocks[0] {
        shell.run(command);
    }
    assert!(shell.dir.join("plugins/fitbit/igorplugin.py").is_file());
    let secret = shell.dir.join("fitbit.forward_secret");
    let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
    assert_eq!(
        mode & 0o077,
        0,
        "only Igor's user may read {}",
        secret.display()
    );

    // 2. Igor starts; until the forwarder is told where the host is, its
    // answer (which Igor's action records) says what to do.
    let [start_igor, settings @ ..] = section.blocks[1].as_slice() else {
        unreachable!()
    };
    shell.start(start_igor, &igor_log);
    let igor_url = format!("{igor}/data/services/igor/url");
    wait_for(&igor_url, "Igor starting", &igor_log, |s, _| s == 200).await;
    let unconfigured = reqwest::Client::new()
        .get(format!("{igor}/plugin/fitbit?user=jack"))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(unconfigured.status(), 503);
    let text = unconfigured.text().await.unwrap();
    assert!(
        text.contains(
            "503 fitbit forwarder not configured yet: set plugindata/fitbit/host_url \
             to igor-host's URL, then run the action again"
        ),
        "{text}"
    );
    for command in settings {
        shell.run(command);
    }
    let action = Command::new(venv().join("bin/igorVar"))
        .args([
            "-u",
            &format!("{igor}/data/"),
            "--credentials",
            "admin:",
            "--json",
        ])
        .arg("actions/action[representing=\"sensors/fitbit\"]/name")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&action.stdout).contains("fitbit"),
        "the action has a name: {action:?}"
    );

    // 3. The whole configuration file, and the host with Igor as its store.
    let file = config_for_fake(&shell.substitute(&section.toml), &google);
    std::fs::write(&shell.config, file).unwrap();
    shell.start(&section.blocks[2][0], &host_log);
    let host = format!("http://127.0.0.1:{}", shell.host_port);
    wait_for(
        &format!("{host}/healthz"),
        "igor-host starting",
        &host_log,
        |s, _| s == 200,
    )
    .await;
    let data_dir = home.join(".local/share/igor-host");
    assert!(
        log_of(&host_log).contains(&format!("Data directory: {}", data_dir.display())),
        "{}",
        log_of(&host_log)
    );

    // 4. The browser: the setup page needs an Igor login.
    let redirect = format!("{igor}/plugin/fitbit/auth2");
    google.register_client(CLIENT_ID, CLIENT_SECRET, &[&redirect]);
    let browser = Client::at(&igor).http;
    let setup = format!("{igor}/plugin/fitbit/page/setup.html");
    let refused = browser.get(&setup).send().await.unwrap();
    assert_eq!(refused.status(), 401, "not logged in");
    let login = browser
        .post(format!("{igor}/login"))
        .form(&[("username", "admin"), ("password", "")])
        .send()
        .await
        .unwrap();
    assert!(login.status().is_redirection(), "{login:?}");
    let session = login.headers()["set-cookie"].to_str().unwrap();
    let cookie = session.split(';').next().unwrap().to_string();
    let logged_in_get = async |url: &str| {
        let request = browser.get(url).header("cookie", &cookie);
        request.send().await.unwrap()
    };
    let page = logged_in_get(&setup).await;
    assert_eq!(page.status(), 200, "{}", log_of(&igor_log));
    let page = page.text().await.unwrap();
    assert!(
        page.contains(&redirect),
        "the page shows Igor's callback: {page}"
    );
    let saved = browser
        .post(format!("{igor}/plugin/fitbit/settings"))
        .header("cookie", &cookie)
        .header("origin", &igor)
        .form(&[("client_id", CLIENT_ID), ("client_secret", CLIENT_SECRET)])
        .send()
        .await
        .unwrap();
    assert!(
        saved.status().as_u16() < 400,
        "{saved:?}\n{}",
        log_of(&host_log)
    );
    let start = logged_in_get(&format!("{igor}/plugin/fitbit/auth1?user=jack")).await;
    assert_eq!(start.status(), 303, "{}", log_of(&igor_log));
    let back = consent(&browser, start.headers()["location"].to_str().unwrap())
        .await
        .unwrap();
    assert!(back.starts_with(&redirect), "{back}");
    let done = logged_in_get(&back).await;
    assert_eq!(done.status(), 200, "{}", log_of(&host_log));
    assert!(
        !std::fs::read_to_string(shell.dir.join("database.xml"))
            .unwrap()
            .contains(CLIENT_SECRET),
        "the client secret stays with the host"
    );
    assert!(data_dir.join("store.sqlite").is_file());

    // 5. Run the action now; its status and jack's data follow.
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 80_100.0);
    let [run_action, read_status, read_data] = section.blocks[3].as_slice() else {
        unreachable!()
    };
    assert_eq!(shell.run(run_action).trim(), "OK");
    wait_for(
        &format!("{igor}/data/status/sensors/fitbit"),
        "a successful run of the action",
        &host_log,
        |_, body| body.contains("\"alive\": true"),
    )
    .await;
    let status: Value = serde_json::from_str(&shell.run(read_status)).unwrap();
    assert_eq!(status["fitbit"]["alive"], true, "{status}");
    assert!(status["fitbit"].get("lastSuccess").is_some(), "{status}");
    let data: Value = serde_json::from_str(&shell.run(read_data)).unwrap();
    assert!(
        (first_weight(&data["weight"]) - 80.1).abs() < 0.01,
        "{data}"
    );

    // Stopping Igor as the document says.
    let stop = section
        .text
        .split('`')
        .find(|s| s.starts_with("igorControl ") && s.ends_with(" stop"))
        .expect("the document says how to stop Igor");
    shell.run(stop);
    let igor_process = &mut shell.background[0];
    for _ in 0..300 {
        if igor_process.try_wait().unwrap().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("Igor did not stop: {}", log_of(&igor_log));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_install_named_underscore_fitbit_keeps_to_its_own_paths() {
    let mut igor = Igor::start(Options {
        capabilities: false,
        addstd: vec!["_fitbit=fitbit".into()],
        forwarder: false,
    })
    .await;
    igor.stop();
    install_forwarder(&igor.db, "_fitbit");
    igor.restart().await;
    let config = HostConfig::new()
        .igor_store(&igor.url, 5000)
        .plugin(plugin("_fitbit"));
    let host = Host::start(config).await;
    igor.put_json(
        "plugindata/_fitbit/host_url",
        &serde_json::json!({ "host_url": host.url }).to_string(),
    )
    .await;
    let plugin = format!("{}/plugin/_fitbit", igor.url);
    let page = reqwest::get(format!("{plugin}/page/setup.html"))
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "{}", igor.log());
    let page = page.text().await.unwrap();
    assert!(page.contains(&format!("{plugin}/auth2")), "{page}");
    let saved = reqwest::Client::new()
        .post(format!("{plugin}/settings"))
        .form(&[("client_id", CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert!(saved.status().as_u16() < 400, "{}", host.log());
    let app = igor.get_json("plugindata/_fitbit").await.unwrap();
    assert_eq!(app["_fitbit"]["client_id"], CLIENT_ID, "{app}");
    // `igor-host get` reads it from Igor too.
    let output = host.command(&["get", "--plugin", "_fitbit", "plugindata/_fitbit"]);
    let stored: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(stored["client_id"], CLIENT_ID, "{stored}");
}
