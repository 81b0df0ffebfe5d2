//! Upstream cost of a scheduled run in steady state: Igor's fitbit action
//! (`/plugin/fitbit?user=jack`, every 10 hours) finds the access token
//! expired (Fitbit's live 8 hours, Google's 1 hour). Each run here is set up
//! as it stands ten hours after the previous one — the provider has expired
//! the access token and the stored token's `expires_at` has passed — and the
//! calls the provider receives during the run are counted.

use std::path::Path;

use igor_host::app::DEFAULT_TENANT;
use igor_host::store::sqlite::SqliteStore;
use igor_host::store::{DocumentStore, Namespace};
use igor_test_support::RecordedRequest;
use igor_test_support::real_igor::Igor;
use serde_json::{Value, json};

use crate::clouds::Clouds;
use crate::systems::{HostProcess, Provider, answer};

pub const ACTION_URL: &str = "/plugin/fitbit?user=jack";
const TOKEN_PATH: &str = "identities/jack/plugindata/fitbit/token";
const RUNS: usize = 3;

/// Calls per run, averaged over the runs.
pub struct RunCost {
    pub token: f64,
    pub data: f64,
}

/// Whose token to age before a run.
pub enum System<'a> {
    Original(&'a Igor),
    Host { base: &'a str, data_dir: &'a Path },
}

impl<'a> System<'a> {
    pub fn host(host: &'a HostProcess) -> Self {
        System::Host {
            base: &host.url,
            data_dir: &host.data_dir,
        }
    }
}

pub async fn measure(clouds: &Clouds, system: System<'_>, provider: Provider) -> RunCost {
    let base = match &system {
        System::Original(igor) => igor.url.clone(),
        System::Host { base, .. } => base.to_string(),
    };
    // The first run brings any incremental-sync bookkeeping up to date.
    run(&base).await;
    let (mut token, mut data) = (0, 0);
    for _ in 0..RUNS {
        match provider {
            Provider::Fitbit => clouds.fitbit.expire_access_tokens(),
            Provider::Google => clouds.google.expire_access_tokens(),
        }
        age_stored_token(&system).await;
        clouds.clear_requests();
        run(&base).await;
        let requests: Vec<RecordedRequest> = match provider {
            Provider::Fitbit => clouds.fitbit.requests(),
            Provider::Google => clouds.google.requests(),
        };
        let tokens = requests
            .iter()
            .filter(|r| r.path.ends_with("/token"))
            .count();
        token += tokens;
        data += requests.len() - tokens;
    }
    RunCost {
        token: token as f64 / RUNS as f64,
        data: data as f64 / RUNS as f64,
    }
}

async fn run(base: &str) {
    answer(base, ACTION_URL).await;
}

/// Puts the stored token's `expires_at` two hours in the past, where it is
/// ten hours after an eight-hour token was saved.
pub async fn age_stored_token(system: &System<'_>) {
    let expired = chrono::Utc::now().timestamp() as f64 - 7200.0;
    match system {
        System::Original(igor) => {
            igor.put_json(
                &format!("{TOKEN_PATH}/expires_at"),
                &json!({ "expires_at": expired }).to_string(),
            )
            .await;
        }
        System::Host { data_dir, .. } => {
            let store =
                SqliteStore::open(&data_dir.join("store.sqlite")).expect("the host's store");
            let ns = Namespace::new(DEFAULT_TENANT, "fitbit");
            let entry = DocumentStore::get(&store, &ns, TOKEN_PATH)
                .await
                .expect("reading the token")
                .expect("a stored token");
            let mut token: Value = serde_json::from_str(&entry.json).expect("token JSON");
            token["expires_at"] = json!(expired);
            store
                .put(&ns, TOKEN_PATH, &token.to_string(), Some(entry.revision))
                .await
                .expect("ageing the token");
        }
    }
}
