//! The bridge to a real Igor: `IgorStore` against igor-iot 0.99.1 running
//! from `tests/igor-venv` (run `tests/igor/setup-venv.sh` first). The
//! forwarding Igor plugin has its own tests (`igor_forwarder.rs`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use igor_host::store::igor::{IgorConfig, IgorStore, igor_base_url};
use igor_host::store::{DocumentStore, Namespace, StoreError};
use igor_test_support::real_igor;
use real_igor::{Igor, Options};
use serde_json::{Value, json};

fn config(igor: &Igor, credentials: &str) -> IgorConfig {
    toml::from_str(&format!("url = \"{}\"\n{credentials}", igor.url)).unwrap()
}

fn store(igor: &Igor, credentials: &str) -> IgorStore {
    IgorStore::new(&config(igor, credentials), "default").unwrap()
}

/// Writes a new token to `path`, as a refresh would.
async fn overwrite(store: &IgorStore, ns: &Namespace, path: &str) -> Result<u64, StoreError> {
    store.put(ns, path, r#"{"access_token": "b"}"#, None).await
}

fn fitbit() -> Namespace {
    Namespace::new("default", "fitbit")
}

async fn get_value(store: &IgorStore, ns: &Namespace, path: &str) -> Option<(Value, u64)> {
    store
        .get(ns, path)
        .await
        .unwrap()
        .map(|e| (serde_json::from_str(&e.json).unwrap(), e.revision))
}

fn unavailable(result: Result<impl std::fmt::Debug, StoreError>, needle: &str) {
    match result {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains(needle), "{needle:?} not in {message:?}")
        }
        other => panic!("expected Unavailable({needle}), got {other:?}"),
    }
}

#[tokio::test]
async fn round_trips_with_igors_conversions() {
    let igor = Igor::start(Options::default()).await;
    let s = store(&igor, "");
    let ns = fitbit();
    assert_eq!(s.get(&ns, "plugindata/fitbit").await.unwrap(), None);

    // Missing parents (plugindata/fitbit does not exist without addstd).
    let app = json!({"client_id": "0123", "system": "en_GB", "scope": ["weight"], "empty": []});
    let rev = s
        .put(&ns, "plugindata/fitbit", &app.to_string(), None)
        .await
        .unwrap();
    let (value, got) = get_value(&s, &ns, "plugindata/fitbit").await.unwrap();
    assert_eq!(got, rev, "put returns the revision get reports");
    // Numeric-looking strings come back as numbers, one-element lists as
    // scalars, empty lists disappear: what Igor answers, unchanged.
    assert_eq!(
        value,
        json!({"client_id": 123, "system": "en_GB", "scope": "weight"})
    );
    assert_eq!(
        igor.get_json("plugindata/fitbit").await.unwrap(),
        json!({"fitbit": value}),
        "other Igor clients see the same data"
    );

    // identities/jack/plugindata/fitbit/token: three missing ancestors.
    let token = json!({"access_token": "a", "refresh_token": "r", "expires_at": 1795595765.25,
                       "scope": ["weight", "activity"], "user_id": "ABC"});
    let path = "identities/jack/plugindata/fitbit/token";
    s.put(&ns, path, &token.to_string(), Some(0)).await.unwrap();
    assert_eq!(get_value(&s, &ns, path).await.unwrap().0, token);
    // Paths nest in Igor: the user document contains the token.
    let (user, _) = get_value(&s, &ns, "identities/jack/plugindata/fitbit")
        .await
        .unwrap();
    assert_eq!(user, json!({"token": token}));
    // The existing admin identity was not replaced by creating jack.
    assert!(igor.get_json("identities/admin").await.is_some());

    // A value whose only key is the last segment is not unwrapped.
    let sensors = json!({"jack": {"weight": [{"date": "2026-11-20", "weight": 80.1}]}});
    s.put(&ns, "sensors/fitbit/jack", &sensors.to_string(), None)
        .await
        .unwrap();
    assert_eq!(
        get_value(&s, &ns, "sensors/fitbit/jack").await.unwrap().0,
        json!({"jack": {"weight": {"date": "2026-11-20", "weight": 80.1}}})
    );

    // Scalars are stored as text; Python's number parsing applies.
    for (written, read) in [
        (json!("hello"), json!("hello")),
        (json!("42"), json!(42)),
        (json!(1.5), json!(1.5)),
        (json!(true), json!(true)),
        (json!(null), json!({})),
        (json!(" padded "), json!("padded")),
        (json!("nan"), json!("NaN")),
        (
            json!({"x": "inf", "y": "<&>\""}),
            json!({"x": "Infinity", "y": "<&>\""}),
        ),
    ] {
        s.put(&ns, "plugindata/fitbit/note", &written.to_string(), None)
            .await
            .unwrap();
        assert_eq!(
            get_value(&s, &ns, "plugindata/fitbit/note")
                .await
                .unwrap()
                .0,
            read,
            "{written}"
        );
    }

    // Refused before anything is sent.
    for bad in [
        r#"[1, 2]"#,
        r#"{"a b": 1}"#,
        r#"{"x": [[1]]}"#,
        r#"{"@id": 1}"#,
        "nope",
    ] {
        assert!(
            matches!(
                s.put(&ns, "plugindata/fitbit/bad", bad, None).await,
                Err(StoreError::InvalidJson(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(s.get(&ns, "plugindata/fitbit/bad").await.unwrap(), None);

    // Delete.
    assert!(s.delete(&ns, path, None).await.unwrap());
    assert_eq!(s.get(&ns, path).await.unwrap(), None);
    assert!(!s.delete(&ns, path, None).await.unwrap());
    assert!(igor.get_json(path).await.is_none());
}

#[tokio::test]
async fn compare_and_swap_detects_every_change() {
    let igor = Igor::start(Options::default()).await;
    let s = Arc::new(store(&igor, ""));
    let ns = fitbit();
    let path = "identities/jack/plugindata/fitbit/token";
    let r1 = s.put(&ns, path, r#"{"n": "one"}"#, Some(0)).await.unwrap();
    assert_eq!(
        s.put(&ns, path, r#"{"n": "x"}"#, Some(0)).await,
        Err(StoreError::Conflict(r1))
    );
    let r2 = s.put(&ns, path, r#"{"n": "two"}"#, Some(r1)).await.unwrap();
    assert_ne!(r1, r2);
    assert_eq!(
        s.put(&ns, path, r#"{"n": "x"}"#, Some(r1)).await,
        Err(StoreError::Conflict(r2))
    );

    // Another Igor client writes the same path: our stale revision fails.
    igor.put_json(path, r#"{"token": {"n": "three"}}"#).await;
    let (_, r3) = get_value(&s, &ns, path).await.unwrap();
    assert_ne!(r3, r2);
    assert_eq!(
        s.put(&ns, path, r#"{"n": "x"}"#, Some(r2)).await,
        Err(StoreError::Conflict(r3))
    );
    assert_eq!(
        s.delete(&ns, path, Some(r2)).await,
        Err(StoreError::Conflict(r3))
    );
    // A change of a child is a change of the parent document too.
    let user = "identities/jack/plugindata/fitbit";
    let (_, user_rev) = get_value(&s, &ns, user).await.unwrap();
    s.put(&ns, path, r#"{"n": "four"}"#, None).await.unwrap();
    assert!(matches!(
        s.put(&ns, user, r#"{"methods": "x"}"#, Some(user_rev))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        get_value(&s, &ns, path).await.unwrap().0,
        json!({"n": "four"})
    );

    // This host's writers are serialised: concurrent read-modify-write
    // increments with retries lose nothing.
    let counter = "sensors/fitbit/counter";
    s.put(&ns, counter, r#"{"n": 0}"#, None).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        let ns = ns.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let (value, rev) = get_value(&s, &ns, counter).await.unwrap();
                let n = value["n"].as_i64().unwrap();
                match s
                    .put(&ns, counter, &json!({"n": n + 1}).to_string(), Some(rev))
                    .await
                {
                    Ok(_) => break,
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        get_value(&s, &ns, counter).await.unwrap().0,
        json!({"n": 8})
    );
}

#[tokio::test]
async fn plugins_stay_in_their_subtrees() {
    let igor = Igor::start(Options::default()).await;
    let s = store(&igor, "");
    let ns = fitbit();
    for path in [
        "plugindata/other",
        "plugindata/fitbitx/a",
        "identities/jack",
        "identities/jack/plugindata/other/token",
        "identities/jack/encryptedPassword",
        "sensors/other/jack",
        "status/sensors/fitbit",
        "services/igor/url",
        "actions/action",
        "plugindata/fitbit/1st",
        "plugindata/fitbit/x[1]",
        "identities/*/plugindata/fitbit",
    ] {
        for result in [
            s.get(&ns, path).await.map(|_| ()),
            s.put(&ns, path, "{}", None).await.map(|_| ()),
            s.delete(&ns, path, None).await.map(|_| ()),
        ] {
            assert!(
                matches!(result, Err(StoreError::InvalidPath(_))),
                "{path}: {result:?}"
            );
        }
    }
    assert!(igor.get_json("identities/jack").await.is_none());
    assert!(igor.get_json("plugindata/other").await.is_none());
    // Another tenant cannot use the single Igor database.
    assert!(matches!(
        s.get(&Namespace::new("acme", "fitbit"), "plugindata/fitbit")
            .await,
        Err(StoreError::InvalidPath(_))
    ));
    // The host writes action status, and only that.
    let host = Namespace::host("default");
    s.put(
        &host,
        "status/sensors/fitbit",
        r#"{"alive": true, "errorMessage": ""}"#,
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        igor.get_json("status/sensors/fitbit").await.unwrap(),
        json!({"fitbit": {"alive": true, "errorMessage": {}}})
    );
    assert!(matches!(
        s.put(&host, "plugindata/fitbit", "{}", None).await,
        Err(StoreError::InvalidPath(_))
    ));
}

#[tokio::test]
async fn writes_keep_what_igor_hides_from_json() {
    let igor = Igor::start(Options {
        addstd: vec!["fitbit".into()],
        ..Default::default()
    })
    .await;
    let s = store(&igor, "");
    let ns = fitbit();
    let before = igor.raw_xml("plugindata/fitbit").await;
    assert!(before.contains("au:needCapability"), "{before}");
    let (value, rev) = get_value(&s, &ns, "plugindata/fitbit").await.unwrap();
    assert_eq!(value, json!({}));
    s.put(
        &ns,
        "plugindata/fitbit",
        r#"{"client_id": "ABC123", "system": "en_GB"}"#,
        Some(rev),
    )
    .await
    .unwrap();
    let after = igor.raw_xml("plugindata/fitbit").await;
    assert!(after.contains("own:plugin=\"fitbit\""), "{after}");
    assert_eq!(
        after.matches("<au:needCapability>").count(),
        before.matches("<au:needCapability>").count(),
        "{after}"
    );
    assert!(after.contains("<client_id>ABC123</client_id>"), "{after}");
    // The capabilities still work after Igor reloads its database.
    let mut igor = igor;
    let (status, _) = igor
        .raw(reqwest::Method::GET, "../internal/save", "text/plain", None)
        .await;
    assert_eq!(status, 200);
    igor.restart().await;
    let s = store(&igor, "");
    assert_eq!(
        get_value(&s, &ns, "plugindata/fitbit").await.unwrap().0,
        json!({"client_id": "ABC123", "system": "en_GB"})
    );
    assert!(
        igor.raw_xml("plugindata/fitbit")
            .await
            .contains("au:needCapability")
    );
}

#[tokio::test]
async fn capabilities_and_credentials() {
    // Not `addstd fitbit`: with capabilities on, Igor 0.99.1 then takes
    // about 60 s before it serves requests.
    let igor = Igor::start(Options {
        capabilities: true,
        ..Default::default()
    })
    .await;
    let ns = fitbit();
    let admin = store(&igor, "username = \"admin\"\npassword = \"\"");
    let path = "identities/jack/plugindata/fitbit/token";
    let rev = admin
        .put(&ns, path, r#"{"access_token": "a"}"#, Some(0))
        .await
        .unwrap();
    assert_eq!(admin.get(&ns, path).await.unwrap().unwrap().revision, rev);
    admin
        .put(&ns, "plugindata/fitbit", r#"{"client_id": "X1"}"#, None)
        .await
        .unwrap();

    // No credentials: Igor answers 401; nothing changes.
    let anonymous = store(&igor, "");
    unavailable(anonymous.get(&ns, path).await, "401");
    unavailable(
        overwrite(&anonymous, &ns, path).await,
        "check the credentials in [store]",
    );
    unavailable(anonymous.delete(&ns, path, None).await, "401");
    // An unknown user: Igor answers 501.
    let nobody = store(&igor, "username = \"nobody\"\npassword = \"x\"");
    unavailable(nobody.get(&ns, path).await, "501");
    // A bearer token Igor cannot verify: its 404 is not "missing".
    let bearer = store(&igor, "bearer_token = \"not-a-jwt\"");
    unavailable(bearer.get(&ns, path).await, "404");
    unavailable(overwrite(&bearer, &ns, path).await, "404");
    assert_eq!(
        igor.get_json(path).await.unwrap(),
        json!({"token": {"access_token": "a"}})
    );

    // With a password set, a wrong one makes Igor 0.99.1 answer 500.
    igor.set_password("admin", "s3cret").await;
    let wrong = store(&igor, "username = \"admin\"\npassword = \"wrong\"");
    unavailable(wrong.get(&ns, path).await, "500");
    unavailable(overwrite(&wrong, &ns, path).await, "500");
    let right = store(&igor, "username = \"admin\"\npassword = \"s3cret\"");
    assert_eq!(
        get_value(&right, &ns, path).await.unwrap().0,
        json!({"access_token": "a"})
    );
}

#[tokio::test]
async fn igor_down_or_hanging() {
    // Nothing listens: connection refused.
    let port = igor_test_support::free_port();
    let refused: IgorConfig =
        toml::from_str(&format!("url = \"http://127.0.0.1:{port}\"")).unwrap();
    let s = IgorStore::new(&refused, "default").unwrap();
    let ns = fitbit();
    unavailable(s.get(&ns, "plugindata/fitbit").await, "unreachable");
    unavailable(
        s.put(&ns, "plugindata/fitbit", "{}", None).await,
        "unreachable",
    );
    unavailable(
        s.delete(&ns, "plugindata/fitbit", None).await,
        "unreachable",
    );

    // Accepts connections but never answers: the timeout applies.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    let hanging: IgorConfig =
        toml::from_str(&format!("url = \"http://{addr}\"\ntimeout_ms = 300")).unwrap();
    let s = IgorStore::new(&hanging, "default").unwrap();
    let started = std::time::Instant::now();
    unavailable(
        s.get(&ns, "plugindata/fitbit").await,
        "did not answer within 300 ms",
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // Igor stops between writes: the write fails, the data stays.
    let mut igor = Igor::start(Options::default()).await;
    let s = store(&igor, "");
    s.put(&ns, "sensors/fitbit/jack", r#"{"v": 1}"#, None)
        .await
        .unwrap();
    // Igor keeps its database in memory and saves sensors/ only hourly.
    let (status, _) = igor
        .raw(reqwest::Method::GET, "../internal/save", "text/plain", None)
        .await;
    assert_eq!(status, 200);
    igor.stop();
    unavailable(
        s.put(&ns, "sensors/fitbit/jack", r#"{"v": 2}"#, None).await,
        "unreachable",
    );
    igor.restart().await;
    assert_eq!(
        get_value(&s, &ns, "sensors/fitbit/jack").await.unwrap().0,
        json!({"v": 1})
    );
}

#[tokio::test]
async fn igor_answering_500() {
    // A stand-in answering 500 to everything, like a crashing Igor.
    let app = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "<!doctype html><title>500 Internal Server Error</title>",
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let config: IgorConfig = toml::from_str(&format!("url = \"http://{addr}\"")).unwrap();
    let s = IgorStore::new(&config, "default").unwrap();
    let ns = fitbit();
    unavailable(
        s.get(&ns, "plugindata/fitbit").await,
        "500 Internal Server Error",
    );
    unavailable(s.put(&ns, "plugindata/fitbit", "{}", None).await, "500");
}

#[tokio::test]
async fn tokens_written_to_igor_survive_an_igor_crash() {
    let mut igor = Igor::start(Options::default()).await;
    // Igor's own `_save` action runs once at start and then not for at
    // least a minute: after it, only the host's request can save.
    let mut saved_at_start = None;
    for _ in 0..300 {
        saved_at_start = igor.get_json("status/igor/save").await;
        if saved_at_start
            .as_ref()
            .is_some_and(|s| s["save"]["lastSuccess"].is_number())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saved_at_start.is_some(), "Igor's start-up save did not run");
    let s = store(&igor, "");
    let ns = fitbit();
    let token = json!({"access_token": "A2", "refresh_token": "R2"});
    let path = "identities/jack/plugindata/fitbit/token";
    s.put(&ns, path, &token.to_string(), None).await.unwrap();
    let pending = "identities/jack/plugindata/fitbit/auth";
    s.put(&ns, pending, r#"{"nonce": "n1"}"#, None)
        .await
        .unwrap();
    s.delete(&ns, pending, None).await.unwrap();
    // SIGKILL: Igor gets no chance to save on its way out.
    igor.restart().await;
    assert_eq!(get_value(&s, &ns, path).await.unwrap().0, token);
    assert_eq!(
        s.get(&ns, pending).await.unwrap(),
        None,
        "the delete was saved too"
    );
}

#[tokio::test]
async fn igor_answering_without_end_is_cut_off_while_reading() {
    // A stand-in that streams an endless answer, and one that announces
    // more than the host reads. Neither is held in memory past the limit,
    // and neither waits for the (long) timeout.
    let endless = axum::Router::new().fallback(|| async {
        let chunk = axum::body::Bytes::from(vec![b'x'; 1 << 16]);
        let stream = futures_util::stream::repeat_with(move || {
            Ok::<_, std::convert::Infallible>(chunk.clone())
        });
        axum::body::Body::from_stream(stream)
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endless_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, endless).await });
    // Announces a terabyte, sends a byte, then holds the connection.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let announcing_addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1099511627776\r\n\r\nx")
                .await;
            keep.lock().unwrap().push(socket);
        }
    });
    for addr in [endless_addr, announcing_addr] {
        let config: IgorConfig =
            toml::from_str(&format!("url = \"http://{addr}\"\ntimeout_ms = 30000")).unwrap();
        let s = IgorStore::new(&config, "default").unwrap();
        unavailable(
            s.get(&fitbit(), "plugindata/fitbit").await,
            "with more than 33554432 bytes",
        );
    }
}

#[tokio::test]
async fn redirect_base_comes_from_igor() {
    let igor = Igor::start(Options::default()).await;
    assert_eq!(
        igor_base_url(&config(&igor, "")).await.unwrap(),
        format!("http://127.0.0.1:{}", igor.port)
    );
}
