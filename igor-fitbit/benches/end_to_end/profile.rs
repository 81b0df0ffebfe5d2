//! With `IGOR_BENCH_PERF=1`: a CPU profile of the igor-host process while
//! it serves the workload at concurrency 16 (`perf record -g`; the host is
//! started with `IGOR_HOST_PERFMAP=1`, so the plugin's compiled functions
//! have names), summarised by `perf report` into `target/bench-profile/`
//! and into the results.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::load::{self, Target, Window};

pub const ENABLE: &str = "IGOR_BENCH_PERF";
const SECONDS: u64 = 8;

pub fn enabled() -> bool {
    std::env::var_os(ENABLE).is_some()
}

/// Shares of samples below this are left out of the summary.
const PERCENT_LIMIT: &str = "0.7";

/// Records `pid` while sending `target`; writes the full summary into `out`
/// and returns its path and its rows (without perf's comments).
pub async fn record(pid: u32, target: &Target, out: &Path) -> Option<(PathBuf, String)> {
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
                PERCENT_LIMIT,
            ])
            .args(["--sort", sort, "-i"])
            .arg(&data)
            .output()
            .ok()?;
        summary.push_str(&String::from_utf8_lossy(&report.stdout));
    }
    let path = out.join("report.txt");
    std::fs::write(&path, &summary).ok()?;
    let rows = summary
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(without_padding)
        .collect::<Vec<_>>()
        .join("\n");
    Some((path, rows))
}

/// A report row without the padding and empty columns perf pads it with.
fn without_padding(row: &str) -> String {
    let mut row = row.trim_end();
    while let Some(rest) = row.strip_suffix('-') {
        row = rest.trim_end();
    }
    row.split("  ")
        .filter(|part| !part.is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("  ")
}
