//! `igor-host igor install DIR` on real Igor 0.99.1 databases (made by
//! `igorSetup initialize`): what a fresh install writes, that a second run
//! changes nothing, the refusal of a directory that is no Igor database,
//! another install name, uninstall, and an Igor that already has the
//! plugin, stopped (its file is edited) and running (its REST API is used).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use igor_fitbit::builtin;
use igor_fitbit::igor_install::{Options, install, uninstall};
use igor_host::config::Config;
use igor_test_support::free_port;
use igor_test_support::real_igor::{self, Igor};

fn initialized() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("db");
    let out = Command::new(real_igor::venv().join("bin/igorSetup"))
        .arg("-d")
        .arg(&db)
        .arg("initialize")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (tmp, db)
}

/// Options for an Igor that is not running (nothing on its port).
fn stopped(name: &str) -> Options {
    let mut options = Options::new(name);
    options.igor_url = format!("http://127.0.0.1:{}", free_port());
    options.port = Some(free_port());
    options.allowed_hosts = Some(vec!["igor.local".into()]);
    options
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test]
async fn a_fresh_igor_gets_everything_once() {
    let (_tmp, db) = initialized();
    let options = stopped("fitbit");
    let first = install(&db, &options).await.unwrap();
    assert_eq!(first.changes.len(), 4, "{first:?}");
    assert!(db.join("plugins/fitbit/igorplugin.py").is_file());
    let secret = db.join("fitbit.forward_secret");
    assert_eq!(
        std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let secret = read(&secret);
    assert!(secret.len() > 40, "{secret}");
    // The fragment Igor merges at its next start, with the settings.
    let host_url = format!("http://127.0.0.1:{}", options.port.unwrap());
    let fragment = read(&db.join("plugins/fitbit.xml"));
    assert!(
        fragment.contains(&format!("<host_url>{host_url}</host_url>")),
        "{fragment}"
    );
    assert!(fragment.contains("<name>fitbit</name>"), "{fragment}");
    assert!(fragment.contains("au:needCapability"), "{fragment}");
    // The host's file is a valid configuration with Igor as its store.
    let config_path = db.join("igor-host.toml");
    assert_eq!(
        std::fs::metadata(&config_path)
            .unwrap()
            .permissions()
            .mode()
            & 0o077,
        0,
        "it holds the secret"
    );
    let config = Config::load(Some(&config_path), builtin()).unwrap();
    assert_eq!(config.server.igor_forward_secret.as_deref(), Some(&*secret));
    assert_eq!(config.server.allowed_hosts, ["igor.local"]);
    assert_eq!(config.server.listen.port(), options.port.unwrap());
    let toml = read(&config_path);
    assert!(toml.contains("backend = \"igor\""), "{toml}");
    assert!(
        toml.contains(&format!("url = \"{}\"", options.igor_url)),
        "{toml}"
    );

    let database = read(&db.join("database.xml"));
    let second = install(
        &db,
        &Options {
            port: None,
            ..options
        },
    )
    .await
    .unwrap();
    assert!(second.changes.is_empty(), "{second:?}");
    assert_eq!(read(&db.join("database.xml")), database);
    assert_eq!(read(&db.join("fitbit.forward_secret")), secret);
}

#[tokio::test]
async fn a_directory_that_is_no_igor_database_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let err = install(tmp.path(), &stopped("fitbit")).await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("is not an Igor database directory"), "{text}");
    assert!(text.contains("igorSetup -d"), "{text}");
    std::fs::write(tmp.path().join("database.xml"), "<html><body/></html>").unwrap();
    let err = install(tmp.path(), &stopped("fitbit")).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("not an Igor database"),
        "{err:#}"
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        1,
        "nothing written"
    );
    let (_tmp, db) = initialized();
    let err = install(&db, &stopped("../x")).await.unwrap_err();
    assert!(format!("{err:#}").contains("--name"), "{err:#}");
}

#[tokio::test]
async fn another_install_name_keeps_to_its_own_paths() {
    let (_tmp, db) = initialized();
    install(&db, &stopped("_fitbit")).await.unwrap();
    assert!(db.join("plugins/_fitbit/igorplugin.py").is_file());
    assert!(db.join("_fitbit.forward_secret").is_file());
    assert!(!db.join("plugins/fitbit").exists());
    let fragment = read(&db.join("plugins/_fitbit.xml"));
    assert!(
        fragment.contains("<url>/plugin/_fitbit?user=jack</url>"),
        "{fragment}"
    );
    assert!(fragment.contains("<name>_fitbit</name>"), "{fragment}");
    assert!(!fragment.contains("{plugin}"));
    let config = Config::load(Some(&db.join("igor-host.toml")), builtin()).unwrap();
    let names: Vec<String> = config
        .single_tenant_plugins(builtin())
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["_fitbit"]);
}

#[tokio::test]
async fn uninstall_puts_the_standard_plugin_back() {
    let (_tmp, db) = initialized();
    install(&db, &stopped("fitbit")).await.unwrap();
    let out = uninstall(&db, &stopped("fitbit")).await.unwrap();
    assert_eq!(out.changes.len(), 3, "{out:?}");
    let link = std::fs::read_link(db.join("plugins/fitbit")).unwrap();
    assert_eq!(link, Path::new("../std-plugins/fitbit"));
    assert!(
        db.join("plugins/fitbit/igorplugin.py").is_file(),
        "the link resolves"
    );
    assert!(!db.join("fitbit.forward_secret").exists());
    assert!(!read(&db.join("plugins/fitbit.xml")).contains("host_url"));
    assert!(
        db.join("igor-host.toml").is_file(),
        "the host's settings stay"
    );
    let again = uninstall(&db, &stopped("fitbit")).await.unwrap();
    assert!(again.changes.is_empty(), "{again:?}");
}

/// An Igor that has the standard plugin already: running, its settings go
/// through its REST API; stopped, into its database file.
#[tokio::test(flavor = "multi_thread")]
async fn an_igor_with_the_plugin_is_set_up_running_and_stopped() {
    let mut igor = Igor::start(real_igor::Options {
        capabilities: true,
        addstd: vec!["fitbit".into()],
        forwarder: false,
    })
    .await;
    let mut options = stopped("fitbit");
    options.igor_url = igor.url.clone();
    let host_url = format!("http://127.0.0.1:{}", options.port.unwrap());

    let running = install(&igor.db, &options).await.unwrap();
    assert_eq!(running.changes.len(), 5, "{running:?}");
    assert!(
        running.notes.iter().any(|n| n.contains("restart")),
        "{running:?}"
    );
    let data = igor.get_json("plugindata/fitbit/host_url").await.unwrap();
    assert_eq!(data["host_url"], host_url.as_str(), "{data}");
    let name = igor
        .get_json("actions/action[representing=\"sensors/fitbit\"]/name")
        .await
        .unwrap();
    assert_eq!(name["name"], "fitbit", "{name}");
    let again = install(&igor.db, &options).await.unwrap();
    assert!(again.changes.is_empty(), "{again:?}");

    // Uninstalled while it runs, then saved and stopped.
    uninstall(&igor.db, &options).await.unwrap();
    assert!(igor.get_json("plugindata/fitbit/host_url").await.is_none());
    let (status, body) = igor
        .raw(reqwest::Method::GET, "../internal/save", "text/plain", None)
        .await;
    assert_eq!(status, 200, "{body}");
    igor.stop();
    assert!(!read(&igor.db.join("database.xml")).contains("<host_url>"));

    // Stopped: the file is edited, and Igor reads it at its next start.
    let stopped = install(&igor.db, &options).await.unwrap();
    assert!(
        stopped
            .changes
            .iter()
            .any(|c| c.contains("host_url") && c.contains("database.xml")),
        "{stopped:?}"
    );
    igor.restart().await;
    let data = igor.get_json("plugindata/fitbit/host_url").await.unwrap();
    assert_eq!(data["host_url"], host_url.as_str(), "{data}");
    let igor_answer = reqwest::Client::new()
        .get(format!("{}/plugin/fitbit?user=jack", igor.url))
        .basic_auth("admin", Some(""))
        .send()
        .await
        .unwrap();
    // The forwarder answers (the host is not running): not the standard
    // plugin's "requires 'token' plugindata".
    let text = igor_answer.text().await.unwrap();
    assert!(!text.contains("requires 'token'"), "{text}");
}
