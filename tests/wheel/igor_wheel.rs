//! An Igor owner without a Rust toolchain: the wheel `scripts/wheel` builds
//! is installed into a fresh venv beside `igor-iot==0.99.1` (the pins of
//! tests/igor/setup-venv.sh), `igorSetup initialize` and `igor-host igor
//! install` set up Igor's directory, and Igor and the host run from that
//! venv. Then the owner's path in headless Chromium on a laptop that
//! reaches Igor as `igor.local`: settings, authorisation by paste-back,
//! Igor's action, and jack's data in `sensors/fitbit/jack`.
//!
//! The wheel is built with the test run's own profile (`--profile dev`) in
//! its target directory, so its dependencies are the ones the test build
//! compiled already.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::chromium::{
    authorise_jack_by_pasting, laptop_browser, log_in_to_igor, open_setup, text, wait_for,
};
use fantoccini::Locator;
use igor_test_support::fake_google::DEFAULT_HEALTH_USER_ID;
use igor_test_support::real_igor::{first_weight, workspace_root};
use igor_test_support::{FakeGoogle, free_port, text_of};

use crate::common;

const CLIENT_ID: &str = "wheel.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-wheel";

/// The pins `tests/igor/setup-venv.sh` installs Igor 0.99.1 with.
fn igor_pins() -> Vec<String> {
    let script =
        std::fs::read_to_string(workspace_root().join("tests/igor/setup-venv.sh")).unwrap();
    let pins: Vec<String> = script
        .split('\'')
        .filter(|s| s.contains("==") || s.contains('<'))
        .filter(|s| !s.contains(' '))
        .map(str::to_string)
        .collect();
    assert!(pins.iter().any(|p| p == "igor-iot==0.99.1"), "{pins:?}");
    pins
}

/// The Python that the Igor venv was made with (3.11: Igor 0.99.1 needs `imp`).
fn python311() -> PathBuf {
    let venv = igor_test_support::real_igor::venv();
    let python = venv.join("bin/python3.11");
    if python.exists() {
        return python.canonicalize().unwrap();
    }
    PathBuf::from("python3.11")
}

fn run(command: &mut Command) -> String {
    let output = command.stdin(Stdio::null()).output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Processes started from the venv; killed at the end.
struct Background(Vec<Child>);

impl Drop for Background {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

async fn wait_until_answers(url: &str, log: &Path, seconds: u64) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Ok(r) = client
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            && r.status().is_success()
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer within {seconds} s:\n{}",
            log_of(log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_owner_installs_the_wheel_into_igors_venv_and_gets_data() {
    let tmp = tempfile::tempdir().unwrap();

    // The wheel, built in this test run's target directory and profile.
    let binary = Path::new(common::host_binary());
    let target_dir = binary.parent().unwrap().parent().unwrap();
    let started = Instant::now();
    let wheel = run(Command::new(workspace_root().join("scripts/wheel"))
        .args(["--profile", "dev", "--out"])
        .arg(tmp.path().join("wheels"))
        .env("CARGO_TARGET_DIR", target_dir));
    let wheel = PathBuf::from(wheel.trim());
    eprintln!("wheel {} built in {:?}", wheel.display(), started.elapsed());
    assert!(
        wheel
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("igor_fitbit-"),
        "{}",
        wheel.display()
    );

    // A fresh venv with Igor and the wheel, as an owner makes it.
    let venv = tmp.path().join("venv");
    run(Command::new(python311()).arg("-m").arg("venv").arg(&venv));
    run(Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(igor_pins())
        .arg(&wheel));
    let bin = venv.join("bin");
    assert!(
        bin.join("igor-host").is_file(),
        "the wheel puts igor-host on the venv's PATH"
    );

    // Igor's database, and the one command.
    let db = tmp.path().join("igor");
    run(Command::new(bin.join("igorSetup"))
        .arg("-d")
        .arg(&db)
        .arg("initialize"));
    let (igor_port, host_port) = (free_port(), free_port());
    let igor = format!("http://127.0.0.1:{igor_port}");
    let install = || {
        let mut command = Command::new(bin.join("igor-host"));
        command
            .args(["igor", "install"])
            .arg(&db)
            .args(["--igor-url", &igor, "--port", &host_port.to_string()])
            .args(["--allowed-host", "igor.local"])
            .env("NO_COLOR", "1");
        command
    };
    let unit = run(&mut install());
    let config = db.join("igor-host.toml");
    assert!(
        unit.contains(&format!(
            "ExecStart={} --config {} serve",
            bin.join("igor-host").display(),
            db.canonicalize().unwrap().join("igor-host.toml").display()
        )),
        "{unit}"
    );
    let again = install().stdin(Stdio::null()).output().unwrap();
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("Nothing to change"),
        "{again:?}"
    );

    // The provider is the fake Google on loopback: its endpoints go below
    // the [[plugin]] the install wrote (its last table).
    let google = FakeGoogle::start().await;
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(&format!(
        "[plugin.config]\ngoogle_api_url = \"{}\"\ngoogle_authorize_url = \"{}\"\n\
         google_token_url = \"{}\"\ngoogle_revoke_url = \"{}\"\n\
         [plugin.egress]\nallow_loopback = true\n",
        google.url(),
        google.authorize_url(),
        google.token_url(),
        google.revoke_url()
    ));
    std::fs::write(&config, toml).unwrap();

    // Igor and the host, from the venv.
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let (igor_log, host_log) = (tmp.path().join("igor.log"), tmp.path().join("host.log"));
    let spawn = |program: &Path, args: &[&str], log: &Path| {
        let out = std::fs::File::create(log).unwrap();
        Command::new(program)
            .args(args)
            .env("HOME", &home)
            .env_remove("XDG_DATA_HOME")
            .env_remove("IGOR_HOST_CONFIG")
            .env("PYTHONUNBUFFERED", "1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap()
    };
    let db_arg = db.display().to_string();
    let port_arg = igor_port.to_string();
    let mut background = Background(Vec::new());
    background.0.push(spawn(
        &bin.join("igorServer"),
        &["-d", &db_arg, "-p", &port_arg, "--nossl", "--nologfile"],
        &igor_log,
    ));
    // The first start merges the plugin's database fragment; the host
    // starts once Igor answers (it learns Igor's URL from it).
    wait_until_answers(&format!("{igor}/data/services/igor/url"), &igor_log, 180).await;
    let config_arg = config.display().to_string();
    background.0.push(spawn(
        &bin.join("igor-host"),
        &["--config", &config_arg, "serve"],
        &host_log,
    ));
    wait_until_answers(
        &format!("http://127.0.0.1:{host_port}/healthz"),
        &host_log,
        60,
    )
    .await;
    let igor_own_url = text_of(
        reqwest::Client::new()
            .get(format!("{igor}/data/services/igor/url"))
            .header("accept", "text/plain"),
    )
    .await;
    let igor_own_url = igor_own_url.trim().trim_end_matches("/data").to_string();
    let redirect = format!("{igor_own_url}/plugin/fitbit/auth2");
    google.register_client(CLIENT_ID, CLIENT_SECRET, &[&redirect]);

    // The laptop's browser reaches Igor as igor.local.
    let listen = format!("127.0.0.1:{igor_port}");
    let (_driver, client, _profile, site) = laptop_browser(igor_port, &listen).await;
    log_in_to_igor(&client, &site).await;
    let setup = format!("{site}/plugin/fitbit/page/setup.html");
    assert_eq!(
        open_setup(&client, &setup).await,
        "Fitbit for Igor: setup",
        "{}\n{}",
        log_of(&igor_log),
        log_of(&host_log)
    );
    let page = text(&client).await;
    assert!(page.contains(&redirect), "{page}");

    authorise_jack_by_pasting(
        &client,
        &setup,
        &redirect,
        (CLIENT_ID, CLIENT_SECRET),
        || log_of(&host_log),
    )
    .await;

    // Igor's action, named by the install, run from the browser.
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 80_100.0);
    client.goto(&format!("{site}/action/fitbit")).await.unwrap();
    let body = wait_for(&client, Locator::Css("body")).await;
    assert_eq!(
        body.text().await.unwrap().trim(),
        "OK",
        "{}",
        log_of(&igor_log)
    );
    let igor_client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let sensors: serde_json::Value = loop {
        let response = igor_client
            .get(format!("{igor}/data/sensors/fitbit/jack"))
            .header("accept", "application/json")
            .basic_auth("admin", Some(""))
            .send()
            .await
            .unwrap();
        if response.status().is_success() {
            break response.json().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no sensors/fitbit/jack in Igor:\n{}\n{}",
            log_of(&igor_log),
            log_of(&host_log)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let weight = first_weight(&sensors["jack"]["weight"]);
    assert!((weight - 80.1).abs() < 0.01, "{sensors}");
    client.close().await.unwrap();
}
