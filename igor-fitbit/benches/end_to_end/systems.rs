//! The systems under test, started and set up the way an owner would: the
//! real `igor-host` binary, and a real Igor 0.99.1 running its original
//! Python `fitbit` plugin (python-fitbit 0.3.1) against the same fake cloud.
//! Users are authorised through each system's own OAuth pages.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use igor_test_support::consent;
use igor_test_support::free_port;
use igor_test_support::real_igor::{Igor, Options};
use serde_json::{Value, json};

use crate::clouds::{Apps, Clouds};

/// The benchmark's request, as an Igor action or an owner would send it.
pub const WORKLOAD: &str =
    "/plugin/fitbit?user=jack&methods=time_series&resource=body/weight&period=30d";

/// A running `igor-host serve`, stopped when dropped.
pub struct HostProcess {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    log: PathBuf,
    /// When the process was started.
    pub spawned: Instant,
}

impl HostProcess {
    /// Starts the host with `plugin_config` and its data in `dir`, with the
    /// log level an installation has by default; returns at once.
    pub fn spawn(dir: &Path, plugin_config: &str) -> Self {
        Self::spawn_as(dir, plugin_config, crate::profile::enabled())
    }

    /// [`Self::spawn`] without the perf map even in a profiled run: it
    /// writes a line for every compiled function when the plugin loads,
    /// which a cold start must not be charged for.
    pub fn spawn_unprofiled(dir: &Path, plugin_config: &str) -> Self {
        Self::spawn_as(dir, plugin_config, false)
    }

    fn spawn_as(dir: &Path, plugin_config: &str, perf_map: bool) -> Self {
        let port = free_port();
        let data_dir = dir.join("data");
        let config_path = dir.join("host.toml");
        let config = format!(
            "data_dir = {:?}\n{plugin_config}\n[server]\nlisten = \"127.0.0.1:{port}\"\n",
            data_dir.display().to_string()
        );
        std::fs::write(&config_path, config).expect("writing the host config");
        let log = dir.join("host.log");
        let spawned = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_igor-host"))
            .arg("--config")
            .arg(&config_path)
            .arg("serve")
            .env_remove("IGOR_HOST_LOG")
            .env("NO_COLOR", "1")
            .envs(perf_map.then_some(("IGOR_HOST_PERFMAP", "1")))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("host log"))
            .spawn()
            .expect("starting igor-host");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            data_dir,
            log,
            spawned,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Polls `target` until it answers 200; the time since the spawn.
    pub async fn first_answer(&mut self, target: &str) -> Duration {
        let client = reqwest::Client::new();
        let deadline = self.spawned + Duration::from_secs(120);
        loop {
            if let Ok(response) = client.get(format!("{}{target}", self.url)).send().await {
                let status = response.status();
                let body = response.text().await.unwrap_or_default();
                if status == 200 {
                    return self.spawned.elapsed();
                }
                if status != 503 {
                    panic!("{target}: {status} {body}\n{}", self.log());
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("igor-host exited ({status}):\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "igor-host never answered");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client that behaves like a browser that does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client")
}

/// Which cloud a host's users are authorised with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Fitbit,
    Google,
}

/// Sets up a host's plugin for `provider` with its own apps through its
/// settings form and authorises `jack` through its auth1/consent/auth2 pages.
pub async fn set_up_host(clouds: &Clouds, base: &str, provider: Provider) {
    let apps = clouds.register_apps(base);
    let (id, secret, name) = match provider {
        Provider::Fitbit => (&apps.fitbit_id, &apps.fitbit_secret, "fitbit"),
        Provider::Google => (&apps.google_id, &apps.google_secret, "google-health"),
    };
    let http = browser();
    let saved = http
        .post(format!("{base}/plugin/fitbit/settings"))
        .form(&[
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("system", "en_US"),
            ("provider", name),
        ])
        .send()
        .await
        .expect("settings");
    assert_eq!(saved.status(), 200, "settings: {:?}", saved.text().await);
    authorise(&http, &format!("{base}/plugin/fitbit")).await;
}

/// auth1 → the fake's consent page → the plugin's auth2.
async fn authorise(http: &reqwest::Client, plugin: &str) {
    let start = http
        .get(format!("{plugin}/auth1?user=jack"))
        .send()
        .await
        .expect("auth1");
    assert_eq!(start.status(), 303, "auth1: {:?}", start.text().await);
    let location = start.headers()["location"].to_str().unwrap().to_string();
    let back = consent(http, &location).await.expect("consent");
    let done = http.get(&back).send().await.expect("auth2");
    assert_eq!(done.status(), 200, "auth2: {:?}", done.text().await);
}

/// A real Igor with its original std fitbit plugin pointed at the fake
/// Fitbit, set up as its readme says (client id and secret in
/// `plugindata/fitbit`, the user's entry, auth1/auth2) — without access
/// control (`--noCapabilities`), its lightest configuration.
pub async fn start_original(clouds: &Clouds) -> Igor {
    let options = Options {
        addstd: vec!["fitbit".into()],
        ..Options::default()
    };
    let igor = Igor::start_with_fitbit_origin(options, &clouds.fitbit.url()).await;
    let Apps {
        fitbit_id,
        fitbit_secret,
        ..
    } = clouds.register_apps(&igor.url);
    igor.put_json(
        "plugindata/fitbit/client_id",
        &json!({ "client_id": fitbit_id }).to_string(),
    )
    .await;
    igor.put_json(
        "plugindata/fitbit/client_secret",
        &json!({ "client_secret": fitbit_secret }).to_string(),
    )
    .await;
    igor.put_json(
        "identities/jack",
        &json!({"jack": {"plugindata": {"fitbit": {"methods": "get_bodyweight"}}}}).to_string(),
    )
    .await;
    igor
}

pub async fn authorise_original(igor: &Igor) {
    authorise(&browser(), &format!("{}/plugin/fitbit", igor.url)).await;
}

/// The `body-weight` series of an answer, as (date, value) pairs. The
/// original answers with Python's `str()` of its result, not JSON.
pub fn body_weight(answer: &str) -> Vec<(String, f64)> {
    let json: Value = serde_json::from_str(answer)
        .or_else(|_| serde_json::from_str(&answer.replace('\'', "\"")))
        .unwrap_or_else(|e| panic!("not a result ({e}): {answer}"));
    json["body-weight"]
        .as_array()
        .unwrap_or_else(|| panic!("no body-weight in {answer}"))
        .iter()
        .map(|entry| {
            let value = &entry["value"];
            let value = value
                .as_f64()
                .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
                .expect("a numeric value");
            (entry["dateTime"].as_str().unwrap_or("").to_string(), value)
        })
        .collect()
}

/// Sends the workload once and returns the answer's body.
pub async fn workload_answer(base: &str) -> String {
    answer(base, WORKLOAD).await
}

/// `GET {base}{target}`, which must answer 200; the body.
pub async fn answer(base: &str, target: &str) -> String {
    let response = reqwest::get(format!("{base}{target}"))
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{base}{target}: {body}");
    body
}
