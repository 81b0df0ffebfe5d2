//! `igor:plugin/host-info`: what the host tells a plugin by name instead of
//! through its configuration: where its secrets are kept, this host
//! process's name (for leases), whether another named host process still
//! runs, and how long the current request has left.

use std::sync::Arc;

use wasmtime::component::{HasData, Linker};

use crate::store::DocumentStore;
use crate::wasm::bindings::host_info::{self as wit, Facts};
use crate::wasm::deadline::Deadline;

/// One request's host facts.
pub struct HostInfoCtx {
    secret_store: Option<String>,
    deadline: Arc<Deadline>,
    /// The tenant's store, which may know about hosts on other machines.
    documents: Arc<dyn DocumentStore>,
}

impl HostInfoCtx {
    /// `secret_store`: where the host keeps secrets, in words for the owner.
    pub fn new(
        secret_store: Option<String>,
        deadline: Arc<Deadline>,
        documents: Arc<dyn DocumentStore>,
    ) -> Self {
        Self {
            secret_store,
            deadline,
            documents,
        }
    }
}

/// How the store's `T` reaches its [`HostInfoCtx`].
pub trait HostInfoView: Send {
    fn host_info(&mut self) -> &mut HostInfoCtx;
}

struct HasHostInfo;

impl HasData for HasHostInfo {
    type Data<'a> = &'a mut HostInfoCtx;
}

/// Links `igor:plugin/host-info` to each store's [`HostInfoCtx`].
pub fn add_to_linker<T: HostInfoView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasHostInfo>(linker, T::host_info)
}

impl wit::Host for HostInfoCtx {
    async fn info(&mut self) -> wasmtime::Result<Facts> {
        Ok(Facts {
            secret_store: self.secret_store.clone(),
            instance: crate::instance::this().to_string(),
        })
    }

    async fn deadline_remaining_ms(&mut self) -> wasmtime::Result<u64> {
        Ok(self.deadline.remaining().as_millis() as u64)
    }

    /// This machine's answer where it has one, else the shared store's;
    /// alive when neither can tell.
    async fn instance_alive(&mut self, instance: String) -> wasmtime::Result<bool> {
        Ok(match crate::instance::check_here(&instance) {
            Some(alive) => alive,
            None => self
                .documents
                .instance_alive(&instance)
                .await
                .unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::limits::Limits;
    use crate::wasm::bindings::host_info::Host as _;

    #[tokio::test]
    async fn tells_the_secret_store_the_instance_and_the_time_left() {
        let limits = Limits::default();
        let deadline = Arc::new(Deadline::new(Instant::now(), &limits));
        let dir = tempfile::tempdir().unwrap();
        let sqlite = crate::store::sqlite::SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
        let mut ctx = HostInfoCtx::new(Some("the file /x".into()), deadline, Arc::new(sqlite));
        let info = ctx.info().await.unwrap();
        assert_eq!(info.secret_store.as_deref(), Some("the file /x"));
        assert!(ctx.instance_alive(info.instance).await.unwrap());
        // Neither this machine nor SQLite can tell about another machine's.
        assert!(ctx.instance_alive("other-boot/1/2/3".into()).await.unwrap());
        let left = Duration::from_millis(ctx.deadline_remaining_ms().await.unwrap());
        assert!(left <= Duration::from_millis(limits.request_timeout_ms) && left > Duration::ZERO);
    }
}
