//! An in-memory [`Host`] for native tests of whole flows: documents with
//! revisions (and, if set, a quota on their number), secrets, scripted
//! answers to fetches, a settable clock and recorded log lines.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;

use crate::host::{
    Durability, FetchError, FetchRequest, FetchResponse, Host, HostInfo, Level, MAX_GET_MANY,
    StoreFailure, TaskError, Written, is_at_or_below,
};
use crate::request::{Context, Request};

pub type Documents = Rc<RefCell<BTreeMap<String, (Value, u64)>>>;
type Responder = Box<dyn FnMut(&FetchRequest) -> Result<FetchResponse, FetchError>>;
type WriteHook = Box<dyn FnMut(&str)>;
type Sleeper = Box<dyn FnMut(f64)>;

pub struct MemoryHost {
    pub documents: Documents,
    pub revision: Rc<Cell<u64>>,
    pub secrets: RefCell<BTreeMap<String, String>>,
    pub sent: RefCell<Vec<FetchRequest>>,
    responder: RefCell<Responder>,
    before_write: RefCell<Option<WriteHook>>,
    pub now: Cell<f64>,
    pub logs: RefCell<Vec<String>>,
    /// Seconds slept, in order.
    pub slept: RefCell<Vec<f64>>,
    sleeper: RefCell<Option<Sleeper>>,
    counter: Cell<u8>,
    /// Most documents the store holds, as a host's tenant quota (`max_keys`)
    /// limits them: a write that would add one more is refused.
    pub max_documents: Cell<Option<usize>>,
    /// Writes refused by [`Self::max_documents`].
    pub refused_writes: Cell<usize>,
    /// Every path read, in order, and how many store round trips read them.
    pub reads: RefCell<Vec<String>>,
    pub read_round_trips: Cell<usize>,
    /// Every `store_write` that changed something: path and durability.
    pub durable_writes: RefCell<Vec<(String, Durability)>>,
    /// What `host_info` answers.
    pub info: RefCell<HostInfo>,
    /// Host processes `instance_alive` answers false for.
    pub stopped_instances: RefCell<Vec<String>>,
    /// What `deadline_remaining_ms` answers (default 30 000).
    pub deadline_remaining_ms: Cell<u64>,
    /// Counters and timings the plugin recorded, by name.
    pub counters: RefCell<BTreeMap<String, u64>>,
    pub timings: RefCell<BTreeMap<String, Vec<f64>>>,
    /// Queued tasks: path and due time (`now` plus the delay, in seconds),
    /// coalesced per path as the host does.
    pub tasks: RefCell<Vec<(String, f64)>>,
    /// Whether `run_later` answers `Unavailable`, as a host whose store
    /// keeps no tasks (Igor's) does.
    pub tasks_unavailable: Cell<bool>,
}

impl Default for MemoryHost {
    fn default() -> Self {
        Self {
            documents: Rc::default(),
            revision: Rc::default(),
            secrets: RefCell::default(),
            sent: RefCell::default(),
            responder: RefCell::new(Box::new(|r| {
                Err(FetchError::Connection(format!(
                    "no responder for {}",
                    r.url
                )))
            })),
            before_write: RefCell::default(),
            now: Cell::new(1_795_600_000.0),
            logs: RefCell::default(),
            slept: RefCell::default(),
            sleeper: RefCell::default(),
            counter: Cell::new(0),
            max_documents: Cell::new(None),
            refused_writes: Cell::new(0),
            reads: RefCell::default(),
            read_round_trips: Cell::new(0),
            durable_writes: RefCell::default(),
            info: RefCell::new(HostInfo {
                secret_store: None,
                instance: "memory-host".into(),
            }),
            stopped_instances: RefCell::default(),
            deadline_remaining_ms: Cell::new(30_000),
            tasks: RefCell::default(),
            tasks_unavailable: Cell::new(false),
            counters: RefCell::default(),
            timings: RefCell::default(),
        }
    }
}

pub fn response(status: u16, body: Value) -> Result<FetchResponse, FetchError> {
    Ok(FetchResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

impl MemoryHost {
    pub fn respond(
        &self,
        f: impl FnMut(&FetchRequest) -> Result<FetchResponse, FetchError> + 'static,
    ) {
        *self.responder.borrow_mut() = Box::new(f);
    }

    /// Runs `f` whenever the plugin sleeps (after the clock moved on), as
    /// another request would act meanwhile.
    pub fn on_sleep(&self, f: impl FnMut(f64) + 'static) {
        *self.sleeper.borrow_mut() = Some(Box::new(f));
    }

    /// Runs `f` with the path before each write or delete the plugin makes,
    /// as a concurrent request would act meanwhile (it may change
    /// [`Self::documents`] through a clone of the `Rc`).
    pub fn before_write(&self, f: impl FnMut(&str) + 'static) {
        *self.before_write.borrow_mut() = Some(Box::new(f));
    }

    /// What every write and delete does first: the hook, then the
    /// compare-and-swap check.
    fn check_write(&self, path: &str, expected: Option<u64>) -> Result<(), StoreFailure> {
        if let Some(f) = self.before_write.borrow_mut().as_mut() {
            f(path);
        }
        let current = self.documents.borrow().get(path).map_or(0, |(_, r)| *r);
        match expected {
            Some(e) if e != current => Err(StoreFailure::Conflict(current)),
            _ => Ok(()),
        }
    }

    /// Writes a document as another client would.
    pub fn put(&self, path: &str, value: Value) -> u64 {
        put_into(&self.documents, &self.revision, path, value)
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.documents.borrow().get(path).map(|(v, _)| v.clone())
    }

    pub fn sent_urls(&self) -> Vec<String> {
        self.sent.borrow().iter().map(|r| r.url.clone()).collect()
    }
}

pub fn put_into(documents: &Documents, revision: &Cell<u64>, path: &str, value: Value) -> u64 {
    revision.set(revision.get() + 1);
    documents
        .borrow_mut()
        .insert(path.to_string(), (value, revision.get()));
    revision.get()
}

impl Host for MemoryHost {
    fn store_get(&self, path: &str) -> Result<Option<(Value, u64)>, StoreFailure> {
        self.read_round_trips.set(self.read_round_trips.get() + 1);
        self.reads.borrow_mut().push(path.to_string());
        Ok(self.documents.borrow().get(path).cloned())
    }

    fn store_put(
        &self,
        path: &str,
        value: &Value,
        expected: Option<u64>,
    ) -> Result<u64, StoreFailure> {
        self.check_write(path, expected)?;
        let documents = self.documents.borrow().len();
        let adds = !self.documents.borrow().contains_key(path);
        if let Some(max) = self.max_documents.get()
            && adds
            && documents >= max
        {
            self.refused_writes.set(self.refused_writes.get() + 1);
            return Err(StoreFailure::QuotaExceeded(format!(
                "the tenant may store at most {max} documents"
            )));
        }
        Ok(put_into(
            &self.documents,
            &self.revision,
            path,
            value.clone(),
        ))
    }

    fn store_delete(&self, path: &str, expected: Option<u64>) -> Result<bool, StoreFailure> {
        self.check_write(path, expected)?;
        Ok(self.documents.borrow_mut().remove(path).is_some())
    }

    fn store_get_many(&self, paths: &[&str]) -> Result<Vec<Option<(Value, u64)>>, StoreFailure> {
        if paths.len() > MAX_GET_MANY {
            return Err(StoreFailure::InvalidPath(format!(
                "{} paths in one read",
                paths.len()
            )));
        }
        self.read_round_trips.set(self.read_round_trips.get() + 1);
        let documents = self.documents.borrow();
        let mut reads = self.reads.borrow_mut();
        let read = |path: &&str| {
            reads.push(path.to_string());
            documents.get(*path).cloned()
        };
        Ok(paths.iter().map(read).collect())
    }

    fn store_write(
        &self,
        path: &str,
        value: &Value,
        expected: Option<u64>,
        durability: Durability,
    ) -> Result<Written, StoreFailure> {
        if let Some((stored, revision)) = self.documents.borrow().get(path)
            && stored == value
            && expected.is_none_or(|e| e == *revision)
        {
            return Ok(Written {
                revision: *revision,
                changed: false,
            });
        }
        let revision = self.store_put(path, value, expected)?;
        self.durable_writes
            .borrow_mut()
            .push((path.to_string(), durability));
        Ok(Written {
            revision,
            changed: true,
        })
    }

    fn store_list(&self, prefix: &str) -> Result<Vec<String>, StoreFailure> {
        let documents = self.documents.borrow();
        let paths = documents.keys().filter(|path| is_at_or_below(path, prefix));
        Ok(paths.cloned().collect())
    }

    fn secret_set(&self, name: &str, value: &str) -> Result<(), StoreFailure> {
        self.secrets.borrow_mut().insert(name.into(), value.into());
        Ok(())
    }

    fn secret_delete(&self, name: &str) -> Result<bool, StoreFailure> {
        Ok(self.secrets.borrow_mut().remove(name).is_some())
    }

    fn secret_exists(&self, name: &str) -> Result<bool, StoreFailure> {
        Ok(self.secrets.borrow().contains_key(name))
    }

    fn secret_matches(&self, name: &str, candidate: &str) -> Result<bool, StoreFailure> {
        Ok(self
            .secrets
            .borrow()
            .get(name)
            .is_some_and(|s| s == candidate))
    }

    fn fetch(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError> {
        self.sent.borrow_mut().push(request.clone());
        (self.responder.borrow_mut())(request)
    }

    fn log(&self, _level: Level, message: &str) {
        self.logs.borrow_mut().push(message.to_string());
    }

    fn now(&self) -> f64 {
        self.now.get()
    }

    fn sleep(&self, seconds: f64) {
        self.slept.borrow_mut().push(seconds);
        self.now.set(self.now.get() + seconds);
        if let Some(f) = self.sleeper.borrow_mut().as_mut() {
            f(seconds);
        }
    }

    fn random_bytes(&self, n: usize) -> Vec<u8> {
        self.counter.set(self.counter.get().wrapping_add(1));
        vec![self.counter.get(); n]
    }

    fn host_info(&self) -> HostInfo {
        self.info.borrow().clone()
    }

    fn deadline_remaining_ms(&self) -> u64 {
        self.deadline_remaining_ms.get()
    }

    fn instance_alive(&self, instance: &str) -> bool {
        !self
            .stopped_instances
            .borrow()
            .iter()
            .any(|i| i == instance)
    }

    fn counter_add(&self, name: &str, value: u64) -> Result<(), String> {
        *self.counters.borrow_mut().entry(name.into()).or_default() += value;
        Ok(())
    }

    fn observe_seconds(&self, name: &str, seconds: f64) -> Result<(), String> {
        let mut timings = self.timings.borrow_mut();
        timings.entry(name.into()).or_default().push(seconds);
        Ok(())
    }

    fn run_later(&self, path: &str, delay_ms: u64) -> Result<(), TaskError> {
        if !path.starts_with('/') {
            return Err(TaskError::InvalidPath(format!("{path:?}")));
        }
        if self.tasks_unavailable.get() {
            return Err(TaskError::Unavailable("this store keeps no tasks".into()));
        }
        let due = self.now.get() + delay_ms as f64 / 1000.0;
        let mut tasks = self.tasks.borrow_mut();
        match tasks.iter_mut().find(|(p, _)| p == path) {
            Some((_, at)) => *at = at.min(due),
            None => tasks.push((path.to_string(), due)),
        }
        Ok(())
    }
}

/// A request to the plugin installed as `plugin_name` at `http://igor.test`,
/// with the host's clock at UTC.
pub fn request(plugin_name: &str, method: &str, path: &str, query: &[(&str, &str)]) -> Request {
    Request {
        method: method.into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        headers: vec![],
        body: vec![],
        context: Context {
            plugin_name: plugin_name.into(),
            base_url: "http://igor.test".into(),
            caller: None,
            utc_offset_seconds: 0,
            config: vec![],
        },
    }
}

/// `request` turned into a POST of an urlencoded form.
pub fn with_form(mut request: Request, fields: &[(&str, &str)]) -> Request {
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    request.method = "POST".into();
    request.body = body.finish().into_bytes();
    request.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    request
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn writes_follow_the_store_contract() {
        let host = MemoryHost::default();
        let first = host.store_put("a/b", &json!(1), Some(0)).unwrap();
        assert_eq!(
            host.store_put("a/b", &json!(2), Some(0)),
            Err(StoreFailure::Conflict(first))
        );
        let second = host.store_put("a/b", &json!(2), Some(first)).unwrap();
        assert!(second > first);
        assert_eq!(host.store_get("a/b"), Ok(Some((json!(2), second))));
        assert_eq!(
            host.store_delete("a/b", Some(first)),
            Err(StoreFailure::Conflict(second))
        );
        assert_eq!(host.store_delete("a/b", Some(second)), Ok(true));
        assert_eq!(host.store_delete("a/b", None), Ok(false));
        assert_eq!(host.store_get("a/b"), Ok(None));
    }

    #[test]
    fn a_quota_refuses_the_document_beyond_it() {
        let host = MemoryHost::default();
        host.max_documents.set(Some(1));
        host.store_put("a", &json!(1), None).unwrap();
        host.store_put("a", &json!(2), None).unwrap();
        assert!(matches!(
            host.store_put("b", &json!(1), None),
            Err(StoreFailure::QuotaExceeded(m)) if m.contains("at most 1 documents")
        ));
        assert_eq!(host.refused_writes.get(), 1);
        host.store_delete("a", None).unwrap();
        host.store_put("b", &json!(1), None).unwrap();
    }

    #[test]
    fn listing_gives_the_paths_at_and_below_a_prefix() {
        let host = MemoryHost::default();
        for path in ["u/jo", "u/jo/token", "u/joe", "v"] {
            host.put(path, json!(1));
        }
        assert_eq!(host.store_list("u/jo").unwrap(), ["u/jo", "u/jo/token"]);
        assert_eq!(host.store_list("").unwrap().len(), 4);
        assert!(host.store_list("w").unwrap().is_empty());
    }

    #[test]
    fn secrets_are_kept_but_never_read_back() {
        let host = MemoryHost::default();
        assert_eq!(host.secret_exists("s"), Ok(false));
        host.secret_set("s", "v").unwrap();
        assert_eq!(host.secret_exists("s"), Ok(true));
        assert_eq!(host.secret_delete("s"), Ok(true));
        assert_eq!(host.secret_exists("s"), Ok(false));
    }

    #[test]
    fn fetches_are_recorded_and_answered_by_the_responder() {
        let host = MemoryHost::default();
        assert!(host.fetch(&FetchRequest::get("https://a.test/")).is_err());
        host.respond(|r| response(200, json!({"url": r.url})));
        let answer = host.fetch(&FetchRequest::get("https://b.test/")).unwrap();
        assert_eq!(answer.json(), Some(json!({"url": "https://b.test/"})));
        assert_eq!(host.sent_urls(), ["https://a.test/", "https://b.test/"]);
    }

    #[test]
    fn requests_carry_their_query_and_form() {
        let request = with_form(request("p", "GET", "/x", &[("a", "1")]), &[("f", " v ")]);
        assert_eq!(request.method, "POST");
        assert_eq!(request.query("a"), Some("1"));
        assert_eq!(request.form_field("f").as_deref(), Some("v"));
        assert_eq!(request.plugin_url(), "http://igor.test/plugin/p");
    }
}
