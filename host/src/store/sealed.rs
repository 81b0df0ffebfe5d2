//! Secrets sealed at rest: every backend stores only XChaCha20-Poly1305
//! ciphertext (a random 24-byte nonce, then the ciphertext and tag) and the
//! id of the key that sealed it. The associated data binds a sealed value
//! to its tenant, plugin and name, so one moved to another row in the
//! database does not open.
//!
//! What this protects: a copy of the database, a backup or a dump without
//! the key shows no secret. What it does not: anyone who can read the key
//! as well (the host's user, or a backup holding the key file), or who can
//! run code as the host.

use std::sync::Arc;

use async_trait::async_trait;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use super::keys::{Key, Keyring};
use super::{Namespace, Sealed, SecretStore, SecretVault, StoreError, StoreResult, StoredSecret};

const NONCE_LEN: usize = 24;

fn associated_data(ns: &Namespace, name: &str) -> Vec<u8> {
    format!("igor-host secret v1\0{}\0{}\0{name}", ns.tenant, ns.plugin).into_bytes()
}

pub fn seal(key: &Key, ns: &Namespace, name: &str, value: &str) -> Vec<u8> {
    let cipher = XChaCha20Poly1305::new(&key.cipher);
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let aad = associated_data(ns, name);
    let sealed = cipher
        .encrypt(
            &nonce,
            Payload {
                msg: value.as_bytes(),
                aad: &aad,
            },
        )
        .expect("sealing a short value cannot fail");
    [nonce.as_slice(), &sealed].concat()
}

/// The plaintext, or `None` if the bytes were not sealed by `key` for this
/// tenant, plugin and name (or were changed).
pub fn open(key: &Key, ns: &Namespace, name: &str, bytes: &[u8]) -> Option<String> {
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let aad = associated_data(ns, name);
    let plain = XChaCha20Poly1305::new(&key.cipher)
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

/// The host's [`SecretStore`]: seals on the way in, opens on the way out.
pub struct SealedSecrets {
    keyring: Arc<Keyring>,
    vault: Arc<dyn SecretVault>,
}

/// What [`SealedSecrets::reseal`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resealed {
    pub count: usize,
    pub key_id: String,
}

impl SealedSecrets {
    pub fn new(keyring: Arc<Keyring>, vault: Arc<dyn SecretVault>) -> Self {
        Self { keyring, vault }
    }

    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }

    fn open_stored(&self, ns: &Namespace, name: &str, stored: StoredSecret) -> StoreResult<String> {
        let (key_id, bytes) = match stored {
            StoredSecret::Plaintext(value) => return Ok(value),
            StoredSecret::Sealed { key_id, bytes } => (key_id, bytes),
        };
        let key = self.keyring.find(&key_id).ok_or_else(|| {
            StoreError::Unavailable(format!(
                "secret {name:?} of {ns} is sealed with key {key_id}, which is not configured \
                 ([secrets] key_file or key_env)"
            ))
        })?;
        open(&key, ns, name, &bytes).ok_or_else(|| {
            StoreError::Unavailable(format!(
                "secret {name:?} of {ns} does not open with key {key_id}: the stored value was \
                 changed or belongs to another secret"
            ))
        })
    }

    /// Seals every plaintext secret (`all_keys`: and every one sealed with a
    /// key other than the current one) with the current key. A secret set
    /// meanwhile is left as it was set.
    pub async fn reseal(&self, all_keys: bool) -> StoreResult<Resealed> {
        const BATCH: usize = 100;
        let mut count = 0;
        // Each pass reseals what it found; later passes only see secrets
        // written meanwhile by a host with an older keyring.
        for _ in 0..1000 {
            let key = self.keyring.current();
            let found = self
                .vault
                .needing_seal(all_keys.then_some(key.id.as_str()), BATCH)
                .await?;
            if found.is_empty() {
                return Ok(Resealed {
                    count,
                    key_id: key.id.clone(),
                });
            }
            for entry in found {
                let value = self.open_stored(&entry.ns, &entry.name, entry.secret.clone())?;
                let bytes = seal(&key, &entry.ns, &entry.name, &value);
                if self
                    .vault
                    .replace_secret(
                        &entry,
                        Sealed {
                            key_id: &key.id,
                            bytes: &bytes,
                        },
                    )
                    .await?
                {
                    count += 1;
                }
            }
        }
        Err(StoreError::Unavailable(
            "secrets kept being written with an old key while resealing: \
             give every host the new key first"
                .into(),
        ))
    }
}

#[async_trait]
impl SecretStore for SealedSecrets {
    async fn set(&self, ns: &Namespace, name: &str, value: &str) -> StoreResult<()> {
        let key = self.keyring.current();
        let bytes = seal(&key, ns, name, value);
        self.vault
            .put_secret(
                ns,
                name,
                Sealed {
                    key_id: &key.id,
                    bytes: &bytes,
                },
            )
            .await
    }

    async fn get(&self, ns: &Namespace, name: &str) -> StoreResult<Option<String>> {
        match self.vault.get_secret(ns, name).await? {
            None => Ok(None),
            Some(stored) => self.open_stored(ns, name, stored).map(Some),
        }
    }

    async fn delete(&self, ns: &Namespace, name: &str) -> StoreResult<bool> {
        self.vault.delete_secret(ns, name).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_are_bound_to_their_key_and_place() {
        let key = Key::generate();
        let ns = Namespace::new("t", "weather");
        let sealed = seal(&key, &ns, "client_secret", "hush-hush");
        assert!(!String::from_utf8_lossy(&sealed).contains("hush"));
        assert_eq!(
            open(&key, &ns, "client_secret", &sealed).as_deref(),
            Some("hush-hush")
        );
        assert_ne!(
            sealed,
            seal(&key, &ns, "client_secret", "hush-hush"),
            "fresh nonce"
        );
        assert_eq!(open(&Key::generate(), &ns, "client_secret", &sealed), None);
        assert_eq!(open(&key, &ns, "other", &sealed), None);
        assert_eq!(
            open(
                &key,
                &Namespace::new("u", "weather"),
                "client_secret",
                &sealed
            ),
            None
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(open(&key, &ns, "client_secret", &tampered), None);
        assert_eq!(open(&key, &ns, "client_secret", &sealed[..10]), None);
    }

    /// Everything the host logs, shows with `Debug` or returns as an error
    /// while sealing, opening, resealing and failing to open a secret.
    #[test]
    fn a_secret_never_shows_in_logs_debug_or_errors() {
        use std::sync::Mutex;

        #[derive(Clone, Default)]
        struct Captured(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Captured {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        const SECRET: &str = "s3cret-never-shown";
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .finish();
        let mut shown = Vec::new();
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                let vault =
                    Arc::new(crate::store::sqlite::SqliteStore::open(":memory:".as_ref()).unwrap());
                let (old, new) = (Key::generate(), Key::generate());
                let ns = Namespace::new("t", "weather");
                let sealed =
                    SealedSecrets::new(Arc::new(Keyring::of(vec![old.clone()])), vault.clone());
                sealed.set(&ns, "client_secret", SECRET).await.unwrap();
                let stored = vault
                    .get_secret(&ns, "client_secret")
                    .await
                    .unwrap()
                    .unwrap();
                shown.push(format!("{stored:?}"));
                shown.push(format!(
                    "{:?}",
                    vault.needing_seal(Some("other"), 10).await.unwrap()
                ));
                let rotated = SealedSecrets::new(
                    Arc::new(Keyring::of(vec![new.clone(), old.clone()])),
                    vault.clone(),
                );
                shown.push(format!("{:?}", rotated.reseal(true).await.unwrap()));
                shown.push(format!("{:?}", rotated.keyring()));
                assert_eq!(
                    rotated.get(&ns, "client_secret").await.unwrap().as_deref(),
                    Some(SECRET)
                );
                // Without the key, and with the value moved to another name.
                let without =
                    SealedSecrets::new(Arc::new(Keyring::of(vec![old.clone()])), vault.clone());
                shown.push(
                    without
                        .get(&ns, "client_secret")
                        .await
                        .unwrap_err()
                        .to_string(),
                );
                let StoredSecret::Sealed { key_id, bytes } = vault
                    .get_secret(&ns, "client_secret")
                    .await
                    .unwrap()
                    .unwrap()
                else {
                    panic!("sealed")
                };
                vault
                    .put_secret(
                        &ns,
                        "moved",
                        Sealed {
                            key_id: &key_id,
                            bytes: &bytes,
                        },
                    )
                    .await
                    .unwrap();
                shown.push(rotated.get(&ns, "moved").await.unwrap_err().to_string());
                shown.push(format!("{old:?} {new:?}"));
            });
        });
        shown.push(String::from_utf8(captured.0.lock().unwrap().clone()).unwrap());
        let all = shown.join("\n");
        assert!(
            all.contains("not configured") && all.contains("does not open"),
            "{all}"
        );
        assert!(!all.contains(SECRET), "{all}");
    }
}
