//! Authorisations in progress: what `auth1` started and `auth2` completes.
//!
//! All of an installation's are kept in one document, `plugindata/N/pending`
//! (`{"USER": {...}}`, see [`Paths::pending`]), so that however many are
//! started they stay bounded: at most [`MAX_PENDING`], each usable for
//! [`PENDING_AUTH_SECONDS`]. Starting one more drops the oldest expired one
//! to make room, and is refused (429) while all are live. An expired one is
//! kept for [`KEEP_EXPIRED_SECONDS`] (unless its room is needed) so that a
//! late paste is told when it expired, then forgotten on the next write.
//! Nothing here adds a user to the list of users: that waits until an
//! authorisation completes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::errors::{PluginError, Result};
use crate::html::utc_time;
use crate::json::into_object;
use crate::paths::Paths;
use igor_plugin_sdk::{Host, StoreFailure};

/// How long an authorisation link stays usable.
pub const PENDING_AUTH_SECONDS: f64 = 600.0;
/// Most authorisations in progress (live or recently expired) at once.
pub const MAX_PENDING: usize = 32;
/// How long an expired authorisation is remembered, to explain a late paste.
pub const KEEP_EXPIRED_SECONDS: f64 = 86_400.0;

/// An authorisation started by `auth1` and finished by `auth2`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingAuth {
    pub nonce_sha256: String,
    pub code_verifier: String,
    pub expires_at: f64,
    pub provider: String,
    pub redirect_uri: String,
    /// The Igor user who started it (the forwarder's `X-Igor-Caller`); only
    /// they may complete it by pasting. `None`: no caller was named.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<String>,
}

impl PendingAuth {
    pub fn expired(&self, now: f64) -> bool {
        self.expires_at <= now
    }
}

/// The authorisations in progress, by user, as read.
#[derive(Debug, Clone, Default)]
pub struct Pending {
    pub by_user: BTreeMap<String, PendingAuth>,
    revision: u64,
}

impl Pending {
    /// Reads them; entries that cannot be read are left out.
    pub fn load(host: &dyn Host, paths: &Paths) -> Result<Self> {
        let stored = host
            .store_get(&paths.pending())
            .map_err(PluginError::store)?;
        let Some((value, revision)) = stored else {
            return Ok(Self::default());
        };
        let by_user = into_object(value)
            .into_iter()
            .filter_map(|(user, entry)| Some((user, serde_json::from_value(entry).ok()?)))
            .collect();
        Ok(Self { by_user, revision })
    }

    /// Forgets what expired longer than [`KEEP_EXPIRED_SECONDS`] ago.
    fn forget_old(&mut self, now: f64) {
        self.by_user
            .retain(|_, auth| auth.expires_at + KEEP_EXPIRED_SECONDS > now);
    }

    /// Writes them if nothing changed since they were read; `false` on a
    /// conflict (read again and redo).
    fn save(&self, host: &dyn Host, paths: &Paths) -> Result<bool> {
        let expected = Some(self.revision);
        let written = if self.by_user.is_empty() {
            host.store_delete(&paths.pending(), expected).map(|_| ())
        } else {
            let value = serde_json::to_value(&self.by_user).expect("serialisable");
            host.store_put(&paths.pending(), &value, expected)
                .map(|_| ())
        };
        match written {
            Ok(()) => Ok(true),
            Err(StoreFailure::Conflict(_)) => Ok(false),
            Err(err) => Err(PluginError::store(err)),
        }
    }
}

/// Read-modify-write with compare-and-swap, retried on races; `change`
/// answers what the caller needs, or an error that leaves things as they are.
fn change<T>(
    host: &dyn Host,
    paths: &Paths,
    mut change: impl FnMut(&mut Pending) -> Result<T>,
) -> Result<T> {
    for _ in 0..5 {
        let mut pending = Pending::load(host, paths)?;
        let before = pending.by_user.clone();
        pending.forget_old(host.now());
        let answer = change(&mut pending)?;
        if pending.by_user == before || pending.save(host, paths)? {
            return Ok(answer);
        }
    }
    Err(PluginError::store(format!(
        "{} kept changing; try again",
        paths.pending()
    )))
}

/// Records `auth` as `user`'s authorisation in progress, replacing an
/// earlier one of `user`. With [`MAX_PENDING`] others kept, the oldest
/// expired one makes room; when all are live, a 429 says when to retry.
pub fn start(host: &dyn Host, paths: &Paths, user: &str, auth: PendingAuth) -> Result<()> {
    let now = host.now();
    change(host, paths, |pending| {
        if !pending.by_user.contains_key(user) && pending.by_user.len() >= MAX_PENDING {
            let oldest_expired = pending
                .by_user
                .iter()
                .filter(|(_, a)| a.expired(now))
                .min_by(|(_, a), (_, b)| a.expires_at.total_cmp(&b.expires_at))
                .map(|(name, _)| name.clone());
            match oldest_expired {
                Some(name) => {
                    pending.by_user.remove(&name);
                }
                None => return Err(full(pending, now)),
            }
        }
        pending.by_user.insert(user.to_string(), auth.clone());
        Ok(())
    })
}

fn full(pending: &Pending, now: f64) -> PluginError {
    let next = pending
        .by_user
        .values()
        .map(|a| a.expires_at)
        .fold(f64::INFINITY, f64::min);
    PluginError::too_many_requests(
        (next - now).ceil().max(1.0) as u64,
        format!(
            "Fitbitplugin: {MAX_PENDING} authorisations are in progress, the most it keeps; \
             complete one, or start again after {} when the oldest expires",
            utc_time(next)
        ),
    )
}

/// Takes `user`'s authorisation with this nonce hash out, so that it is
/// used once: `false` when it is not (or no longer) there.
pub fn take(host: &dyn Host, paths: &Paths, user: &str, nonce_sha256: &str) -> Result<bool> {
    change(host, paths, |pending| {
        let matches = pending
            .by_user
            .get(user)
            .is_some_and(|a| a.nonce_sha256 == nonce_sha256);
        if matches {
            pending.by_user.remove(user);
        }
        Ok(matches)
    })
}

/// Puts back an authorisation [`take`] took, when completing it failed in a
/// way that did not use up the provider's code (its client credentials
/// were refused, it did not answer): the same code can be tried again.
/// Another authorisation of `user` started meanwhile is kept instead.
pub fn restore(host: &dyn Host, paths: &Paths, user: &str, auth: &PendingAuth) -> Result<()> {
    change(host, paths, |pending| {
        if !pending.by_user.contains_key(user) && pending.by_user.len() < MAX_PENDING {
            pending.by_user.insert(user.to_string(), auth.clone());
        }
        Ok(())
    })
}

/// Forgets `user`'s authorisation in progress, if any.
pub fn remove(host: &dyn Host, paths: &Paths, user: &str) -> Result<()> {
    change(host, paths, |pending| {
        pending.by_user.remove(user);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;

    fn auth(nonce: &str, expires_at: f64) -> PendingAuth {
        PendingAuth {
            nonce_sha256: nonce.into(),
            code_verifier: "v".into(),
            expires_at,
            provider: "google-health".into(),
            redirect_uri: "http://localhost/plugin/fitbit/auth2".into(),
            caller: None,
        }
    }

    #[test]
    fn at_most_max_pending_are_kept_and_expired_ones_make_room() {
        let host = MemoryHost::default();
        let paths = Paths::new("fitbit");
        let now = host.now.get();
        for i in 0..MAX_PENDING {
            let at = now + PENDING_AUTH_SECONDS + i as f64;
            start(&host, &paths, &format!("u{i}"), auth("n", at)).unwrap();
        }
        // A user already waiting starts again in the same place.
        start(&host, &paths, "u3", auth("again", now + 600.0)).unwrap();
        let refused = start(&host, &paths, "new", auth("n", now + 600.0)).unwrap_err();
        assert_eq!(refused.status, 429);
        assert_eq!(refused.retry_after, Some(600));
        assert!(
            refused
                .message
                .contains("32 authorisations are in progress")
        );
        assert_eq!(Pending::load(&host, &paths).unwrap().by_user.len(), 32);

        // Once some have expired, the oldest expired one makes room.
        host.now.set(now + 605.0);
        start(&host, &paths, "new", auth("n", now + 1205.0)).unwrap();
        let kept = Pending::load(&host, &paths).unwrap().by_user;
        assert_eq!(kept.len(), MAX_PENDING);
        assert!(!kept.contains_key("u0") && kept.contains_key("u1"));
        assert_eq!(kept["u3"].nonce_sha256, "again");

        // A day after they expired they are forgotten, and the document
        // goes with the last one.
        host.now.set(now + 1205.0 + KEEP_EXPIRED_SECONDS);
        remove(&host, &paths, "nobody").unwrap();
        assert!(host.get("plugindata/fitbit/pending").is_none());
    }

    #[test]
    fn an_authorisation_is_taken_once_and_may_be_put_back() {
        let host = MemoryHost::default();
        let paths = Paths::new("fitbit");
        let a = auth("n1", host.now.get() + 600.0);
        start(&host, &paths, "jack", a.clone()).unwrap();
        assert!(!take(&host, &paths, "jack", "other").unwrap());
        assert!(take(&host, &paths, "jack", "n1").unwrap());
        assert!(!take(&host, &paths, "jack", "n1").unwrap());
        restore(&host, &paths, "jack", &a).unwrap();
        assert!(take(&host, &paths, "jack", "n1").unwrap());
        // A newer authorisation of the user is not replaced by the old one.
        start(&host, &paths, "jack", auth("n2", host.now.get() + 600.0)).unwrap();
        restore(&host, &paths, "jack", &a).unwrap();
        let kept = Pending::load(&host, &paths).unwrap().by_user;
        assert_eq!(kept["jack"].nonce_sha256, "n2");
    }
}
