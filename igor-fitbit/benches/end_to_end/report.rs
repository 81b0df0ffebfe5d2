//! The results of one run as Markdown (printed, and written between the
//! markers in docs/benchmarks.md) and as an SVG chart (docs/benchmarks.svg).

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::breakdown::Breakdown;
use crate::chart::{Chart, Series};
use crate::durability::{self, Count, Fsyncs};
use crate::isolation::{Compilation, Isolation};
use crate::load::{LoadResult, Sample};
use crate::machine::Machine;
use crate::startup::ColdStart;
use crate::upstream::RunCost;

pub const BEGIN: &str = "<!-- results: begin (written by the benchmark; edits here are lost) -->";
pub const END: &str = "<!-- results: end -->";

/// Load runs of one system, one per concurrency.
pub struct SystemRuns {
    pub name: &'static str,
    pub color: &'static str,
    /// Whether the server runs in its own process (else its CPU is not
    /// separable from the load generator's).
    pub own_process: bool,
    pub runs: Vec<LoadResult>,
}

pub struct Results {
    pub machine: Machine,
    pub original: SystemRuns,
    pub hosts: Vec<SystemRuns>,
    pub upstreams: Vec<SystemRuns>,
    pub breakdowns: Vec<Breakdown>,
    pub store_put: Option<(Duration, Duration)>,
    pub isolation: Isolation,
    pub compilation: Compilation,
    pub cold: ColdStart,
    pub calls_per_run: Vec<(&'static str, RunCost)>,
    /// fsyncs per call of each provider's host; `Err`: why not measured.
    pub fsyncs: Result<Vec<Fsyncs>, String>,
    /// `perf report` rows of igor-host under load (with `IGOR_BENCH_PERF`).
    pub profile: Option<String>,
    pub took: Duration,
}

pub fn time(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 10_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.1} s", us / 1e6)
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**not met**" }
}

impl Results {
    /// igor-host's legacy requests/s over the original's at a concurrency.
    pub fn ratio_at(&self, concurrency: usize) -> f64 {
        let rate = |runs: &SystemRuns| {
            runs.runs
                .iter()
                .find(|r| r.concurrency == concurrency)
                .map_or(0.0, LoadResult::per_second)
        };
        rate(&self.hosts[0]) / rate(&self.original).max(1e-9)
    }

    fn isolation_ratio(&self) -> f64 {
        self.isolation.plugin.mean().as_secs_f64() / self.isolation.plain.mean().as_secs_f64()
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let legacy = &self.breakdowns[0];
        let _ = writeln!(
            md,
            "Run of {} ({} for the whole run).\n\n{}\n",
            self.machine.date,
            time(self.took),
            self.machine.describe()
        );
        let _ = writeln!(
            md,
            "![Throughput, CPU per request and the time of one call](benchmarks.svg)\n"
        );
        md.push_str("| target | measured | |\n|---|---|---|\n");
        let (through_host, upstream) = (
            legacy.total.percentile(50.0),
            legacy.upstream.percentile(50.0),
        );
        let served = through_host.as_secs_f64() / upstream.as_secs_f64().max(1e-9);
        let _ = writeln!(
            md,
            "| the host serving the workload against the upstream answering a direct client (legacy, p50): ≤ 1.5× | {served:.1}× ({} against {}) | {} |",
            time(through_host),
            time(upstream),
            verdict(served <= 1.5)
        );
        let ratio = self.ratio_at(16);
        let _ = writeln!(
            md,
            "| requests/s against the original at concurrency 16: ≥ 8× | {ratio:.1}× | {} |",
            verdict(ratio >= 8.0)
        );
        let cpu = self.hosts[0]
            .runs
            .iter()
            .find(|r| r.concurrency == 16)
            .and_then(LoadResult::cpu_per_request);
        if let Some(cpu) = cpu {
            let _ = writeln!(
                md,
                "| igor-host's CPU per request at concurrency 16 (legacy): ≤ 0.4 ms | {} | {} |",
                time(cpu),
                verdict(cpu <= Duration::from_micros(400))
            );
        }
        let isolation = self.isolation_ratio();
        let _ = writeln!(
            md,
            "| a plugin's trivial route against a plain axum handler: ≤ 1.3× | {isolation:.2}× | {} |",
            verdict(isolation <= 1.3)
        );
        let warm = self.cold.warm_cache.percentile(50.0);
        let _ = writeln!(
            md,
            "| cold start with a warm component cache, to the first answered request: ≤ 20 ms | {} | {} |",
            time(warm),
            verdict(warm <= Duration::from_millis(20))
        );
        self.fsync_target(&mut md);
        self.throughput_table(&mut md);
        self.breakdown_table(&mut md);
        self.isolation_table(&mut md);
        self.startup_table(&mut md);
        self.calls_table(&mut md);
        self.fsyncs_table(&mut md);
        if let Some(rows) = &self.profile {
            let _ = writeln!(
                md,
                "### Profile of igor-host under load\n\n`perf record -g` of the igor-host process (legacy provider) while it serves the workload at concurrency 16 for 8 s; self time by shared object, then by function (at least 0.7 % of the samples; `[JIT] tid …` and `wasm[…]` are the plugin's compiled code).\n\n```\n{rows}\n```\n"
            );
        }
        md
    }

    fn throughput_table(&self, md: &mut String) {
        md.push_str("### 1. Against the original\n\n");
        md.push_str(
            "| system | concurrency | requests/s | p50 | p99 | server CPU per request | requests/s × original |\n|---|---|---|---|---|---|---|\n",
        );
        let all = std::iter::once(&self.original)
            .chain(&self.hosts)
            .chain(&self.upstreams);
        for system in all {
            for run in &system.runs {
                let base = self
                    .original
                    .runs
                    .iter()
                    .find(|r| r.concurrency == run.concurrency)
                    .map_or(f64::NAN, LoadResult::per_second);
                let cpu = match (system.own_process, run.cpu_per_request()) {
                    (true, Some(cpu)) => time(cpu),
                    _ => "— (in the bench process)".into(),
                };
                let failed = if run.failed > 0 {
                    format!(" ({} failed)", run.failed)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.0}{failed} | {} | {} | {cpu} | {:.1}× |",
                    system.name,
                    run.concurrency,
                    run.per_second(),
                    time(run.percentile(50.0)),
                    time(run.percentile(99.0)),
                    run.per_second() / base
                );
            }
        }
        md.push('\n');
    }

    fn breakdown_table(&self, md: &mut String) {
        md.push_str("### 2. Where a call's time goes\n\n");
        md.push_str("Sequential requests (5 × 200 each, interleaved with as many untimed ones, as many to the upstream directly and as many to a plain handler) timed by the host's own spans: median per request (mean); how often a host call happens per request in brackets. The parts of a request add up to its total; their medians need not.\n\n");
        let mut labels: Vec<&str> = Vec::new();
        for b in &self.breakdowns {
            for part in &b.parts {
                if !labels.contains(&part.label.as_str()) {
                    labels.push(&part.label);
                }
            }
        }
        let header: Vec<String> = self
            .breakdowns
            .iter()
            .map(|b| format!("{:?} provider", b.provider))
            .collect();
        let _ = writeln!(
            md,
            "| part | {} |\n|---|{}",
            header.join(" | "),
            "---|".repeat(header.len())
        );
        for label in labels {
            let cells: Vec<String> = self
                .breakdowns
                .iter()
                .map(|b| match b.parts.iter().find(|p| p.label == label) {
                    Some(part) => {
                        let count = if (part.count - 1.0).abs() > 1e-9 {
                            format!(" [{:.1}×]", part.count)
                        } else {
                            String::new()
                        };
                        format!(
                            "{} ({}){count}",
                            time(part.times.percentile(50.0)),
                            time(part.times.mean())
                        )
                    }
                    None => "—".into(),
                })
                .collect();
            let _ = writeln!(md, "| {label} | {} |", cells.join(" | "));
        }
        let row = |md: &mut String, name: &str, f: &dyn Fn(&Breakdown) -> String| {
            let cells: Vec<String> = self.breakdowns.iter().map(f).collect();
            let _ = writeln!(md, "| {name} | {} |", cells.join(" | "));
        };
        row(md, "**total, with the spans**: p50 (mean)", &|b| {
            format!(
                "**{}** ({})",
                time(b.total_timed.percentile(50.0)),
                time(b.total_timed.mean())
            )
        });
        let p50_mean = |s: &Sample| format!("{} ({})", time(s.percentile(50.0)), time(s.mean()));
        row(md, "total without the spans: p50 (mean)", &|b| {
            p50_mean(&b.total)
        });
        row(
            md,
            "the upstream's answer to a direct client: p50 (mean)",
            &|b| p50_mean(&b.upstream),
        );
        row(
            md,
            "**host + plugin overhead per call** (p50 − p50)",
            &|b| format!("**{}**", time(b.overhead())),
        );
        row(
            md,
            "a plain handler in the same server answering the same bytes: p50 (mean)",
            &|b| p50_mean(&b.plain),
        );
        row(
            md,
            "overhead beyond that plain round trip (p50 − p50 − p50)",
            &|b| time(b.beyond_plain()),
        );
        md.push('\n');
        if let Some((disk, tmpfs)) = self.store_put {
            let _ = writeln!(
                md,
                "One `store.put` of a 30-day series in the SQLite store (p50 of 300): {} with the file on this disk, {} on tmpfs, where fsync costs nothing.\n",
                time(disk),
                time(tmpfs)
            );
        }
    }

    fn isolation_table(&self, md: &mut String) {
        let i = &self.isolation;
        md.push_str(
            "### 3. Isolation cost\n\n| measurement | mean | p50 | p99 |\n|---|---|---|---|\n",
        );
        for (name, sample) in [
            (
                "HTTP request answered by a plugin (`/plugin/hostile/ok`)",
                &i.plugin,
            ),
            ("HTTP request answered by a plain axum handler", &i.plain),
        ] {
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} |",
                time(sample.mean()),
                time(sample.percentile(50.0)),
                time(sample.percentile(99.0))
            );
        }
        let _ = writeln!(
            md,
            "| ratio | {:.2}× | {:.2}× | |\n",
            self.isolation_ratio(),
            i.plugin.percentile(50.0).as_secs_f64() / i.plain.percentile(50.0).as_secs_f64()
        );
        let _ = writeln!(
            md,
            "A request through the host's dispatch (no HTTP) in a fresh instance: {} with the pooling allocator, {} allocating on demand.\n",
            time(i.pooled),
            time(i.on_demand)
        );
    }

    fn startup_table(&self, md: &mut String) {
        let (c, s) = (&self.compilation, &self.cold);
        md.push_str("### 4. Cold start\n\nFrom starting the process to the first answered workload request (median of 7; min–max):\n\n| | time |\n|---|---|\n");
        for (name, sample) in [
            ("igor-host, empty component cache", &s.empty_cache),
            ("igor-host, warm component cache", &s.warm_cache),
        ] {
            let _ = writeln!(
                md,
                "| {name} | {} ({}–{}) |",
                time(sample.percentile(50.0)),
                time(sample.percentile(0.0)),
                time(sample.percentile(100.0))
            );
        }
        let _ = writeln!(
            md,
            "| Igor 0.99.1 with the original plugin (restart, 1 run) | {} |\n",
            time(s.original)
        );
        let _ = writeln!(
            md,
            "`fitbit.wasm`: {:.0} KiB; compiled {:.1} MiB. Compiling it with Cranelift: {} (median of 3); loading it from the component cache: {} (median of 20).\n",
            c.wasm_bytes as f64 / 1024.0,
            c.compiled_bytes as f64 / (1024.0 * 1024.0),
            time(c.compile),
            time(c.from_cache)
        );
    }

    fn calls_table(&self, md: &mut String) {
        md.push_str("### 5. Upstream calls per scheduled run\n\nSteady state, the action's `/plugin/fitbit?user=jack` (`get_bodyweight`) ten hours after the last run: mean of 3 runs.\n\n| system | token calls | data calls | total |\n|---|---|---|---|\n");
        for (name, cost) in &self.calls_per_run {
            let _ = writeln!(
                md,
                "| {name} | {:.1} | {:.1} | {:.1} |",
                cost.token,
                cost.data,
                cost.token + cost.data
            );
        }
        md.push('\n');
    }

    fn fsync_target(&self, md: &mut String) {
        let target = "fsyncs per steady-state call (nothing new upstream): ≤ 0.05";
        let (measured, met) = match &self.fsyncs {
            Ok(all) => {
                let cells: Vec<String> = all
                    .iter()
                    .map(|f| format!("{:.3} ({:?})", f.steady.per_call(), f.provider))
                    .collect();
                let met = all.iter().all(|f| f.steady.per_call() <= 0.05);
                (cells.join(", "), verdict(met))
            }
            Err(why) => (format!("not measured: {why}"), "—"),
        };
        let _ = writeln!(md, "| {target} | {measured} | {met} |\n");
    }

    fn fsyncs_table(&self, md: &mut String) {
        md.push_str("### 6. fsyncs per call\n\n");
        let _ = writeln!(
            md,
            "`strace -f -c -e trace={}` attached to each igor-host process of section 1 (all its threads) while it answers the workload one request at a time, after {} warm-up calls. Steady state: nothing new upstream, the token valid. New weigh-in: the fake has a new weigh-in before every call, so the sensor data changes. Token refresh: the access token has expired at the provider and in the store before every call, so the plugin refreshes it (the bench ages the stored token from its own process, which is not traced).\n",
            durability::SYSCALLS.join(","),
            durability::WARMUP
        );
        let all = match &self.fsyncs {
            Ok(all) => all,
            Err(why) => {
                let _ = writeln!(md, "Not measured: {why}.\n");
                return;
            }
        };
        let header: Vec<String> = all
            .iter()
            .map(|f| format!("{:?} provider", f.provider))
            .collect();
        let _ = writeln!(
            md,
            "| calls | {} |\n|---|{}",
            header.join(" | "),
            "---|".repeat(header.len())
        );
        for row in 0..all[0].rows().len() {
            let (name, first) = all[0].rows()[row];
            let cells: Vec<String> = all.iter().map(|f| fsync_cell(f.rows()[row].1)).collect();
            let _ = writeln!(
                md,
                "| {name}: {} calls | {} |",
                first.calls,
                cells.join(" | ")
            );
        }
        md.push('\n');
    }

    pub fn svg(&self) -> String {
        let mut chart = Chart::default();
        let systems: Vec<&SystemRuns> =
            std::iter::once(&self.original).chain(&self.hosts).collect();
        let groups: Vec<String> = self
            .original
            .runs
            .iter()
            .map(|r| format!("concurrency {}", r.concurrency))
            .collect();
        let series = |f: &dyn Fn(&LoadResult) -> f64| -> Vec<Series<'_>> {
            systems
                .iter()
                .map(|s| Series {
                    name: s.name,
                    color: s.color,
                    values: s.runs.iter().map(f).collect(),
                })
                .collect()
        };
        chart.grouped_log_bars(
            "Requests per second (log scale)",
            &groups,
            &series(&|r| r.per_second()),
            |v| {
                if v >= 1000.0 {
                    format!("{:.1}k", v / 1000.0)
                } else {
                    format!("{v:.0}")
                }
            },
        );
        chart.grouped_log_bars(
            "Server CPU time per request (log scale)",
            &groups,
            &series(&|r| r.cpu_per_request().map_or(0.0, |d| d.as_secs_f64() * 1e6)),
            |v| {
                if v >= 1000.0 {
                    format!("{:.1} ms", v / 1000.0)
                } else {
                    format!("{v:.0} µs")
                }
            },
        );
        let legacy = &self.breakdowns[0];
        let mut items: Vec<(String, f64, &str)> = legacy
            .parts
            .iter()
            .map(|p| {
                let median = p.times.percentile(50.0).as_secs_f64() * 1e6;
                (p.label.clone(), median, "#4f81bd")
            })
            .collect();
        items.push((
            "the upstream's own answer (direct client)".into(),
            legacy.upstream.percentile(50.0).as_secs_f64() * 1e6,
            "#bfbfbf",
        ));
        chart.horizontal_bars(
            "One call of the workload through igor-host (legacy provider), median of each part",
            &items,
            "µs",
        );
        chart.finish()
    }
}

/// fsyncs per call, the syscalls behind them and how many answers changed.
fn fsync_cell(count: &Count) -> String {
    let syscalls: Vec<String> = count
        .syscalls
        .iter()
        .map(|(name, n)| format!("{n} × {name}"))
        .collect();
    let syscalls = if syscalls.is_empty() {
        "none".to_string()
    } else {
        syscalls.join(", ")
    };
    format!(
        "**{:.3}** per call ({syscalls}; {} of {} answers changed)",
        count.per_call(),
        count.changed_answers,
        count.calls
    )
}

/// Replaces what lies between the markers in `doc` (or appends them).
pub fn write(doc: &Path, svg: &Path, results: &Results) -> std::io::Result<()> {
    let text = std::fs::read_to_string(doc).unwrap_or_default();
    let section = format!("{BEGIN}\n\n{}\n{END}", results.markdown());
    let updated = match (text.find(BEGIN), text.find(END)) {
        (Some(start), Some(end)) if start < end => {
            format!("{}{section}{}", &text[..start], &text[end + END.len()..])
        }
        _ => format!("{text}\n{section}\n"),
    };
    std::fs::write(doc, updated)?;
    std::fs::write(svg, results.svg())
}
