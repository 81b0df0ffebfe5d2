//! Cold start: from starting the process to the first answered workload
//! request, for igor-host with an empty component cache (it compiles
//! `fitbit.wasm` first) and with a warm one, and for the original Igor.

use std::path::Path;
use std::time::{Duration, Instant};

use igor_test_support::real_igor::Igor;

use crate::load::Sample;
use crate::systems::{HostProcess, WORKLOAD};

const REPEATS: usize = 7;

pub struct ColdStart {
    pub empty_cache: Sample,
    pub warm_cache: Sample,
    pub original: Duration,
}

/// `dir` holds a set-up host's data (store with an authorised user) whose
/// process has stopped.
pub async fn measure(dir: &Path, plugin_config: &str, igor: &mut Igor) -> ColdStart {
    let (mut empty, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..REPEATS {
        let _ = std::fs::remove_dir_all(dir.join("data/cache"));
        empty.push(
            HostProcess::spawn_unprofiled(dir, plugin_config)
                .first_answer(WORKLOAD)
                .await,
        );
        warm.push(
            HostProcess::spawn_unprofiled(dir, plugin_config)
                .first_answer(WORKLOAD)
                .await,
        );
    }
    let started = Instant::now();
    igor.restart().await;
    let client = reqwest::Client::new();
    loop {
        let answer = client.get(format!("{}{WORKLOAD}", igor.url)).send().await;
        if answer.is_ok_and(|a| a.status() == 200) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "Igor did not answer after a restart:\n{}",
            igor.log()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ColdStart {
        empty_cache: Sample::new(empty),
        warm_cache: Sample::new(warm),
        original: started.elapsed(),
    }
}
