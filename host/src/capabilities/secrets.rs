//! `igor:plugin/secrets` and `secret-check`: a plugin hands secrets to the
//! host and may ask whether one is set or equals what a caller sent, but
//! never reads one back. Only
//! [`super::http`] looks a secret up, to insert it into a fetch to a URL the
//! operator allowed to receive it.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use wasmtime::component::{HasData, Linker};

use crate::store::{self, Namespace, SecretStore};
use crate::wasm::bindings::secret_check;
use crate::wasm::bindings::secrets as wit;
use crate::wasm::bindings::store::StoreError as WitStoreError;

/// Longest secret a plugin may set, in bytes.
pub const MAX_SECRET_BYTES: usize = 4096;

/// One request's access to its plugin's secrets.
pub struct SecretsCtx {
    secrets: Arc<dyn SecretStore>,
    namespace: Namespace,
}

impl SecretsCtx {
    pub fn new(secrets: Arc<dyn SecretStore>, namespace: Namespace) -> Self {
        Self { secrets, namespace }
    }
}

/// How the store's `T` reaches its [`SecretsCtx`].
pub trait SecretsView: Send {
    fn secrets(&mut self) -> &mut SecretsCtx;
}

struct HasSecrets;

impl HasData for HasSecrets {
    type Data<'a> = &'a mut SecretsCtx;
}

/// Links `igor:plugin/secrets` and `secret-check` to each store's
/// [`SecretsCtx`].
pub fn add_to_linker<T: SecretsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasSecrets>(linker, T::secrets)?;
    secret_check::add_to_linker::<T, HasSecrets>(linker, T::secrets)
}

impl secret_check::Host for SecretsCtx {
    async fn secret_matches(
        &mut self,
        name: String,
        candidate: String,
    ) -> wasmtime::Result<Result<bool, WitStoreError>> {
        let _timing = tracing::trace_span!("secret.matches");
        if let Err(e) = store::validate_secret_name(&name) {
            return Ok(Err(e.into()));
        }
        let result = self.secrets.get(&self.namespace, &name).await;
        // Digests of equal length, compared without an early exit: the time
        // tells nothing about how much of the candidate was right.
        let digest = |text: &str| -> [u8; 32] { Sha256::digest(text.as_bytes()).into() };
        Ok(result
            .map(|secret| {
                secret.is_some_and(|secret| {
                    let (a, b) = (digest(&secret), digest(&candidate));
                    a.iter().zip(&b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
                })
            })
            .map_err(Into::into))
    }
}

impl wit::Host for SecretsCtx {
    async fn secret_set(
        &mut self,
        name: String,
        value: String,
    ) -> wasmtime::Result<Result<(), WitStoreError>> {
        let _timing = tracing::trace_span!("secret.set");
        if let Err(e) = store::validate_secret_name(&name) {
            return Ok(Err(e.into()));
        }
        if value.len() > MAX_SECRET_BYTES {
            return Ok(Err(WitStoreError::QuotaExceeded(format!(
                "secrets are limited to {MAX_SECRET_BYTES} bytes"
            ))));
        }
        let result = self.secrets.set(&self.namespace, &name, &value).await;
        Ok(result.map_err(Into::into))
    }

    async fn secret_delete(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<bool, WitStoreError>> {
        let _timing = tracing::trace_span!("secret.delete");
        if let Err(e) = store::validate_secret_name(&name) {
            return Ok(Err(e.into()));
        }
        let result = self.secrets.delete(&self.namespace, &name).await;
        Ok(result.map_err(Into::into))
    }

    async fn secret_exists(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<bool, WitStoreError>> {
        let _timing = tracing::trace_span!("secret.exists");
        if let Err(e) = store::validate_secret_name(&name) {
            return Ok(Err(e.into()));
        }
        let result = self.secrets.get(&self.namespace, &name).await;
        Ok(result.map(|v| v.is_some()).map_err(Into::into))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::keys::{Key, Keyring};
    use crate::store::sealed::SealedSecrets;
    use crate::store::sqlite::SqliteStore;
    use crate::wasm::bindings::secrets::Host;

    pub(crate) fn sealed(dir: &tempfile::TempDir) -> Arc<SealedSecrets> {
        let vault = SqliteStore::open(&dir.path().join("store.sqlite")).unwrap();
        let keyring = Keyring::of(vec![Key::generate()]);
        Arc::new(SealedSecrets::new(Arc::new(keyring), Arc::new(vault)))
    }

    #[tokio::test]
    async fn secrets_are_set_checked_and_deleted_but_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let store = sealed(&dir);
        let mut ctx = SecretsCtx::new(store.clone(), Namespace::new("t", "p"));
        assert_eq!(ctx.secret_exists("s".into()).await.unwrap(), Ok(false));
        ctx.secret_set("s".into(), "v".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ctx.secret_exists("s".into()).await.unwrap(), Ok(true));
        // Another plugin of the tenant does not see it.
        let mut other = SecretsCtx::new(store.clone(), Namespace::new("t", "q"));
        assert_eq!(other.secret_exists("s".into()).await.unwrap(), Ok(false));
        assert_eq!(ctx.secret_delete("s".into()).await.unwrap(), Ok(true));
        assert_eq!(ctx.secret_exists("s".into()).await.unwrap(), Ok(false));
    }

    #[tokio::test]
    async fn a_candidate_is_checked_against_a_secret_never_read() {
        use crate::wasm::bindings::secret_check::Host as _;
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = SecretsCtx::new(sealed(&dir), Namespace::new("t", "p"));
        async fn check(ctx: &mut SecretsCtx, candidate: &str) -> Result<bool, WitStoreError> {
            ctx.secret_matches("hook".into(), candidate.into())
                .await
                .unwrap()
        }
        assert_eq!(check(&mut ctx, "Bearer s3cr3t").await, Ok(false), "not set");
        ctx.secret_set("hook".into(), "Bearer s3cr3t".into())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(check(&mut ctx, "Bearer s3cr3t").await, Ok(true));
        for wrong in ["Bearer s3cr3", "Bearer s3cr3t ", "", "bearer s3cr3t"] {
            assert_eq!(check(&mut ctx, wrong).await, Ok(false), "{wrong:?}");
        }
        let mut other = SecretsCtx::new(sealed(&dir), Namespace::new("t", "q"));
        assert_eq!(check(&mut other, "Bearer s3cr3t").await, Ok(false));
    }

    #[tokio::test]
    async fn names_and_sizes_are_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut ctx = SecretsCtx::new(sealed(&dir), Namespace::new("t", "p"));
        let bad = ctx.secret_set("../x".into(), "v".into()).await.unwrap();
        assert!(matches!(bad, Err(WitStoreError::InvalidPath(_))));
        let big = ctx.secret_set("s".into(), "x".repeat(MAX_SECRET_BYTES + 1));
        assert!(matches!(
            big.await.unwrap(),
            Err(WitStoreError::QuotaExceeded(_))
        ));
    }
}
