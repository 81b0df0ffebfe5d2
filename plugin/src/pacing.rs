//! Pacing of upstream requests across every host that shares the store.
//!
//! Before each request to a provider with published quotas (Google Health:
//! 300 requests per minute per user, and a cap on an unverified app's
//! total), the plugin takes a slot in the current minute: one small
//! document holds the minute, the app's count and each user's count, and
//! is updated with compare-and-swap, so hosts sharing one store share the
//! windows. A full window is answered 429 with `Retry-After` until the
//! minute ends, without calling upstream. The document is replaced when a
//! new minute starts, so it only names users who called in this minute.
//!
//! Cost: a request's first slot reads the document and writes it; each
//! further slot of the same request writes it on the revision it knows
//! (and reads again only when another request wrote meanwhile).

use std::cell::RefCell;

use serde_json::{Map, Value, json};

use crate::errors::{PluginError, Result};
use crate::json::{as_f64, as_object};
use igor_plugin_sdk::{Durability::Refetchable, Host, StoreFailure};

/// Google Health's quota per user: 300 requests per minute.
pub const DEFAULT_USER_PER_MINUTE: u64 = 300;
/// An unverified Google app's total cap, 250 requests per second, as a
/// per-minute window.
pub const DEFAULT_APP_PER_MINUTE: u64 = 15_000;
/// The config keys that change the defaults.
pub const USER_LIMIT_KEY: &str = "google_user_requests_per_minute";
pub const APP_LIMIT_KEY: &str = "google_app_requests_per_minute";

const WINDOW_SECONDS: f64 = 60.0;
/// Compare-and-swap attempts before a request gives up on a busy window.
const ATTEMPTS: usize = 16;
/// After the n-th lost compare-and-swap a request waits a random time
/// below this doubled n-1 times (at most [`MAX_BACKOFF_SECONDS`]), so that
/// racing requests spread out even when each write takes the shared
/// store (PostgreSQL across hosts) several milliseconds.
const BACKOFF_SECONDS: f64 = 0.002;
const MAX_BACKOFF_SECONDS: f64 = 0.25;

/// Requests allowed per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_user: u64,
    pub per_app: u64,
}

impl Limits {
    /// The limits from the plugin's config; a missing, unreadable or zero
    /// value keeps the default.
    pub fn from_config(request: &igor_plugin_sdk::Request) -> Self {
        let read = |key: &str, default: u64| {
            request
                .config(key)
                .and_then(|s| s.trim().parse::<u64>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(default)
        };
        Self {
            per_user: read(USER_LIMIT_KEY, DEFAULT_USER_PER_MINUTE),
            per_app: read(APP_LIMIT_KEY, DEFAULT_APP_PER_MINUTE),
        }
    }
}

/// Takes slots for one plugin request; it remembers the document it last
/// wrote, so that further slots cost one write each.
pub struct Pacer {
    path: String,
    provider: &'static str,
    limits: Limits,
    known: RefCell<Option<(Value, u64)>>,
}

impl Pacer {
    /// A pacer over the document at `path`; `provider` names the service
    /// in messages.
    pub fn new(path: String, provider: &'static str, limits: Limits) -> Self {
        Self {
            path,
            provider,
            limits,
            known: RefCell::new(None),
        }
    }

    /// Takes a slot for one request on behalf of `user`, or answers 429
    /// (the window is full) or 503 (the store failed).
    pub fn take(&self, host: &dyn Host, user: &str) -> Result<()> {
        for attempt in 1..=ATTEMPTS {
            let now = host.now();
            let minute = (now / WINDOW_SECONDS).floor();
            let (document, revision) = match self.known.borrow_mut().take() {
                Some(known) => known,
                None => host
                    .store_get(&self.path)
                    .map_err(PluginError::store)?
                    .unwrap_or((Value::Null, 0)),
            };
            let mut window = Window::read(&document, minute);
            let until_next = ((minute + 1.0) * WINDOW_SECONDS - now).ceil().max(1.0) as u64;
            // A request for no user (the identity read while authorising)
            // counts only towards the app's window.
            if !user.is_empty() && window.of(user) >= self.limits.per_user {
                *self.known.borrow_mut() = Some((document, revision));
                return Err(self.full(
                    until_next,
                    format!(
                        "{user} has used the {} requests a minute allowed per user",
                        self.limits.per_user
                    ),
                ));
            }
            if window.total >= self.limits.per_app {
                *self.known.borrow_mut() = Some((document, revision));
                return Err(self.full(
                    until_next,
                    format!(
                        "this installation has used the {} requests a minute allowed in all",
                        self.limits.per_app
                    ),
                ));
            }
            window.add(user);
            let document = window.to_json();
            // Bookkeeping: a crash may forget the last calls, never half.
            let written = host.store_write(&self.path, &document, Some(revision), Refetchable);
            match written.map(|w| w.revision) {
                Ok(revision) => {
                    *self.known.borrow_mut() = Some((document, revision));
                    return Ok(());
                }
                // Another request took a slot meanwhile: read and try again.
                Err(StoreFailure::Conflict(_)) => {
                    let share = f64::from(host.random_bytes(1)[0]) / 255.0;
                    let ceiling = BACKOFF_SECONDS * 2f64.powi(attempt as i32 - 1);
                    host.sleep(share * ceiling.min(MAX_BACKOFF_SECONDS));
                }
                Err(err) => return Err(PluginError::store(err)),
            }
        }
        Err(self.full(
            1,
            "too many requests are taking slots at once to get one".to_string(),
        ))
    }

    fn full(&self, seconds: u64, why: String) -> PluginError {
        PluginError::too_many_requests(
            seconds,
            format!(
                "{} error: not sent, to stay within its rate limits: {why}. Retry in {seconds} s.",
                self.provider
            ),
        )
    }
}

/// One minute's counts.
#[derive(Debug, Clone, PartialEq)]
struct Window {
    minute: f64,
    total: u64,
    users: Map<String, Value>,
}

impl Window {
    /// The counts of `minute` in `document`; empty if it holds another
    /// minute or cannot be read (a mangled document must not block).
    fn read(document: &Value, minute: f64) -> Self {
        let same = document.get("minute").and_then(as_f64) == Some(minute);
        if !same {
            return Self {
                minute,
                total: 0,
                users: Map::new(),
            };
        }
        Self {
            minute,
            total: count(document.get("total")),
            users: as_object(document.get("users")),
        }
    }

    fn of(&self, user: &str) -> u64 {
        count(self.users.get(user))
    }

    fn add(&mut self, user: &str) {
        self.total += 1;
        if user.is_empty() {
            return;
        }
        let used = self.of(user) + 1;
        self.users.insert(user.to_string(), json!(used));
    }

    fn to_json(&self) -> Value {
        json!({"minute": self.minute as u64, "total": self.total, "users": self.users})
    }
}

fn count(value: Option<&Value>) -> u64 {
    value.and_then(as_f64).map_or(0, |n| n.max(0.0) as u64)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::rc::Rc;

    use super::*;
    use crate::testing::MemoryHost;

    const PATH: &str = "plugindata/fitbit/pacing";

    fn pacer(per_user: u64, per_app: u64) -> Pacer {
        Pacer::new(PATH.into(), "Google Health", Limits { per_user, per_app })
    }

    /// A clock at the start of a minute.
    fn host() -> MemoryHost {
        let host = MemoryHost::default();
        host.now.set(1_795_599_960.0);
        host
    }

    #[test]
    fn a_user_gets_the_limit_per_minute_then_429_until_the_minute_ends() {
        let host = host();
        let pacer = pacer(3, 100);
        for _ in 0..3 {
            pacer.take(&host, "jack").unwrap();
        }
        host.now.set(host.now.get() + 20.5);
        let err = pacer.take(&host, "jack").unwrap_err();
        assert_eq!(err.status, 429);
        assert_eq!(err.retry_after, Some(40));
        assert!(
            err.message.contains("jack") && err.message.contains("3 requests a minute"),
            "{}",
            err.message
        );
        // Another user has a window of their own.
        pacer.take(&host, "jill").unwrap();
        // A new minute starts afresh and forgets the last one's users.
        host.now.set(host.now.get() + 40.0);
        pacer.take(&host, "jack").unwrap();
        assert_eq!(
            host.get(PATH).unwrap(),
            json!({"minute": 29_926_667, "total": 1, "users": {"jack": 1}})
        );
    }

    #[test]
    fn the_app_window_counts_every_user() {
        let host = host();
        let pacer = pacer(10, 4);
        for user in ["a", "b", "c", "d"] {
            pacer.take(&host, user).unwrap();
        }
        let err = pacer.take(&host, "e").unwrap_err();
        assert_eq!((err.status, err.retry_after), (429, Some(60)));
        assert!(err.message.contains("4 requests a minute allowed in all"));
    }

    #[test]
    fn requests_of_other_hosts_count_and_conflicts_are_retried() {
        let host = host();
        let (one, other) = (pacer(5, 100), pacer(5, 100));
        one.take(&host, "jack").unwrap();
        // Another request (another host) takes two slots after `one`
        // remembered the document: `one` loses its compare-and-swap, reads
        // again and still counts them.
        other.take(&host, "jack").unwrap();
        other.take(&host, "jack").unwrap();
        one.take(&host, "jack").unwrap();
        one.take(&host, "jack").unwrap();
        assert!(one.take(&host, "jack").is_err(), "5 taken in all");
        assert!(other.take(&host, "jack").is_err());
    }

    #[test]
    fn further_slots_of_a_request_cost_one_write_each() {
        let host = host();
        let writes = Rc::new(Cell::new(0));
        let seen = writes.clone();
        host.before_write(move |_| seen.set(seen.get() + 1));
        let pacer = pacer(300, 15_000);
        for _ in 0..10 {
            pacer.take(&host, "jack").unwrap();
        }
        assert_eq!(writes.get(), 10);
    }

    #[test]
    fn a_window_that_stays_contended_gives_up_with_a_429() {
        let host = host();
        let documents = host.documents.clone();
        let revision = host.revision.clone();
        // Every write loses: someone else always wrote just before.
        host.before_write(move |path| {
            igor_plugin_sdk::testing::put_into(&documents, &revision, path, json!({}));
        });
        let err = pacer(5, 100).take(&host, "jack").unwrap_err();
        assert_eq!((err.status, err.retry_after), (429, Some(1)));
    }

    #[test]
    fn mangled_documents_do_not_block() {
        let host = host();
        host.put(PATH, json!("garbage"));
        pacer(1, 1).take(&host, "jack").unwrap();
        // Igor may store numbers as strings.
        host.put(
            PATH,
            json!({"minute": "29926666", "total": "1", "users": {"jack": "1"}}),
        );
        assert!(pacer(1, 5).take(&host, "jack").is_err());
        assert!(pacer(5, 1).take(&host, "jill").is_err());
    }

    #[test]
    fn limits_come_from_the_config() {
        let mut request = crate::testing::request("GET", "/", &[]);
        assert_eq!(
            Limits::from_config(&request),
            Limits {
                per_user: 300,
                per_app: 15_000
            }
        );
        request.context.config = vec![
            (USER_LIMIT_KEY.into(), "60".into()),
            (APP_LIMIT_KEY.into(), "0".into()),
        ];
        assert_eq!(
            Limits::from_config(&request),
            Limits {
                per_user: 60,
                per_app: 15_000
            }
        );
    }
}
