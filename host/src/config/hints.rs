//! Errors that name their fix, for the mistakes TOML reports obscurely.

use std::collections::BTreeSet;

/// Tables that are lists of entries (`[[plugin]]`), longest first, with
/// the key that starts an entry.
/// `{plugin}` stands for the built-in plugin's name (the plugin the
/// entry most likely configures).
const LISTS: &[(&str, &str)] = &[
    ("tenant.plugin", "name = \"{plugin}\""),
    ("tenant.action", "url = \"/plugin/{plugin}?user=jack\""),
    ("plugin", "name = \"{plugin}\""),
    ("action", "url = \"/plugin/{plugin}?user=jack\""),
    ("tenant", "id = \"smiths\""),
];

/// The usual mistake behind a parse error: a section such as
/// `[plugin.config]` (or `[plugin]`) with no `[[plugin]]` entry above it,
/// which TOML reports as a type error about `plugin`.
pub(super) fn missing_list_header(text: &str, builtin: &str) -> Option<String> {
    let mut opened = BTreeSet::new();
    for (index, line) in text.lines().enumerate() {
        let header = line.split('#').next().unwrap_or("").trim();
        if let Some(list) = header.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
            let list = list.trim();
            if list == "tenant" {
                opened.retain(|l: &String| !l.starts_with("tenant."));
            }
            opened.insert(list.to_string());
            continue;
        }
        let Some(table) = header.strip_prefix('[').and_then(|h| h.strip_suffix(']')) else {
            continue;
        };
        let table = table.trim();
        let Some((list, first_key)) = LISTS
            .iter()
            .find(|(list, _)| table == *list || table.starts_with(&format!("{list}.")))
        else {
            continue;
        };
        if !opened.contains(*list) {
            let first_key = first_key.replace("{plugin}", builtin);
            let below = if table == *list {
                format!("write [[{list}]] (two brackets) instead of [{list}]")
            } else {
                format!("put [{table}] below its entry")
            };
            return Some(format!(
                "line {}: [{table}] belongs to an entry of the [[{list}]] list, but no [[{list}]] \
                 comes before it. Start each entry with\n\n    [[{list}]]\n    {first_key}\n\n\
                 and {below}.",
                index + 1
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin_plugin::for_tests;

    fn parse(text: &str) -> anyhow::Result<crate::config::Config> {
        crate::config::Config::parse(text, &for_tests())
    }

    #[test]
    fn a_plugin_section_without_its_header_names_the_fix() {
        let err = parse(
            "[store]\nbackend = \"sqlite\"\n\n[plugin.config]\ngoogle_api_url = \"x\"\n\
             [plugin.egress]\nallow = []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("line 4: [plugin.config] belongs to"),
            "{err}"
        );
        let example = format!("\n    [[plugin]]\n    name = \"{}\"\n", for_tests().name());
        assert!(err.contains(&example), "{err}");
        let err = parse("[plugin]\nname = \"weather\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("write [[plugin]] (two brackets)"), "{err}");
        let err = parse("[[tenant]]\nid = \"a\"\n[tenant.plugin.config]\nk = \"v\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no [[tenant.plugin]] comes before it"),
            "{err}"
        );
        // A header for the wrong entry does not count for the next tenant.
        let text = "[[tenant]]\nid = \"a\"\n[[tenant.plugin]]\nname = \"p\"\n\
                    [[tenant]]\nid = \"b\"\n[tenant.plugin.config]\nk = \"v\"\n";
        assert!(missing_list_header(text, "p").is_some());
        // Correct files parse; other mistakes keep TOML's own message.
        parse("[[plugin]]\nname = \"weather\"\n[plugin.config]\nk = \"v\"\n").unwrap();
        let err = parse("nonsense = 1").unwrap_err().to_string();
        assert!(err.contains("nonsense"), "{err}");
    }
}
