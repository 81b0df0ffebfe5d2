//! Per-plugin resource limits. All are on by default; each is configurable in
//! the `[limits]` table (globally) or `[plugin.limits]` (per plugin).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Wall-clock deadline for one request, including its outbound fetches.
    pub request_timeout_ms: u64,
    /// Linear memory one instance may grow to.
    pub memory_bytes: usize,
    /// Table elements one instance may grow to.
    pub table_elements: usize,
    /// Core instances, tables and memories per component instance.
    pub instances: usize,
    pub tables: usize,
    pub memories: usize,
    /// Requests of one plugin running at the same time; more wait in line.
    pub max_concurrent_requests: usize,
    /// `http-fetch` calls one request may make.
    pub max_fetches_per_request: u32,
    /// Timeout of one `http-fetch`.
    pub fetch_timeout_ms: u64,
    /// After a fetch carrying a secret (a token endpoint) answered 2xx, how
    /// long the request may outlive its deadline until its next store write
    /// completes, so that a token the provider issued is kept.
    pub token_save_grace_ms: u64,
    /// Outbound connections one plugin may hold open at once.
    pub max_concurrent_fetches: usize,
    /// Largest request body the plugin accepts from a caller.
    pub max_request_body_bytes: usize,
    /// Largest body a plugin may send in a fetch or return as a response.
    pub max_body_bytes: usize,
    /// Largest response a fetch may receive.
    pub max_fetch_response_bytes: usize,
    /// Total size of the headers of a request, response or fetch.
    pub max_header_bytes: usize,
    /// Log lines one request may write; the rest are counted and dropped.
    pub max_log_lines: u32,
    /// Longest log line kept, in bytes.
    pub max_log_line_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            request_timeout_ms: 30_000,
            memory_bytes: 64 << 20,
            table_elements: 20_000,
            instances: 32,
            tables: 32,
            memories: 8,
            max_concurrent_requests: 16,
            max_fetches_per_request: 32,
            fetch_timeout_ms: 10_000,
            token_save_grace_ms: 10_000,
            max_concurrent_fetches: 8,
            max_request_body_bytes: 1 << 20,
            max_body_bytes: 4 << 20,
            max_fetch_response_bytes: 4 << 20,
            max_header_bytes: 64 << 10,
            max_log_lines: 200,
            max_log_line_bytes: 2048,
        }
    }
}
