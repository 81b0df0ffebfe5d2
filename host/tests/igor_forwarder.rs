//! The forwarding Igor plugin in `igor/plugin/`, in a real Igor 0.99.1 with
//! access control, in front of a stand-in host: what it passes on, where it
//! keeps its credentials and where it sends them, what bodies it takes, and
//! the Igor rights each kind of call needs.

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use igor_host::store::igor::{IgorConfig, IgorStore};
use igor_host::store::{DocumentStore, Namespace};
use igor_test_support::real_igor;
use real_igor::{Igor, Options};
use serde_json::json;

fn store(igor: &Igor) -> IgorStore {
    let config: IgorConfig = toml::from_str(&format!(
        "url = \"{}\"\nusername = \"admin\"\npassword = \"\"",
        igor.url
    ))
    .unwrap();
    IgorStore::new(&config, "default").unwrap()
}

fn fitbit() -> Namespace {
    Namespace::new("default", "fitbit")
}

/// What the stand-in host saw of one forwarded request.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// A stand-in for igor-host behind the forwarder: records requests and
/// answers by path.
async fn stand_in_host() -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    (url, stand_in_on(listener))
}

/// The stand-in host serving `listener`; what it saw.
fn stand_in_on(listener: tokio::net::TcpListener) -> Arc<Mutex<Vec<Seen>>> {
    use axum::response::IntoResponse;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let record = record.clone();
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            record.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
                    .collect(),
                body: String::from_utf8_lossy(&body).into_owned(),
            });
            match parts.uri.path() {
                "/plugin/fitbit" => (
                    [("content-type", "text/plain; charset=utf-8")],
                    "{'weight': []}",
                )
                    .into_response(),
                "/plugin/fitbit/auth1" => (
                    axum::http::StatusCode::SEE_OTHER,
                    [("location", "https://provider.example/authorize?state=x")],
                )
                    .into_response(),
                "/plugin/fitbit/page/setup.html" => (
                    [("content-type", "text/html; charset=utf-8")],
                    "<!DOCTYPE html><form method=\"post\" action=\"/plugin/fitbit/settings\"></form>",
                )
                    .into_response(),
                "/plugin/fitbit/settings" | "/plugin/fitbit/userSettings" => (
                    axum::http::StatusCode::SEE_OTHER,
                    [("location", "/plugin/fitbit/page/setup.html")],
                )
                    .into_response(),
                "/plugin/fitbit/status.json" => {
                    ([("content-type", "application/json")], "{\"ok\": 1}").into_response()
                }
                _ => (
                    axum::http::StatusCode::FORBIDDEN,
                    [("content-type", "text/plain; charset=utf-8")],
                    "Fitbitplugin requires 'token' plugindata for user 'jack'",
                )
                    .into_response(),
            }
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    seen
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Igor's `/plugin/fitbit...` called as one of Igor's users (Basic
/// credentials: a user without a password takes any), or as nobody;
/// redirects are not followed.
struct Caller {
    http: reqwest::Client,
    plugin: String,
    origin: String,
}

impl Caller {
    fn new(igor: &Igor) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            plugin: format!("{}/plugin/fitbit", igor.url),
            origin: igor.url.clone(),
        }
    }

    fn signed(
        &self,
        request: reqwest::RequestBuilder,
        user: Option<&str>,
    ) -> reqwest::RequestBuilder {
        match user {
            Some(user) => request.basic_auth(user, Some("any")),
            None => request,
        }
    }

    async fn get(&self, user: Option<&str>, below: &str) -> reqwest::Response {
        let request = self.http.get(format!("{}{below}", self.plugin));
        self.signed(request, user).send().await.unwrap()
    }

    /// A form posted from Igor's own page.
    async fn post(
        &self,
        user: Option<&str>,
        below: &str,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let request = self
            .http
            .post(format!("{}{below}", self.plugin))
            .header("origin", &self.origin)
            .form(form);
        self.signed(request, user).send().await.unwrap()
    }
}

fn forwarder() -> Options {
    Options {
        capabilities: true,
        addstd: vec![],
        forwarder: true,
    }
}

/// Points the forwarder at the host, with other `plugindata/fitbit` values.
async fn point_at(igor: &Igor, host_url: &str, extra: serde_json::Value) {
    let mut settings = json!({ "host_url": host_url });
    settings
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    store(igor)
        .put(&fitbit(), "plugindata/fitbit", &settings.to_string(), None)
        .await
        .unwrap();
}

fn content_type(response: &reqwest::Response) -> &str {
    response.headers()["content-type"].to_str().unwrap()
}

/// Igor with the forwarder pointed at a stand-in host, sharing the secret
/// `s-secret`, with the user `guest` ([`Igor::add_guest`]) when `guest`;
/// and what the stand-in host is sent.
async fn forwarding_igor(guest: bool) -> (Igor, Arc<Mutex<Vec<Seen>>>) {
    let (host_url, seen) = stand_in_host().await;
    let mut igor = Igor::start(forwarder()).await;
    if guest {
        igor.add_guest().await;
    }
    point_at(&igor, &host_url, json!({})).await;
    real_igor::set_forward_secret(&igor.db, "fitbit", "s-secret");
    (igor, seen)
}

#[tokio::test]
async fn calls_are_forwarded_with_the_caller_and_the_secret() {
    let (igor, seen) = forwarding_igor(false).await;
    let c = Caller::new(&igor);
    let admin = Some("admin");

    // index with arguments; Igor's own token arguments are not passed on;
    // the caller (Basic credentials, checked by Igor) is named.
    let r = c.get(admin, "?user=jack&methods=a,b").await;
    assert_eq!(r.status(), 200, "{}", igor.log());
    assert!(content_type(&r).starts_with("text/plain"));
    assert_eq!(r.text().await.unwrap(), "{'weight': []}");
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first.method, "GET");
    assert_eq!(first.uri, "/plugin/fitbit?user=jack&methods=a%2Cb");
    assert_eq!(header(&first, "x-igor-caller"), Some("admin"));
    assert_eq!(header(&first, "x-igor-forward-secret"), Some("s-secret"));
    assert_eq!(header(&first, "authorization"), None);

    // Redirects pass through.
    let r = c.get(admin, "/auth1?user=jack").await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "https://provider.example/authorize?state=x"
    );

    // Errors keep their status and text (Igor's status line carries it).
    let r = c.get(admin, "/nosuch").await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.text().await.unwrap(),
        "Fitbitplugin requires 'token' plugindata for user 'jack'"
    );

    // JSON stays JSON.
    let r = c.get(admin, "/status.json").await;
    assert_eq!(content_type(&r), "application/json");

    // The setup page, rendered from the host through Igor's template.
    let r = c.get(admin, "/page/setup.html?user=jack").await;
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/html"));
    assert!(r.text().await.unwrap().contains("<form method=\"post\""));
    let page = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(page.uri, "/plugin/fitbit/page/setup.html?user=jack");

    // The setup page's form posts reach the host as POSTs, with the body.
    let form = [("client_id", "ABC"), ("returnTo", "/page/setup.html")];
    let r = c.post(admin, "/settings", &form).await;
    assert_eq!(r.status(), 303, "{}", igor.log());
    let post = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(post.method, "POST");
    assert_eq!(post.uri, "/plugin/fitbit/settings");
    assert_eq!(post.body, "client_id=ABC&returnTo=%2Fpage%2Fsetup.html");
    assert_eq!(header(&post, "origin"), Some(igor.url.as_str()));
    assert_eq!(header(&post, "x-igor-caller"), Some("admin"));

    // Without credentials Igor itself refuses (capabilities on).
    assert_eq!(c.get(None, "?user=jack").await.status(), 401);
    let r = c.post(None, "/settings", &[("client_id", "EVIL")]).await;
    assert_eq!(r.status(), 401);
    assert!(
        !seen.lock().unwrap().iter().any(|s| s.body.contains("EVIL")),
        "refused posts never reach the host"
    );
}

#[tokio::test]
async fn credentials_move_out_of_igors_data() {
    let (host_url, seen) = stand_in_host().await;
    let igor = Igor::start(forwarder()).await;
    // Where earlier versions kept them: readable by whoever may read
    // plugindata over Igor's REST API.
    let old = json!({"forward_secret": "s-moved-secret", "host_token": "t-moved-token"});
    point_at(&igor, &host_url, old).await;
    let c = Caller::new(&igor);
    let r = c.get(Some("admin"), "?user=jack").await;
    assert_eq!(r.status(), 200, "{}", igor.log());
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(
        header(&first, "x-igor-forward-secret"),
        Some("s-moved-secret")
    );
    assert_eq!(
        header(&first, "authorization"),
        Some("Bearer t-moved-token")
    );

    // Now in files beside Igor's database, for Igor's user only, and gone
    // from Igor's data, in memory and on disk.
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    for (name, value) in [
        ("forward_secret", "s-moved-secret"),
        ("host_token", "t-moved-token"),
    ] {
        let path = igor.db.join(format!("fitbit.{name}"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), value);
        assert_eq!(mode(&path), 0o600, "{name}");
    }
    let data = igor
        .get_json("plugindata/fitbit")
        .await
        .unwrap()
        .to_string();
    assert!(!data.contains("moved"), "{data}");
    assert!(data.contains(&host_url), "{data}");
    let saved = std::fs::read_to_string(igor.db.join("database.xml")).unwrap();
    assert!(
        !saved.contains("s-moved-secret"),
        "the saved database keeps it"
    );

    // Igor serves neither file: not as a static page, not as a plugin page.
    let r = reqwest::get(format!("{}/fitbit.forward_secret", igor.url))
        .await
        .unwrap();
    assert!(!r.text().await.unwrap().contains("s-moved-secret"));
    let r = c.get(Some("admin"), "/page/fitbit.forward_secret").await;
    assert!(!r.text().await.unwrap().contains("s-moved-secret"));

    // A file others could read is made private before it is used.
    let path = igor.db.join("fitbit.forward_secret");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(c.get(Some("admin"), "?user=jack").await.status(), 200);
    assert_eq!(mode(&path), 0o600);
}

#[tokio::test]
async fn a_post_needs_the_right_to_write_what_it_changes() {
    let (igor, seen) = forwarding_igor(true).await;
    let c = Caller::new(&igor);
    let (guest, admin) = (Some("guest"), Some("admin"));
    // The guest may open the setup page (which also loads the plugin and
    // with it the POST route).
    let page = c.get(guest, "/page/setup.html").await;
    assert_eq!(page.status(), 200, "{}", igor.log());
    // The plugin's settings are not the guest's to change, nor jack's.
    let r = c.post(guest, "/settings", &[("client_id", "EVIL-1")]).await;
    assert_eq!(r.status(), 403);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("changes /data/plugindata/fitbit and needs the put right"),
        "{text}"
    );
    // A user field the form adds does not change what the route changes
    // (the forwarder once checked the guest's own identity for this).
    let named = [
        ("user", "guest"),
        ("client_id", "EVIL-3"),
        ("client_secret", "X"),
    ];
    assert_eq!(c.post(guest, "/settings", &named).await.status(), 403);
    let jacks = [("user", "jack"), ("methods", "EVIL-2")];
    assert_eq!(c.post(guest, "/userSettings", &jacks).await.status(), 403);
    let odd = [("user", "../x")];
    assert_eq!(c.post(guest, "/userSettings", &odd).await.status(), 400);
    assert!(
        !seen.lock().unwrap().iter().any(|s| s.body.contains("EVIL")),
        "refused posts never reach the host"
    );
    // Its own settings are; the admin may change anything.
    let own = [("user", "guest"), ("methods", "ok-1")];
    assert_eq!(c.post(guest, "/userSettings", &own).await.status(), 303);
    let app = [("client_id", "ok-2")];
    assert_eq!(c.post(admin, "/settings", &app).await.status(), 303);
    let bodies: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.body.clone())
        .collect();
    assert!(bodies.iter().any(|b| b.contains("ok-1")), "{bodies:?}");
    assert!(bodies.iter().any(|b| b.contains("ok-2")), "{bodies:?}");
}

/// A form POST from Igor's own page with any body and content type.
async fn post_raw(
    c: &Caller,
    user: Option<&str>,
    below: &str,
    content_type: &str,
    body: &str,
) -> (u16, String) {
    let request = c
        .http
        .post(format!("{}{below}", c.plugin))
        .header("origin", &c.origin)
        .header("content-type", content_type)
        .body(body.to_string());
    let response = c.signed(request, user).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn only_urlencoded_forms_go_through_and_they_name_one_user() {
    let (igor, seen) = forwarding_igor(true).await;
    let c = Caller::new(&igor);
    let guest = Some("guest");
    assert_eq!(c.get(guest, "/page/setup.html").await.status(), 200);
    // Flask reads this as a form of the guest's; its raw bytes, read as a
    // urlencoded form, name jack.
    let boundary = "XyZ";
    let multipart = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"user\"\r\n\r\nguest\r\n\
         --{boundary}--\r\n&user=jack&delete=true"
    );
    let (status, text) = post_raw(
        &c,
        guest,
        "/userSettings",
        &format!("multipart/form-data; boundary={boundary}"),
        &multipart,
    )
    .await;
    assert_eq!(status, 415, "{text}");
    assert!(text.contains("application/x-www-form-urlencoded"), "{text}");
    let json = r#"{"user": "guest", "client_id": "EVIL-4"}"#;
    let (status, _) = post_raw(&c, guest, "/userSettings", "application/json", json).await;
    assert_eq!(status, 415);
    // Two users, however spelled: which one would the host act for?
    for body in [
        "user=guest&user=jack&delete=true",
        "user=guest&%75ser=jack&delete=true",
        "user=guest&user=+jack&delete=true",
        "user=gu%C3%A9st&delete=true",
        "user=guest\u{e9}&delete=true",
    ] {
        let (status, text) = post_raw(
            &c,
            guest,
            "/userSettings",
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
        assert_eq!(status, 400, "{body}: {text}");
    }
    assert!(
        seen.lock().unwrap().iter().all(|s| s.method != "POST"),
        "refused posts never reach the host"
    );
    // The form that was checked is the form the host gets, byte for byte.
    let own = "user=+guest+&methods=a%2Cb&delete=";
    let content_type = "application/x-www-form-urlencoded; charset=UTF-8";
    let (status, text) = post_raw(&c, guest, "/userSettings", content_type, own).await;
    assert_eq!(status, 303, "{text}");
    let post = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(post.body, own);
}

#[tokio::test]
async fn authorising_a_user_needs_the_right_to_write_that_users_settings() {
    let (igor, seen) = forwarding_igor(true).await;
    let c = Caller::new(&igor);
    let (guest, admin) = (Some("guest"), Some("admin"));
    // Starting jack's authorisation would end in a token of the guest's
    // choosing stored as jack's.
    let r = c.get(guest, "/auth1?user=jack").await;
    assert_eq!(r.status(), 403);
    let text = r.text().await.unwrap();
    assert!(
        text.contains("/data/identities/jack/plugindata/fitbit"),
        "{text}"
    );
    assert_eq!(
        c.get(guest, "/auth1?user=guest&user=jack").await.status(),
        400
    );
    assert_eq!(c.get(guest, "/auth1").await.status(), 400);
    // So would completing it with a pasted address.
    let paste = [
        ("user", "jack"),
        ("address", "http://localhost:9/x?state=s&code=c"),
    ];
    assert_eq!(c.post(guest, "/auth2", &paste).await.status(), 403);
    assert!(
        !seen.lock().unwrap().iter().any(|s| s.uri.contains("jack")),
        "refused calls never reach the host"
    );
    // Its own authorisation, and the admin's of anyone, go through.
    assert_eq!(c.get(guest, "/auth1?user=guest").await.status(), 303);
    assert_eq!(c.get(admin, "/auth1?user=jack").await.status(), 303);
    let own = [
        ("user", "guest"),
        ("address", "http://localhost:9/x?state=s&code=c"),
    ];
    c.post(guest, "/auth2", &own).await;
    let uris: Vec<String> = seen.lock().unwrap().iter().map(|s| s.uri.clone()).collect();
    assert!(
        uris.contains(&"/plugin/fitbit/auth1?user=guest".to_string()),
        "{uris:?}"
    );
    assert!(
        uris.contains(&"/plugin/fitbit/auth2".to_string()),
        "{uris:?}"
    );
}

/// A name of this machine that is not a loopback name (its host name, or
/// failing that 0.0.0.0), by which `port` on every address is reached.
async fn non_loopback_name(port: u16, seen: &Arc<Mutex<Vec<Seen>>>) -> String {
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_string();
    for name in [hostname.as_str(), "0.0.0.0"] {
        if name.is_empty() || name == "localhost" {
            continue;
        }
        let reached = reqwest::get(format!("http://{name}:{port}/plugin/fitbit"))
            .await
            .is_ok_and(|r| r.status() == 200);
        if reached {
            seen.lock().unwrap().clear();
            return name.to_string();
        }
    }
    panic!("no non-loopback name reaches a listener on this machine");
}

#[tokio::test]
async fn the_secret_goes_only_to_a_loopback_host_url_or_the_owners_own_file() {
    // A host on every address, reached by a name that is not loopback: as
    // far as the forwarder can tell, another machine.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = stand_in_on(listener);
    let name = non_loopback_name(port, &seen).await;
    let elsewhere = format!("http://{name}:{port}");
    let igor = Igor::start(forwarder()).await;
    real_igor::set_forward_secret(&igor.db, "fitbit", "s-secret");
    let c = Caller::new(&igor);
    // Whoever may write plugindata points the forwarder there: refused
    // before any connection, saying where such a URL belongs.
    for (url, says) in [
        (elsewhere.clone(), "put its URL in "),
        (
            format!("http://127.0.0.1@{name}:{port}"),
            "is not an http(s)://HOST[:PORT] URL",
        ),
    ] {
        point_at(&igor, &url, json!({})).await;
        let r = c.get(Some("admin"), "?user=jack").await;
        assert_eq!(r.status(), 503, "{url}");
        let text = r.text().await.unwrap();
        assert!(text.contains(says), "{text}");
        assert!(text.contains("host_url"), "{text}");
        assert!(
            seen.lock().unwrap().is_empty(),
            "the forwarder called {url} with its secret"
        );
    }
    // The owner puts it in the file beside the secret: used, and it wins
    // over plugindata's, even a loopback one.
    let (loopback_url, loopback_seen) = stand_in_host().await;
    point_at(&igor, &loopback_url, json!({})).await;
    let file = igor.db.join("fitbit.host_url");
    std::fs::write(&file, format!("{elsewhere}\n")).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(c.get(Some("admin"), "?user=jack").await.status(), 200);
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(header(&first, "x-igor-forward-secret"), Some("s-secret"));
    assert!(loopback_seen.lock().unwrap().is_empty());
    // Without the file, the loopback one serves.
    std::fs::remove_file(&file).unwrap();
    assert_eq!(c.get(Some("admin"), "?user=jack").await.status(), 200);
    assert_eq!(loopback_seen.lock().unwrap().len(), 1);
}
