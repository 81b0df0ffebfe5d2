//! Requests forwarded by the Igor plugin in `igor/plugin/` (installed in a
//! real Igor as `plugins/NAME`): Igor authenticates the browser or action
//! and passes `/plugin/NAME/...` on to this host, naming its caller in
//! `X-Igor-Caller`. The host believes that name only when the request also
//! carries the shared secret (`[server] igor_forward_secret`) in
//! `X-Igor-Forward-Secret`. Both headers are removed before a plugin sees
//! the request.

use sha2::{Digest, Sha256};

pub const SECRET_HEADER: &str = "x-igor-forward-secret";
pub const CALLER_HEADER: &str = "x-igor-caller";

/// What the forwarding headers of a request showed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Forwarded {
    /// The request carried the configured secret: Igor sent it.
    pub verified: bool,
    /// The Igor user it names, believed only when `verified`.
    pub caller: Option<String>,
}

/// Removes the forwarding headers from `headers` and says whether the right
/// secret came with them, and which caller they name.
pub fn take(secret: Option<&str>, headers: &mut Vec<(String, String)>) -> Forwarded {
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
    let caller = caller.filter(|c| !c.is_empty());
    let verified = match (secret.filter(|s| !s.is_empty()), &given_secret) {
        // Compare digests: equal length, no early exit on the secret's bytes.
        (Some(secret), Some(given)) => {
            Sha256::digest(secret.as_bytes()) == Sha256::digest(given.as_bytes())
        }
        _ => false,
    };
    if !verified {
        if given_secret.is_some() {
            tracing::warn!("wrong or unexpected X-Igor-Forward-Secret; not a forwarded request");
        } else if caller.is_some() {
            tracing::warn!("ignoring X-Igor-Caller: no X-Igor-Forward-Secret");
        }
        return Forwarded::default();
    }
    let caller = caller.filter(|caller| {
        let valid = valid_caller(caller);
        if !valid {
            tracing::warn!("ignoring X-Igor-Caller: not a plain user name");
        }
        valid
    });
    Forwarded { verified, caller }
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
        let forwarded = take(Some("s3cret"), &mut h);
        assert!(forwarded.verified);
        assert_eq!(forwarded.caller, Some("jack".into()));
        assert_eq!(h, vec![("accept".to_string(), "text/html".to_string())]);
        for (configured, given, caller) in [
            (Some("s3cret"), "wrong", "jack"),
            (None, "s3cret", "jack"),
            (Some(""), "", "jack"),
        ] {
            let mut h = headers(given, caller);
            assert_eq!(take(configured, &mut h), Forwarded::default(), "{given}");
            assert_eq!(h.len(), 1, "the forwarding headers are always removed");
        }
        // Forwarded, but the name is not one the host passes on.
        for caller in ["../x", ""] {
            let mut h = headers("s3cret", caller);
            let forwarded = take(Some("s3cret"), &mut h);
            assert!(forwarded.verified);
            assert_eq!(forwarded.caller, None, "{caller}");
        }
        // An action forwarded by Igor names no caller.
        let mut h = vec![("x-igor-forward-secret".to_string(), "s3cret".to_string())];
        assert!(take(Some("s3cret"), &mut h).verified);
    }
}
