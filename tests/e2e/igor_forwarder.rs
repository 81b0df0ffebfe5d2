//! The forwarding Igor plugin in `igor/plugin/`, in a real Igor 0.99.1 with
//! access control, in front of a stand-in host: what it passes on, where it
//! keeps its credentials, and the Igor rights each kind of call needs.

mod real_igor;

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};

use igor_host::store::igor::{IgorConfig, IgorStore};
use igor_host::store::{DocumentStore, Namespace};
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, seen)
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn calls_are_forwarded_with_the_caller_and_the_secret() {
    let (host_url, seen) = stand_in_host().await;
    let igor = Igor::start(Options {
        capabilities: true,
        addstd: vec![],
        forwarder: true,
    })
    .await;
    let s = store(&igor);
    s.put(
        &fitbit(),
        "plugindata/fitbit",
        &json!({ "host_url": host_url }).to_string(),
        None,
    )
    .await
    .unwrap();
    real_igor::set_forward_secret(&igor.db, "fitbit", "s-secret");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let plugin = format!("{}/plugin/fitbit", igor.url);

    // index with arguments; Igor's own token arguments are not passed on;
    // the caller (Basic credentials, checked by Igor) is named.
    let r = client
        .get(format!("{plugin}?user=jack&methods=a,b"))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", igor.log());
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    assert_eq!(r.text().await.unwrap(), "{'weight': []}");
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first.method, "GET");
    assert_eq!(first.uri, "/plugin/fitbit?user=jack&methods=a%2Cb");
    assert_eq!(header(&first, "x-igor-caller"), Some("admin"));
    assert_eq!(header(&first, "x-igor-forward-secret"), Some("s-secret"));
    assert_eq!(header(&first, "authorization"), None);

    // Redirects pass through.
    let r = client
        .get(format!("{plugin}/auth1?user=jack"))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(
        r.headers()["location"],
        "https://provider.example/authorize?state=x"
    );

    // Errors keep their status and text (Igor's status line carries it).
    let r = client
        .get(format!("{plugin}/nosuch"))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.text().await.unwrap(),
        "Fitbitplugin requires 'token' plugindata for user 'jack'"
    );

    // JSON stays JSON.
    let r = client
        .get(format!("{plugin}/status.json"))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/json");

    // The setup page, rendered from the host through Igor's template.
    let r = client
        .get(format!("{plugin}/page/setup.html?user=jack"))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(r.text().await.unwrap().contains("<form method=\"post\""));
    let page = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(page.uri, "/plugin/fitbit/page/setup.html?user=jack");

    // The setup page's form posts reach the host as POSTs, with the body.
    let r = client
        .post(format!("{plugin}/settings"))
        .basic_auth("admin", Some(""))
        .header("origin", &igor.url)
        .form(&[("client_id", "ABC"), ("returnTo", "/page/setup.html")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{}", igor.log());
    let post = seen.lock().unwrap().last().unwrap().clone();
    assert_eq!(post.method, "POST");
    assert_eq!(post.uri, "/plugin/fitbit/settings");
    assert_eq!(post.body, "client_id=ABC&returnTo=%2Fpage%2Fsetup.html");
    assert_eq!(header(&post, "origin"), Some(igor.url.as_str()));
    assert_eq!(header(&post, "x-igor-caller"), Some("admin"));

    // Without credentials Igor itself refuses (capabilities on).
    let r = client
        .get(format!("{plugin}?user=jack"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(format!("{plugin}/settings"))
        .form(&[("client_id", "EVIL")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(
        !seen.lock().unwrap().iter().any(|s| s.body.contains("EVIL")),
        "refused posts never reach the host"
    );
}

fn forwarder() -> Options {
    Options {
        capabilities: true,
        addstd: vec![],
        forwarder: true,
    }
}

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

#[tokio::test]
async fn credentials_move_out_of_igors_data() {
    let (host_url, seen) = stand_in_host().await;
    let igor = Igor::start(forwarder()).await;
    // Where earlier versions kept them: readable by whoever may read
    // plugindata over Igor's REST API.
    point_at(
        &igor,
        &host_url,
        json!({"forward_secret": "s-moved-secret", "host_token": "t-moved-token"}),
    )
    .await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/plugin/fitbit?user=jack", igor.url))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
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
    for (name, value) in [
        ("forward_secret", "s-moved-secret"),
        ("host_token", "t-moved-token"),
    ] {
        let path = igor.db.join(format!("fitbit.{name}"));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), value);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
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
    for (url, credentials) in [
        (format!("{}/fitbit.forward_secret", igor.url), None),
        (
            format!("{}/plugin/fitbit/page/fitbit.forward_secret", igor.url),
            Some("admin"),
        ),
    ] {
        let mut request = client.get(&url);
        if let Some(user) = credentials {
            request = request.basic_auth(user, Some(""));
        }
        let body = request.send().await.unwrap().text().await.unwrap();
        assert!(!body.contains("s-moved-secret"), "{url}: {body}");
    }

    // A file others could read is made private before it is used.
    let path = igor.db.join("fitbit.forward_secret");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let r = client
        .get(format!("{}/plugin/fitbit?user=jack", igor.url))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

/// Adds the Igor user `guest` (any password) who may open the plugin's
/// pages (GET on its entry points) and write only its own identity, as
/// Igor's `user` plugin sets a user up; and gives the plugin the right to
/// read its settings whoever calls it, as the standard fragment does.
async fn add_guest(igor: &mut Igor) {
    igor.stop();
    let path = igor.db.join("database.xml");
    let xml = std::fs::read_to_string(&path).unwrap();
    let plugin_right = "<plugindata><fitbit><au:capability><cid>fitbit-own</cid>\
        <obj>/data/plugindata/fitbit</obj><get>descendant-or-self</get>\
        <parent>root</parent></au:capability></fitbit>";
    // Igor writes an empty element as `<plugindata/>` once it has saved.
    let xml = if xml.contains("<plugindata/>") {
        xml.replacen("<plugindata/>", &format!("{plugin_right}</plugindata>"), 1)
    } else {
        xml.replacen("<plugindata>", plugin_right, 1)
    };
    assert!(xml.contains("fitbit-own"), "{xml}");
    let guest = "<guest>\
        <au:capability><cid>guest-plugin</cid><obj>/plugin/fitbit</obj>\
        <get>descendant-or-self</get><parent>root</parent></au:capability>\
        <au:capability><cid>guest-data</cid><obj>/data/identities/guest</obj>\
        <get>descendant-or-self</get><put>descendant</put><post>descendant</post>\
        <delete>descendant</delete><parent>root</parent></au:capability>\
        </guest></identities>";
    std::fs::write(&path, xml.replacen("</identities>", guest, 1)).unwrap();
    igor.restart().await;
}

#[tokio::test]
async fn a_post_needs_the_right_to_write_what_it_changes() {
    let (host_url, seen) = stand_in_host().await;
    let mut igor = Igor::start(forwarder()).await;
    add_guest(&mut igor).await;
    point_at(&igor, &host_url, json!({})).await;
    real_igor::set_forward_secret(&igor.db, "fitbit", "s-secret");
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let plugin = format!("{}/plugin/fitbit", igor.url);
    // The guest may open the setup page (which also loads the plugin and
    // with it the POST route).
    let page = client
        .get(format!("{plugin}/page/setup.html"))
        .basic_auth("guest", Some("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "{}", igor.log());
    let post = async |user: &str, method: &str, form: &[(&str, &str)]| {
        let r = client
            .post(format!("{plugin}/{method}"))
            .basic_auth(user, Some("x"))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    // The plugin's settings are not the guest's to change, nor jack's.
    let (status, text) = post("guest", "settings", &[("client_id", "EVIL-1")]).await;
    assert_eq!(status, 403, "{text}");
    assert!(
        text.contains("put right on /data/plugindata/fitbit"),
        "{text}"
    );
    let (status, _) = post(
        "guest",
        "userSettings",
        &[("user", "jack"), ("methods", "EVIL-2")],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post("guest", "userSettings", &[("user", "../x")]).await;
    assert_eq!(status, 400);
    assert!(
        !seen.lock().unwrap().iter().any(|s| s.body.contains("EVIL")),
        "refused posts never reach the host"
    );
    // Its own settings are; the admin may change anything.
    let (status, _) = post(
        "guest",
        "userSettings",
        &[("user", "guest"), ("methods", "ok-1")],
    )
    .await;
    assert_eq!(status, 303);
    let (status, _) = post("admin", "settings", &[("client_id", "ok-2")]).await;
    assert_eq!(status, 303);
    let bodies: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.body.clone())
        .collect();
    assert!(bodies.iter().any(|b| b.contains("ok-1")), "{bodies:?}");
    assert!(bodies.iter().any(|b| b.contains("ok-2")), "{bodies:?}");
}
