//! What the host is asked and what it answers, before and after a plugin:
//! the one shape every caller (HTTP server, scheduler, `call`) uses.

/// A request as the host received it, before it is addressed to a plugin.
#[derive(Debug, Clone, Default)]
pub struct HostRequest {
    pub method: String,
    /// Path and query, e.g. `/plugin/NAME?user=jack`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the host answers.
#[derive(Debug, Clone)]
pub struct HostResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HostResponse {
    pub fn text(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: body.as_bytes().to_vec(),
        }
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}
