//! An in-memory [`Host`] for native tests of whole flows.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;

use crate::api::{Context, Request};
use crate::host::{FetchRequest, FetchResponse, Host, Level, StoreFailure};

pub type Documents = Rc<RefCell<BTreeMap<String, (Value, u64)>>>;
type Responder = Box<dyn FnMut(&FetchRequest) -> Result<FetchResponse, String>>;
type Sleeper = Box<dyn FnMut(f64)>;

pub struct MemoryHost {
    pub documents: Documents,
    pub revision: Rc<Cell<u64>>,
    pub secrets: RefCell<BTreeMap<String, String>>,
    pub sent: RefCell<Vec<FetchRequest>>,
    responder: RefCell<Responder>,
    pub now: Cell<f64>,
    pub logs: RefCell<Vec<String>>,
    /// Seconds slept, in order.
    pub slept: RefCell<Vec<f64>>,
    sleeper: RefCell<Option<Sleeper>>,
    counter: Cell<u8>,
}

impl Default for MemoryHost {
    fn default() -> Self {
        Self {
            documents: Rc::default(),
            revision: Rc::default(),
            secrets: RefCell::default(),
            sent: RefCell::default(),
            responder: RefCell::new(Box::new(|r| Err(format!("no responder for {}", r.url)))),
            now: Cell::new(1_795_600_000.0),
            logs: RefCell::default(),
            slept: RefCell::default(),
            sleeper: RefCell::default(),
            counter: Cell::new(0),
        }
    }
}

pub fn response(status: u16, body: Value) -> Result<FetchResponse, String> {
    Ok(FetchResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

impl MemoryHost {
    pub fn respond(&self, f: impl FnMut(&FetchRequest) -> Result<FetchResponse, String> + 'static) {
        *self.responder.borrow_mut() = Box::new(f);
    }

    /// Runs `f` whenever the plugin sleeps (after the clock moved on), as
    /// another request would act meanwhile.
    pub fn on_sleep(&self, f: impl FnMut(f64) + 'static) {
        *self.sleeper.borrow_mut() = Some(Box::new(f));
    }

    /// Writes a document as another client would.
    pub fn put(&self, path: &str, value: Value) -> u64 {
        put_into(&self.documents, &self.revision, path, value)
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.documents.borrow().get(path).map(|(v, _)| v.clone())
    }

    /// The stored documents without what the plugin records about its runs
    /// (run history, the list of users, notices): the data a failed run
    /// must leave as it was.
    pub fn data(&self) -> BTreeMap<String, (Value, u64)> {
        self.documents
            .borrow()
            .iter()
            .filter(|(path, _)| {
                !path.ends_with("/history")
                    && !path.ends_with("/users")
                    && !path.starts_with("status/")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
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
        Ok(self.documents.borrow().get(path).cloned())
    }

    fn store_put(
        &self,
        path: &str,
        value: &Value,
        expected: Option<u64>,
    ) -> Result<u64, StoreFailure> {
        let current = self
            .documents
            .borrow()
            .get(path)
            .map(|(_, r)| *r)
            .unwrap_or(0);
        if expected.is_some_and(|e| e != current) {
            return Err(StoreFailure::Conflict(current));
        }
        Ok(put_into(
            &self.documents,
            &self.revision,
            path,
            value.clone(),
        ))
    }

    fn store_delete(&self, path: &str, expected: Option<u64>) -> Result<bool, StoreFailure> {
        let current = self
            .documents
            .borrow()
            .get(path)
            .map(|(_, r)| *r)
            .unwrap_or(0);
        if expected.is_some_and(|e| e != current) {
            return Err(StoreFailure::Conflict(current));
        }
        Ok(self.documents.borrow_mut().remove(path).is_some())
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

    fn fetch(&self, request: &FetchRequest) -> Result<FetchResponse, String> {
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
}

/// A request to the plugin installed as `fitbit` at `http://igor.test`.
pub fn request(method: &str, path: &str, query: &[(&str, &str)]) -> Request {
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
            plugin_name: "fitbit".into(),
            base_url: "http://igor.test".into(),
            caller: None,
            utc_offset_seconds: 3600,
            config: vec![],
        },
    }
}

/// A form POST to the plugin.
pub fn form(path: &str, fields: &[(&str, &str)]) -> Request {
    let mut r = request("POST", path, &[]);
    let mut body = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    r.body = body.finish().into_bytes();
    r.headers.push((
        "content-type".into(),
        "application/x-www-form-urlencoded".into(),
    ));
    r
}

/// Fixtures for flows of the legacy Fitbit provider.
pub mod fitbit {
    use serde_json::{Value, json};

    use super::MemoryHost;
    use crate::host::FetchRequest;

    pub const API: &str = "https://api.fitbit.com";
    pub const TOKEN_PATH: &str = "identities/jack/plugindata/fitbit/token";

    /// An installation with the legacy provider, a client id and a secret.
    pub fn configured() -> MemoryHost {
        let host = MemoryHost::default();
        host.put(
            "plugindata/fitbit",
            json!({"client_id": "22ABCD", "provider": "fitbit"}),
        );
        host.secrets
            .borrow_mut()
            .insert("client_secret".into(), "s3cret".into());
        host
    }

    /// Gives jack a legacy token (`A1`/`R1`) expiring in `expires_in` s.
    pub fn with_token(host: &MemoryHost, expires_in: f64) {
        host.put(
            TOKEN_PATH,
            json!({
                "access_token": "A1", "refresh_token": "R1", "expires_in": 28800,
                "expires_at": host.now.get() + expires_in, "provider": "fitbit",
                "token_type": "Bearer", "user_id": "GGNJL9"
            }),
        );
    }

    pub fn form_of(request: &FetchRequest) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&request.body)
            .into_owned()
            .collect()
    }

    pub fn form_value(request: &FetchRequest, key: &str) -> Option<String> {
        form_of(request)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub fn auth_header(request: &FetchRequest) -> Option<String> {
        request
            .headers
            .iter()
            .find(|(k, _)| k == "authorization")
            .map(|(_, v)| v.clone())
    }

    pub fn weight_body() -> Value {
        json!({"weight": [{"bmi": 25.9, "date": "2026-11-20", "logId": 1, "source": "Aria", "time": "07:00:00", "weight": 80.1}]})
    }

    /// A Fitbit error body.
    pub fn fitbit_error(error_type: &str, message: &str) -> Value {
        json!({"errors": [{"errorType": error_type, "message": message}], "success": false})
    }
}
