//! Requests forwarded by the Igor plugin in `igor/plugin/` (installed in a
//! real Igor as `plugins/fitbit`): Igor authenticates the browser or action
//! and passes `/plugin/fitbit/...` on to this host, naming its caller in
//! `X-Igor-Caller`. The host believes that name only when the request also
//! carries the shared secret (`[server] igor_forward_secret`) in
//! `X-Igor-Forward-Secret`. Both headers are removed before a plugin sees
//! the request.

use sha2::{Digest, Sha256};

pub const SECRET_HEADER: &str = "x-igor-forward-secret";
pub const CALLER_HEADER: &str = "x-igor-caller";

/// Removes the forwarding headers from `headers` and returns the caller they
/// name, if the right secret came with them.
pub fn take_caller(secret: Option<&str>, headers: &mut Vec<(String, String)>) -> Option<String> {
    let mut given_secret = None;
    let mut caller = None;
    headers.retain(|(name, value)| {
        if name.eq_ignore_ascii_case(SECRET_HEADER) {
            given_secret = Some(value.clone());
            false
        } else if name.eq_ignore_ascii_case(CALLER_HEADER) {
            caller = Some(value.trim().to_string());
            false
        } else {
            true
        }
    });
    let caller = caller.filter(|c| !c.is_empty())?;
    let (Some(secret), Some(given)) = (secret.filter(|s| !s.is_empty()), given_secret) else {
        tracing::warn!("ignoring X-Igor-Caller: no valid X-Igor-Forward-Secret");
        return None;
    };
    // Compare digests: equal length, no early exit on the secret's bytes.
    if Sha256::digest(secret.as_bytes()) != Sha256::digest(given.as_bytes()) {
        tracing::warn!("ignoring X-Igor-Caller: wrong X-Igor-Forward-Secret");
        return None;
    }
    if !valid_caller(&caller) {
        tracing::warn!(%caller, "ignoring X-Igor-Caller: not a plain user name");
        return None;
    }
    Some(caller)
}

/// Igor user names as the host passes them on: plain, path- and URL-safe.
fn valid_caller(name: &str) -> bool {
    name.len() <= 64
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(secret: &str, caller: &str) -> Vec<(String, String)> {
        vec![
            ("X-Igor-Forward-Secret".into(), secret.into()),
            ("x-igor-caller".into(), caller.into()),
            ("accept".into(), "text/html".into()),
        ]
    }

    #[test]
    fn trusts_the_caller_only_with_the_secret() {
        let mut h = headers("s3cret", "jack");
        assert_eq!(take_caller(Some("s3cret"), &mut h), Some("jack".into()));
        assert_eq!(h, vec![("accept".to_string(), "text/html".to_string())]);
        for (configured, given, caller) in [
            (Some("s3cret"), "wrong", "jack"),
            (None, "s3cret", "jack"),
            (Some(""), "", "jack"),
            (Some("s3cret"), "s3cret", "../x"),
            (Some("s3cret"), "s3cret", ""),
        ] {
            let mut h = headers(given, caller);
            assert_eq!(take_caller(configured, &mut h), None, "{given} {caller}");
            assert_eq!(h.len(), 1, "the forwarding headers are always removed");
        }
    }
}
