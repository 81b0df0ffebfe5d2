//! Worker processes of the multi-process tests: this test binary run again
//! with a job in `IGOR_STORE_WORKER`, started together by [`run_workers`].

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use igor_host::store::{self, Quota, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Backend, Kind, at, increment, ns, open};

/// What a worker process does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Task {
    /// Increment a counter `times` times; answers the conflicts met.
    Increment { path: String, times: u32 },
    /// Create each path only if absent; answers the indexes it created.
    CreateOnly { paths: Vec<String> },
    /// Write `count` new documents of `plugin` under a quota of `max_keys`;
    /// answers how many were accepted.
    Fill {
        plugin: String,
        count: u32,
        max_keys: u64,
    },
    /// Open the store and write `path`.
    Open { path: String },
}

#[derive(Serialize, Deserialize)]
struct Job {
    kind: Kind,
    location: String,
    task: Task,
}

const WORKER_ENV: &str = "IGOR_STORE_WORKER";

/// Runs each task in its own process, all started together; their answers.
pub fn run_workers(b: &Backend, tasks: Vec<Task>) -> Vec<Value> {
    let mut children: Vec<_> = tasks
        .into_iter()
        .map(|task| {
            let job = Job {
                kind: b.kind,
                location: b.location.clone(),
                task,
            };
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--ignored",
                    "--exact",
                    "workers::worker",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(WORKER_ENV, serde_json::to_string(&job).unwrap())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outputs: Vec<_> = children
        .iter_mut()
        .map(|child| {
            (
                BufReader::new(child.stdout.take().unwrap()).lines(),
                Vec::new(),
            )
        })
        .collect();
    for (lines, seen) in &mut outputs {
        for line in lines.by_ref() {
            let line = line.unwrap();
            if line == "READY" {
                break;
            }
            seen.push(line);
        }
    }
    // All are ready: start them together. (One that died is reported below.)
    for child in &mut children {
        let _ = child.stdin.take().unwrap().write_all(b"go\n");
    }
    let mut answers = Vec::new();
    for (child, (lines, mut seen)) in children.iter_mut().zip(outputs) {
        seen.extend(lines.map(Result::unwrap));
        assert!(
            child.wait().unwrap().success(),
            "worker failed:\n{}",
            seen.join("\n")
        );
        let answer = seen.iter().find_map(|l| l.strip_prefix("ANSWER "));
        let answer =
            answer.unwrap_or_else(|| panic!("no answer from a worker:\n{}", seen.join("\n")));
        answers.push(serde_json::from_str(answer).unwrap());
    }
    answers
}

/// The entry point of worker processes (not a test of its own): runs the
/// job in `IGOR_STORE_WORKER` once the parent says go.
#[tokio::test]
#[ignore = "run by the multi-process tests as a worker"]
async fn worker() {
    let job: Job = serde_json::from_str(&std::env::var(WORKER_ENV).unwrap()).unwrap();
    // Straight to stdout, on a line of its own (the harness has begun one),
    // past the harness's output capture.
    let say = |line: String| {
        let mut out = std::io::stdout().lock();
        writeln!(out, "\n{line}").and_then(|_| out.flush()).unwrap();
    };
    say("READY".into());
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap();
    let store = open(job.kind, &job.location);
    let ns = ns("conf");
    let answer = match job.task {
        Task::Increment { path, times } => json!(increment(&*store, &ns, &path, times).await),
        Task::CreateOnly { paths } => {
            let mut won = Vec::new();
            for (i, path) in paths.iter().enumerate() {
                match store.put(&ns, path, r#"{"by":"me"}"#, Some(0)).await {
                    Ok(_) => won.push(i),
                    Err(StoreError::Conflict(_)) => {}
                    Err(err) => panic!("{err}"),
                }
            }
            json!(won)
        }
        Task::Fill {
            plugin,
            count,
            max_keys,
        } => {
            let quota = Quota {
                max_keys,
                ..Quota::default()
            };
            let mine = super::ns(&plugin);
            let mut accepted = 0;
            for i in 0..count {
                match store
                    .write(
                        &mine,
                        store::Write::put(&at(&mine, &format!("d{i}")), "{}", None),
                        &quota,
                    )
                    .await
                {
                    Ok(_) => accepted += 1,
                    Err(StoreError::QuotaExceeded(_)) => {}
                    Err(err) => panic!("{err}"),
                }
            }
            json!(accepted)
        }
        Task::Open { path } => {
            json!(store.put(&ns, &path, "{}", None).await.unwrap())
        }
    };
    say(format!("ANSWER {answer}"));
}
