//! A new owner's first steps with the real binary and the real test
//! command: where the data lives whatever directory the host starts in,
//! secrets set and documents read from the command line (per tenant),
//! install names as Igor allows them, a config mistake that names its fix,
//! and the test script on a machine that lacks its Debian packages.

use crate::common;

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::config::tenant;
use common::{Client, Host, HostConfig, clouds, free_port, host_binary, plugin};
use igor_test_support::{FakeGoogle, consent};
use serde_json::Value;

const CLIENT_ID: &str = "first-run.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-first-run";

/// `igor-host --config CONFIG ARGS...` in `cwd` with a private HOME, and
/// `stdin` as its standard input.
fn igor_host(config: &Path, home: &Path, cwd: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(host_binary())
        .arg("--config")
        .arg(config)
        .args(args)
        .current_dir(cwd)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The plugin settings that point the fitbit plugin at the fake Google.
fn google_plugin(google: &FakeGoogle, header: &str) -> String {
    let g = google.url();
    format!(
        "{header}\nname = \"fitbit\"\nconfig = {{ google_api_url = \"{g}\", google_authorize_url = \"{}\", \
         google_token_url = \"{}\", google_revoke_url = \"{}\" }}\n\
         egress = {{ allow_loopback = true }}\n",
        google.authorize_url(),
        google.token_url(),
        google.revoke_url(),
    )
}

/// Client id by the settings form, then auth1 → consent → auth2: the token
/// exchange needs the client secret. Returns auth2's status.
async fn authorise(plugin: &str, bearer: Option<&str>) -> u16 {
    let http = Client::at(plugin).http;
    let with_auth = |r: reqwest::RequestBuilder| match bearer {
        Some(token) => r.bearer_auth(token),
        None => r,
    };
    let saved = with_auth(http.post(format!("{plugin}/settings")))
        .form(&[("client_id", CLIENT_ID)])
        .send()
        .await
        .unwrap();
    assert!(saved.status().as_u16() < 400, "{saved:?}");
    let start = with_auth(http.get(format!("{plugin}/auth1?user=jack")))
        .send()
        .await
        .unwrap();
    if start.status() != 303 {
        return start.status().as_u16();
    }
    let back = consent(&http, start.headers()["location"].to_str().unwrap())
        .await
        .unwrap();
    http.get(&back).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_directory_does_not_depend_on_where_the_host_starts() {
    let google = FakeGoogle::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let (here, there) = (tmp.path().join("here"), tmp.path().join("there"));
    for dir in [&home, &here, &there] {
        std::fs::create_dir(dir).unwrap();
    }
    let port = free_port();
    let config = tmp.path().join("igor-host.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\n{}",
            google_plugin(&google, "[[plugin]]")
        ),
    )
    .unwrap();
    let data_dir = home.join(".local/share/igor-host");

    // The secret, set from one directory (a line break from the shell is
    // not part of it)...
    let set = igor_host(
        &config,
        &home,
        &here,
        &["secret", "set", "client_secret"],
        &format!("{CLIENT_SECRET}\n"),
    );
    assert!(set.status.success(), "{}", stderr(&set));
    let store = data_dir.join("store.sqlite");
    assert!(
        stderr(&set).contains(&store.display().to_string()),
        "{}",
        stderr(&set)
    );
    let empty = igor_host(
        &config,
        &home,
        &here,
        &["secret", "set", "client_secret"],
        "",
    );
    assert!(!empty.status.success(), "an empty value is refused");
    assert!(
        stderr(&empty).contains("no value for client_secret"),
        "{}",
        stderr(&empty)
    );

    // ...is found by the host started from another, which says where its
    // data is.
    let out_path = tmp.path().join("serve.out");
    let mut serve = Command::new(host_binary())
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .current_dir(&there)
        .env("HOME", &home)
        .env_remove("XDG_DATA_HOME")
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let mut up = false;
    for _ in 0..600 {
        if reqwest::get(format!("{url}/healthz"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "igor-host did not start");
    google.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        &[&format!("{url}/plugin/fitbit/auth2")],
    );
    let status = authorise(&format!("{url}/plugin/fitbit"), None).await;
    let _ = serve.kill();
    let _ = serve.wait();
    assert_eq!(status, 200, "the token exchange found the secret");
    let printed = std::fs::read_to_string(&out_path).unwrap();
    assert!(
        printed.contains(&format!("Data directory: {}", data_dir.display())),
        "{printed}"
    );
    for dir in [&here, &there] {
        assert_eq!(
            std::fs::read_dir(dir).unwrap().count(),
            0,
            "nothing in {}",
            dir.display()
        );
    }

    // `get` reads the same store, from anywhere.
    let token = igor_host(
        &config,
        &home,
        &here,
        &["get", "identities/jack/plugindata/fitbit/token"],
        "",
    );
    assert!(token.status.success(), "{}", stderr(&token));
    let token: Value = serde_json::from_slice(&token.stdout).unwrap();
    assert_eq!(token["provider"], "google-health", "{token}");
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_and_documents_from_the_command_line_follow_tenants() {
    let google = FakeGoogle::start().await;
    let (a, b) = ("token-of-a", "token-of-b");
    let fitbit = clouds::google_plugin(&google, None);
    let tenants = HostConfig::new()
        .tenant(tenant("a", a).plugin(fitbit.clone()).own_sqlite_store())
        .tenant(tenant("b", b).plugin(fitbit));
    let host = Host::start(tenants).await;
    let (config, home, cwd) = (&host.config_path, host.dir.path(), host.dir.path());
    let run = |args: &[&str], stdin: &str| igor_host(config, home, cwd, args, stdin);
    for (args, why) in [
        (
            vec!["secret", "set", "client_secret"],
            "name one with --tenant (a, b)",
        ),
        (
            vec!["secret", "set", "--tenant", "c", "client_secret"],
            "no tenant \"c\"",
        ),
        (
            vec![
                "secret",
                "set",
                "--tenant",
                "a",
                "--plugin",
                "fitbitt",
                "client_secret",
            ],
            "tenant a has no plugin \"fitbitt\" (plugins: fitbit)",
        ),
        (
            vec!["secret", "set", "--tenant", "a", "bad/name"],
            "secret names are",
        ),
    ] {
        let out = run(&args, CLIENT_SECRET);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(why), "{args:?}: {}", stderr(&out));
    }
    let set = run(
        &["secret", "set", "--tenant", "a", "client_secret"],
        CLIENT_SECRET,
    );
    assert!(set.status.success(), "{}", stderr(&set));

    let redirect = |t: &str| format!("{}/tenants/{t}/plugin/fitbit/auth2", host.url);
    google.register_client(CLIENT_ID, CLIENT_SECRET, &[&redirect("a"), &redirect("b")]);
    let plugin = |t: &str| format!("{}/tenants/{t}/plugin/fitbit", host.url);
    assert_eq!(
        authorise(&plugin("a"), Some(a)).await,
        200,
        "{}",
        host.log()
    );
    assert_eq!(
        authorise(&plugin("b"), Some(b)).await,
        403,
        "tenant b has no client secret"
    );

    // Tenant a keeps its documents in its own store; `get` finds them there.
    let path = "identities/jack/plugindata/fitbit/token";
    let token = run(&["get", "--tenant", "a", path], "");
    assert!(token.status.success(), "{}", stderr(&token));
    let token: Value = serde_json::from_slice(&token.stdout).unwrap();
    assert_eq!(token["provider"], "google-health", "{token}");
    let other = run(&["get", "--tenant", "b", path], "");
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("nothing stored"),
        "{}",
        stderr(&other)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn install_names_are_what_igor_accepts_and_cannot_reach_host_data() {
    let probe = plugin("_host").component(igor_test_guests::HOSTILE);
    let config = HostConfig::new()
        .plugin(plugin("_fitbit"))
        .plugin(probe)
        .first_runs_at_once()
        .action(3600, "/plugin/_host/ok", Some("sensors/probe"));
    let host = Host::start(config).await;
    let page = reqwest::get(format!("{}/plugin/_fitbit/page/setup.html", host.url))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("/plugin/_fitbit/auth2"));
    let status = host.status_when("sensors/probe", |_| true).await;
    assert_eq!(status["alive"], true, "{status}\n{}", host.log());
    // A plugin named as the host's namespace once was sees none of it.
    let probe = reqwest::get(format!(
        "{}/plugin/_host/store-get?path=status/sensors/probe",
        host.url
    ))
    .await
    .unwrap();
    assert_eq!(probe.status(), 404, "{}", probe.text().await.unwrap());
}

#[test]
fn a_plugin_section_without_its_header_names_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("igor-host.toml");
    std::fs::write(
        &config,
        "[store]\nbackend = \"sqlite\"\n\n[plugin.config]\ngoogle_api_url = \"https://health.googleapis.com\"\n",
    )
    .unwrap();
    let out = igor_host(
        &config,
        tmp.path(),
        tmp.path(),
        &["get", "plugindata/fitbit"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    let message = stderr(&out);
    assert!(
        message.contains("line 4: [plugin.config] belongs to an entry of the [[plugin]] list"),
        "{message}"
    );
    assert!(
        message.contains("    [[plugin]]\n    name = \"fitbit\""),
        "{message}"
    );
}

/// A copy of this machine's dpkg database without `package`.
fn dpkg_database_without(package: &str) -> tempfile::TempDir {
    let status = std::fs::read_to_string("/var/lib/dpkg/status")
        .expect("the test command is for Debian: /var/lib/dpkg/status");
    let kept: Vec<&str> = status
        .split("\n\n")
        .filter(|stanza| !stanza.starts_with(&format!("Package: {package}\n")))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("status"), kept.join("\n\n")).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

#[test]
fn the_test_command_prints_the_install_line_when_packages_are_missing() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("scripts/test");
    // The real dpkg-query, reading a database in which chromium-driver is
    // not installed (DPKG_ADMINDIR), run as a user who is not root.
    let admindir = dpkg_database_without("chromium-driver");
    let root_user = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    let mut command = if root_user {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]);
        c.arg(&script);
        c
    } else {
        Command::new(&script)
    };
    // No cargo on this PATH: were the script to go on, it would fail loudly.
    let out = command
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("DPKG_ADMINDIR", admindir.path())
        .current_dir("/")
        .output()
        .unwrap();
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{message}");
    assert!(
        message.ends_with("\nsudo apt-get install -y chromium-driver\n"),
        "{message}"
    );
}
