//! A real Igor as the document store: plugin documents live in Igor's XML
//! database and are read and written over its REST API (`/data/...`), so
//! Igor's own actions, pages and users see the very same data.
//!
//! # Paths
//! A plugin's paths are Igor paths as they are (`plugindata/weather`,
//! `identities/jack/plugindata/weather/token`, `sensors/weather/jack`), but a
//! plugin `P` may only touch its own subtrees: `plugindata/P[/...]`,
//! `identities/<user>/plugindata/P[/...]`, `sensors/P[/...]` and below the
//! status of its sensors, `status/sensors/P/...` (where a plugin leaves
//! notices for the owner next to what Igor's `updateStatus` writes). The
//! host's own namespace (action status) may only touch `status/...`. The
//! status paths are the same whatever the namespace is called, so status
//! stored before it was renamed is found as it is.
//! Every segment must be an XML element name (`^[a-zA-Z_][-_.a-zA-Z0-9]*$`),
//! so a path can never carry XPath syntax. Only the single-tenant host can
//! use this store: Igor has one database, not one per tenant.
//!
//! # Documents
//! Igor stores XML and converts to and from JSON; the conversion is lossy and
//! **what `get` returns is what Igor returns**, not what was written: see
//! [`super::igor_xml`] for exactly what changes and what is refused. Writes
//! are sent as XML, never with query parameters, so a write keeps what Igor
//! hides from JSON readers (`own:` attributes and `au:` children).
//!
//! # Nesting
//! In Igor, paths nest: `identities/jack/plugindata/weather` *contains*
//! `.../weather/token`. Reading a parent returns its children too; writing a
//! parent replaces them (a plugin's read-modify-write keeps them); deleting a
//! parent deletes them. Missing ancestors are created as empty elements
//! before a write (Igor 0.99.1 refuses a `PUT` whose parent is missing).
//!
//! # Revisions and compare-and-swap
//! Igor has neither. A revision here is a hash of the document as Igor returns
//! it (first 8 bytes of SHA-256 of canonical JSON, never 0), so `get` returns
//! `hash(current content)`, and a write returns the hash of what Igor gives
//! back after it. Writes of this host are serialised per plugin subtree
//! (`plugindata/P`, `identities/U/plugindata/P`, `sensors/P`,
//! `status/<first>`), and a conditional write or delete re-reads the path
//! under that lock and fails with `Conflict(current)` when the hash differs.
//! What that guarantees:
//! - against this host's own writers (any plugin, any request): full
//!   compare-and-swap, including parent/child overlap within a subtree;
//! - against other Igor clients writing the same paths: a change made before
//!   our verifying read is detected; a change landing between that read and
//!   our `PUT` (a window of one local round trip) is overwritten;
//! - revisions are content hashes: writing back identical content gives the
//!   same revision again (an A→B→A change is not seen as a change), and
//!   revisions do not increase.
//!
//! # Errors
//! Igor down, a timeout, 401/403 (credentials), 5xx and any other unexpected
//! answer give `StoreError::Unavailable` with a message naming Igor's URL.
//! A write that fails before the `PUT` changes nothing; a `PUT` is one Igor
//! operation (whole or not at all). Of the tenant quotas only the document
//! size is enforced (the counts and totals are unknown: `usage` is `None`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;

pub use super::igor_config::IgorConfig;
use super::igor_xml::{
    Hidden, canonical, check_document, hidden_parts_of, is_plain_not_found, is_xml_name,
    quote_non_finite, revision_of, summarise, to_xml,
};
use super::{
    DocumentStore, Entry, Listing, Namespace, Quota, StoreError, StoreResult, Write, Written,
    unchanged, validate_path,
};

/// Largest answer read from Igor.
const MAX_ANSWER: usize = 32 << 20;

/// Documents in a real Igor; see the module documentation.
pub struct IgorStore {
    client: reqwest::Client,
    base: String,
    authorization: Option<HeaderValue>,
    timeout_ms: u64,
    /// The only tenant this store serves.
    tenant: String,
    /// One lock per plugin subtree: this host's writers are serialised.
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Held while creating missing ancestors, which subtrees can share.
    create_lock: tokio::sync::Mutex<()>,
    /// Writes that need saving, counted as they complete, and how many of
    /// them Igor's last completed save covers (see [`IgorStore::persist`]).
    written: AtomicU64,
    saved: tokio::sync::Mutex<u64>,
}

/// A path a namespace may use, and the subtree whose lock covers it.
struct Scoped<'a> {
    root: String,
    segments: Vec<&'a str>,
}

enum PutOutcome {
    Done,
    ParentMissing,
}

impl IgorStore {
    pub fn new(config: &IgorConfig, tenant: &str) -> anyhow::Result<Self> {
        config.validate()?;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()?;
        Ok(Self {
            client,
            base: config.base(),
            authorization: config.authorization()?,
            timeout_ms: config.timeout_ms,
            tenant: tenant.to_string(),
            locks: Mutex::new(HashMap::new()),
            create_lock: tokio::sync::Mutex::new(()),
            written: AtomicU64::new(0),
            saved: tokio::sync::Mutex::new(0),
        })
    }

    /// Igor's base URL (for messages and the redirect base).
    pub fn base(&self) -> &str {
        &self.base
    }

    fn scope<'a>(&self, ns: &Namespace, path: &'a str) -> StoreResult<Scoped<'a>> {
        validate_path(path)?;
        if ns.tenant != self.tenant {
            return Err(StoreError::InvalidPath(format!(
                "{path:?}: the Igor store serves only the single-tenant host (tenant {:?})",
                self.tenant
            )));
        }
        let segments: Vec<&str> = path.split('/').collect();
        if let Some(bad) = segments.iter().find(|s| !is_xml_name(s)) {
            return Err(StoreError::InvalidPath(format!(
                "{path:?}: segment {bad:?} is not an XML element name \
                 (letters, digits, '_', '-', '.', starting with a letter or '_'), as Igor needs"
            )));
        }
        let plugin = ns.plugin.as_str();
        let root_len = if ns.is_host() {
            match segments.as_slice() {
                ["status", _, ..] => Some(2),
                _ => None,
            }
        } else {
            match segments.as_slice() {
                ["plugindata", p, ..] | ["sensors", p, ..] if *p == plugin => Some(2),
                ["identities", _, "plugindata", p, ..] if *p == plugin => Some(4),
                // Below its status only: the status itself is Igor's (and
                // the host's); the root is the one the host's writes lock.
                ["status", "sensors", p, _, ..] if *p == plugin => Some(2),
                _ => None,
            }
        };
        let Some(root_len) = root_len else {
            let allowed = if ns.is_host() {
                "status/...".to_string()
            } else {
                format!(
                    "plugindata/{plugin}, identities/<user>/plugindata/{plugin} and sensors/{plugin} \
                     (and below), and below status/sensors/{plugin}"
                )
            };
            return Err(StoreError::InvalidPath(format!(
                "{path:?}: in Igor, {plugin} may only use {allowed}"
            )));
        };
        Ok(Scoped {
            root: segments[..root_len].join("/"),
            segments,
        })
    }

    async fn lock(&self, root: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.locks.lock().expect("lock table");
            // Forget locks nobody holds or waits for.
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            locks.entry(root.to_string()).or_default().clone()
        };
        lock.lock_owned().await
    }

    fn url(&self, path: &str) -> String {
        format!("{}/data/{path}", self.base)
    }

    /// One request to Igor; transport failures become `Unavailable`.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: Option<&str>,
        accept: &str,
        body: Option<(&str, String)>,
    ) -> StoreResult<(StatusCode, String)> {
        let mut url = self.url(path);
        if let Some(query) = query {
            // Reads only: on a write, Igor would store the parameters.
            debug_assert!(body.is_none());
            url = format!("{url}?{query}");
        }
        let mut request = self
            .client
            .request(method.clone(), &url)
            .header(ACCEPT, accept);
        if let Some(auth) = &self.authorization {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        if let Some((content_type, body)) = body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let response = request.send().await.map_err(|e| self.transport_error(&e))?;
        let status = response.status();
        let too_large = || {
            StoreError::Unavailable(format!(
                "Igor at {} answered {method} /data/{path} with more than {MAX_ANSWER} bytes",
                self.base
            ))
        };
        if response
            .content_length()
            .is_some_and(|len| len > MAX_ANSWER as u64)
        {
            return Err(too_large());
        }
        // Read while counting: an answer is never held beyond the limit.
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.transport_error(&e))?;
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn transport_error(&self, err: &reqwest::Error) -> StoreError {
        let base = &self.base;
        StoreError::Unavailable(if err.is_timeout() {
            format!(
                "Igor at {base} did not answer within {} ms ([store] timeout_ms)",
                self.timeout_ms
            )
        } else {
            // The whole chain: reqwest's own message is often just
            // "error sending request".
            let mut message = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            format!("Igor at {base} is unreachable (is igorServer running?): {message}")
        })
    }

    fn answer_error(&self, method: &str, path: &str, status: StatusCode, body: &str) -> StoreError {
        let base = &self.base;
        let code = status.as_u16();
        let body = summarise(body);
        StoreError::Unavailable(match code {
            401 | 403 => format!(
                "Igor at {base} answered {code} to {method} /data/{path}: check the credentials in \
                 [store] (username/password or bearer_token) and that they may use this path ({body})"
            ),
            _ => format!("Igor at {base} answered {code} to {method} /data/{path}: {body}"),
        })
    }

    /// `GET /data/<path>` as JSON: `None` when Igor has no such element.
    async fn read(&self, path: &str) -> StoreResult<Option<Entry>> {
        let (status, body) = self
            .send(reqwest::Method::GET, path, None, "application/json", None)
            .await?;
        if status == StatusCode::NOT_FOUND && is_plain_not_found(&body) {
            return Ok(None);
        }
        if status != StatusCode::OK {
            return Err(self.answer_error("GET", path, status, &body));
        }
        let value: Value = serde_json::from_str(&quote_non_finite(&body)).map_err(|e| {
            StoreError::Unavailable(format!(
                "Igor at {} answered GET /data/{path} with invalid JSON: {e}",
                self.base
            ))
        })?;
        let tag = path.rsplit('/').next().unwrap_or(path);
        let value = match value {
            Value::Object(mut map) if map.len() == 1 && map.contains_key(tag) => {
                map.remove(tag).expect("present")
            }
            _ => {
                return Err(StoreError::Unavailable(format!(
                    "Igor at {} answered GET /data/{path} without a {tag:?} element",
                    self.base
                )));
            }
        };
        let json = canonical(&value).to_string();
        Ok(Some(Entry {
            revision: revision_of(&json),
            json,
        }))
    }

    /// What Igor hides from JSON at `path` and a write must keep: the
    /// element's namespaced attributes and its namespaced children (as XML).
    async fn hidden_parts(&self, path: &str) -> StoreResult<Hidden> {
        let (status, body) = self
            .send(
                reqwest::Method::GET,
                path,
                Some(".VARIANT=raw"),
                "application/xml",
                None,
            )
            .await?;
        if status == StatusCode::NOT_FOUND && is_plain_not_found(&body) {
            return Ok(Hidden::default());
        }
        if status != StatusCode::OK {
            return Err(self.answer_error("GET", path, status, &body));
        }
        hidden_parts_of(&body).map_err(|e| {
            StoreError::Unavailable(format!(
                "Igor at {}: cannot keep the hidden (au:/own:) data of /data/{path} on a write: {e}",
                self.base
            ))
        })
    }

    async fn put_xml(&self, path: &str, xml: String) -> StoreResult<PutOutcome> {
        let (status, body) = self
            .send(
                reqwest::Method::PUT,
                path,
                None,
                "application/json",
                Some(("application/xml", xml)),
            )
            .await?;
        if status.is_success() {
            Ok(PutOutcome::Done)
        } else if status == StatusCode::BAD_REQUEST && body.contains("Parent not found") {
            Ok(PutOutcome::ParentMissing)
        } else {
            Err(self.answer_error("PUT", path, status, &body))
        }
    }

    /// Asks Igor to save its database (`GET /internal/save`) after a write
    /// of `path` that cannot be fetched again: settings, tokens and
    /// authorisations live under `plugindata/` and `identities/`. Igor
    /// keeps writes in memory until its own save (at most once a minute,
    /// otherwise hourly), so without this an Igor crash could lose a token
    /// the provider has already rotated. `sensors/` and `status/` are
    /// fetched or recorded again by the next run and are left to Igor.
    ///
    /// Saves are coalesced: a save that started after this write completed
    /// covers it. A failed save leaves the write in place (it is in Igor's
    /// memory, and Igor saves it later) and is logged.
    async fn persist(&self, path: &str) {
        if !matches!(path.split('/').next(), Some("plugindata" | "identities")) {
            return;
        }
        let mine = self.written.fetch_add(1, Ordering::SeqCst) + 1;
        let mut saved = self.saved.lock().await;
        if *saved >= mine {
            return;
        }
        let covers = self.written.load(Ordering::SeqCst);
        let mut request = self.client.get(format!("{}/internal/save", self.base));
        if let Some(auth) = &self.authorization {
            request = request.header(AUTHORIZATION, auth.clone());
        }
        let outcome = match request.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(format!("Igor at {} answered {}", self.base, r.status())),
            Err(e) => Err(self.transport_error(&e).to_string()),
        };
        match outcome {
            Ok(()) => *saved = covers,
            Err(err) => tracing::error!(
                error = %err, %path,
                "Igor did not save its database; a crash of Igor before its own next save \
                 would lose this write"
            ),
        }
    }

    /// Creates the missing ancestors of `segments` as empty elements, top
    /// down, checking each first so an existing one is never replaced.
    async fn create_ancestors(&self, segments: &[&str]) -> StoreResult<()> {
        let _guard = self.create_lock.lock().await;
        for len in 1..segments.len() {
            let ancestor = segments[..len].join("/");
            if self.read(&ancestor).await?.is_some() {
                continue;
            }
            let tag = segments[len - 1];
            match self.put_xml(&ancestor, format!("<{tag}/>")).await? {
                PutOutcome::Done => {}
                PutOutcome::ParentMissing => {
                    return Err(StoreError::Unavailable(format!(
                        "Igor at {} refused to create /data/{ancestor}: parent not found",
                        self.base
                    )));
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl DocumentStore for IgorStore {
    async fn get(&self, ns: &Namespace, path: &str) -> StoreResult<Option<Entry>> {
        self.scope(ns, path)?;
        self.read(path).await
    }

    /// A document contains those below it, so the list holds `prefix` alone
    /// (when it exists). Igor has no listing of a plugin's scattered
    /// subtrees, so `prefix` must name one of them.
    async fn list(&self, ns: &Namespace, listing: Listing<'_>) -> StoreResult<Vec<String>> {
        let (prefix, after, limit) = (listing.prefix, listing.after, listing.limit);
        if prefix.is_empty() {
            return Err(StoreError::InvalidPath(
                "with Igor as the store, listing needs a path to list below".into(),
            ));
        }
        self.scope(ns, prefix)?;
        let wanted = limit > 0 && after.is_none_or(|after| prefix > after);
        if wanted && self.read(prefix).await?.is_some() {
            Ok(vec![prefix.to_string()])
        } else {
            Ok(Vec::new())
        }
    }

    /// Only the document size of `quota` is enforced: Igor cannot tell a
    /// tenant's usage.
    /// Igor keeps no durability classes: every write is Igor's own PUT.
    async fn write(&self, ns: &Namespace, write: Write<'_>, quota: &Quota) -> StoreResult<Written> {
        let (path, json, expected) = (write.path, write.json, write.expected);
        if write.skip_unchanged
            && let Some(same) = unchanged(self.get(ns, path).await?.as_ref(), json, expected)
        {
            return Ok(same);
        }
        let scoped = self.scope(ns, path)?;
        quota.check_value(json)?;
        let value: Value =
            serde_json::from_str(json).map_err(|e| StoreError::InvalidJson(e.to_string()))?;
        check_document(&value).map_err(StoreError::InvalidJson)?;
        let tag = *scoped.segments.last().expect("validated path");
        let _guard = self.lock(&scoped.root).await;
        if let Some(expected) = expected {
            let current = self.read(path).await?.map_or(0, |e| e.revision);
            if current != expected {
                return Err(StoreError::Conflict(current));
            }
        }
        let hidden = self.hidden_parts(path).await?;
        let xml = to_xml(tag, &value, &hidden);
        if let PutOutcome::ParentMissing = self.put_xml(path, xml.clone()).await? {
            self.create_ancestors(&scoped.segments).await?;
            if let PutOutcome::ParentMissing = self.put_xml(path, xml).await? {
                return Err(StoreError::Unavailable(format!(
                    "Igor at {} still finds no parent for /data/{path}",
                    self.base
                )));
            }
        }
        let written = self.read(path).await?;
        self.persist(path).await;
        match written {
            Some(entry) => Ok(Written {
                revision: entry.revision,
                changed: true,
            }),
            None => Err(StoreError::Unavailable(format!(
                "Igor at {}: /data/{path} was written but is gone when read back \
                 (deleted by another client?)",
                self.base
            ))),
        }
    }

    async fn delete(&self, ns: &Namespace, path: &str, expected: Option<u64>) -> StoreResult<bool> {
        let scoped = self.scope(ns, path)?;
        let _guard = self.lock(&scoped.root).await;
        let current = self.read(path).await?;
        if let Some(expected) = expected {
            let revision = current.as_ref().map_or(0, |e| e.revision);
            if revision != expected {
                return Err(StoreError::Conflict(revision));
            }
        }
        if current.is_none() {
            return Ok(false);
        }
        let (status, body) = self
            .send(
                reqwest::Method::DELETE,
                path,
                None,
                "application/json",
                None,
            )
            .await?;
        if !status.is_success() {
            return Err(self.answer_error("DELETE", path, status, &body));
        }
        self.persist(path).await;
        Ok(true)
    }
}

/// The host's external base URL: `[server] base_url` when set; with the
/// Igor store and no `base_url`, Igor's own (`services/igor/url`, e.g.
/// `http://host:9333/data` → `http://host:9333`), because browsers then reach
/// the plugin through Igor's `/plugin/<name>/...` (see `igor/plugin/`).
/// Igor's external base URL from its `services/igor/url`.
pub async fn igor_base_url(config: &IgorConfig) -> anyhow::Result<String> {
    services_igor_url(&IgorStore::new(config, "")?).await
}

/// `services/igor/url` of the Igor `store` talks to, without a trailing
/// `/data` or slash.
pub async fn services_igor_url(store: &IgorStore) -> anyhow::Result<String> {
    let entry = store
        .read("services/igor/url")
        .await?
        .ok_or_else(|| anyhow::anyhow!("Igor at {} has no services/igor/url", store.base))?;
    let url = match serde_json::from_str::<Value>(&entry.json)? {
        Value::String(url) => url,
        other => anyhow::bail!("services/igor/url is not a URL: {other}"),
    };
    let base = url.trim().trim_end_matches('/');
    let base = base.strip_suffix("/data").unwrap_or(base);
    url::Url::parse(base).map_err(|e| anyhow::anyhow!("services/igor/url {url:?}: {e}"))?;
    Ok(base.to_string())
}

#[cfg(test)]
mod tests;
