//! Text for pages, below every page and the modules that feed them:
//! escaping, the time format pages show, and the path links start from.

/// `text` escaped for HTML text and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The plugin's address as pages link to it: the path of `plugin_url`
/// (`/plugin/N`, `/tenants/T/plugin/N`), so that every link and form works
/// from whatever address the browser used (Igor's on a laptop, a LAN name)
/// and not only from the base URL's, which may be this machine's loopback.
pub fn link_root(plugin_url: &str) -> String {
    url::Url::parse(plugin_url)
        .map(|url| url.path().trim_end_matches('/').to_string())
        .unwrap_or_else(|_| plugin_url.trim_end_matches('/').to_string())
}

/// `2026-11-25 17:46 UTC` for epoch seconds.
pub fn utc_time(epoch_seconds: f64) -> String {
    let seconds = epoch_seconds as i64;
    let minute_of_day = seconds.rem_euclid(86_400) / 60;
    format!(
        "{} {:02}:{:02} UTC",
        crate::dates::Date::from_epoch(epoch_seconds, 0),
        minute_of_day / 60,
        minute_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_shown_as_a_utc_time() {
        // 2026-11-25T09:46:40Z
        assert_eq!(utc_time(1_795_600_000.0), "2026-11-25 09:46 UTC");
        assert_eq!(utc_time(0.0), "1970-01-01 00:00 UTC");
    }

    #[test]
    fn links_are_paths() {
        assert_eq!(
            link_root("http://127.0.0.1:9333/plugin/fitbit"),
            "/plugin/fitbit"
        );
        assert_eq!(
            link_root("https://igor.example.com/igor/tenants/t/plugin/_fitbit/"),
            "/igor/tenants/t/plugin/_fitbit"
        );
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
