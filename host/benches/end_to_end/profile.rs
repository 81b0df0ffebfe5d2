//! With `IGOR_BENCH_PERF=1`: a CPU profile of the igor-host process while
//! it serves the workload at concurrency 16 (`perf record -g`; the host is
//! started with `IGOR_HOST_PERFMAP=1`, so the plugin's compiled functions
//! have names), summarised by `perf report` into `target/bench-profile/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::load::{self, Target, Window};

pub const ENABLE: &str = "IGOR_BENCH_PERF";
const SECONDS: u64 = 8;

pub fn enabled() -> bool {
    std::env::var_os(ENABLE).is_some()
}

/// Records `pid` while sending `target`; returns the summary's path.
pub async fn record(pid: u32, target: &Target, out: &Path) -> Option<PathBuf> {
    std::fs::create_dir_all(out).ok()?;
    let data = out.join("perf.data");
    let mut perf = Command::new("perf")
        .args(["record", "-g", "-F", "1999", "-o"])
        .arg(&data)
        .args(["-p", &pid.to_string(), "--", "sleep", &SECONDS.to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| eprintln!("perf record: {e}"))
        .ok()?;
    let window = Window {
        warmup: Duration::ZERO,
        measure: Duration::from_secs(SECONDS),
    };
    load::run(&load::client(16), target, 16, window, None).await;
    perf.wait().ok()?;
    let mut summary = String::new();
    for sort in ["dso", "dso,symbol"] {
        let report = Command::new("perf")
            .args([
                "report",
                "--stdio",
                "--no-children",
                "-g",
                "none",
                "--percent-limit",
                "0.7",
            ])
            .args(["--sort", sort, "-i"])
            .arg(&data)
            .output()
            .ok()?;
        summary.push_str(&String::from_utf8_lossy(&report.stdout));
    }
    let path = out.join("report.txt");
    std::fs::write(&path, summary).ok()?;
    Some(path)
}
