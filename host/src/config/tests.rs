use super::*;
use crate::builtin_plugin::for_tests;

#[test]
fn empty_config_runs_the_builtin_component() {
    let config = Config::load(None, &for_tests()).unwrap();
    let plugins = config.single_tenant_plugins(&for_tests());
    assert_eq!(plugins.len(), 1);
    assert_eq!(plugins[0].name, for_tests().name());
    assert_eq!(plugins[0].component, None);
    assert_eq!(config.server.base_url(), "http://127.0.0.1:9333");
    let expected =
        default_data_dir(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME")).unwrap();
    assert_eq!(config.store_path(), expected.join("store.sqlite"));
    assert!(config.store_path().is_absolute());
}

#[test]
fn the_data_directory_follows_xdg() {
    let dir = |xdg: Option<&str>, home: Option<&str>| {
        default_data_dir(xdg.map(Into::into), home.map(Into::into))
    };
    assert_eq!(
        dir(Some("/x/data"), Some("/home/me")).unwrap(),
        PathBuf::from("/x/data/igor-host")
    );
    assert_eq!(
        dir(None, Some("/home/me")).unwrap(),
        PathBuf::from("/home/me/.local/share/igor-host")
    );
    // A relative XDG_DATA_HOME is invalid and ignored.
    assert_eq!(
        dir(Some("rel"), Some("/home/me")).unwrap(),
        PathBuf::from("/home/me/.local/share/igor-host")
    );
    let err = dir(None, None).unwrap_err().to_string();
    assert!(err.contains("set data_dir"), "{err}");
}

#[test]
fn relative_paths_are_taken_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("host.toml");
    std::fs::write(
        &file,
        "data_dir = \"state\"\n[store]\nbackend = \"sqlite\"\npath = \"db/s.sqlite\"\n\
         [[plugin]]\nname = \"x\"\ncomponent = \"x.wasm\"\n",
    )
    .unwrap();
    let config = Config::load(Some(&file), &for_tests()).unwrap();
    let base = std::path::absolute(dir.path()).unwrap();
    assert_eq!(config.data_dir, base.join("state"));
    assert_eq!(config.store_path(), base.join("db/s.sqlite"));
    assert_eq!(
        config.single_tenant_plugins(&for_tests())[0].component,
        Some(base.join("x.wasm"))
    );
    // Without data_dir: the user's data directory, not the file's.
    let mut config = Config::parse("", &for_tests()).unwrap();
    config
        .resolve_paths(Some(&base), || Ok(PathBuf::from("/home/me/d")))
        .unwrap();
    assert_eq!(config.data_dir, PathBuf::from("/home/me/d"));
    std::fs::write(&file, "data_dir = \"/abs\"").unwrap();
    assert_eq!(
        Config::load(Some(&file), &for_tests()).unwrap().data_dir,
        PathBuf::from("/abs")
    );
}

#[test]
fn parses_a_full_config() {
    let config: Config = toml::from_str(
        r#"
        data_dir = "/var/lib/igor-host"
        [server]
        listen = "0.0.0.0:8080"
        base_url = "https://igor.example/"
        [owner]
        token_sha256 = ["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]
        [store]
        backend = "sqlite"
        path = "/tmp/x.sqlite"
        [[plugin]]
        name = "weather"
        config = { api_url = "http://127.0.0.1:1234" }
        egress = { allow = ["http://127.0.0.1:1234"], allow_loopback = true }
        [[action]]
        interval = 36000
        url = "/plugin/weather?user=jack"
        representing = "sensors/weather"
        "#,
    )
    .unwrap();
    config.validate().unwrap();
    assert_eq!(config.server.base_url(), "https://igor.example");
    assert_eq!(config.store_path(), PathBuf::from("/tmp/x.sqlite"));
    assert_eq!(config.actions[0].interval, 36000);
    assert!(
        config.single_tenant_plugins(&for_tests())[0]
            .egress
            .as_ref()
            .unwrap()
            .allow_loopback
    );
}

#[test]
fn plugin_names_are_what_igor_accepts() {
    let longest = format!("_{}", "a".repeat(MAX_NAME_LEN - 1));
    for good in [
        "weather",
        "_weather",
        "_host",
        "We.ather-2_x",
        "a",
        &longest,
    ] {
        validate_plugin_name(good).unwrap();
    }
    let too_long = format!("{longest}a");
    for bad in [
        "", "../x", "1x", "-x", ".x", "a/b", "a b", "a:b", "wéather", &too_long,
    ] {
        assert!(validate_plugin_name(bad).is_err(), "{bad:?}");
    }
    validate_tenant_id("smiths-2").unwrap();
    for bad in ["_t", "a.b", "", "a/b"] {
        assert!(validate_tenant_id(bad).is_err(), "{bad:?}");
    }
    assert!(toml::from_str::<Config>("nonsense = 1").is_err());
}

#[test]
fn tenants_in_the_database_need_postgres_and_a_long_enough_lease() {
    let database = "[tenant_directory]\nsource = \"database\"\n";
    let postgres = "[store]\nbackend = \"postgres\"\nurl = \"postgres://igor@db/igor\"\n";
    let load =
        |text: &str| Config::parse(text, &for_tests()).and_then(|c| c.validate().map(|()| c));
    let err = |text: &str| format!("{:#}", load(text).unwrap_err());
    assert!(
        err(database).contains("backend = \"postgres\""),
        "{}",
        err(database)
    );
    let config = load(&format!("{database}{postgres}")).unwrap();
    assert!(config.multi_tenant() && config.has_credentials());
    assert_eq!(config.tenant_directory.poll_ms, 1000);
    let with_file_tenant = format!("{database}{postgres}[[tenant]]\nid = \"a\"\n");
    assert!(err(&with_file_tenant).contains("remove [[tenant]]"));
    let short_lease = format!(
        "{database}{postgres}[scheduler]\nlease_seconds = 10\n[limits]\nrequest_timeout_ms = 30000\n"
    );
    assert!(
        err(&short_lease).contains("lease_seconds"),
        "{}",
        err(&short_lease)
    );
}

/// Tests write their configurations as `Config` values; what they
/// serialise must read back as the same configuration.
#[test]
fn a_serialised_config_reads_back_the_same() {
    let text = "[server]\nigor_forward_secret = \"s\"\n[limits]\nmax_log_lines = 5\n\
        [[tenant]]\nid = \"t\"\nstore = { backend = \"sqlite\", path = \"/t.sqlite\" }\n\
        [[tenant.plugin]]\nname = \"p\"\nconfig = { a = \"b\" }\negress = { allow_loopback = true }\n\
        [[tenant.action]]\ninterval = 60\nurl = \"/plugin/p\"\n";
    for config in [
        Config::default(),
        Config::parse(text, &for_tests()).unwrap(),
    ] {
        let written = toml::to_string(&config).unwrap();
        let again = toml::to_string(&Config::parse(&written, &for_tests()).unwrap()).unwrap();
        assert_eq!(written, again);
    }
    let written = toml::to_string(&Config::parse(text, &for_tests()).unwrap()).unwrap();
    assert!(!written.contains("[store]"), "{written}");
    assert!(written.contains("max_log_lines = 5"), "{written}");
}

#[test]
fn store_section_selects_igor() {
    let text = "[store]\nbackend = \"igor\"\nurl = \"http://127.0.0.1:9333\"\nusername = \"admin\"\ntimeout_ms = 2000\n";
    let config: Config = toml::from_str(text).unwrap();
    let StoreConfig::Igor(igor) = &config.store else {
        panic!("{:?}", config.store)
    };
    assert_eq!(
        (igor.base().as_str(), igor.timeout_ms),
        ("http://127.0.0.1:9333", 2000)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    // Secrets stay in the host's own SQLite file.
    let config = Config::load(Some(&path), &for_tests()).unwrap();
    assert_eq!(config.store_path(), config.data_dir.join("store.sqlite"));
    std::fs::write(&path, format!("{text}[[tenant]]\nid = \"acme\"\n")).unwrap();
    assert!(
        Config::load(Some(&path), &for_tests()).is_err(),
        "no tenants on one Igor"
    );
    std::fs::write(&path, format!("{text}nope = 1\n")).unwrap();
    assert!(Config::load(Some(&path), &for_tests()).is_err());
}
