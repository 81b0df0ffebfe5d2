//! The developer harness as the README shows it, against the real binary:
//! `call` and `get` with the owner's own configuration (an owner token,
//! listening beyond loopback), run by the README's own lines; log lines
//! without colour codes when they go to a file; and an egress refusal of a
//! loopback upstream that names the setting that would allow it.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{HostConfig, clouds, plugin, sha256_hex, upstream};
use igor_test_support::fake_google::DEFAULT_HEALTH_USER_ID;
use igor_test_support::{FakeGoogle, consent, free_port};

/// A section of the README, up to the next `## ` heading.
fn readme_section(title: &str) -> String {
    common::doc_section("README.md", title)
}

/// The first TOML block of `section`.
fn toml_block(section: &str) -> String {
    let start = section.find("```toml\n").expect("a TOML block") + "```toml\n".len();
    let end = start + section[start..].find("```").unwrap();
    section[start..end]
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// The README's command line that runs `igor-host ... SUBCOMMAND`.
fn readme_line(section: &str, subcommand: &str) -> String {
    section
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cargo run --release -p igor-fitbit --") && l.contains(subcommand))
        .unwrap_or_else(|| panic!("no `{subcommand}` line in the README section"))
        .to_string()
}

/// Runs a README command line in `dir` with a private HOME, the binary in
/// place of `cargo run`.
fn run_as_written(dir: &Path, line: &str) -> Output {
    let command = line.replace(
        "cargo run --release -p igor-fitbit --",
        common::host_binary(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("XDG_DATA_HOME")
        .env_remove("IGOR_HOST_CONFIG")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// `igor-host --config igor-host.toml ARGS` in `dir`, as the harness lines do.
fn igor_host(dir: &Path, args: &[&str]) -> Output {
    Command::new(common::host_binary())
        .args(["--config", "igor-host.toml"])
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env_remove("XDG_DATA_HOME")
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The header `name` of a response `call` printed.
fn printed_header(output: &str, name: &str) -> Option<String> {
    output
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .map(str::to_string)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_readmes_harness_lines_work_with_the_owners_configuration() {
    let quick_start = readme_section("Quick start");
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    // The owner's file from the README, with a real token's hash, and the
    // plugin pointed at the fake Google.
    let google = FakeGoogle::start().await;
    let port = free_port().to_string();
    let owner_file = toml_block(&quick_start)
        .replace("<sha256 of your token>", &sha256_hex("token-of-the-owner"))
        .replace("9333", &port);
    let endpoints = format!(
        "\n[[plugin]]\nname = \"fitbit\"\n[plugin.config]\ngoogle_api_url = \"{}\"\n\
         google_authorize_url = \"{}\"\ngoogle_token_url = \"{}\"\ngoogle_revoke_url = \"{}\"\n\
         [plugin.egress]\nallow_loopback = true\n",
        google.url(),
        google.authorize_url(),
        google.token_url(),
        google.revoke_url()
    );
    std::fs::write(dir.join("igor-host.toml"), owner_file + &endpoints).unwrap();

    // The owner sets up the app and authorises jack with the harness
    // itself: it runs as the owner, whose token it does not need.
    let form = format!(
        "client_id={}&client_secret={}",
        clouds::GOOGLE_ID,
        clouds::GOOGLE_SECRET
    );
    let saved = igor_host(
        dir,
        &["call", "-X", "POST", "-d", &form, "/plugin/fitbit/settings"],
    );
    assert!(saved.status.success(), "{saved:?}");
    let started = igor_host(dir, &["call", "/plugin/fitbit/auth1?user=jack"]);
    let printed = stdout(&started);
    assert!(printed.starts_with("HTTP 303"), "{started:?}");
    let location = printed_header(&printed, "location").unwrap();
    let redirect = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "redirect_uri")
        .unwrap()
        .1
        .into_owned();
    google.register_client(clouds::GOOGLE_ID, clouds::GOOGLE_SECRET, &[&redirect]);
    let back = consent(&reqwest::Client::new(), &location).await.unwrap();
    let back = url::Url::parse(&back).unwrap();
    let target = format!("/plugin/fitbit/auth2?{}", back.query().unwrap());
    let done = igor_host(dir, &["call", &target]);
    assert!(done.status.success(), "{done:?}");
    google.add_recent_weight(DEFAULT_HEALTH_USER_ID, 80_100.0);

    // The README's lines, as written.
    let call = run_as_written(dir, &readme_line(&quick_start, " call "));
    assert!(call.status.success(), "{call:?}");
    assert!(stdout(&call).starts_with("HTTP 200"), "{call:?}");
    let get = run_as_written(dir, &readme_line(&quick_start, " get "));
    assert!(get.status.success(), "{get:?}");
    let stored: serde_json::Value = serde_json::from_slice(&get.stdout).unwrap();
    assert!(stored.to_string().contains("80.1"), "{stored}");
}

#[test]
fn log_lines_carry_no_colour_codes_into_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = HostConfig::new().write_to(dir.path());
    let output = Command::new(common::host_binary())
        .arg("--config")
        .arg(&config)
        .args(["call", "/plugin/fitbit/page/setup.html"])
        .env_remove("NO_COLOR")
        .env("IGOR_HOST_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("INFO"), "nothing logged:\n{log}");
    assert!(!log.contains('\u{1b}'), "colour codes in:\n{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_loopback_upstream_names_allow_loopback() {
    let upstream = upstream("hi there").await;
    let dir = tempfile::tempdir().unwrap();
    // Allowed by name, but on loopback, without the test setting.
    let hello = plugin("hello")
        .component(igor_test_guests::HELLO)
        .setting("upstream_url", &format!("{upstream}/hi"))
        .allow(&upstream);
    let config = HostConfig::new().plugin(hello).write_to(dir.path());
    let (code, out, _) = common::call_once(&config, "/plugin/hello/fetch");
    assert_ne!(code, 0, "{out}");
    assert!(out.starts_with("HTTP 502"), "{out}");
    assert!(out.contains("allow_loopback = true"), "{out}");
    assert!(out.contains("[plugin.egress]"), "{out}");
}
