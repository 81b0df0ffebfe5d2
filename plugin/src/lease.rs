//! A lease taken through the store's compare-and-swap: a create-only
//! document naming its holder and when it expires. It needs nothing but the
//! `store` interface, so it holds on every backend and across hosts sharing
//! one store. A lease names the host process that holds it, so a lease whose
//! holder the host knows has stopped (killed mid-refresh, then restarted) is
//! taken over at once; any other holder that died leaves a lease that
//! expires. Either way the next taker replaces it with compare-and-swap on
//! the stale revision.

use serde_json::{Value, json};

use crate::digest::hex;
use crate::json::as_f64;
use igor_plugin_sdk::{Host, StoreFailure};

/// A lease this request holds until [`Lease::release`].
#[derive(Debug)]
pub struct Lease {
    path: String,
    revision: u64,
}

/// Takes the lease at `path` for `seconds`, or answers `None` while
/// someone else holds an unexpired one.
pub fn try_acquire(
    host: &dyn Host,
    path: &str,
    seconds: f64,
) -> Result<Option<Lease>, StoreFailure> {
    // A random holder keeps two leases apart even where revisions are
    // content hashes (Igor); the letter keeps Igor from making it a number.
    let document = json!({
        "holder": format!("h{}", hex(&host.random_bytes(12))),
        "instance": host.host_info().instance,
        "expires_at": host.now() + seconds,
    });
    let mut expected = 0;
    for _ in 0..3 {
        match host.store_put(path, &document, Some(expected)) {
            Ok(revision) => {
                return Ok(Some(Lease {
                    path: path.to_string(),
                    revision,
                }));
            }
            Err(StoreFailure::Conflict(_)) => {}
            Err(err) => return Err(err),
        }
        match host.store_get(path)? {
            // Released meanwhile: try to create it again.
            None => expected = 0,
            Some((current, revision)) if is_free(host, &current) => expected = revision,
            Some(_) => return Ok(None),
        }
    }
    Ok(None)
}

/// Whether a stored lease no longer holds: expired, or its holder stopped.
fn is_free(host: &dyn Host, lease: &Value) -> bool {
    let holder = lease.get("instance").and_then(Value::as_str);
    is_expired(lease, host.now()) || holder.is_some_and(|i| !host.instance_alive(i))
}

/// Whether a stored lease has expired. Anything unreadable (a lease
/// mangled by another writer) counts as expired rather than blocking forever.
pub fn is_expired(lease: &Value, now: f64) -> bool {
    lease
        .get("expires_at")
        .and_then(as_f64)
        .is_none_or(|at| at <= now)
}

impl Lease {
    /// Gives the lease up; a lease already taken over is left alone.
    pub fn release(self, host: &dyn Host) {
        if let Err(err) = host.store_delete(&self.path, Some(self.revision))
            && !matches!(err, StoreFailure::Conflict(_))
        {
            // It expires by itself; waiters then take it over.
            host.log(
                igor_plugin_sdk::Level::Warn,
                &format!("a lease was not released ({err}); it expires by itself"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;

    const PATH: &str = "identities/jack/plugindata/fitbit/token_lease";

    #[test]
    fn one_holder_at_a_time_until_release_or_expiry() {
        let host = MemoryHost::default();
        let first = try_acquire(&host, PATH, 30.0).unwrap().expect("free");
        assert!(try_acquire(&host, PATH, 30.0).unwrap().is_none(), "held");
        first.release(&host);
        assert!(host.get(PATH).is_none());
        let second = try_acquire(&host, PATH, 30.0).unwrap().expect("free again");
        // A holder that died: once its lease expired, the next one takes it.
        host.now.set(host.now.get() + 31.0);
        let third = try_acquire(&host, PATH, 30.0).unwrap().expect("expired");
        // The dead holder's late release does not free the new lease.
        second.release(&host);
        assert!(host.get(PATH).is_some());
        assert!(try_acquire(&host, PATH, 30.0).unwrap().is_none());
        third.release(&host);
        assert!(host.get(PATH).is_none());
    }

    #[test]
    fn a_lease_whose_holder_stopped_is_taken_over_at_once() {
        let host = MemoryHost::default();
        host.info.borrow_mut().instance = "killed-host".into();
        let _orphan = try_acquire(&host, PATH, 30.0).unwrap().expect("free");
        host.info.borrow_mut().instance = "restarted-host".into();
        assert!(try_acquire(&host, PATH, 30.0).unwrap().is_none(), "alive");
        host.stopped_instances
            .borrow_mut()
            .push("killed-host".into());
        let taken = try_acquire(&host, PATH, 30.0).unwrap();
        assert!(taken.is_some(), "its holder stopped");
        assert_eq!(host.get(PATH).unwrap()["instance"], "restarted-host");
    }

    #[test]
    fn unreadable_leases_do_not_block() {
        let host = MemoryHost::default();
        host.put(PATH, json!("garbage"));
        assert!(try_acquire(&host, PATH, 30.0).unwrap().is_some());
        assert!(is_expired(&json!({"expires_at": {}}), 0.0));
        assert!(!is_expired(&json!({"expires_at": "100"}), 99.0));
    }
}
