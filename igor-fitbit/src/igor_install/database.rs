//! Igor's database file and the plugin's fragment, edited as text.
//!
//! A stopped Igor keeps everything in `DIR/database.xml`, and a plugin
//! installed by `igorSetup addstd` waits in `DIR/plugins/NAME.xml` until
//! Igor's next start merges it (and creates the capabilities it asks for).
//! Both are edited by splicing at the byte ranges roxmltree reports, so the
//! rest of Igor's file stays exactly as Igor wrote it.

use std::ops::Range;

use anyhow::{Context, bail};
use roxmltree::{Document, Node};

/// The standard fitbit plugin's database fragment (Igor 0.99.1's
/// `std-plugins/fitbit/database-fragment.xml`): the action and the
/// capabilities. Carried here so that no Igor source tree is needed.
const FRAGMENT: &str = include_str!("../../../igor/plugin/database-fragment.xml");

/// Where in Igor's data a setting of the install lives.
#[derive(Clone, Copy)]
pub enum Element<'a> {
    /// `plugindata/NAME`
    PluginData(&'a str),
    /// The `actions/action` representing `sensors/NAME`.
    Action(&'a str),
}

impl Element<'_> {
    pub fn describe(&self) -> String {
        match self {
            Element::PluginData(name) => format!("plugindata/{name}"),
            Element::Action(name) => format!("the action representing sensors/{name}"),
        }
    }
}

/// Checks that `xml` is an Igor database (root `<data>`), for a clear
/// refusal before anything is written.
pub fn check_database(xml: &str) -> anyhow::Result<()> {
    let doc = Document::parse(xml).context("database.xml is not well-formed XML")?;
    let root = doc.root_element();
    if !is(root, "data") || child(root, "identities").is_none() {
        bail!("database.xml is not an Igor database (no <data> with <identities>)");
    }
    Ok(())
}

/// Whether the plugin `name` is in the database (its `plugindata/NAME`,
/// which every fitbit install has).
pub fn has_plugin(xml: &str, name: &str) -> anyhow::Result<bool> {
    let doc = Document::parse(xml)?;
    Ok(find(&doc, Element::PluginData(name)).is_some())
}

/// The text of `element`'s child `child`, if both are there.
pub fn child_text(xml: &str, element: Element, name: &str) -> anyhow::Result<Option<String>> {
    let doc = Document::parse(xml)?;
    Ok(find(&doc, element)
        .and_then(|e| child(e, name))
        .map(|c| c.text().unwrap_or("").trim().to_string()))
}

/// The fragment for the install name `name`, as `igorSetup addstd` writes
/// it, plus the forwarder's `host_url` and a name for the action (so it
/// can be run at will: `/action/NAME`).
pub fn fragment(name: &str, host_url: Option<&str>) -> anyhow::Result<String> {
    let mut xml = FRAGMENT.replace("{plugin}", name);
    if let Some(url) = host_url {
        xml = set_child(&xml, Element::PluginData(name), "host_url", Some(url))?.unwrap_or(xml);
    }
    Ok(set_child(&xml, Element::Action(name), "name", Some(name))?.unwrap_or(xml))
}

/// `xml` with `element`'s child `name` set to `value` (or removed, for
/// `None`); `None` when that changes nothing. An error when `element` is
/// missing.
pub fn set_child(
    xml: &str,
    element: Element,
    name: &str,
    value: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let doc = Document::parse(xml)?;
    let Some(parent) = find(&doc, element) else {
        bail!("{} is not in the database", element.describe());
    };
    let existing = child(parent, name);
    let current = existing.map(|c| c.text().unwrap_or("").trim());
    if current == value {
        return Ok(None);
    }
    let (range, replacement) = match (existing, value) {
        (Some(old), Some(value)) => (old.range(), format!("<{name}>{}</{name}>", escape(value))),
        (Some(old), None) => (with_leading_space(xml, old.range()), String::new()),
        (None, Some(value)) => insert_child(xml, parent, name, value),
        (None, None) => return Ok(None),
    };
    let mut edited = String::with_capacity(xml.len() + replacement.len());
    edited.push_str(&xml[..range.start]);
    edited.push_str(&replacement);
    edited.push_str(&xml[range.end..]);
    Document::parse(&edited).context("editing the database gave invalid XML")?;
    Ok(Some(edited))
}

/// Where a new last child goes, indented like its parent's lines.
fn insert_child(xml: &str, parent: Node, name: &str, value: &str) -> (Range<usize>, String) {
    let range = parent.range();
    let start_of_line = xml[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let indent: String = xml[start_of_line..range.start]
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let element = format!("<{name}>{}</{name}>", escape(value));
    let text = &xml[range.clone()];
    if text.ends_with("/>") {
        // `<fitbit own:plugin="fitbit"/>`: open it up.
        let tag = &xml[range.start..];
        let tag_name: String = tag[1..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/' && *c != '>')
            .collect();
        let slash = range.end - 2;
        let opened = format!(">\n{indent}\t{element}\n{indent}</{tag_name}>");
        (slash..range.end, opened)
    } else {
        let close = range.start + text.rfind("</").expect("a closing tag");
        // Before the whitespace that precedes the closing tag.
        let at = xml[..close].trim_end().len();
        (at..at, format!("\n{indent}\t{element}"))
    }
}

/// A child's range widened to the line break and indentation before it,
/// so that removing it leaves no blank line.
fn with_leading_space(xml: &str, range: Range<usize>) -> Range<usize> {
    let start = xml[..range.start].trim_end().len();
    start..range.end
}

fn find<'a, 'i>(doc: &'a Document<'i>, element: Element) -> Option<Node<'a, 'i>> {
    let root = doc.root_element();
    match element {
        Element::PluginData(name) => child(child(root, "plugindata")?, name),
        Element::Action(name) => {
            let representing = format!("sensors/{name}");
            child(root, "actions")?.children().find(|a| {
                is(*a, "action")
                    && child(*a, "representing")
                        .and_then(|r| r.text())
                        .map(str::trim)
                        == Some(&representing)
            })
        }
    }
}

fn child<'a, 'i>(node: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    node.children().find(|c| is(*c, name))
}

/// An element without a namespace (Igor's data; `au:`/`own:` are Igor's
/// own bookkeeping).
fn is(node: Node, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name && node.tag_name().namespace().is_none()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: &str = "<?xml version=\"1.0\" ?><data xmlns:own=\"o\">\n\t<identities/>\n\t<actions>\n\t\t<action own:plugin=\"fitbit\">\n\t\t\t<url>/plugin/fitbit?user=jack</url>\n\t\t\t<representing>sensors/fitbit</representing>\n\t\t</action>\n\t</actions>\n\t<plugindata>\n\t\t<fitbit own:plugin=\"fitbit\"/>\n\t</plugindata>\n</data>\n";

    #[test]
    fn a_setting_is_added_changed_and_removed_in_place() {
        let added = set_child(
            DB,
            Element::PluginData("fitbit"),
            "host_url",
            Some("http://a"),
        )
        .unwrap()
        .unwrap();
        assert!(
            added.contains("\t\t<fitbit own:plugin=\"fitbit\">\n\t\t\t<host_url>http://a</host_url>\n\t\t</fitbit>"),
            "{added}"
        );
        assert_eq!(
            set_child(
                &added,
                Element::PluginData("fitbit"),
                "host_url",
                Some("http://a")
            )
            .unwrap(),
            None,
            "the same value changes nothing"
        );
        let changed = set_child(
            &added,
            Element::PluginData("fitbit"),
            "host_url",
            Some("http://b"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            child_text(&changed, Element::PluginData("fitbit"), "host_url")
                .unwrap()
                .as_deref(),
            Some("http://b")
        );
        let named = set_child(&changed, Element::Action("fitbit"), "name", Some("fitbit"))
            .unwrap()
            .unwrap();
        assert!(
            named.contains("<representing>sensors/fitbit</representing>\n\t\t\t<name>fitbit</name>\n\t\t</action>"),
            "{named}"
        );
        let removed = set_child(&named, Element::PluginData("fitbit"), "host_url", None)
            .unwrap()
            .unwrap();
        assert!(!removed.contains("host_url"), "{removed}");
        assert!(removed.starts_with("<?xml version=\"1.0\" ?><data"));
    }

    #[test]
    fn the_fragment_follows_the_install_name() {
        let xml = fragment("_fitbit", Some("http://127.0.0.1:9334")).unwrap();
        assert!(!xml.contains("{plugin}"));
        assert!(
            xml.contains("<url>/plugin/_fitbit?user=jack</url>"),
            "{xml}"
        );
        assert_eq!(
            child_text(&xml, Element::PluginData("_fitbit"), "host_url")
                .unwrap()
                .as_deref(),
            Some("http://127.0.0.1:9334")
        );
        assert_eq!(
            child_text(&xml, Element::Action("_fitbit"), "name")
                .unwrap()
                .as_deref(),
            Some("_fitbit")
        );
    }

    #[test]
    fn other_files_are_not_igor_databases() {
        assert!(check_database(DB).is_ok());
        assert!(check_database("<html/>").is_err());
        assert!(check_database("not xml").is_err());
    }
}
