//! What the webhook owes each user: `plugindata/N/webhooks` records, per
//! user, when the first and last notifications not yet synced arrived and
//! when their last sync started, and which unknown senders were logged
//! already. The receipt is written durably before the acknowledgement; the
//! sync itself is a host task (`run-later`), which is durable too, so a
//! crash between the two loses nothing.

use serde_json::{Map, Value, json};

use crate::errors::Result;
use crate::json::{as_f64, as_object};
use crate::settings::document::update;
use igor_plugin_sdk::Host;

/// Most unknown senders remembered (each is logged once).
const MAX_UNKNOWN: usize = 200;

/// One user's entry.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Owed {
    /// The first notification not synced yet (seconds since the epoch).
    pub first: Option<f64>,
    /// The newest notification.
    pub last: Option<f64>,
    /// When the last sync started.
    pub started: Option<f64>,
}

impl Owed {
    fn of(document: &Map<String, Value>, user: &str) -> Self {
        let entry = as_object(document.get("users").and_then(|u| u.get(user)));
        let at = |key: &str| entry.get(key).and_then(as_f64);
        Self {
            first: at("first"),
            last: at("last"),
            started: at("started"),
        }
    }

    fn store(&self, document: &mut Map<String, Value>, user: &str) {
        let mut users = as_object(document.get("users"));
        let mut entry = Map::new();
        for (key, at) in [
            ("first", self.first),
            ("last", self.last),
            ("started", self.started),
        ] {
            if let Some(at) = at {
                entry.insert(key.into(), json!(at));
            }
        }
        users.insert(user.into(), Value::Object(entry));
        document.insert("users".into(), Value::Object(users));
    }

    /// When the next sync may start: `settle` after now, and `spacing`
    /// after the last one started (so that repeats coalesce).
    pub fn next_sync(&self, now: f64, settle: f64, spacing: f64) -> f64 {
        let spaced = self.started.map_or(now, |s| s + spacing);
        (now + settle).max(spaced)
    }
}

fn edit(host: &dyn Host, path: &str, user: &str, change: impl Fn(&mut Owed)) -> Result<Owed> {
    let result = std::cell::Cell::new(Owed::default());
    update(host, path, |document| {
        let mut owed = Owed::of(document, user);
        change(&mut owed);
        owed.store(document, user);
        result.set(owed);
    })?;
    Ok(result.get())
}

/// Records a notification for `user` at `now`; returns the entry before it.
pub fn received(host: &dyn Host, path: &str, user: &str, now: f64) -> Result<Owed> {
    let before = std::cell::Cell::new(Owed::default());
    edit(host, path, user, |owed| {
        before.set(*owed);
        owed.first = owed.first.or(Some(now));
        owed.last = Some(now);
    })?;
    Ok(before.get())
}

/// Records that a sync for `user` starts at `now`; returns the entry.
pub fn sync_started(host: &dyn Host, path: &str, user: &str, now: f64) -> Result<Owed> {
    edit(host, path, user, |owed| owed.started = Some(now))
}

/// Records that the sync started at `started` ended: what arrived before
/// it is settled; what arrived during it waits for the next one.
pub fn sync_ended(host: &dyn Host, path: &str, user: &str, started: f64) -> Result<()> {
    edit(host, path, user, |owed| {
        if owed.last.is_some_and(|last| last <= started) {
            owed.first = None;
            owed.last = None;
        } else if owed.first.is_some() {
            owed.first = owed.last;
        }
    })
    .map(drop)
}

/// Whether `sender` (a user id, or a user id and data type) is new to the
/// log; it is remembered, so each is logged once.
pub fn first_mention(host: &dyn Host, path: &str, sender: &str) -> Result<bool> {
    let current = host
        .store_get(path)
        .map_err(crate::errors::PluginError::store)?;
    let known = current
        .and_then(|(doc, _)| doc.get("unknown").cloned())
        .and_then(|list| list.as_array().cloned())
        .unwrap_or_default();
    if known.iter().any(|k| k.as_str() == Some(sender)) || known.len() >= MAX_UNKNOWN {
        return Ok(false);
    }
    update(host, path, |document| {
        let mut list = document
            .get("unknown")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !list.iter().any(|k| k.as_str() == Some(sender)) {
            list.push(json!(sender));
        }
        document.insert("unknown".into(), Value::Array(list));
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use igor_plugin_sdk::testing::MemoryHost;

    const PATH: &str = "plugindata/fitbit/webhooks";

    #[test]
    fn a_sync_settles_what_came_before_it_only() {
        let host = MemoryHost::default();
        assert_eq!(
            received(&host, PATH, "jack", 10.0).unwrap(),
            Owed::default()
        );
        let before = received(&host, PATH, "jack", 11.0).unwrap();
        assert_eq!(before.first, Some(10.0));
        sync_started(&host, PATH, "jack", 12.0).unwrap();
        received(&host, PATH, "jack", 13.0).unwrap();
        sync_ended(&host, PATH, "jack", 12.0).unwrap();
        let owed = sync_started(&host, PATH, "jack", 20.0).unwrap();
        assert_eq!((owed.first, owed.last), (Some(13.0), Some(13.0)));
        sync_ended(&host, PATH, "jack", 20.0).unwrap();
        let owed = sync_started(&host, PATH, "jack", 30.0).unwrap();
        assert_eq!((owed.first, owed.last), (None, None));
    }

    #[test]
    fn syncs_are_spaced() {
        let owed = Owed {
            started: Some(100.0),
            ..Owed::default()
        };
        assert_eq!(owed.next_sync(110.0, 1.0, 60.0), 160.0);
        assert_eq!(owed.next_sync(200.0, 1.0, 60.0), 201.0);
        assert_eq!(Owed::default().next_sync(5.0, 1.0, 60.0), 6.0);
    }

    #[test]
    fn an_unknown_sender_is_mentioned_once() {
        let host = MemoryHost::default();
        assert!(first_mention(&host, PATH, "999").unwrap());
        assert!(!first_mention(&host, PATH, "999").unwrap());
        assert!(first_mention(&host, PATH, "999 steps").unwrap());
    }
}
