//! A request's wall-clock deadline, and the one bounded exception to it: a
//! token the provider has issued is saved before the request is stopped.
//!
//! Stopping a guest drops it wherever it is. Dropped between a token
//! endpoint's answer and the store write that keeps it, a refresh that
//! rotated a single-use refresh token is lost for good: the old one is used
//! up and the new one was never written. So a fetch that carries a
//! host-held secret (only token and revoke endpoints receive one) runs to
//! its end even past the deadline, and once it answered 2xx the request
//! has `token_save_grace_ms` more, until its next store write completes.
//! Both are bounded: the fetch by `fetch_timeout_ms`, the whole request by
//! `request_timeout_ms + fetch_timeout_ms + token_save_grace_ms`, and a
//! credential fetch never starts once the deadline has passed.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::limits::Limits;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protection {
    None,
    /// A credential fetch is in flight.
    Fetching,
    /// A credential fetch answered 2xx; its result is not yet saved.
    Saving {
        until: Instant,
    },
}

/// Shared by the request's host calls, its epoch callback and the
/// watchdog that stops it.
#[derive(Debug)]
pub struct Deadline {
    base: Instant,
    cap: Instant,
    grace: Duration,
    protection: Mutex<Protection>,
    changed: Notify,
}

impl Deadline {
    pub fn new(started: Instant, limits: &Limits) -> Self {
        let base = started + Duration::from_millis(limits.request_timeout_ms);
        let grace = Duration::from_millis(limits.token_save_grace_ms);
        Self {
            base,
            cap: base + Duration::from_millis(limits.fetch_timeout_ms) + grace,
            grace,
            protection: Mutex::new(Protection::None),
            changed: Notify::new(),
        }
    }

    /// The configured deadline, without any grace.
    pub fn base(&self) -> Instant {
        self.base
    }

    /// When the request must stop, given what it is doing now.
    pub fn effective(&self) -> Instant {
        match *self.protection.lock().expect("deadline lock") {
            Protection::None => self.base,
            Protection::Fetching => self.cap,
            Protection::Saving { until } => until.clamp(self.base, self.cap),
        }
    }

    fn set(&self, protection: Protection) {
        *self.protection.lock().expect("deadline lock") = protection;
        self.changed.notify_waiters();
    }

    /// Called before a fetch carrying a secret; `false` when the deadline
    /// has passed and the fetch must not start.
    pub fn credential_fetch_starts(&self, now: Instant) -> bool {
        if now >= self.base {
            return false;
        }
        self.set(Protection::Fetching);
        true
    }

    /// Called when that fetch ended; a 2xx answer starts the save grace.
    pub fn credential_fetch_ended(&self, now: Instant, answered_2xx: bool) {
        self.set(if answered_2xx {
            Protection::Saving {
                until: now + self.grace,
            }
        } else {
            Protection::None
        });
    }

    /// How long until the request is abandoned, from now.
    pub fn remaining(&self) -> Duration {
        self.effective().saturating_duration_since(Instant::now())
    }

    /// Called when a store write (put or delete) completed, whatever its
    /// outcome: the grace ends with the write that kept the answer.
    pub fn store_write_ended(&self) {
        let mut protection = self.protection.lock().expect("deadline lock");
        if matches!(*protection, Protection::Saving { .. }) {
            *protection = Protection::None;
            drop(protection);
            self.changed.notify_waiters();
        }
    }

    /// Completes once the request is past its effective deadline plus
    /// `slack`, following every change of the protection.
    pub async fn passed(&self, slack: Duration) {
        loop {
            let changed = self.changed.notified();
            let at = self.effective() + slack;
            if Instant::now() >= at {
                return;
            }
            tokio::select! {
                () = tokio::time::sleep_until(at.into()) => {}
                () = changed => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            request_timeout_ms: 1000,
            fetch_timeout_ms: 500,
            token_save_grace_ms: 200,
            ..Limits::default()
        }
    }

    #[test]
    fn a_credential_answer_is_given_time_until_its_save() {
        let t0 = Instant::now();
        let d = Deadline::new(t0, &limits());
        let ms = |n| Duration::from_millis(n);
        assert_eq!(d.effective(), t0 + ms(1000));
        assert!(d.credential_fetch_starts(t0 + ms(900)));
        assert_eq!(d.effective(), t0 + ms(1700), "in flight: up to the cap");
        d.credential_fetch_ended(t0 + ms(1300), true);
        assert_eq!(d.effective(), t0 + ms(1500), "answer + grace");
        d.store_write_ended();
        assert_eq!(d.effective(), t0 + ms(1000), "saved: back to the deadline");
        // A failed answer gives no grace; nothing starts past the deadline.
        assert!(d.credential_fetch_starts(t0 + ms(100)));
        d.credential_fetch_ended(t0 + ms(200), false);
        assert_eq!(d.effective(), t0 + ms(1000));
        assert!(!d.credential_fetch_starts(t0 + ms(1000)));
        // The grace never reaches past the cap.
        d.set(Protection::Saving {
            until: t0 + ms(5000),
        });
        assert_eq!(d.effective(), t0 + ms(1700));
    }

    #[tokio::test]
    async fn the_watchdog_follows_changes() {
        let limits = Limits {
            request_timeout_ms: 0,
            fetch_timeout_ms: 3_600_000,
            ..limits()
        };
        let d = std::sync::Arc::new(Deadline::new(Instant::now(), &limits));
        d.passed(Duration::ZERO).await;
        // Protected: the watchdog waits, and fires as soon as the save ends.
        d.set(Protection::Saving {
            until: Instant::now() + Duration::from_secs(3600),
        });
        let waiting = tokio::spawn({
            let d = d.clone();
            async move { d.passed(Duration::ZERO).await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        d.store_write_ended();
        // Only a guard against hanging: the cap is an hour away.
        tokio::time::timeout(Duration::from_secs(60), waiting)
            .await
            .expect("the watchdog noticed the save")
            .unwrap();
    }
}
