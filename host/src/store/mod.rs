//! Plugin data: JSON documents with revisions, kept per (tenant, plugin) namespace,
//! and host-held secrets, sealed before any backend sees them.
//!
//! The traits are what the `igor:plugin/store` and `secrets` imports are built
//! on; backends (embedded SQLite, PostgreSQL, a real Igor over REST) implement
//! them; `stores::Stores::open` opens the configured ones. The runtime validates paths
//! before any backend sees them; SQLite and PostgreSQL check them again.

pub mod igor;
pub mod igor_config;
pub mod igor_xml;
pub mod keys;
mod migrations;
pub mod owner_only;
pub mod postgres;
mod quota;
pub mod sealed;
pub mod sqlite;

use async_trait::async_trait;

pub use quota::{Quota, QuotaStore, Usage, document_bytes};

use crate::echo::echo;

/// Whose data: both parts come from the host's routing, never from a guest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace {
    pub tenant: String,
    pub plugin: String,
}

/// The plugin part of the host's own namespace in each tenant (action
/// status). Plugin names are XML element names, which cannot contain `:`,
/// so no plugin can be installed under it.
pub const HOST_NAMESPACE: &str = ":host";
/// The host namespace's earlier name, from before plugin names could start
/// with `_`; the SQLite store's migration 2 moves what it held.
pub const LEGACY_HOST_NAMESPACE: &str = "_host";

impl Namespace {
    pub fn new(tenant: impl Into<String>, plugin: impl Into<String>) -> Self {
        Self {
            tenant: tenant.into(),
            plugin: plugin.into(),
        }
    }

    /// The host's own data of `tenant`.
    pub fn host(tenant: impl Into<String>) -> Self {
        Self::new(tenant, HOST_NAMESPACE)
    }

    pub fn is_host(&self) -> bool {
        self.plugin == HOST_NAMESPACE
    }
}

impl std::fmt::Display for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.tenant, self.plugin)
    }
}

/// A stored document and its revision (never 0).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub json: String,
    pub revision: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("revision conflict: the path is at revision {0}")]
    Conflict(u64),
    #[error("invalid path: {0}")]
    InvalidPath(String),
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// What every store call returns.
pub type StoreResult<T> = Result<T, StoreError>;

/// What a write must survive (`igor:plugin/documents`' durability class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// On stable storage before the write returns (tokens, settings).
    Durable,
    /// May share a later commit's flush (data that can be fetched again).
    Refetchable,
}

/// What [`DocumentStore::write`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Written {
    /// The path's revision now.
    pub revision: u64,
    /// False when the path already held the same JSON text.
    pub changed: bool,
}

/// One write, as every backend takes it.
#[derive(Clone, Copy, Debug)]
pub struct Write<'a> {
    pub path: &'a str,
    pub json: &'a str,
    /// The revision rule (see [`DocumentStore`]).
    pub expected: Option<u64>,
    pub durability: Durability,
    /// Write nothing when the path already holds exactly `json`
    /// (`documents.store-write`); otherwise always write (`store.store-put`).
    pub skip_unchanged: bool,
}

/// One page of a [`DocumentStore::list`]: up to `limit` paths that are
/// `prefix` or lie below it (`prefix/...`; `""`: every path), after `after`
/// when given.
#[derive(Clone, Copy, Debug)]
pub struct Listing<'a> {
    pub prefix: &'a str,
    pub after: Option<&'a str>,
    pub limit: usize,
}

impl<'a> Listing<'a> {
    /// The first page.
    pub fn first(prefix: &'a str, limit: usize) -> Self {
        Self {
            prefix,
            after: None,
            limit,
        }
    }

    /// The page after the path `after`, if any.
    pub fn after(self, after: Option<&'a str>) -> Self {
        Self { after, ..self }
    }
}

impl<'a> Write<'a> {
    /// `store.store-put`: durable, and written whatever is stored.
    pub fn put(path: &'a str, json: &'a str, expected: Option<u64>) -> Self {
        Self {
            path,
            json,
            expected,
            durability: Durability::Durable,
            skip_unchanged: false,
        }
    }

    /// `documents.store-write`: nothing is written when the path already
    /// holds exactly `json`; otherwise as durably as `durability` asks.
    pub fn unless_unchanged(
        path: &'a str,
        json: &'a str,
        expected: Option<u64>,
        durability: Durability,
    ) -> Self {
        Self {
            durability,
            skip_unchanged: true,
            ..Self::put(path, json, expected)
        }
    }
}

/// The most paths one [`DocumentStore::get_many`] reads.
pub const MAX_GET_MANY: usize = 64;

/// Whether a write of `json` at a path holding `old` would change nothing:
/// the same text, and `expected` allows the write.
pub fn unchanged(old: Option<&Entry>, json: &str, expected: Option<u64>) -> Option<Written> {
    let old = old?;
    let allowed = expected.is_none_or(|rev| rev == old.revision);
    (allowed && old.json == json).then_some(Written {
        revision: old.revision,
        changed: false,
    })
}

/// A backend for plugin documents.
///
/// `expected` follows the WIT contract: `None` writes unconditionally,
/// `Some(0)` only if absent, `Some(n)` only at revision `n`; otherwise
/// `Err(Conflict(current))` and nothing changes. A write or delete is one
/// transaction: it happens whole, with the tenant's usage, or not at all.
#[async_trait]
pub trait DocumentStore: Send + Sync {
    async fn get(&self, ns: &Namespace, path: &str) -> StoreResult<Option<Entry>>;

    /// Whether the host process `instance` (see [`crate::instance`]) of a
    /// host sharing this store still runs, when the store can tell
    /// (PostgreSQL sees its session); `None` when it cannot.
    async fn instance_alive(&self, _instance: &str) -> Option<bool> {
        None
    }

    /// The one write a backend implements: `write` unless its `expected`
    /// revision or the tenant's `quota` refuses it. Backends that keep
    /// usage check the quota in the write's own transaction. Plugins write
    /// through a [`QuotaStore`], which always passes their tenant's quota.
    async fn write(&self, ns: &Namespace, write: Write<'_>, quota: &Quota) -> StoreResult<Written>;

    /// A write without quota of its own (the host's documents; through a
    /// [`QuotaStore`], within its quota).
    async fn put(
        &self,
        ns: &Namespace,
        path: &str,
        json: &str,
        expected: Option<u64>,
    ) -> StoreResult<u64> {
        let write = Write::put(path, json, expected);
        Ok(self.write(ns, write, &Quota::UNLIMITED).await?.revision)
    }

    async fn delete(&self, ns: &Namespace, path: &str, expected: Option<u64>) -> StoreResult<bool>;

    /// The documents at `paths` (at most [`MAX_GET_MANY`]), in order. This
    /// default reads them one by one; SQLite and PostgreSQL in one go.
    async fn get_many(&self, ns: &Namespace, paths: &[String]) -> StoreResult<Vec<Option<Entry>>> {
        validate_paths(paths)?;
        let mut entries = Vec::with_capacity(paths.len());
        for path in paths {
            entries.push(self.get(ns, path).await?);
        }
        Ok(entries)
    }

    /// The paths of `ns` that hold a document and fall in `listing`, in
    /// byte order. Where documents nest (Igor), `prefix` alone.
    async fn list(&self, ns: &Namespace, listing: Listing<'_>) -> StoreResult<Vec<String>>;

    /// What a tenant stores across its plugins; `None` when the backend
    /// cannot tell (quotas on counts and totals are then not enforced).
    async fn usage(&self, _tenant: &str) -> StoreResult<Option<Usage>> {
        Ok(None)
    }
}

/// Host-held secrets, written by plugins but read only by the host.
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn set(&self, ns: &Namespace, name: &str, value: &str) -> StoreResult<()>;
    async fn get(&self, ns: &Namespace, name: &str) -> StoreResult<Option<String>>;
    async fn delete(&self, ns: &Namespace, name: &str) -> StoreResult<bool>;
}

/// A secret as a backend keeps it: sealed by [`sealed::SealedSecrets`].
/// `Debug` shows neither the value nor its length.
#[derive(Clone, PartialEq, Eq)]
pub enum StoredSecret {
    Sealed {
        key_id: String,
        bytes: Vec<u8>,
    },
    /// Written before secrets were sealed (SQLite only); sealed at start.
    Plaintext(String),
}

impl std::fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoredSecret::Sealed { key_id, .. } => write!(f, "Sealed(key {key_id})"),
            StoredSecret::Plaintext(_) => f.write_str("Plaintext(<redacted>)"),
        }
    }
}

/// A sealed value as a [`SecretVault`] is given it: the id of the key that
/// sealed it, and the sealed bytes.
#[derive(Clone, Copy)]
pub struct Sealed<'a> {
    pub key_id: &'a str,
    pub bytes: &'a [u8],
}

/// A secret found by [`SecretVault::needing_seal`].
#[derive(Debug, Clone)]
pub struct VaultEntry {
    pub ns: Namespace,
    pub name: String,
    pub secret: StoredSecret,
}

/// Where a backend keeps sealed secrets; it never sees a plaintext value.
#[async_trait]
pub trait SecretVault: Send + Sync {
    async fn put_secret(&self, ns: &Namespace, name: &str, value: Sealed<'_>) -> StoreResult<()>;
    async fn get_secret(&self, ns: &Namespace, name: &str) -> StoreResult<Option<StoredSecret>>;
    async fn delete_secret(&self, ns: &Namespace, name: &str) -> StoreResult<bool>;
    /// Up to `limit` secrets in plaintext or, with `key_id`, sealed with any
    /// other key.
    async fn needing_seal(
        &self,
        key_id: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<VaultEntry>>;
    /// Replaces `entry` by a sealed value only if it is still as read, so a
    /// concurrent `put_secret` wins; whether it was replaced.
    async fn replace_secret(&self, entry: &VaultEntry, value: Sealed<'_>) -> StoreResult<bool>;
}

/// The checks every backend makes before a write: the path, valid JSON and
/// the document size.
pub fn check_write(path: &str, json: &str, quota: &Quota) -> StoreResult<()> {
    validate_path(path)?;
    quota.check_value(json)?;
    serde_json::from_str::<serde::de::IgnoredAny>(json)
        .map(|_| ())
        .map_err(|e| StoreError::InvalidJson(e.to_string()))
}

/// `Err(Conflict(current))` unless `expected` admits the `current` revision
/// (0: absent).
pub fn check_expected(current: u64, expected: Option<u64>) -> StoreResult<()> {
    match expected {
        Some(want) if want != current => Err(StoreError::Conflict(current)),
        _ => Ok(()),
    }
}

/// Longest path accepted, in bytes.
pub const MAX_PATH_LEN: usize = 512;
/// Deepest path accepted, in segments.
pub const MAX_PATH_DEPTH: usize = 16;

/// Checks a guest-given path: relative, `/`-separated, no empty, `.` or `..`
/// segments, no control characters, bounded length and depth.
pub fn validate_path(path: &str) -> StoreResult<()> {
    let bad = |why: &str| Err(StoreError::InvalidPath(format!("{:?}: {why}", echo(path))));
    if path.is_empty() {
        return bad("empty");
    }
    if path.len() > MAX_PATH_LEN {
        return bad("too long");
    }
    if path.starts_with('/') {
        return bad("absolute paths are not allowed");
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.len() > MAX_PATH_DEPTH {
        return bad("too deep");
    }
    for segment in segments {
        match segment {
            "" => return bad("empty segment"),
            "." | ".." => return bad("relative segment"),
            s if s.chars().any(|c| c.is_control() || c == '\\') => {
                return bad("control character or backslash");
            }
            _ => {}
        }
    }
    Ok(())
}

/// Checks a listing prefix: empty (everything) or a valid path.
/// The paths of one [`DocumentStore::get_many`]: at most
/// [`MAX_GET_MANY`], each valid.
pub fn validate_paths(paths: &[String]) -> StoreResult<()> {
    if paths.len() > MAX_GET_MANY {
        return Err(StoreError::InvalidPath(format!(
            "{} paths in one read; at most {MAX_GET_MANY}",
            paths.len()
        )));
    }
    paths.iter().try_for_each(|path| validate_path(path))
}

pub fn validate_prefix(prefix: &str) -> StoreResult<()> {
    if prefix.is_empty() {
        Ok(())
    } else {
        validate_path(prefix)
    }
}

/// Most paths one `list` call returns.
pub const MAX_LIST: usize = 1000;

/// Checks a secret name: a short identifier.
pub fn validate_secret_name(name: &str) -> StoreResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidPath(format!(
            "{:?}: secret names are 1-64 letters, digits, '_', '-' or '.'",
            echo(name)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_igor_paths() {
        for p in [
            "plugindata/weather",
            "identities/jack/plugindata/weather/token",
            "sensors/weather/jack",
        ] {
            assert_eq!(validate_path(p), Ok(()), "{p}");
        }
    }

    #[test]
    fn rejects_escapes_and_oddities() {
        let deep = vec!["a"; MAX_PATH_DEPTH + 1].join("/");
        let long = "a".repeat(MAX_PATH_LEN + 1);
        for p in [
            "", "/abs", "a//b", "a/../b", "..", "./a", "a/", "a\\b", "a\nb", &deep, &long,
        ] {
            assert!(
                matches!(validate_path(p), Err(StoreError::InvalidPath(_))),
                "{p:?}"
            );
        }
    }
}
