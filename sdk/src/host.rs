//! The plugin's view of its host: data, secrets, outbound HTTP, logging,
//! the clock and randomness. [`Host`] is what a plugin's logic is written
//! against; [`wasm::WasmHost`] implements it with the `igor:plugin` imports,
//! and [`crate::testing::MemoryHost`] in memory, for native tests.

use serde_json::Value;

/// Why a store operation failed: the WIT's `store-error`, case for case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFailure {
    /// Compare-and-swap lost: the path is at this revision now (0: absent).
    Conflict(u64),
    /// The path is malformed (empty or `..` segments, too long, too deep).
    InvalidPath(String),
    /// The document is not valid JSON (or could not be made JSON).
    InvalidJson(String),
    /// A size or count quota would be exceeded; nothing was changed.
    QuotaExceeded(String),
    /// The backend could not be reached or failed; nothing was changed.
    Unavailable(String),
}

impl std::fmt::Display for StoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreFailure::Conflict(rev) => write!(f, "changed concurrently (now revision {rev})"),
            StoreFailure::InvalidPath(m) => write!(f, "invalid path: {m}"),
            StoreFailure::InvalidJson(m) => write!(f, "invalid JSON: {m}"),
            StoreFailure::QuotaExceeded(m) => write!(f, "quota exceeded: {m}"),
            StoreFailure::Unavailable(m) => write!(f, "unavailable: {m}"),
        }
    }
}

/// Why a fetch got no response: the WIT's `fetch-error`, case for case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The host's egress policy does not allow this destination or credential.
    Denied(String),
    /// The server did not answer in time.
    Timeout,
    /// Connecting or talking to the server failed.
    Connection(String),
    /// The response (or request) exceeds the host's size limit.
    TooLarge(String),
    /// The request is malformed (bad URL, method or header).
    InvalidRequest(String),
    /// This request has used up its allowance of fetches.
    LimitExceeded(String),
    /// The named secret is not set; the text says where the host looked.
    SecretMissing(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Denied(m) => write!(f, "refused by the host's egress policy: {m}"),
            FetchError::Timeout => f.write_str("timed out"),
            FetchError::Connection(m) => write!(f, "connection failed: {m}"),
            FetchError::TooLarge(m) => write!(f, "too large: {m}"),
            FetchError::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            FetchError::LimitExceeded(m) => write!(f, "limit exceeded: {m}"),
            FetchError::SecretMissing(m) => write!(f, "secret missing: {m}"),
        }
    }
}

/// What a write must survive: the WIT's `documents.durability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// What cannot be fetched again (tokens, settings, queued work): on
    /// stable storage before the write returns.
    Durable,
    /// What can be fetched again (sensor data, history, sync bookkeeping):
    /// may share a later commit's flush; after a crash at worst a little
    /// older, never half-written.
    Refetchable,
}

/// What [`Host::store_write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// The path's revision now.
    pub revision: u64,
    /// False when the path already held the same document: nothing written.
    pub changed: bool,
}

/// What the host tells a plugin about itself: the WIT's `host-info.info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// Where the host keeps secrets, in words for the owner.
    pub secret_store: Option<String>,
    /// This host process's name, for leases (see [`Host::instance_alive`]).
    pub instance: String,
}

/// Why a task could not be queued: the WIT's `tasks.task-error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The path is malformed (it must start with `/`, without `..`).
    InvalidPath(String),
    /// Too many tasks wait for this plugin, or the delay is over a day.
    LimitExceeded(String),
    /// The host could not keep the task; nothing was queued.
    Unavailable(String),
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskError::InvalidPath(m) => write!(f, "invalid task path: {m}"),
            TaskError::LimitExceeded(m) => write!(f, "limit exceeded: {m}"),
            TaskError::Unavailable(m) => write!(f, "unavailable: {m}"),
        }
    }
}

/// The most paths one [`Host::store_get_many`] reads.
pub const MAX_GET_MANY: usize = 64;

/// The header of a request the host makes for a task ([`Host::run_later`]),
/// value `1`; the host removes it from every other request.
pub const TASK_HEADER: &str = "igor-task";

/// A secret the host inserts into a fetch after its policy check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// HTTP Basic with `user` and the named secret as password.
    Basic { user: String, secret: String },
    /// `field=<secret>` appended to a form body.
    FormField { field: String, secret: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub credential: Option<Credential>,
}

impl FetchRequest {
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: "GET".into(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            credential: None,
        }
    }

    /// A POST of an urlencoded form.
    pub fn form(url: impl Into<String>, fields: &[(&str, &str)]) -> Self {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        Self {
            method: "POST".into(),
            url: url.into(),
            headers: vec![(
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            )],
            body: form.finish().into_bytes(),
            credential: None,
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", format!("Bearer {token}"))
    }

    pub fn with_credential(mut self, credential: Credential) -> Self {
        self.credential = Some(credential);
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl FetchResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

pub trait Host {
    /// The document at `path` and its revision.
    fn store_get(&self, path: &str) -> Result<Option<(Value, u64)>, StoreFailure>;
    fn store_put(
        &self,
        path: &str,
        value: &Value,
        expected: Option<u64>,
    ) -> Result<u64, StoreFailure>;
    fn store_delete(&self, path: &str, expected: Option<u64>) -> Result<bool, StoreFailure>;
    /// The documents at `paths` (at most [`MAX_GET_MANY`]) in one round
    /// trip, in order.
    #[allow(clippy::type_complexity)]
    fn store_get_many(&self, paths: &[&str]) -> Result<Vec<Option<(Value, u64)>>, StoreFailure>;
    /// Writes `value` as [`Host::store_put`] does, unless the path already
    /// holds it (then nothing is written), as durably as `durability` says.
    fn store_write(
        &self,
        path: &str,
        value: &Value,
        expected: Option<u64>,
        durability: Durability,
    ) -> Result<Written, StoreFailure>;
    /// Every path that holds a document and is `prefix` or lies below it
    /// ([`is_at_or_below`]), in byte order; `""` lists all. With a store
    /// whose documents nest (Igor), only `prefix` itself: deleting it
    /// deletes what lies below.
    fn store_list(&self, prefix: &str) -> Result<Vec<String>, StoreFailure>;
    fn secret_set(&self, name: &str, value: &str) -> Result<(), StoreFailure>;
    fn secret_delete(&self, name: &str) -> Result<bool, StoreFailure>;
    fn secret_exists(&self, name: &str) -> Result<bool, StoreFailure>;
    /// Whether `candidate` equals the secret `name` (compared by the host,
    /// in constant time; the plugin never reads the secret).
    fn secret_matches(&self, name: &str, candidate: &str) -> Result<bool, StoreFailure>;
    /// One HTTP exchange; `Err` carries why no response was had.
    fn fetch(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError>;
    fn log(&self, level: Level, message: &str);
    /// Seconds since the Unix epoch.
    fn now(&self) -> f64;
    /// Waits `seconds` (while another request holds a lease).
    fn sleep(&self, seconds: f64);
    fn random_bytes(&self, n: usize) -> Vec<u8>;
    /// Where the host keeps secrets and this host process's name.
    fn host_info(&self) -> HostInfo;
    /// Milliseconds until the host gives up on this request.
    fn deadline_remaining_ms(&self) -> u64;
    /// Whether the host process `instance` (a [`HostInfo::instance`]) may
    /// still run: false only when the host knows it stopped.
    fn instance_alive(&self, instance: &str) -> bool;
    /// Asks the host to `POST` to `path` (below the plugin) once, after
    /// `delay_ms`; repeats of a waiting path coalesce. The request carries
    /// `igor-task: 1`.
    fn run_later(&self, path: &str, delay_ms: u64) -> Result<(), TaskError>;
    /// Adds `value` to the plugin's counter `name` in the host's metrics
    /// (`a-z`, `0-9`, `_`; at most 32 names per plugin).
    fn counter_add(&self, name: &str, value: u64) -> Result<(), String>;
    /// Records `seconds` in the plugin's timing `name`.
    fn observe_seconds(&self, name: &str, seconds: f64) -> Result<(), String>;
}

/// Whether `path` is `prefix` or lies below it (`prefix/...`); every path
/// is below `""`.
pub fn is_at_or_below(path: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

#[cfg(target_arch = "wasm32")]
pub mod wasm {
    //! [`Host`] over the `igor:plugin` imports.

    use super::*;
    use crate::bindings::igor::plugin0_1_0::{http, log, secrets, store};
    use crate::bindings::igor::plugin0_2_0::listing;
    use crate::bindings::igor::plugin0_3_0::{documents, host_info, metrics, secret_check, tasks};

    pub struct WasmHost;

    fn store_failure(err: store::StoreError) -> StoreFailure {
        match err {
            store::StoreError::Conflict(rev) => StoreFailure::Conflict(rev),
            store::StoreError::InvalidPath(m) => StoreFailure::InvalidPath(m),
            store::StoreError::InvalidJson(m) => StoreFailure::InvalidJson(m),
            store::StoreError::QuotaExceeded(m) => StoreFailure::QuotaExceeded(m),
            store::StoreError::Unavailable(m) => StoreFailure::Unavailable(m),
        }
    }

    impl Host for WasmHost {
        fn store_get(&self, path: &str) -> Result<Option<(Value, u64)>, StoreFailure> {
            match store::store_get(path).map_err(store_failure)? {
                None => Ok(None),
                Some(entry) => {
                    let value = serde_json::from_str(&entry.json)
                        .map_err(|e| StoreFailure::InvalidJson(format!("stored at {path}: {e}")))?;
                    Ok(Some((value, entry.revision)))
                }
            }
        }

        fn store_put(
            &self,
            path: &str,
            value: &Value,
            expected: Option<u64>,
        ) -> Result<u64, StoreFailure> {
            // Straight into bytes: `to_string` goes through `fmt` piece by piece.
            let json = serde_json::to_string(value)
                .map_err(|e| StoreFailure::InvalidJson(format!("unserialisable value: {e}")))?;
            store::store_put(path, &json, expected).map_err(store_failure)
        }

        fn store_delete(&self, path: &str, expected: Option<u64>) -> Result<bool, StoreFailure> {
            store::store_delete(path, expected).map_err(store_failure)
        }

        fn store_get_many(
            &self,
            paths: &[&str],
        ) -> Result<Vec<Option<(Value, u64)>>, StoreFailure> {
            let owned: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
            let entries = documents::store_get_many(&owned).map_err(store_failure)?;
            let parse = |(path, entry): (&&str, Option<store::Entry>)| {
                let Some(entry) = entry else { return Ok(None) };
                let value = serde_json::from_str(&entry.json)
                    .map_err(|e| StoreFailure::InvalidJson(format!("stored at {path}: {e}")))?;
                Ok(Some((value, entry.revision)))
            };
            paths.iter().zip(entries).map(parse).collect()
        }

        fn store_write(
            &self,
            path: &str,
            value: &Value,
            expected: Option<u64>,
            durability: Durability,
        ) -> Result<Written, StoreFailure> {
            let json = serde_json::to_string(value)
                .map_err(|e| StoreFailure::InvalidJson(format!("unserialisable value: {e}")))?;
            let durability = match durability {
                Durability::Durable => documents::Durability::Durable,
                Durability::Refetchable => documents::Durability::Refetchable,
            };
            let written =
                documents::store_write(path, &json, expected, durability).map_err(store_failure)?;
            Ok(Written {
                revision: written.revision,
                changed: written.changed,
            })
        }

        fn store_list(&self, prefix: &str) -> Result<Vec<String>, StoreFailure> {
            // The host answers a page at a time; an empty page is the end.
            let mut paths: Vec<String> = Vec::new();
            loop {
                let page = listing::store_list(prefix, paths.last().map(String::as_str))
                    .map_err(store_failure)?;
                if page.is_empty() {
                    return Ok(paths);
                }
                paths.extend(page);
            }
        }

        fn secret_set(&self, name: &str, value: &str) -> Result<(), StoreFailure> {
            secrets::secret_set(name, value).map_err(store_failure)
        }

        fn secret_delete(&self, name: &str) -> Result<bool, StoreFailure> {
            secrets::secret_delete(name).map_err(store_failure)
        }

        fn secret_exists(&self, name: &str) -> Result<bool, StoreFailure> {
            secrets::secret_exists(name).map_err(store_failure)
        }

        fn secret_matches(&self, name: &str, candidate: &str) -> Result<bool, StoreFailure> {
            secret_check::secret_matches(name, candidate).map_err(store_failure)
        }

        fn fetch(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError> {
            let credential = request.credential.as_ref().map(|c| match c {
                Credential::Basic { user, secret } => {
                    http::Credential::Basic(http::BasicCredential {
                        user: user.clone(),
                        secret: secret.clone(),
                    })
                }
                Credential::FormField { field, secret } => {
                    http::Credential::FormField(http::FormCredential {
                        field: field.clone(),
                        secret: secret.clone(),
                    })
                }
            });
            let wit_request = http::FetchRequest {
                method: request.method.clone(),
                url: request.url.clone(),
                headers: request.headers.clone(),
                body: request.body.clone(),
                credential,
            };
            match http::http_fetch(&wit_request) {
                Ok(response) => Ok(FetchResponse {
                    status: response.status,
                    headers: response.headers,
                    body: response.body,
                }),
                Err(err) => Err(match err {
                    http::FetchError::Denied(m) => FetchError::Denied(m),
                    http::FetchError::Timeout => FetchError::Timeout,
                    http::FetchError::Connection(m) => FetchError::Connection(m),
                    http::FetchError::TooLarge(m) => FetchError::TooLarge(m),
                    http::FetchError::InvalidRequest(m) => FetchError::InvalidRequest(m),
                    http::FetchError::LimitExceeded(m) => FetchError::LimitExceeded(m),
                    // The host names the secret and where it looked.
                    http::FetchError::SecretMissing(m) => FetchError::SecretMissing(m),
                }),
            }
        }

        fn log(&self, level: Level, message: &str) {
            let level = match level {
                Level::Debug => log::Level::Debug,
                Level::Info => log::Level::Info,
                Level::Warn => log::Level::Warn,
                Level::Error => log::Level::Error,
            };
            log::log(level, message);
        }

        fn now(&self) -> f64 {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0)
        }

        fn sleep(&self, seconds: f64) {
            // A WASI poll: the host keeps counting the request's deadline.
            std::thread::sleep(std::time::Duration::from_secs_f64(seconds.max(0.0)));
        }

        fn random_bytes(&self, n: usize) -> Vec<u8> {
            let mut bytes = vec![0u8; n];
            getrandom::fill(&mut bytes).expect("wasi:random is available");
            bytes
        }

        fn host_info(&self) -> HostInfo {
            let info = host_info::info();
            HostInfo {
                secret_store: info.secret_store,
                instance: info.instance,
            }
        }

        fn deadline_remaining_ms(&self) -> u64 {
            host_info::deadline_remaining_ms()
        }

        fn instance_alive(&self, instance: &str) -> bool {
            host_info::instance_alive(instance)
        }

        fn counter_add(&self, name: &str, value: u64) -> Result<(), String> {
            metrics::counter_add(name, value)
        }

        fn observe_seconds(&self, name: &str, seconds: f64) -> Result<(), String> {
            metrics::observe_seconds(name, seconds)
        }

        fn run_later(&self, path: &str, delay_ms: u64) -> Result<(), TaskError> {
            tasks::run_later(path, delay_ms).map_err(|err| match err {
                tasks::TaskError::InvalidPath(m) => TaskError::InvalidPath(m),
                tasks::TaskError::LimitExceeded(m) => TaskError::LimitExceeded(m),
                tasks::TaskError::Unavailable(m) => TaskError::Unavailable(m),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_means_whole_segments() {
        assert!(is_at_or_below("a/b", "a/b"));
        assert!(is_at_or_below("a/b/c", "a/b"));
        assert!(!is_at_or_below("a/bc", "a/b"));
        assert!(!is_at_or_below("a", "a/b"));
        assert!(is_at_or_below("x", ""));
    }

    /// A document goes to the store as text and comes back parsed: every
    /// number must come back exactly, or values drift with each rewrite.
    #[test]
    fn numbers_survive_the_store_text_exactly() {
        for text in [
            "190e32",
            "80.1",
            "0.30000000000000004",
            "1.7976931348623157e308",
        ] {
            let value: Value = serde_json::from_str(text).unwrap();
            let again: Value =
                serde_json::from_str(&serde_json::to_string(&value).unwrap()).unwrap();
            assert_eq!(value, again, "{text}");
        }
    }
}
