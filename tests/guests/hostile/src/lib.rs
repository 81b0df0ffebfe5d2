//! A hostile plugin: each request path is one attack on the host. The host
//! must contain every one and keep serving.

use igor_plugin_sdk::{Credential, FetchRequest, Host, Level, Plugin, Request, Response};

struct Hostile;

/// A plain-text answer, exactly `body` (no newline added).
fn answer(status: u16, body: String) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: body.into_bytes(),
    }
}

fn arg<'a>(request: &'a Request, name: &str) -> &'a str {
    request.query(name).unwrap_or("")
}

/// Posts a form to `url`; the answer or the error, as text.
fn post(host: &dyn Host, url: &str, credential: Option<Credential>) -> String {
    let mut request = FetchRequest::form(url, &[("grant_type", "steal")]);
    request.credential = credential;
    match host.fetch(&request) {
        Ok(response) => format!(
            "status {} location {:?} body {}",
            response.status,
            response.header("location"),
            response.text()
        ),
        Err(err) => format!("error {err}"),
    }
}

impl Plugin for Hostile {
    fn handle(host: &dyn Host, request: &Request) -> Response {
        match request.path.as_str() {
            "/ok" => answer(200, "still here".into()),
            "/loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "/panic" => panic!("hostile guest panics on purpose"),
            "/log-flood" => {
                // Ten times the line cap, each line five times the size
                // cap: enough to prove both, and quick enough to finish
                // well inside the tenant's deadline on a busy machine.
                for i in 0..2_000 {
                    host.log(
                        Level::Info,
                        &format!("flood line {i} {}", "x".repeat(10_000)),
                    );
                }
                answer(200, "flooded".into())
            }
            "/fetch" => answer(200, post(host, arg(request, "url"), None)),
            "/follow" => {
                // Follow one redirect by hand: the second request must be
                // checked against the policy again.
                let first = post(host, arg(request, "url"), None);
                let location = first
                    .split("location Some(\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("")
                    .to_string();
                answer(
                    200,
                    format!("first: {first}\nsecond: {}", post(host, &location, None)),
                )
            }
            "/exfiltrate" => {
                // Try to send the secret somewhere it does not belong, both ways.
                let url = arg(request, "url");
                let basic = Credential::Basic {
                    user: "x".into(),
                    secret: "client_secret".into(),
                };
                let form = Credential::FormField {
                    field: "s".into(),
                    secret: "client_secret".into(),
                };
                let basic = post(host, url, Some(basic));
                let form = post(host, url, Some(form));
                answer(200, format!("basic: {basic}\nform: {form}"))
            }
            "/store-escape" => {
                let mut out = String::new();
                for path in ["../other/x", "/etc/passwd", "a//b", "", "a/./b"] {
                    let one = serde_json::json!(1);
                    out.push_str(&format!("get {path:?}: {}\n", shown(host.store_get(path))));
                    out.push_str(&format!(
                        "put {path:?}: {}\n",
                        shown(host.store_put(path, &one, None))
                    ));
                }
                answer(200, out)
            }
            "/store-put" => {
                let result = match serde_json::from_str(arg(request, "json")) {
                    Ok(value) => shown(host.store_put(arg(request, "path"), &value, None)),
                    Err(err) => format!("not JSON: {err}"),
                };
                answer(200, result)
            }
            "/store-get" => match host.store_get(arg(request, "path")) {
                Ok(Some((value, _))) => answer(200, value.to_string()),
                Ok(None) => answer(404, "nothing".into()),
                Err(err) => answer(400, format!("Err({err})")),
            },
            // Tasks: queue one; flood the queue; and the task itself, which
            // records whether the host marked it as a task run.
            "/queue" => {
                let delay = arg(request, "delay_ms").parse().unwrap_or(0);
                let queued = host.run_later(arg(request, "path"), delay);
                answer(200, format!("{:?}", queued.map_err(|e| e.to_string())))
            }
            "/queue-flood" => {
                let refused = (0..100)
                    .map(|i| host.run_later(&format!("/ran?n={i}"), 3_600_000))
                    .find_map(Result::err);
                answer(200, format!("{:?}", refused.map(|e| e.to_string())))
            }
            "/ran" => {
                let record = serde_json::json!({
                    "method": request.method,
                    "task": request.header("igor-task"),
                    "n": arg(request, "n"),
                });
                let path = format!("ran/{}", arg(request, "n"));
                answer(200, shown(host.store_put(&path, &record, None)))
            }
            _ => answer(404, "unknown attack".into()),
        }
    }
}

igor_plugin_sdk::export_plugin!(Hostile);

/// A store result as the attacks report it: the value, or what the host
/// said (the failure's text, as a plugin would show it).
fn shown<T: std::fmt::Debug>(result: Result<T, igor_plugin_sdk::StoreFailure>) -> String {
    match result {
        Ok(value) => format!("Ok({value:?})"),
        Err(failure) => format!("Err({failure})"),
    }
}
