//! `hello`: the smallest useful Igor plugin. `GET /?name=jo` greets jo and
//! counts the greetings in the store; `GET /fetch` fetches the operator's
//! `upstream_url` through the host. Both write a line to the host's log.
//! See README.md for building, configuring and testing it.

use igor_plugin_sdk::{FetchRequest, Host, Level, Plugin, Request, Response, StoreFailure};
use serde_json::json;

pub struct Hello;

impl Plugin for Hello {
    fn handle(host: &dyn Host, request: &Request) -> Response {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/") => greet(host, request.query("name").unwrap_or("world"))
                .unwrap_or_else(|err| Response::text(503, format!("store: {err}"))),
            ("GET", "/fetch") => fetch(host, request.config("upstream_url")),
            _ => Response::text(404, format!("No page {}", request.path)),
        }
    }
}

igor_plugin_sdk::export_plugin!(Hello);

/// Counts with compare-and-swap: a write that lost a race to another
/// request reads again and counts on top of the other one's count.
fn greet(host: &dyn Host, name: &str) -> Result<Response, StoreFailure> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Ok(Response::text(400, "name: letters and digits only"));
    }
    let path = format!("greetings/{name}");
    for _ in 0..10 {
        // Revision 0 means "absent": the write then succeeds only if no
        // other request created the document meanwhile.
        let (count, revision) = match host.store_get(&path)? {
            Some((document, revision)) => (document["count"].as_u64().unwrap_or(0) + 1, revision),
            None => (1, 0),
        };
        match host.store_put(&path, &json!({ "count": count }), Some(revision)) {
            Ok(_) => {
                host.log(Level::Info, &format!("greeted {name} ({count})"));
                let greeting = format!("Hello, {name}! (greeting number {count})");
                return Ok(Response::text(200, greeting));
            }
            Err(StoreFailure::Conflict(_)) => continue,
            Err(err) => return Err(err),
        }
    }
    Ok(Response::text(503, "too many greetings at once; try again"))
}

/// One GET through the host, to a destination the operator allows.
fn fetch(host: &dyn Host, url: Option<&str>) -> Response {
    let Some(url) = url else {
        return Response::text(500, "set upstream_url in [plugin.config]");
    };
    match host.fetch(&FetchRequest::get(url)) {
        Ok(answer) => {
            let (status, text) = (answer.status, answer.text());
            host.log(Level::Info, &format!("fetched {url}: {status}"));
            Response::text(200, format!("{url} answered {status}: {text}"))
        }
        Err(err) => {
            host.log(Level::Warn, &format!("fetching {url} failed: {err}"));
            Response::text(502, format!("fetching {url}: {err}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use igor_plugin_sdk::FetchError;
    use igor_plugin_sdk::testing::{self, MemoryHost};
    use serde_json::json;

    use super::*;

    /// The plugin runs natively against the SDK's in-memory host.
    #[test]
    fn greets_counts_and_fetches() {
        let host = MemoryHost::default();
        let get = |path, query: &[(&str, &str)]| {
            Hello::handle(&host, &testing::request("hello", "GET", path, query))
        };
        assert_eq!(
            get("/", &[]).body_text(),
            "Hello, world! (greeting number 1)\n"
        );
        get("/", &[("name", "jo")]);
        let again = get("/", &[("name", "jo")]);
        assert_eq!(again.body_text(), "Hello, jo! (greeting number 2)\n");
        assert_eq!(host.get("greetings/jo"), Some(json!({"count": 2})));
        assert_eq!(host.logs.borrow().last().unwrap(), "greeted jo (2)");
        assert_eq!(get("/", &[("name", "../x")]).status, 400);

        // A greeting that loses a race to another request still counts.
        let (documents, revision) = (host.documents.clone(), host.revision.clone());
        let mut raced = false;
        host.before_write(move |_path| {
            if !std::mem::replace(&mut raced, true) {
                testing::put_into(&documents, &revision, "greetings/jo", json!({"count": 7}));
            }
        });
        assert_eq!(
            get("/", &[("name", "jo")]).body_text(),
            "Hello, jo! (greeting number 8)\n"
        );

        // The fetch: scripted answers instead of the network.
        let mut request = testing::request("hello", "GET", "/fetch", &[]);
        request
            .context
            .config
            .push(("upstream_url".into(), "https://example.org/".into()));
        host.respond(|_| testing::response(200, json!("hi")));
        let answer = Hello::handle(&host, &request);
        assert_eq!(
            answer.body_text(),
            "https://example.org/ answered 200: \"hi\"\n"
        );
        host.respond(|_| Err(FetchError::Denied("not allowed".into())));
        assert_eq!(Hello::handle(&host, &request).status, 502);
        assert_eq!(host.sent_urls().len(), 2);
    }
}
