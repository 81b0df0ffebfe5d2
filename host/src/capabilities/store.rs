//! `igor:plugin/store`, `listing` and `documents`: the plugin's documents,
//! in its own namespace.
//!
//! [`StoreCtx`] is one request's view of the plugin's documents. Its store is
//! already scoped by the host: a [`crate::store::QuotaStore`] over the
//! tenant's backend, so the tenant's quota holds whatever the plugin writes.
//! Paths are checked here before any backend sees them.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::metrics;
use crate::store::{self, DocumentStore, Durability, Listing, Namespace, StoreError, Write};
use crate::wasm::bindings::documents::{self, Written};
use crate::wasm::bindings::listing;
use crate::wasm::bindings::store::{self as wit, Entry, StoreError as WitStoreError};
use crate::wasm::deadline::Deadline;

/// One request's access to its plugin's documents.
pub struct StoreCtx {
    documents: Arc<dyn DocumentStore>,
    namespace: Namespace,
    deadline: Arc<Deadline>,
}

impl StoreCtx {
    /// `documents` as the plugin may use them (quota included), under
    /// `namespace`; writes tell `deadline` when they end.
    pub fn new(
        documents: Arc<dyn DocumentStore>,
        namespace: Namespace,
        deadline: Arc<Deadline>,
    ) -> Self {
        Self {
            documents,
            namespace,
            deadline,
        }
    }
}

impl StoreCtx {
    /// After a change: the tenant's usage (kept by the store with each
    /// write) into the metrics, so that a scrape reads no store.
    async fn count_usage(&self) {
        let tenant = &self.namespace.tenant;
        if let Ok(Some(usage)) = self.documents.usage(tenant).await {
            metrics::record_store_usage(tenant, usage);
        }
    }
}

/// How the store's `T` reaches its [`StoreCtx`].
pub trait StoreView: Send {
    fn store(&mut self) -> &mut StoreCtx;
}

struct HasStore;

impl HasData for HasStore {
    type Data<'a> = &'a mut StoreCtx;
}

/// Links `igor:plugin/store`, `listing` and `documents` to each store's
/// [`StoreCtx`].
pub fn add_to_linker<T: StoreView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasStore>(linker, T::store)?;
    listing::add_to_linker::<T, HasStore>(linker, T::store)?;
    documents::add_to_linker::<T, HasStore>(linker, T::store)
}

impl From<StoreError> for WitStoreError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(rev) => WitStoreError::Conflict(rev),
            StoreError::InvalidPath(m) => WitStoreError::InvalidPath(m),
            StoreError::InvalidJson(m) => WitStoreError::InvalidJson(m),
            StoreError::QuotaExceeded(m) => WitStoreError::QuotaExceeded(m),
            StoreError::Unavailable(m) => WitStoreError::Unavailable(m),
        }
    }
}

impl wit::Host for StoreCtx {
    async fn store_get(
        &mut self,
        path: String,
    ) -> wasmtime::Result<Result<Option<Entry>, WitStoreError>> {
        let _timing = tracing::trace_span!("store.get", path = %path);
        if let Err(e) = store::validate_path(&path) {
            return Ok(Err(e.into()));
        }
        let result = self.documents.get(&self.namespace, &path).await;
        Ok(result
            .map(|entry| {
                entry.map(|e| Entry {
                    json: e.json,
                    revision: e.revision,
                })
            })
            .map_err(Into::into))
    }

    async fn store_put(
        &mut self,
        path: String,
        json: String,
        expected_revision: Option<u64>,
    ) -> wasmtime::Result<Result<u64, WitStoreError>> {
        let _timing = tracing::trace_span!("store.put", path = %path);
        if let Err(e) = store::validate_path(&path) {
            return Ok(Err(e.into()));
        }
        let ns = &self.namespace;
        let result = self
            .documents
            .put(ns, &path, &json, expected_revision)
            .await;
        self.deadline.store_write_ended();
        match &result {
            Ok(_) => self.count_usage().await,
            Err(err) => tracing::warn!(
                tenant = %ns.tenant, plugin = %ns.plugin, %path, error = %err,
                "store write refused"
            ),
        }
        Ok(result.map_err(Into::into))
    }

    async fn store_delete(
        &mut self,
        path: String,
        expected_revision: Option<u64>,
    ) -> wasmtime::Result<Result<bool, WitStoreError>> {
        let _timing = tracing::trace_span!("store.delete", path = %path);
        if let Err(e) = store::validate_path(&path) {
            return Ok(Err(e.into()));
        }
        let result = self
            .documents
            .delete(&self.namespace, &path, expected_revision)
            .await;
        self.deadline.store_write_ended();
        if let Ok(true) = result {
            self.count_usage().await;
        }
        Ok(result.map_err(Into::into))
    }
}

impl documents::Host for StoreCtx {
    async fn store_get_many(
        &mut self,
        paths: Vec<String>,
    ) -> wasmtime::Result<Result<Vec<Option<Entry>>, WitStoreError>> {
        let _timing = tracing::trace_span!("store.get_many", paths = paths.len());
        if let Err(e) = store::validate_paths(&paths) {
            return Ok(Err(e.into()));
        }
        let result = self.documents.get_many(&self.namespace, &paths).await;
        Ok(result
            .map(|entries| {
                let entry = |e: store::Entry| Entry {
                    json: e.json,
                    revision: e.revision,
                };
                entries.into_iter().map(|e| e.map(entry)).collect()
            })
            .map_err(Into::into))
    }

    async fn store_write(
        &mut self,
        path: String,
        json: String,
        expected_revision: Option<u64>,
        durability: documents::Durability,
    ) -> wasmtime::Result<Result<Written, WitStoreError>> {
        let _timing = tracing::trace_span!("store.write", path = %path);
        if let Err(e) = store::validate_path(&path) {
            return Ok(Err(e.into()));
        }
        let durability = match durability {
            documents::Durability::Durable => Durability::Durable,
            documents::Durability::Refetchable => Durability::Refetchable,
        };
        let ns = &self.namespace;
        let result = self
            .documents
            .write(
                ns,
                Write::unless_unchanged(&path, &json, expected_revision, durability),
                &store::Quota::UNLIMITED,
            )
            .await;
        if durability == Durability::Durable {
            // Tokens are durable: their write ends the grace to save them.
            self.deadline.store_write_ended();
        }
        match &result {
            Ok(written) if written.changed => self.count_usage().await,
            Ok(_) => {}
            Err(err) => tracing::warn!(
                tenant = %ns.tenant, plugin = %ns.plugin, %path, error = %err,
                "store write refused"
            ),
        }
        Ok(result
            .map(|w| Written {
                revision: w.revision,
                changed: w.changed,
            })
            .map_err(Into::into))
    }
}

impl listing::Host for StoreCtx {
    async fn store_list(
        &mut self,
        prefix: String,
        start_after: Option<String>,
    ) -> wasmtime::Result<Result<Vec<String>, WitStoreError>> {
        let _timing = tracing::trace_span!("store.list", path = %prefix);
        if let Err(e) = store::validate_prefix(&prefix) {
            return Ok(Err(e.into()));
        }
        let result = self
            .documents
            .list(
                &self.namespace,
                Listing::first(&prefix, store::MAX_LIST).after(start_after.as_deref()),
            )
            .await;
        Ok(result.map_err(Into::into))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::limits::Limits;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{Quota, QuotaStore};
    use crate::wasm::bindings::listing::Host as _;
    use crate::wasm::bindings::store::Host as _;

    fn ctx(dir: &tempfile::TempDir, plugin: &str, quota: Quota) -> StoreCtx {
        let sqlite = SqliteStore::open(&dir.path().join("store.sqlite")).unwrap();
        let documents = Arc::new(QuotaStore::new(Arc::new(sqlite), quota));
        let deadline = Arc::new(Deadline::new(Instant::now(), &Limits::default()));
        StoreCtx::new(documents, Namespace::new("t", plugin), deadline)
    }

    #[tokio::test]
    async fn documents_round_trip_with_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ctx(&dir, "p", Quota::default());
        let path = "sensors/p/jack".to_string();
        let first = store.store_put(path.clone(), "{\"a\":1}".into(), Some(0));
        let first = first.await.unwrap().unwrap();
        let stale = store.store_put(path.clone(), "2".into(), Some(0)).await;
        assert_eq!(stale.unwrap(), Err(WitStoreError::Conflict(first)));
        let entry = store.store_get(path.clone()).await.unwrap().unwrap();
        assert_eq!(
            entry.map(|e| (e.json, e.revision)),
            Some(("{\"a\":1}".into(), first))
        );
        assert_eq!(
            store.store_delete(path.clone(), Some(first)).await.unwrap(),
            Ok(true)
        );
        assert_eq!(store.store_get(path).await.unwrap(), Ok(None));
    }

    #[tokio::test]
    async fn paths_are_checked_before_the_backend_and_plugins_are_apart() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ctx(&dir, "p", Quota::default());
        for path in ["../q/x", "/etc/passwd", "a//b", ""] {
            let refused = store.store_put(path.into(), "1".into(), None).await;
            assert!(
                matches!(refused.unwrap(), Err(WitStoreError::InvalidPath(_))),
                "{path:?}"
            );
        }
        store
            .store_put("x".into(), "1".into(), None)
            .await
            .unwrap()
            .unwrap();
        let mut other = ctx(&dir, "q", Quota::default());
        assert_eq!(other.store_get("x".into()).await.unwrap(), Ok(None));
    }

    #[tokio::test]
    async fn the_quota_holds_for_every_write() {
        let dir = tempfile::tempdir().unwrap();
        let quota = Quota {
            max_value_bytes: 10,
            max_keys: 1,
            max_total_bytes: 100,
        };
        let mut store = ctx(&dir, "p", quota);
        let big = store.store_put("a".into(), "\"0123456789\"".into(), None);
        assert!(
            matches!(big.await.unwrap(), Err(WitStoreError::QuotaExceeded(m)) if m.contains("10 bytes"))
        );
        store
            .store_put("a".into(), "1".into(), None)
            .await
            .unwrap()
            .unwrap();
        let second = store.store_put("b".into(), "1".into(), None).await;
        assert!(
            matches!(second.unwrap(), Err(WitStoreError::QuotaExceeded(m)) if m.contains("1 documents"))
        );
    }

    #[tokio::test]
    async fn listing_pages_through_whole_segments_in_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ctx(&dir, "p", Quota::default());
        for path in ["u/jo", "u/jo/token", "u/jo/a", "u/joe", "u/jo-x", "v"] {
            store
                .store_put(path.into(), "1".into(), None)
                .await
                .unwrap()
                .unwrap();
        }
        let below = store
            .store_list("u/jo".into(), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(below, ["u/jo", "u/jo/a", "u/jo/token"]);
        let rest = store.store_list("u/jo".into(), Some("u/jo/a".into())).await;
        assert_eq!(rest.unwrap().unwrap(), ["u/jo/token"]);
        let all = store
            .store_list(String::new(), None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(all.len(), 6);
        let bad = store.store_list("../u".into(), None).await.unwrap();
        assert!(matches!(bad, Err(WitStoreError::InvalidPath(_))));
        // Another plugin's documents are not listed.
        let mut other = ctx(&dir, "q", Quota::default());
        assert_eq!(
            other.store_list(String::new(), None).await.unwrap(),
            Ok(vec![])
        );
    }

    #[tokio::test]
    async fn a_page_holds_at_most_the_maximum() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = ctx(&dir, "p", Quota::default());
        for i in 0..store::MAX_LIST + 1 {
            let path = format!("d/{i:05}");
            store
                .store_put(path, "1".into(), None)
                .await
                .unwrap()
                .unwrap();
        }
        let first = store.store_list("d".into(), None).await.unwrap().unwrap();
        assert_eq!(first.len(), store::MAX_LIST);
        let last = first.last().cloned();
        let second = store.store_list("d".into(), last).await.unwrap().unwrap();
        assert_eq!(second, [format!("d/{:05}", store::MAX_LIST)]);
    }
}
