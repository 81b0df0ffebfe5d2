//! What the run was measured on.

use std::path::Path;
use std::process::Command;

pub struct Machine {
    pub date: String,
    cpu: String,
    cores: usize,
    memory_gib: f64,
    os: String,
    kernel: String,
    filesystem: String,
    rustc: String,
    python: String,
    load_before: String,
    load_after: String,
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn output(program: &Path, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            let text = if o.stdout.is_empty() {
                o.stderr
            } else {
                o.stdout
            };
            String::from_utf8_lossy(&text).trim().to_string()
        })
        .unwrap_or_else(|| "unknown".into())
}

fn load_average() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Machine {
    /// `data_dir` is where the stores live (its filesystem decides what an
    /// fsync costs); `python` is the Igor venv's interpreter.
    pub fn describe_now(data_dir: &Path, python: &Path) -> Self {
        let field = |text: &str, key: &str| {
            text.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':').or_else(|| l.split_once('=')))
                .map(|(_, v)| v.trim().trim_matches('"').to_string())
                .unwrap_or_else(|| "unknown".into())
        };
        let memory_kib: f64 = field(&read("/proc/meminfo"), "MemTotal")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap_or(0.0);
        Self {
            date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            cpu: field(&read("/proc/cpuinfo"), "model name"),
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            memory_gib: memory_kib / (1024.0 * 1024.0),
            os: field(&read("/etc/os-release"), "PRETTY_NAME"),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            filesystem: output(
                Path::new("stat"),
                &["-f", "-c", "%T", &data_dir.display().to_string()],
            ),
            rustc: output(Path::new("rustc"), &["--version"]),
            python: output(python, &["--version"]),
            load_before: load_average(),
            load_after: String::new(),
        }
    }

    pub fn finished(&mut self) {
        self.load_after = load_average();
    }

    pub fn describe(&self) -> String {
        format!(
            "Machine: {} CPU(s) ({}), {:.0} GiB memory, {}, Linux {}; data on {}; {}; {} for Igor. \
             Load average before the run {}, after it {} (other work on the machine competes \
             for the same cores).",
            self.cores,
            self.cpu,
            self.memory_gib,
            self.os,
            self.kernel,
            self.filesystem,
            self.rustc,
            self.python,
            self.load_before,
            self.load_after
        )
    }
}
