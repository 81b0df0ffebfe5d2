//! One store round trip for what a run reads: [`Snapshot`] reads a set of
//! documents with one `store_get_many` and answers the run's reads of them
//! from there, so `plugindata/N` is read once per call, not three times.
//!
//! Documents other requests may change while this one runs (the token, its
//! bookkeeping) are answered from the snapshot once: a second read, such as
//! the re-read under a refresh lease, goes to the store. Settings are
//! answered from the snapshot all along, as if the request had started a
//! moment earlier. A write through the snapshot drops what it held of the
//! path.

use std::cell::RefCell;
use std::collections::HashMap;

use igor_plugin_sdk::{
    Durability, FetchError, FetchRequest, FetchResponse, Host, HostInfo, Level, StoreFailure,
    TaskError, Written,
};
use serde_json::Value;

type Stored = Option<(Value, u64)>;

/// How long a prefetched document answers reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The first read only.
    Once,
    /// Every read, until the request writes the path.
    Request,
}

pub struct Snapshot<'h> {
    host: &'h dyn Host,
    held: RefCell<HashMap<String, (Keep, Stored)>>,
}

impl<'h> Snapshot<'h> {
    /// Reads `paths` in one round trip. When that fails, every read goes to
    /// the store as it would without a snapshot.
    pub fn read(host: &'h dyn Host, paths: &[(String, Keep)]) -> Self {
        let names: Vec<&str> = paths.iter().map(|(path, _)| path.as_str()).collect();
        let held = match host.store_get_many(&names) {
            Ok(entries) => paths
                .iter()
                .zip(entries)
                .map(|((path, keep), stored)| (path.clone(), (*keep, stored)))
                .collect(),
            Err(_) => HashMap::new(),
        };
        Self {
            host,
            held: RefCell::new(held),
        }
    }

    fn forget(&self, path: &str) {
        self.held.borrow_mut().remove(path);
    }
}

impl Host for Snapshot<'_> {
    fn store_get(&self, path: &str) -> Result<Stored, StoreFailure> {
        let mut held = self.held.borrow_mut();
        match held.get(path) {
            Some((Keep::Request, stored)) => Ok(stored.clone()),
            Some((Keep::Once, _)) => Ok(held.remove(path).and_then(|(_, stored)| stored)),
            None => {
                drop(held);
                self.host.store_get(path)
            }
        }
    }

    fn store_put(
        &self,
        path: &str,
        value: &Value,
        expected: Option<u64>,
    ) -> Result<u64, StoreFailure> {
        self.forget(path);
        self.host.store_put(path, value, expected)
    }

    fn store_delete(&self, path: &str, expected: Option<u64>) -> Result<bool, StoreFailure> {
        self.forget(path);
        self.host.store_delete(path, expected)
    }

    fn store_get_many(&self, paths: &[&str]) -> Result<Vec<Stored>, StoreFailure> {
        self.host.store_get_many(paths)
    }

    fn store_write(
        &self,
        path: &str,
        value: &Value,
        expected: Option<u64>,
        durability: Durability,
    ) -> Result<Written, StoreFailure> {
        self.forget(path);
        self.host.store_write(path, value, expected, durability)
    }

    fn store_list(&self, prefix: &str) -> Result<Vec<String>, StoreFailure> {
        self.host.store_list(prefix)
    }

    fn secret_set(&self, name: &str, value: &str) -> Result<(), StoreFailure> {
        self.host.secret_set(name, value)
    }

    fn secret_delete(&self, name: &str) -> Result<bool, StoreFailure> {
        self.host.secret_delete(name)
    }

    fn secret_exists(&self, name: &str) -> Result<bool, StoreFailure> {
        self.host.secret_exists(name)
    }

    fn secret_matches(&self, name: &str, candidate: &str) -> Result<bool, StoreFailure> {
        self.host.secret_matches(name, candidate)
    }

    fn fetch(&self, request: &FetchRequest) -> Result<FetchResponse, FetchError> {
        self.host.fetch(request)
    }

    fn log(&self, level: Level, message: &str) {
        self.host.log(level, message)
    }

    fn now(&self) -> f64 {
        self.host.now()
    }

    fn sleep(&self, seconds: f64) {
        self.host.sleep(seconds)
    }

    fn random_bytes(&self, n: usize) -> Vec<u8> {
        self.host.random_bytes(n)
    }

    fn host_info(&self) -> HostInfo {
        self.host.host_info()
    }

    fn deadline_remaining_ms(&self) -> u64 {
        self.host.deadline_remaining_ms()
    }

    fn instance_alive(&self, instance: &str) -> bool {
        self.host.instance_alive(instance)
    }

    fn counter_add(&self, name: &str, value: u64) -> Result<(), String> {
        self.host.counter_add(name, value)
    }

    fn observe_seconds(&self, name: &str, seconds: f64) -> Result<(), String> {
        self.host.observe_seconds(name, seconds)
    }

    fn run_later(&self, path: &str, delay_ms: u64) -> Result<(), TaskError> {
        self.host.run_later(path, delay_ms)
    }
}

#[cfg(test)]
mod tests {
    use igor_plugin_sdk::testing::MemoryHost;
    use serde_json::json;

    use super::*;

    #[test]
    fn answers_from_one_read_once_or_for_the_request() {
        let host = MemoryHost::default();
        host.put("settings", json!({"a": 1}));
        host.put("token", json!({"t": 1}));
        let snapshot = Snapshot::read(
            &host,
            &[
                ("settings".into(), Keep::Request),
                ("token".into(), Keep::Once),
                ("absent".into(), Keep::Request),
            ],
        );
        // Another request changes both meanwhile.
        host.put("settings", json!({"a": 2}));
        host.put("token", json!({"t": 2}));
        let value = |path| snapshot.store_get(path).unwrap().map(|(v, _)| v);
        assert_eq!(value("settings"), Some(json!({"a": 1})));
        assert_eq!(value("settings"), Some(json!({"a": 1})));
        assert_eq!(value("token"), Some(json!({"t": 1})));
        assert_eq!(
            value("token"),
            Some(json!({"t": 2})),
            "a second read is fresh"
        );
        assert_eq!(value("absent"), None);
        // A write through the snapshot is read back.
        snapshot
            .store_put("settings", &json!({"a": 3}), None)
            .unwrap();
        assert_eq!(value("settings"), Some(json!({"a": 3})));
    }
}
