//! The bodies of the setup page's forms (`/settings`, `/userSettings`,
//! the paste-back `POST /auth2`): only `application/x-www-form-urlencoded`,
//! as the page's forms send them.
//!
//! The plugin parses a form body as urlencoded bytes. Another encoding
//! would be read differently by whoever checked the request before it (Igor
//! parses multipart, and judged the caller's rights from what it parsed),
//! so the same bytes could name one user to Igor and another here. Such a
//! body is refused before any field is read.

use crate::errors::{PluginError, Result, echo};
use igor_plugin_sdk::Request;

pub const URLENCODED: &str = "application/x-www-form-urlencoded";

/// Refuses (415) a form whose body is not urlencoded. A request without a
/// body is an empty form whatever it says its type is not.
pub fn require_urlencoded(request: &Request) -> Result<()> {
    let media_type = request
        .header("content-type")
        .map(|value| value.split(';').next().unwrap_or_default().trim());
    match media_type {
        Some(media_type) if media_type.eq_ignore_ascii_case(URLENCODED) => Ok(()),
        None if request.body.is_empty() => Ok(()),
        Some(other) => Err(refusal(&format!("not {}", echo(other)))),
        None => Err(refusal("not a body without a type")),
    }
}

fn refusal(what: &str) -> PluginError {
    PluginError::new(
        415,
        format!(
            "Fitbitplugin takes this form only as {URLENCODED} (as the setup page sends it), \
             {what}; nothing was changed"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::form;

    #[test]
    fn only_urlencoded_bodies_are_forms() {
        let urlencoded = form("/settings", &[("client_id", "c")]);
        assert_eq!(require_urlencoded(&urlencoded), Ok(()));
        let mut with_charset = urlencoded.clone();
        with_charset.headers = vec![(
            "Content-Type".into(),
            "Application/X-WWW-Form-Urlencoded; charset=UTF-8".into(),
        )];
        assert_eq!(require_urlencoded(&with_charset), Ok(()));
        let mut empty = urlencoded.clone();
        empty.headers.clear();
        empty.body.clear();
        assert_eq!(require_urlencoded(&empty), Ok(()));

        for content_type in [
            Some("multipart/form-data; boundary=x"),
            Some("application/json"),
            Some("text/plain"),
            None,
        ] {
            let mut other = urlencoded.clone();
            other.headers = content_type
                .map(|t| vec![("content-type".to_string(), t.to_string())])
                .unwrap_or_default();
            let refused = require_urlencoded(&other).unwrap_err();
            assert_eq!(refused.status, 415, "{content_type:?}");
            assert!(refused.message.contains(URLENCODED), "{}", refused.message);
            assert!(refused.message.contains("nothing was changed"));
        }
    }
}
