//! Retrying Google's transient refusals (429 RESOURCE_EXHAUSTED, 503
//! UNAVAILABLE, 504 DEADLINE_EXCEEDED) as its guides ask: exponential
//! backoff with jitter, a `Retry-After` Google gives honoured, and all of it
//! within the request's budget of waiting (`google_retry_seconds`, well
//! inside the host's request deadline) and the pacing windows (each retry
//! takes a slot like any request). Past either, the answer is what Google
//! said.

use std::cell::Cell;

use igor_plugin_sdk::{Host, Request};

/// The config key and default of the retry budget, in seconds.
pub const RETRY_SECONDS_KEY: &str = "google_retry_seconds";
pub const DEFAULT_RETRY_SECONDS: f64 = 8.0;
/// The first wait; each further one doubles (before jitter).
const FIRST_WAIT_SECONDS: f64 = 1.0;
/// Retries of one request at most, whatever the budget.
const MAX_RETRIES: u32 = 4;

/// Google's answers that may succeed when sent again a little later.
pub fn retryable(code: u16) -> bool {
    matches!(code, 429 | 503 | 504)
}

/// The waiting one plugin request may do before retrying Google.
#[derive(Debug)]
pub struct Backoff {
    budget: f64,
    /// When the request first sent to Google: the budget runs from there.
    started: Cell<Option<f64>>,
    retries: Cell<u32>,
}

impl Backoff {
    pub fn new(budget: f64) -> Self {
        Self {
            budget,
            started: Cell::new(None),
            retries: Cell::new(0),
        }
    }

    /// The budget from the plugin's config (`0` turns retries off); a
    /// missing or unreadable value keeps the default.
    pub fn from_config(request: &Request) -> Self {
        let budget = request
            .config(RETRY_SECONDS_KEY)
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .unwrap_or(DEFAULT_RETRY_SECONDS);
        Self::new(budget.min(60.0))
    }

    /// Notes that a request is about to be sent (the budget starts with the
    /// first).
    pub fn sending(&self, host: &dyn Host) {
        if self.started.get().is_none() {
            self.started.set(Some(host.now()));
        }
    }

    /// How long to wait before retry number `attempt` (0 for the first) of
    /// one call, or `None` when retrying would overrun the budget. Google's
    /// own `Retry-After`, if any, is the least wait.
    pub fn wait(&self, host: &dyn Host, attempt: u32, retry_after: Option<u64>) -> Option<f64> {
        if self.retries.get() >= MAX_RETRIES {
            return None;
        }
        let bytes = host.random_bytes(2);
        let jitter = f64::from(u16::from_be_bytes([bytes[0], bytes[1]])) / f64::from(u16::MAX);
        let backoff = FIRST_WAIT_SECONDS * 2f64.powi(attempt.min(16) as i32) * (1.0 + jitter);
        let wait = backoff.max(retry_after.map_or(0.0, |s| s as f64));
        let started = self.started.get().unwrap_or_else(|| host.now());
        if host.now() + wait > started + self.budget {
            return None;
        }
        self.retries.set(self.retries.get() + 1);
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;

    #[test]
    fn waits_double_with_jitter_within_the_budget() {
        let host = MemoryHost::default();
        let backoff = Backoff::new(8.0);
        backoff.sending(&host);
        let first = backoff.wait(&host, 0, None).unwrap();
        assert!((1.0..=2.0).contains(&first), "{first}");
        let second = backoff.wait(&host, 1, None).unwrap();
        assert!((2.0..=4.0).contains(&second), "{second}");
        // 4 to 8 s more would pass the 8 s budget only if time ran; it did not.
        host.now.set(host.now.get() + 5.0);
        assert_eq!(backoff.wait(&host, 2, None), None);
        // Google's Retry-After is the least wait, and must fit too.
        let fresh = Backoff::new(8.0);
        fresh.sending(&host);
        assert_eq!(fresh.wait(&host, 0, Some(5)), Some(5.0));
        assert_eq!(fresh.wait(&host, 0, Some(30)), None);
        // No budget, no retries.
        let off = Backoff::new(0.0);
        off.sending(&host);
        assert_eq!(off.wait(&host, 0, None), None);
        assert!(retryable(504) && retryable(503) && retryable(429) && !retryable(500));
    }
}
