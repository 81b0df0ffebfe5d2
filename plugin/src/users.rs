//! The users this plugin serves, kept as a list at `plugindata/N/users`
//! (`{"names": [...]}`): the store has no way to list `identities`. A user
//! joins when settings are created or an authorisation starts or ends, and
//! when a run finds a token (installations older than the list); a user
//! leaves when deleted.

use serde_json::json;

use crate::errors::Result;
use crate::json::{as_list, as_text};
use crate::paths::{Paths, valid_user};
use crate::settings::document::update;
use igor_plugin_sdk::Host;

/// The names, sorted; names that are not valid user names are skipped.
pub fn list(host: &dyn Host, paths: &Paths) -> Result<Vec<String>> {
    let stored = host
        .store_get(&paths.users())
        .map_err(crate::errors::PluginError::store)?;
    let value = stored.map(|(value, _)| value).unwrap_or_default();
    let mut names: Vec<String> = value
        .get("names")
        .map(as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(as_text)
        .filter(|name| valid_user(name))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Adds `user` (a no-op when listed).
pub fn add(host: &dyn Host, paths: &Paths, user: &str) -> Result<()> {
    if list(host, paths)?.iter().any(|name| name == user) {
        return Ok(());
    }
    change(host, paths, |names| names.push(user.to_string()))
}

pub fn remove(host: &dyn Host, paths: &Paths, user: &str) -> Result<()> {
    if !list(host, paths)?.iter().any(|name| name == user) {
        return Ok(());
    }
    change(host, paths, |names| names.retain(|name| name != user))
}

fn change(host: &dyn Host, paths: &Paths, edit: impl Fn(&mut Vec<String>)) -> Result<()> {
    update(host, &paths.users(), |document| {
        let mut names: Vec<String> = document
            .get("names")
            .map(as_list)
            .unwrap_or_default()
            .iter()
            .filter_map(as_text)
            .collect();
        edit(&mut names);
        names.sort();
        names.dedup();
        document.insert("names".into(), json!(names));
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHost;

    #[test]
    fn names_are_added_once_and_removed() {
        let host = MemoryHost::default();
        let paths = Paths::new("fitbit");
        add(&host, &paths, "jill").unwrap();
        add(&host, &paths, "jack").unwrap();
        add(&host, &paths, "jack").unwrap();
        assert_eq!(list(&host, &paths).unwrap(), vec!["jack", "jill"]);
        // Igor gives a one-element list back as its element.
        host.put("plugindata/fitbit/users", json!({"names": "jack"}));
        assert_eq!(list(&host, &paths).unwrap(), vec!["jack"]);
        remove(&host, &paths, "jack").unwrap();
        assert!(list(&host, &paths).unwrap().is_empty());
        assert_eq!(
            host.get("plugindata/fitbit/users").unwrap(),
            json!({"names": []})
        );
    }
}
