//! Secrets sealed at rest and owner-only files, end to end: the real
//! igor-host on the embedded store and on PostgreSQL, the setup form writing
//! the OAuth client secret, token exchanges that need it, `igor-host secrets
//! rotate-key` while hosts run, and the logs, store files and database
//! searched for the secret and the keys.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{Client, Host, HostConfig, clouds, host_binary};
use igor_host::config::StoreConfig;
use igor_host::store::postgres::PostgresConfig;
use igor_test_support::{FakeFitbit, postgres};

const CLIENT_ID: &str = "23SEAL";
const CLIENT_SECRET: &str = "cs-sealed-at-rest-4242";

/// The fitbit plugin on the fake Fitbit, its token endpoint a secret URL.
fn plugin_config(fake: &FakeFitbit) -> HostConfig {
    let url = fake.url();
    let fitbit = clouds::fitbit_plugin(fake)
        .allow(&url)
        .egress(|egress| egress.secret_urls = vec![format!("{url}/oauth2/token")]);
    HostConfig::new().plugin(fitbit)
}

/// `config` on the PostgreSQL database at `url`.
fn on_postgres(config: HostConfig, url: &str) -> HostConfig {
    let store = PostgresConfig {
        url: url.to_string(),
        pool_size: 4,
        timeout_ms: 5000,
    };
    config.edit(|config| config.store = StoreConfig::Postgres(store))
}

/// Saves the client id and secret through the setup form.
async fn save_client_secret(host: &Host) {
    let form = [
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
        ("provider", "fitbit"),
    ];
    Client::new(host).settings(&form).await;
}

/// Authorises `user` through `host`: the code exchange sends the client
/// secret, which the host must open first.
async fn authorise(host: &Host, fake: &FakeFitbit, user: &str) {
    Client::new(host)
        .authorise(user, &fake.authorize_url())
        .await;
}

fn rotate_key(config: &Path, env: &[(&str, &str)]) -> String {
    let output = Command::new(host_binary())
        .arg("--config")
        .arg(config)
        .args(["secrets", "rotate-key"])
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "rotate-key failed: {stderr}");
    assert!(!stderr.contains(CLIENT_SECRET));
    String::from_utf8(output.stdout).unwrap()
}

/// The key id `rotate-key` reports sealing with.
fn sealed_with(report: &str) -> String {
    let id = report.split("sealed with key ").nth(1).expect(report);
    id.split(|c: char| !c.is_ascii_hexdigit())
        .next()
        .unwrap()
        .to_string()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every file under `dir`, read whole.
fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn key_lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A host on the embedded store with no key configured, and the fake whose
/// client it is registered with.
async fn home_install() -> (FakeFitbit, Host) {
    let fake = FakeFitbit::start().await;
    let host = Host::start(plugin_config(&fake)).await;
    let redirect = format!("{}/plugin/fitbit/auth2", host.url);
    fake.register_client(CLIENT_ID, CLIENT_SECRET, &[&redirect]);
    (fake, host)
}

#[tokio::test]
async fn a_home_install_seals_its_secret_with_a_generated_key_and_rotates_it() {
    let (fake, host) = home_install().await;
    let data = host.data_dir();
    let key_file = data.join("secret.key");
    assert!(host.log().contains("generated a key"), "{}", host.log());
    // The test harness made the data directory (for its component cache),
    // with the usual 0755: the host says to close it.
    assert!(host.log().contains("open to other users"), "{}", host.log());
    assert_eq!(mode(&data.join("store.sqlite")), 0o600);
    assert_eq!(mode(&key_file), 0o600);

    save_client_secret(&host).await;
    // The host opened its sealed secret.
    authorise(&host, &fake, "jack").await;
    for (file, bytes) in files_under(&data) {
        assert!(!contains(&bytes, CLIENT_SECRET), "{file} holds the secret");
    }

    let old_keys = key_lines(&key_file);
    let report = rotate_key(&host.config_path, &[]);
    assert!(
        report.starts_with("1 secret(s) sealed with key"),
        "{report}"
    );
    assert!(report.contains("removed the old key"), "{report}");
    let new_keys = key_lines(&key_file);
    assert_eq!(new_keys.len(), 1);
    assert_ne!(new_keys, old_keys);
    assert_eq!(mode(&key_file), 0o600);
    // The running host finds the new key in the file and keeps working.
    authorise(&host, &fake, "jill").await;

    let log = host.log();
    for secret in [CLIENT_SECRET, &old_keys[0], &new_keys[0]] {
        assert!(!log.contains(secret), "the log shows {secret}");
    }
}

#[test]
fn a_new_data_directory_and_its_files_are_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("new/data");
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", data.display().to_string()),
    )
    .unwrap();
    let (_, _, log) = common::call_once(&config, "/plugin/fitbit/page/setup.html");
    assert!(log.contains("generated a key"), "{log}");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("store.sqlite")), 0o600);
    assert_eq!(mode(&data.join("secret.key")), 0o600);
}

#[tokio::test]
async fn plaintext_secrets_of_an_older_version_keep_working_and_are_sealed_at_start() {
    let (fake, host) = home_install().await;
    save_client_secret(&host).await;
    // As a previous version stored it: in plaintext, without a key id.
    let store = host.data_dir().join("store.sqlite");
    let row = || {
        rusqlite::Connection::open(&store)
            .unwrap()
            .query_row("SELECT key_id, value FROM secrets", [], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get_ref(1)?.as_bytes()?.to_vec(),
                ))
            })
            .unwrap()
    };
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute(
            "UPDATE secrets SET key_id = NULL, value = ?1",
            [CLIENT_SECRET],
        )
        .unwrap();
    assert_eq!(row(), (None, CLIENT_SECRET.as_bytes().to_vec()));
    // A plaintext secret still works.
    authorise(&host, &fake, "jack").await;

    // The next start (here a one-off `igor-host call`) seals it.
    let (_, _, stderr) = common::call_once(&host.config_path, "/plugin/fitbit/page/setup.html");
    assert!(
        stderr.contains("sealed secrets stored in plaintext"),
        "{stderr}"
    );
    let (key_id, sealed) = row();
    assert!(key_id.is_some());
    assert!(!contains(&sealed, CLIENT_SECRET));
    authorise(&host, &fake, "jill").await;
}

/// A keyring file of `keys` (base64 lines), first the current one.
fn write_keys(path: &Path, keys: &[&str]) {
    std::fs::write(path, keys.join("\n") + "\n").unwrap();
}

fn new_key() -> String {
    use base64::Engine as _;
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[tokio::test]
async fn hosts_sharing_postgres_share_sealed_secrets_and_rotate_keys() {
    let cluster = postgres::cluster();
    let url = cluster.database("sealed");
    let database = url.rsplit('/').next().unwrap().to_string();
    let keys = tempfile::tempdir().unwrap();
    let key_file = keys.path().join("keys");
    let first_key = new_key();
    write_keys(&key_file, &[&first_key]);
    let fake = FakeFitbit::start().await;
    let shared = on_postgres(plugin_config(&fake), &url);
    let keys_in_file = shared
        .clone()
        .edit(|config| config.secrets.key_file = Some(key_file.clone()));
    let a = Host::start(keys_in_file.clone()).await;
    let b = Host::start(keys_in_file).await;
    fake.register_client(
        CLIENT_ID,
        CLIENT_SECRET,
        &[
            &format!("{}/plugin/fitbit/auth2", a.url),
            &format!("{}/plugin/fitbit/auth2", b.url),
        ],
    );
    save_client_secret(&a).await;
    // B opens what A sealed, and reads what A stored.
    authorise(&b, &fake, "jack").await;
    assert!(
        b.stored("identities/jack/plugindata/fitbit/token")
            .is_some()
    );
    let stored = |sql: &str| cluster.psql(&database, sql).unwrap();
    assert_eq!(
        stored(&format!(
            "SELECT position(convert_to('{CLIENT_SECRET}', 'UTF8') in sealed) FROM secrets"
        )),
        "0"
    );
    let first_id = stored("SELECT key_id FROM secrets");

    // Rotation on shared hosts: the new key goes first in every host's keys
    // (here one file), then rotate-key reseals with it.
    let second_key = new_key();
    write_keys(&key_file, &[&second_key, &first_key]);
    let report = rotate_key(&a.config_path, &[]);
    let second_id = sealed_with(&report);
    assert!(report.starts_with("1 secret(s)"), "{report}");
    assert!(
        report.contains(&first_id),
        "names the key no longer needed: {report}"
    );
    assert_eq!(stored("SELECT key_id FROM secrets"), second_id);
    write_keys(&key_file, &[&second_key]);
    authorise(&a, &fake, "jill").await;

    // Keys from an environment variable work the same way.
    let third_key = new_key();
    let env_config = shared
        .edit(|config| config.secrets.key_env = Some("IGOR_TEST_KEYS".into()))
        .write_to(keys.path());
    let keyring = format!("{third_key} {second_key}");
    let report = rotate_key(&env_config, &[("IGOR_TEST_KEYS", &keyring)]);
    assert_eq!(stored("SELECT key_id FROM secrets"), sealed_with(&report));
    assert_ne!(sealed_with(&report), second_id);

    for host in [&a, &b] {
        let log = host.log();
        for secret in [CLIENT_SECRET, &first_key, &second_key, &third_key] {
            assert!(!log.contains(secret), "a host log shows {secret}");
        }
    }
}

#[test]
fn a_shared_store_without_a_configured_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = postgres::cluster().database("nokey");
    let config = on_postgres(HostConfig::new(), &url).write_to(dir.path());
    let output = Command::new(host_binary())
        .arg("--config")
        .arg(&config)
        .args(["call", "/plugin/fitbit"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("key_file or key_env"), "{stderr}");
    assert!(!dir.path().join("data/secret.key").exists());
}
