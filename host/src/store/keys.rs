//! The operator's keys that seal secrets at rest (see [`super::sealed`]).
//!
//! A keyring is text: one key per line (32 random bytes, base64), `#`
//! comments and blank lines ignored. The first key seals new secrets; the
//! others only open secrets sealed before a rotation. It comes from a file
//! (`[secrets] key_file`) or an environment variable (`[secrets] key_env`);
//! with neither, a host on an embedded store uses `<data_dir>/secret.key`,
//! generated (0600) on first start. A key's id is derived from the key, and
//! stored with each secret it sealed.
//!
//! A running host re-reads a key file when the file changed before it seals
//! and when it meets a secret sealed with a key it does not know, so
//! `igor-host secrets rotate-key` takes effect without a restart.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use anyhow::{Context, bail};
use base64::Engine as _;
use chacha20poly1305::aead::{KeyInit, OsRng};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::owner_only;

/// `[secrets]`: where the keys sealing secrets at rest come from.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// A file holding the keyring.
    pub key_file: Option<PathBuf>,
    /// The name of an environment variable holding the keyring (keys
    /// separated by white space).
    pub key_env: Option<String>,
}

/// One sealing key. `Debug` shows only its id.
#[derive(Clone)]
pub struct Key {
    pub id: String,
    pub(super) cipher: chacha20poly1305::Key,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Key {
    pub fn generate() -> Key {
        Key::from_bytes(chacha20poly1305::XChaCha20Poly1305::generate_key(
            &mut OsRng,
        ))
    }

    fn from_bytes(cipher: chacha20poly1305::Key) -> Key {
        let digest = Sha256::new()
            .chain_update(b"igor-host secret key id\0")
            .chain_update(cipher.as_slice())
            .finalize();
        let id = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Key { id, cipher }
    }

    fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.cipher.as_slice())
    }
}

/// Parses keyring text; messages name the line, never its content.
fn parse(text: &str, origin: &str) -> anyhow::Result<Vec<Key>> {
    let mut keys = Vec::new();
    for (number, line) in text.lines().enumerate() {
        for word in line.split('#').next().unwrap_or("").split_whitespace() {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(word)
                .ok()
                .filter(|b| b.len() == 32);
            let Some(bytes) = bytes else {
                bail!(
                    "{origin}, line {}: a key is 32 bytes in base64 \
                     (e.g. from `head -c 32 /dev/urandom | base64`)",
                    number + 1
                );
            };
            keys.push(Key::from_bytes(chacha20poly1305::Key::clone_from_slice(
                &bytes,
            )));
        }
    }
    if keys.is_empty() {
        bail!("{origin} holds no key");
    }
    Ok(keys)
}

fn render(keys: &[Key]) -> String {
    let mut text = String::from(
        "# igor-host keys sealing the secrets in its store. The first seals new\n\
         # secrets; the others only open secrets sealed before a rotation.\n\
         # Keep a copy apart from the store's backups: without it, they hold no secret.\n",
    );
    for key in keys {
        text.push_str(&key.encoded());
        text.push('\n');
    }
    text
}

#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Env(String),
}

struct Loaded {
    keys: Vec<Arc<Key>>,
    /// The key file's identity when read: an atomic replacement changes the
    /// inode, an edit in place the modification time.
    stamp: Option<(u64, SystemTime)>,
}

/// The keys in use; see the module documentation.
pub struct Keyring {
    source: Source,
    loaded: RwLock<Loaded>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("source", &self.source)
            .field("key_ids", &self.ids())
            .finish()
    }
}

fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.ino(), meta.modified().ok()?))
}

impl Keyring {
    /// The configured keyring. Without one, `<data_dir>/secret.key`, created
    /// when missing, unless `shared_store` (hosts sharing a database must
    /// share a key, so one must be configured).
    pub fn load(
        config: &SecretsConfig,
        data_dir: &Path,
        shared_store: bool,
    ) -> anyhow::Result<Self> {
        let source = match (&config.key_file, &config.key_env) {
            (Some(_), Some(_)) => bail!("[secrets]: give key_file or key_env, not both"),
            (Some(file), None) => Source::File(file.clone()),
            (None, Some(var)) => Source::Env(var.clone()),
            (None, None) if shared_store => bail!(
                "[secrets]: a shared store needs the same key on every host: set key_file or key_env"
            ),
            (None, None) => {
                let file = data_dir.join("secret.key");
                if !file.exists() {
                    owner_only::create_dir(data_dir)?;
                    owner_only::write_file(&file, render(&[Key::generate()]).as_bytes())?;
                    tracing::warn!(
                        file = %file.display(),
                        "generated a key that seals the stored secrets: keep a copy apart from \
                         backups of the store, and set [secrets] key_file or key_env to use your own"
                    );
                }
                Source::File(file)
            }
        };
        let loaded = Self::read(&source)?;
        Ok(Self {
            source,
            loaded: RwLock::new(loaded),
        })
    }

    /// A keyring of given keys, for tests and tools.
    pub fn of(keys: Vec<Key>) -> Self {
        Self {
            source: Source::Env(String::new()),
            loaded: RwLock::new(Loaded {
                keys: keys.into_iter().map(Arc::new).collect(),
                stamp: None,
            }),
        }
    }

    fn read(source: &Source) -> anyhow::Result<Loaded> {
        match source {
            Source::File(path) => {
                owner_only::warn_if_open(path);
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the key file {}", path.display()))?;
                Ok(Loaded {
                    keys: parse(&text, &path.display().to_string())?
                        .into_iter()
                        .map(Arc::new)
                        .collect(),
                    stamp: stamp(path),
                })
            }
            Source::Env(var) if var.is_empty() => bail!("no key source"),
            Source::Env(var) => {
                let text = std::env::var(var)
                    .with_context(|| format!("[secrets] key_env: ${var} is not set"))?;
                Ok(Loaded {
                    keys: parse(&text, &format!("${var}"))?
                        .into_iter()
                        .map(Arc::new)
                        .collect(),
                    stamp: None,
                })
            }
        }
    }

    /// Re-reads a key file; a failure keeps the keys in use (and is logged).
    fn reload(&self) {
        match Self::read(&self.source) {
            Ok(loaded) => *self.loaded.write().expect("keyring lock") = loaded,
            Err(err) => tracing::error!(error = %format!("{err:#}"), "could not re-read the keys"),
        }
    }

    fn file_changed(&self) -> bool {
        match &self.source {
            Source::File(path) => stamp(path) != self.loaded.read().expect("keyring lock").stamp,
            Source::Env(_) => false,
        }
    }

    /// The key that seals new secrets.
    pub fn current(&self) -> Arc<Key> {
        if self.file_changed() {
            self.reload();
        }
        self.loaded.read().expect("keyring lock").keys[0].clone()
    }

    /// The key with `id`, re-reading a key file once if it is not known.
    pub fn find(&self, id: &str) -> Option<Arc<Key>> {
        let lookup = |keyring: &Self| {
            let loaded = keyring.loaded.read().expect("keyring lock");
            loaded.keys.iter().find(|k| k.id == id).cloned()
        };
        lookup(self).or_else(|| {
            if matches!(self.source, Source::File(_)) {
                self.reload();
            }
            lookup(self)
        })
    }

    pub fn ids(&self) -> Vec<String> {
        let loaded = self.loaded.read().expect("keyring lock");
        loaded.keys.iter().map(|k| k.id.clone()).collect()
    }

    /// The key file, if the keys come from one.
    pub fn file(&self) -> Option<&Path> {
        match &self.source {
            Source::File(path) => Some(path),
            Source::Env(_) => None,
        }
    }

    /// Writes a new key at the head of the key file (the others stay, to
    /// open older secrets) and makes it current.
    pub fn add_current_key(&self) -> anyhow::Result<Arc<Key>> {
        let Some(path) = self.file() else {
            bail!("the keys come from an environment variable, which igor-host cannot change");
        };
        let mut keys = vec![Key::generate()];
        let loaded = Self::read(&self.source)?;
        keys.extend(loaded.keys.iter().map(|k| Key::clone(k)));
        owner_only::write_file(path, render(&keys).as_bytes())?;
        self.reload();
        Ok(self.current())
    }

    /// Leaves only the current key in the key file.
    pub fn drop_old_keys(&self) -> anyhow::Result<Vec<String>> {
        let Some(path) = self.file() else {
            bail!("the keys come from an environment variable, which igor-host cannot change");
        };
        let loaded = Self::read(&self.source)?;
        owner_only::write_file(path, render(&[Key::clone(&loaded.keys[0])]).as_bytes())?;
        self.reload();
        Ok(loaded.keys[1..].iter().map(|k| k.id.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_private_key_file_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let ring = Keyring::load(&SecretsConfig::default(), &data, false).unwrap();
        let file = data.join("secret.key");
        let mode = std::os::unix::fs::PermissionsExt::mode(&file.metadata().unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600);
        let again = Keyring::load(&SecretsConfig::default(), &data, false).unwrap();
        assert_eq!(ring.ids(), again.ids());
        assert_eq!(ring.ids()[0].len(), 16);
        assert!(Keyring::load(&SecretsConfig::default(), &data, true).is_err());
    }

    #[test]
    fn rotation_keeps_old_keys_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let ring = Keyring::load(&SecretsConfig::default(), dir.path(), false).unwrap();
        let old = ring.current();
        let new = ring.add_current_key().unwrap();
        assert_ne!(old.id, new.id);
        assert_eq!(ring.ids(), vec![new.id.clone(), old.id.clone()]);
        assert!(ring.find(&old.id).is_some());
        assert_eq!(ring.drop_old_keys().unwrap(), vec![old.id.clone()]);
        assert!(ring.find(&old.id).is_none());
        assert_eq!(ring.current().id, new.id);
    }

    #[test]
    fn another_process_rotating_the_file_is_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let config = SecretsConfig {
            key_file: Some(dir.path().join("k")),
            key_env: None,
        };
        let first = Key::generate();
        std::fs::write(dir.path().join("k"), render(std::slice::from_ref(&first))).unwrap();
        let running = Keyring::load(&config, dir.path(), true).unwrap();
        let tool = Keyring::load(&config, dir.path(), true).unwrap();
        let second = tool.add_current_key().unwrap();
        // A new key id is looked up in the file once.
        assert!(running.find(&second.id).is_some());
        tool.drop_old_keys().unwrap();
        assert_eq!(running.current().id, second.id);
        assert!(running.find(&first.id).is_none());
    }

    #[test]
    fn a_configured_key_file_that_is_missing_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.key");
        let config = SecretsConfig {
            key_file: Some(missing.clone()),
            key_env: None,
        };
        let err = format!(
            "{:#}",
            Keyring::load(&config, dir.path(), false).unwrap_err()
        );
        assert!(err.contains("nope.key"), "{err}");
        assert!(!missing.exists());
        assert!(!dir.path().join("secret.key").exists());
    }

    #[test]
    fn bad_keys_are_refused_without_echoing_them() {
        let text = "# comment\n\nbm90LWEta2V5\n";
        let err = format!("{:#}", parse(text, "k").unwrap_err());
        assert!(err.contains("line 3") && !err.contains("bm90"), "{err}");
        assert!(parse("# nothing\n", "k").is_err());
        let key = Key::generate();
        let parsed = parse(&render(std::slice::from_ref(&key)), "k").unwrap();
        assert_eq!(parsed[0].id, key.id);
        assert_eq!(format!("{key:?}"), format!("Key({})", key.id));
    }
}
