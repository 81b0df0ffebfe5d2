//! A hostile plugin: each request path is one attack on the host. The host
//! must contain every one and keep serving.

wit_bindgen::generate!({
    path: "../../../wit",
    world: "igor-plugin",
});

use exports::igor::plugin::handler::Guest;
use igor::plugin::http::{BasicCredential, Credential, FetchRequest, FormCredential, http_fetch};
use igor::plugin::log::{Level, log};
use igor::plugin::store::{store_get, store_put};
use igor::plugin::types::{Request, Response};

struct Hostile;

fn answer(status: u16, body: String) -> Response {
    Response {
        status,
        headers: vec![("content-type".into(), "text/plain".into())],
        body: body.into_bytes(),
    }
}

fn arg<'a>(request: &'a Request, name: &str) -> &'a str {
    request
        .query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn get(url: &str, credential: Option<Credential>) -> String {
    let request = FetchRequest {
        method: "POST".into(),
        url: url.into(),
        headers: vec![(
            "content-type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: b"grant_type=steal".to_vec(),
        credential,
    };
    match http_fetch(&request) {
        Ok(response) => format!(
            "status {} location {:?} body {}",
            response.status,
            response
                .headers
                .iter()
                .find(|(k, _)| k == "location")
                .map(|(_, v)| v.clone()),
            String::from_utf8_lossy(&response.body)
        ),
        Err(err) => format!("error {err:?}"),
    }
}

impl Guest for Hostile {
    fn handle_request(request: Request) -> Response {
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
                for i in 0..100_000 {
                    log(
                        Level::Info,
                        &format!("flood line {i} {}", "x".repeat(10_000)),
                    );
                }
                answer(200, "flooded".into())
            }
            "/fetch" => answer(200, get(arg(&request, "url"), None)),
            "/follow" => {
                // Follow one redirect by hand: the second request must be
                // checked against the policy again.
                let first = get(arg(&request, "url"), None);
                let location = first
                    .split("location Some(\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("")
                    .to_string();
                answer(
                    200,
                    format!("first: {first}\nsecond: {}", get(&location, None)),
                )
            }
            "/exfiltrate" => {
                // Try to send the secret somewhere it does not belong, both ways.
                let url = arg(&request, "url");
                let basic = get(
                    url,
                    Some(Credential::Basic(BasicCredential {
                        user: "x".into(),
                        secret: "client_secret".into(),
                    })),
                );
                let form = get(
                    url,
                    Some(Credential::FormField(FormCredential {
                        field: "s".into(),
                        secret: "client_secret".into(),
                    })),
                );
                answer(200, format!("basic: {basic}\nform: {form}"))
            }
            "/store-escape" => {
                let mut out = String::new();
                for path in ["../other/x", "/etc/passwd", "a//b", "", "a/./b"] {
                    out.push_str(&format!("get {path:?}: {:?}\n", store_get(path)));
                    out.push_str(&format!("put {path:?}: {:?}\n", store_put(path, "1", None)));
                }
                answer(200, out)
            }
            "/store-put" => {
                let result = store_put(arg(&request, "path"), arg(&request, "json"), None);
                answer(200, format!("{result:?}"))
            }
            "/store-get" => match store_get(arg(&request, "path")) {
                Ok(Some(entry)) => answer(200, entry.json),
                Ok(None) => answer(404, "nothing".into()),
                Err(err) => answer(400, format!("{err:?}")),
            },
            _ => answer(404, "unknown attack".into()),
        }
    }
}

export!(Hostile);
