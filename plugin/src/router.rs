//! Dispatch by path and method, the original plugin's URLs.

use crate::errors::PluginError;
use crate::{authorize, forms, index, settings, setup_page, webhook};
use igor_plugin_sdk::Host;
use igor_plugin_sdk::{Request, Response};

pub fn handle(host: &dyn Host, request: &Request) -> Response {
    let method = request.method.as_str();
    let result =
        match (request.path.as_str(), method) {
            ("/" | "" | "/index", "GET" | "HEAD") => index::handle(host, request),
            ("/auth1", "GET") => authorize::auth1(host, request),
            ("/auth2", "GET") => authorize::auth2(host, request),
            ("/auth2", "POST") => forms::require_urlencoded(request)
                .and_then(|()| authorize::paste_back(host, request)),
            ("/settings", "POST") => {
                forms::require_urlencoded(request).and_then(|()| settings::settings(host, request))
            }
            ("/userSettings", "POST") => forms::require_urlencoded(request)
                .and_then(|()| settings::user_settings(host, request)),
            ("/page/setup.html", "GET" | "HEAD") => setup_page::setup_page(host, request),
            ("/webhook", "POST") => webhook::receive(host, request),
            (webhook::SYNC_PATH, "POST") => webhook::sync(host, request),
            ("/" | "" | "/index" | "/auth1" | "/page/setup.html", _) => {
                return method_not_allowed("GET");
            }
            ("/auth2", _) => return method_not_allowed("GET, POST"),
            ("/settings" | "/userSettings" | "/webhook" | webhook::SYNC_PATH, _) => {
                return method_not_allowed("POST");
            }
            (path, _) => Err(PluginError::new(
                404,
                format!("Fitbitplugin has no page {:?}", crate::errors::echo(path)),
            )),
        };
    result.unwrap_or_else(PluginError::into_response)
}

fn method_not_allowed(allowed: &str) -> Response {
    let mut response = Response::text(
        405,
        format!(
            "Fitbitplugin: use {allowed} here (settings change only through the setup page's forms)"
        ),
    );
    response.headers.push(("allow".into(), allowed.into()));
    response
}
