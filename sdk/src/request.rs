//! Plain request/response types, free of the generated bindings, so the
//! plugin's logic runs (and is tested) natively too.

/// A request to the plugin, as the host hands it over.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// Below `/plugin/NAME`, starting with `/`.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub context: Context,
}

#[derive(Debug, Clone, Default)]
pub struct Context {
    pub plugin_name: String,
    pub base_url: String,
    pub caller: Option<String>,
    pub utc_offset_seconds: i32,
    pub config: Vec<(String, String)>,
}

impl Request {
    /// The first query parameter called `name`.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The fields of an `application/x-www-form-urlencoded` body.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    /// The first field `name` of the form body, trimmed.
    pub fn form_field(&self, name: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    }

    /// The URL of the plugin's root, e.g. `http://igor.local:9333/plugin/fitbit`.
    pub fn plugin_url(&self) -> String {
        format!(
            "{}/plugin/{}",
            self.context.base_url.trim_end_matches('/'),
            self.context.plugin_name
        )
    }

    /// An operator setting from the host config.
    pub fn config(&self, key: &str) -> Option<&str> {
        self.context
            .config
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The plugin's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        let mut body = body.into();
        if !body.ends_with('\n') {
            body.push('\n');
        }
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.into_bytes(),
        }
    }

    pub fn html(status: u16, body: String) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/html; charset=utf-8".into())],
            body: body.into_bytes(),
        }
    }

    pub fn json(value: &serde_json::Value) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            // Straight into bytes: `to_string` goes through `fmt` piece by piece.
            body: serde_json::to_vec(value).expect("a JSON value always serialises"),
        }
    }

    pub fn see_other(location: &str) -> Self {
        Self {
            status: 303,
            headers: vec![
                ("location".into(), location.to_string()),
                ("content-type".into(), "text/plain; charset=utf-8".into()),
            ],
            body: format!("See {location}\n").into_bytes(),
        }
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
