//! `igor:plugin/tasks`: a plugin asks the host to call it again a little
//! later (for example to sync a user after acknowledging a webhook).
//!
//! A task is a document in the tenant's host namespace,
//! `tasks/PLUGIN/KEY` = `{"path": ..., "due_ms": ...}`, written durably
//! before `run-later` returns, so it survives a crash. `KEY` derives from
//! the path, so repeats of one task are one document (kept with the
//! earlier due time). [`TaskQueue`] is the tenant's queue; the runner in
//! `scheduling::tasks` takes tasks from it and removes each after its run.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use wasmtime::component::{HasData, Linker};

use crate::store::{
    DocumentStore, Durability, Entry, Listing, Namespace, Quota, StoreError, Write,
};
use crate::wasm::bindings::tasks::{self as wit, TaskError};

/// Most tasks waiting per plugin.
pub const MAX_TASKS_PER_PLUGIN: usize = 64;
/// Longest delay a task may ask for.
pub const MAX_DELAY: Duration = Duration::from_secs(24 * 3600);
/// Longest task path.
const MAX_PATH_BYTES: usize = 1024;

/// How long a claimed task is left to its runner before another host takes
/// it over (sooner when the runner is known to have stopped).
pub const CLAIM_TIMEOUT_MS: u64 = 5 * 60 * 1000;

/// Wakes the runner when any tenant's task is queued.
pub static QUEUED: Notify = Notify::const_new();

/// One waiting task.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Below the plugin, with its query.
    pub path: String,
    /// When it is due, in milliseconds since the Unix epoch.
    pub due_ms: u64,
    /// The host process running it (see [`crate::instance`]), and since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_ms: Option<u64>,
}

impl Task {
    /// Whether a runner may take it now: unclaimed, or its claim outlived
    /// its runner or [`CLAIM_TIMEOUT_MS`].
    pub fn claimable(&self, now_ms: u64) -> bool {
        match (&self.claimed_by, self.claimed_ms) {
            (Some(by), Some(at)) => {
                now_ms >= at.saturating_add(CLAIM_TIMEOUT_MS) || !crate::instance::alive(by)
            }
            _ => true,
        }
    }
}

/// A tenant's waiting tasks, kept in its store.
pub struct TaskQueue {
    documents: Arc<dyn DocumentStore>,
    namespace: Namespace,
}

impl TaskQueue {
    /// The queue of `tenant`, kept in `documents` (the tenant's backend).
    pub fn new(documents: Arc<dyn DocumentStore>, tenant: &str) -> Self {
        Self {
            documents,
            namespace: Namespace::host(tenant),
        }
    }

    fn document(plugin: &str, path: &str) -> String {
        let digest = Sha256::digest(path.as_bytes());
        let key: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("tasks/{plugin}/{key}")
    }

    /// Queues `path` of `plugin` due at `due_ms`, or moves a waiting one
    /// of the same path earlier.
    pub async fn queue(&self, plugin: &str, path: &str, due_ms: u64) -> Result<(), TaskError> {
        check_path(path)?;
        let document = Self::document(plugin, path);
        for _ in 0..5 {
            let current = self.documents.get(&self.namespace, &document).await;
            let current = current.map_err(unavailable)?;
            let expected = match &current {
                // A claimed one is running: queue it afresh, which also keeps
                // it from being removed when that run ends.
                Some(entry) => match serde_json::from_str::<Task>(&entry.json) {
                    Ok(task)
                        if task.path == path
                            && task.due_ms <= due_ms
                            && task.claimed_by.is_none() =>
                    {
                        return Ok(());
                    }
                    _ => entry.revision,
                },
                None => {
                    let waiting = self.waiting_of(plugin).await.map_err(unavailable)?;
                    if waiting >= MAX_TASKS_PER_PLUGIN {
                        return Err(TaskError::LimitExceeded(format!(
                            "{MAX_TASKS_PER_PLUGIN} tasks are waiting already"
                        )));
                    }
                    0
                }
            };
            let task = Task {
                path: path.to_string(),
                due_ms,
                claimed_by: None,
                claimed_ms: None,
            };
            let json = serde_json::to_string(&task).expect("a task serialises");
            let written = self
                .documents
                .write(
                    &self.namespace,
                    Write::unless_unchanged(&document, &json, Some(expected), Durability::Durable),
                    &Quota::UNLIMITED,
                )
                .await;
            match written {
                Ok(_) => {
                    QUEUED.notify_one();
                    return Ok(());
                }
                Err(StoreError::Conflict(_)) => continue,
                Err(err) => return Err(unavailable(err)),
            }
        }
        Err(TaskError::Unavailable("the task changed too often".into()))
    }

    async fn waiting_of(&self, plugin: &str) -> Result<usize, StoreError> {
        let prefix = format!("tasks/{plugin}");
        let paths = self
            .documents
            .list(
                &self.namespace,
                Listing::first(&prefix, MAX_TASKS_PER_PLUGIN + 1),
            )
            .await?;
        Ok(paths.len())
    }

    /// Every waiting task: (plugin, document, its entry, the task).
    pub async fn waiting(&self) -> Result<Vec<Waiting>, StoreError> {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self
                .documents
                .list(
                    &self.namespace,
                    Listing::first("tasks", 64).after(after.as_deref()),
                )
                .await?;
            let Some(last) = page.last().cloned() else {
                return Ok(found);
            };
            let entries = self.documents.get_many(&self.namespace, &page).await?;
            for (document, entry) in page.into_iter().zip(entries) {
                // Only `tasks/PLUGIN/KEY` is a task: a store whose documents
                // nest lists their parent, which is none.
                let parts: Vec<&str> = document.split('/').collect();
                let (Some(entry), [_, plugin, _]) = (entry, parts.as_slice()) else {
                    continue;
                };
                let plugin = plugin.to_string();
                match serde_json::from_str::<Task>(&entry.json) {
                    Ok(task) => found.push(Waiting {
                        plugin,
                        document,
                        entry,
                        task,
                    }),
                    Err(err) => {
                        tracing::warn!(%document, error = %err, "dropping an unreadable task");
                        self.documents
                            .delete(&self.namespace, &document, None)
                            .await?;
                    }
                }
            }
            after = Some(last);
        }
    }

    /// Claims a task for this host process; `None` when another runner
    /// changed it first.
    pub async fn claim(&self, waiting: &Waiting) -> Result<Option<Waiting>, StoreError> {
        let task = Task {
            claimed_by: Some(crate::instance::this().to_string()),
            claimed_ms: Some(now_ms()),
            ..waiting.task.clone()
        };
        let json = serde_json::to_string(&task).expect("a task serialises");
        let expected = Some(waiting.entry.revision);
        let ns = &self.namespace;
        match self
            .documents
            .put(ns, &waiting.document, &json, expected)
            .await
        {
            Ok(revision) => Ok(Some(Waiting {
                entry: Entry { json, revision },
                task,
                ..waiting.clone()
            })),
            Err(StoreError::Conflict(_)) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Removes a task after its run, unless it was queued again meanwhile.
    pub async fn done(&self, waiting: &Waiting) -> Result<(), StoreError> {
        let expected = Some(waiting.entry.revision);
        match self
            .documents
            .delete(&self.namespace, &waiting.document, expected)
            .await
        {
            Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

/// A task found waiting.
#[derive(Clone, Debug)]
pub struct Waiting {
    pub plugin: String,
    pub document: String,
    pub entry: Entry,
    pub task: Task,
}

fn check_path(path: &str) -> Result<(), TaskError> {
    let invalid = |why: &str| Err(TaskError::InvalidPath(format!("{path:?}: {why}")));
    if !path.starts_with('/') {
        return invalid("must start with /");
    }
    if path.len() > MAX_PATH_BYTES {
        return invalid("too long");
    }
    let below = path.split(['?', '#']).next().unwrap_or_default();
    if below.split('/').any(|segment| segment == "..") || path.contains('#') {
        return invalid("no .. segments or fragments");
    }
    if path.chars().any(char::is_control) {
        return invalid("no control characters");
    }
    Ok(())
}

fn unavailable(err: impl std::fmt::Display) -> TaskError {
    TaskError::Unavailable(err.to_string())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One request's access to its tenant's task queue, as its plugin.
pub struct TasksCtx {
    queue: Arc<TaskQueue>,
    plugin: String,
}

impl TasksCtx {
    pub fn new(queue: Arc<TaskQueue>, plugin: &str) -> Self {
        Self {
            queue,
            plugin: plugin.to_string(),
        }
    }
}

/// How the store's `T` reaches its [`TasksCtx`].
pub trait TasksView: Send {
    fn tasks(&mut self) -> &mut TasksCtx;
}

struct HasTasks;

impl HasData for HasTasks {
    type Data<'a> = &'a mut TasksCtx;
}

/// Links `igor:plugin/tasks` to each store's [`TasksCtx`].
pub fn add_to_linker<T: TasksView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasTasks>(linker, T::tasks)
}

impl wit::Host for TasksCtx {
    async fn run_later(
        &mut self,
        path: String,
        delay_ms: u64,
    ) -> wasmtime::Result<Result<(), TaskError>> {
        let _timing = tracing::trace_span!("tasks.run_later");
        if Duration::from_millis(delay_ms) > MAX_DELAY {
            let message = format!("a delay of {delay_ms} ms is over a day");
            return Ok(Err(TaskError::LimitExceeded(message)));
        }
        let due = now_ms().saturating_add(delay_ms);
        Ok(self.queue.queue(&self.plugin, &path, due).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn queue(dir: &tempfile::TempDir) -> TaskQueue {
        let sqlite = SqliteStore::open(&dir.path().join("store.sqlite")).unwrap();
        TaskQueue::new(Arc::new(sqlite), "t")
    }

    #[tokio::test]
    async fn repeats_coalesce_into_one_task_at_the_earliest_time() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = queue(&dir);
        tasks.queue("p", "/sync?user=jack", 5_000).await.unwrap();
        tasks.queue("p", "/sync?user=jack", 9_000).await.unwrap();
        tasks.queue("p", "/sync?user=jack", 3_000).await.unwrap();
        tasks.queue("p", "/sync?user=jill", 4_000).await.unwrap();
        let mut waiting: Vec<Task> = tasks
            .waiting()
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.task)
            .collect();
        waiting.sort_by_key(|t| t.due_ms);
        assert!(waiting.iter().all(|t| t.claimable(0)));
        let paths: Vec<_> = waiting
            .iter()
            .map(|t| (t.path.as_str(), t.due_ms))
            .collect();
        assert_eq!(
            paths,
            [("/sync?user=jack", 3_000), ("/sync?user=jill", 4_000)]
        );
    }

    #[tokio::test]
    async fn a_task_queued_again_during_its_run_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = queue(&dir);
        tasks.queue("p", "/sync", 10).await.unwrap();
        let found = tasks.waiting().await.unwrap().remove(0);
        let running = tasks.claim(&found).await.unwrap().unwrap();
        assert!(
            !running.task.claimable(now_ms()),
            "claimed by a live runner"
        );
        assert!(tasks.claim(&found).await.unwrap().is_none(), "claimed once");
        tasks.queue("p", "/sync", 20).await.unwrap();
        tasks.done(&running).await.unwrap();
        assert_eq!(tasks.waiting().await.unwrap().len(), 1, "queued again");
        let again = tasks.waiting().await.unwrap().remove(0);
        assert!(again.task.claimable(now_ms()) && again.task.due_ms == 20);
        tasks.done(&again).await.unwrap();
        assert!(tasks.waiting().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn bad_paths_and_too_many_tasks_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tasks = queue(&dir);
        for path in ["sync", "/a/../b", "/a\n", "/a#b"] {
            let refused = tasks.queue("p", path, 1).await;
            assert!(
                matches!(refused, Err(TaskError::InvalidPath(_))),
                "{path:?}"
            );
        }
        for i in 0..MAX_TASKS_PER_PLUGIN {
            tasks.queue("p", &format!("/t{i}"), 1).await.unwrap();
        }
        let over = tasks.queue("p", "/one-more", 1).await;
        assert!(matches!(over, Err(TaskError::LimitExceeded(_))));
        // Another plugin's allowance is its own.
        tasks.queue("q", "/one-more", 1).await.unwrap();
    }
}
