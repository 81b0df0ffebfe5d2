//! What a request target addresses, parsed in one place for every way a
//! request arrives (the listener, `call`, the scheduler): the tenant of a
//! `/tenants/ID/...` target, and the plugin and sub-path of
//! `/plugin/NAME/SUB?QUERY`.

use crate::echo::echo;
use crate::message::HostResponse;

/// `/plugin/NAME[/SUB][?QUERY]`, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginTarget<'a> {
    /// The path without the query.
    pub path: &'a str,
    pub query: &'a str,
    /// The plugin's name and the path below it (at least `/`), when the
    /// path is below `/plugin/`.
    pub plugin: Option<(&'a str, String)>,
}

impl<'a> PluginTarget<'a> {
    pub fn parse(target: &'a str) -> Self {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let plugin = path
            .strip_prefix("/plugin/")
            .map(|rest| match rest.split_once('/') {
                Some((name, sub)) => (name, format!("/{sub}")),
                None => (rest, "/".to_string()),
            });
        PluginTarget {
            path,
            query,
            plugin,
        }
    }
}

/// The tenant id of a target below `/tenants/` and the target inside it;
/// `None` for any other target.
pub fn split_tenant(target: &str) -> Option<(&str, &str)> {
    let rest = target.strip_prefix("/tenants/")?;
    Some(rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len())))
}

/// The answer to a path that addresses no plugin.
pub fn not_a_plugin_path() -> HostResponse {
    HostResponse::text(404, "Not found: plugins live under /plugin/NAME\n")
}

/// The answer to a plugin name not installed: the name echoed bounded.
pub fn no_such_plugin(name: &str) -> HostResponse {
    HostResponse::text(
        404,
        &format!("No plugin named {:?} is installed\n", echo(name)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_name_sub_path_and_query() {
        let t = PluginTarget::parse("/plugin/weather/auth2?code=1&state=2");
        assert_eq!(t.path, "/plugin/weather/auth2");
        assert_eq!(t.query, "code=1&state=2");
        assert_eq!(t.plugin, Some(("weather", "/auth2".to_string())));
        let t = PluginTarget::parse("/plugin/weather?user=jack");
        assert_eq!(t.plugin, Some(("weather", "/".to_string())));
        assert_eq!(
            PluginTarget::parse("/plugin/weather/").plugin.unwrap().1,
            "/"
        );
        assert_eq!(PluginTarget::parse("/healthz").plugin, None);
        assert_eq!(PluginTarget::parse("/pluginx/a").plugin, None);
    }

    #[test]
    fn tenant_prefix() {
        assert_eq!(
            split_tenant("/tenants/smith/plugin/weather"),
            Some(("smith", "/plugin/weather"))
        );
        assert_eq!(split_tenant("/tenants/smith?x=1"), Some(("smith", "?x=1")));
        assert_eq!(split_tenant("/plugin/weather"), None);
    }

    #[test]
    fn an_unknown_plugin_name_is_echoed_bounded() {
        let long = "n".repeat(10_000);
        let answer = no_such_plugin(&long);
        assert_eq!(answer.status, 404);
        assert!(answer.body.len() < 1_000, "{}", answer.body.len());
    }
}
