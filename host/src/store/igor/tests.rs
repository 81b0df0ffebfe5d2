use super::*;

fn store() -> IgorStore {
    let config: IgorConfig = toml::from_str("url = \"http://127.0.0.1:1/data/\"").unwrap();
    IgorStore::new(&config, "default").unwrap()
}

#[test]
fn scopes_plugins_to_their_subtrees() {
    let s = store();
    let weather = Namespace::new("default", "weather");
    for (path, root) in [
        ("plugindata/weather", "plugindata/weather"),
        ("plugindata/weather/x/y", "plugindata/weather"),
        (
            "identities/jack/plugindata/weather/token",
            "identities/jack/plugindata/weather",
        ),
        ("sensors/weather/jack", "sensors/weather"),
        ("status/sensors/weather/notice", "status/sensors"),
    ] {
        assert_eq!(s.scope(&weather, path).unwrap().root, root, "{path}");
    }
    for path in [
        "plugindata",
        "plugindata/other",
        "plugindata/weatherx",
        "identities/jack",
        "identities/jack/plugindata",
        "identities/jack/plugindata/other/token",
        "identities/jack/x/weather",
        "sensors",
        "status/sensors/weather",
        "status/sensors/other/notice",
        "status/weather/notice",
        "services/igor",
        "plugindata/weather/1x",
        "plugindata/weather/a b",
        "plugindata/weather/x[1]",
        "plugindata/weather/*",
        "identities/*/plugindata/weather",
    ] {
        assert!(
            matches!(s.scope(&weather, path), Err(StoreError::InvalidPath(_))),
            "{path}"
        );
    }
    let host = Namespace::host("default");
    assert_eq!(
        s.scope(&host, "status/sensors/weather").unwrap().root,
        "status/sensors"
    );
    assert!(s.scope(&host, "status").is_err());
    assert!(s.scope(&host, "plugindata/weather").is_err());
    // A plugin may be called what the host namespace once was; it is an
    // ordinary plugin.
    let underscore = Namespace::new("default", "_host");
    assert!(s.scope(&underscore, "status/sensors/weather").is_err());
    assert_eq!(
        s.scope(&underscore, "plugindata/_host/x").unwrap().root,
        "plugindata/_host"
    );
    let other = Namespace::new("acme", "weather");
    assert!(s.scope(&other, "plugindata/weather").is_err());
}
