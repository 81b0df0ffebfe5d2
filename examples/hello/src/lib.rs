//! `hello`: the smallest useful Igor plugin, written with `igor-plugin-sdk`.
//!
//! - `GET /plugin/hello?name=jo` greets jo and counts the greetings in the
//!   store (`greetings/jo`), with compare-and-swap so concurrent requests
//!   never lose a count.
//! - `GET /plugin/hello/fetch` fetches the operator's `upstream_url` through
//!   the host (`igor:plugin/http`, under the host's egress policy) and keeps
//!   what it got at `last-fetch`.
//! - `GET /plugin/hello/fetch-wasi` fetches the same URL the standard way,
//!   through `wasi:http/outgoing-handler` with the `wstd` client: the host
//!   applies the same egress policy and limits (but never adds a secret).
//! - `POST /plugin/hello/forget` removes every greeting (the documents
//!   below `greetings`, found with `store_list`).
//!
//! Each handled request writes a line to the host's log. See README.md for
//! building, configuring and testing it.

use igor_plugin_sdk::{FetchRequest, Host, Level, Plugin, Request, Response, StoreFailure};
use serde_json::json;

pub struct Hello;

impl Plugin for Hello {
    fn handle(host: &dyn Host, request: &Request) -> Response {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/") => greet(host, request),
            ("GET", "/fetch") => fetch(host, request),
            ("GET", "/fetch-wasi") => fetch_with_wasi_http(host, request),
            ("POST", "/forget") => forget(host),
            _ => Response::text(404, format!("No page {}", request.path)),
        }
    }
}

igor_plugin_sdk::export_plugin!(Hello);

/// How often a greeting tries to write: each lost compare-and-swap race
/// means another greeting got through, so up to this many at once all count.
const ATTEMPTS: usize = 10;

fn greet(host: &dyn Host, request: &Request) -> Response {
    let name = request.query("name").unwrap_or("world");
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Response::text(400, "name: letters and digits only");
    }
    let path = format!("greetings/{name}");
    for _ in 0..ATTEMPTS {
        // Revision 0 means "absent": the first write only succeeds if no
        // other request created the document meanwhile.
        let (count, revision) = match host.store_get(&path) {
            Ok(Some((document, revision))) => (document["count"].as_u64().unwrap_or(0), revision),
            Ok(None) => (0, 0),
            Err(err) => return Response::text(503, format!("reading {path}: {err}")),
        };
        let count = count + 1;
        match host.store_put(&path, &json!({ "count": count }), Some(revision)) {
            Ok(_) => {
                host.log(
                    Level::Info,
                    &format!("greeted {name} (greeting number {count})"),
                );
                return Response::text(200, format!("Hello, {name}! (greeting number {count})"));
            }
            Err(StoreFailure::Conflict(_)) => continue,
            Err(err) => return Response::text(503, format!("writing {path}: {err}")),
        }
    }
    Response::text(503, "too many greetings at once; try again")
}

fn forget(host: &dyn Host) -> Response {
    let removed = host.store_list("greetings").and_then(|paths| {
        for path in &paths {
            host.store_delete(path, None)?;
        }
        Ok(paths.len())
    });
    match removed {
        Ok(n) => Response::text(200, format!("forgot {n} names")),
        Err(err) => Response::text(503, format!("forgetting: {err}")),
    }
}

fn fetch(host: &dyn Host, request: &Request) -> Response {
    let Some(url) = request.config("upstream_url") else {
        return Response::text(500, "upstream_url is not set in [plugin.config]");
    };
    match host.fetch(&FetchRequest::get(url)) {
        Ok(answer) => {
            let kept = json!({ "url": url, "status": answer.status, "body": answer.text() });
            if let Err(err) = host.store_put("last-fetch", &kept, None) {
                return Response::text(503, format!("keeping the answer: {err}"));
            }
            host.log(Level::Info, &format!("fetched {url}: {}", answer.status));
            Response::text(
                200,
                format!("{url} answered {}: {}", answer.status, answer.text()),
            )
        }
        Err(err) => {
            host.log(Level::Warn, &format!("fetching {url} failed: {err}"));
            Response::text(502, format!("fetching {url}: {err}"))
        }
    }
}

/// The same fetch with an ordinary wasi-http client, `wstd`.
fn fetch_with_wasi_http(host: &dyn Host, request: &Request) -> Response {
    let Some(url) = request.config("upstream_url") else {
        return Response::text(500, "upstream_url is not set in [plugin.config]");
    };
    let answer = wstd::runtime::block_on(async {
        let get = wstd::http::Request::get(url).body(wstd::http::Body::empty())?;
        let mut response = wstd::http::Client::new().send(get).await?;
        let body = response.body_mut().str_contents().await?.to_string();
        Ok::<_, wstd::http::Error>((response.status().as_u16(), body))
    });
    match answer {
        Ok((status, body)) => {
            host.log(
                Level::Info,
                &format!("fetched {url} over wasi:http: {status}"),
            );
            Response::text(
                200,
                format!("{url} answered {status} over wasi:http: {body}"),
            )
        }
        Err(err) => {
            host.log(
                Level::Warn,
                &format!("fetching {url} over wasi:http failed: {err}"),
            );
            Response::text(502, format!("fetching {url} over wasi:http: {err}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use igor_plugin_sdk::FetchError;
    use igor_plugin_sdk::testing::{self, MemoryHost};
    use serde_json::json;

    use super::*;

    fn get(host: &MemoryHost, path: &str, query: &[(&str, &str)]) -> Response {
        Hello::handle(host, &testing::request("hello", "GET", path, query))
    }

    #[test]
    fn greetings_are_counted_per_name() {
        let host = MemoryHost::default();
        assert_eq!(
            get(&host, "/", &[]).body_text(),
            "Hello, world! (greeting number 1)\n"
        );
        assert_eq!(
            get(&host, "/", &[("name", "jo")]).body_text(),
            "Hello, jo! (greeting number 1)\n"
        );
        assert_eq!(
            get(&host, "/", &[("name", "jo")]).body_text(),
            "Hello, jo! (greeting number 2)\n"
        );
        assert_eq!(host.get("greetings/jo"), Some(json!({"count": 2})));
        assert_eq!(
            host.logs.borrow().last().unwrap(),
            "greeted jo (greeting number 2)"
        );
    }

    #[test]
    fn forgetting_removes_the_greetings_only() {
        let host = MemoryHost::default();
        get(&host, "/", &[("name", "jo")]);
        get(&host, "/", &[("name", "al")]);
        host.put("last-fetch", json!({}));
        let request = testing::request("hello", "POST", "/forget", &[]);
        assert_eq!(
            Hello::handle(&host, &request).body_text(),
            "forgot 2 names\n"
        );
        let left: Vec<String> = host.documents.borrow().keys().cloned().collect();
        assert_eq!(left, ["last-fetch"]);
    }

    #[test]
    fn a_bad_name_is_refused_before_anything_is_stored() {
        let host = MemoryHost::default();
        let response = get(&host, "/", &[("name", "../x")]);
        assert_eq!(response.status, 400);
        assert!(host.documents.borrow().is_empty());
    }

    #[test]
    fn a_concurrent_greeting_is_not_lost() {
        let host = MemoryHost::default();
        host.put("greetings/jo", json!({"count": 41}));
        // Another request writes between this request's read and its write:
        // the write conflicts, and the retry counts on top of the other one.
        let (documents, revision) = (host.documents.clone(), host.revision.clone());
        let mut raced = false;
        host.before_write(move |_path| {
            if !std::mem::replace(&mut raced, true) {
                testing::put_into(&documents, &revision, "greetings/jo", json!({"count": 42}));
            }
        });
        let response = get(&host, "/", &[("name", "jo")]);
        assert_eq!(response.body_text(), "Hello, jo! (greeting number 43)\n");
        assert_eq!(host.get("greetings/jo"), Some(json!({"count": 43})));
    }

    #[test]
    fn fetch_keeps_the_answer_and_reports_failures() {
        let host = MemoryHost::default();
        let mut request = testing::request("hello", "GET", "/fetch", &[]);
        assert_eq!(Hello::handle(&host, &request).status, 500);

        request
            .context
            .config
            .push(("upstream_url".into(), "https://example.org/hi".into()));
        host.respond(|_| testing::response(200, json!("hi there")));
        let response = Hello::handle(&host, &request);
        assert_eq!(
            response.body_text(),
            "https://example.org/hi answered 200: \"hi there\"\n"
        );
        assert_eq!(host.sent_urls(), ["https://example.org/hi"]);
        assert_eq!(
            host.get("last-fetch"),
            Some(json!({"url": "https://example.org/hi", "status": 200, "body": "\"hi there\""}))
        );

        host.respond(|_| Err(FetchError::Denied("not allowed".into())));
        let response = Hello::handle(&host, &request);
        assert_eq!(response.status, 502);
        assert!(
            response.body_text().contains("egress policy"),
            "{}",
            response.body_text()
        );
    }
}
