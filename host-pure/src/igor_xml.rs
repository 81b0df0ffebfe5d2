//! What crosses the wire to and from Igor: its JSON read back as documents,
//! documents written as the XML elements Igor would build, the hidden
//! (`au:`/`own:`) parts a write keeps, and revisions as content hashes. Pure
//! functions without I/O, fuzzed in `fuzz/`; errors are texts the store
//! turns into its own.
//!
//! # Documents
//! Igor stores XML and converts to and from JSON; the conversion is lossy and
//! **what `get` returns is what Igor returns**, not what was written. Plugin
//! readers must cope (the original Python plugin had to as well):
//! - a one-element list reads back as its only element (`"scope": ["weight"]`
//!   → `"scope": "weight"`), an empty list disappears;
//! - numeric-looking strings read back as numbers (`"client_id": "0123"` →
//!   `123`; Python's `int()`/`float()` decide, so `"1_000"` → `1000`),
//!   `"true"`/`"false"`/`"null"` as booleans and null;
//! - `false`, `null`, `""` and `{}` all read back as `{}`; leading and
//!   trailing white space of text is dropped; characters XML cannot hold are
//!   dropped;
//! - the strings `"nan"`, `"inf"`, `"1e400"`... make Igor answer with
//!   non-JSON `NaN`/`Infinity`; they are read back as the strings `"NaN"`,
//!   `"Infinity"` and `"-Infinity"`;
//! - a scalar document (a string or number at top level) is stored as the
//!   element's text and reads back converted as above.
//!
//! Refused with `InvalidJson` (naming the key): object keys that are not XML
//! names (Igor would escape them as `<_e _e="...">` and read back a
//! different shape; `#text` and `@attr` keys are refused too), a list at top
//! level or directly inside a list (Igor would store its Python `repr`).
//!
//! Writes are sent as XML (`Content-Type: application/xml`, built here the way
//! Igor builds elements from JSON), never with query parameters (Igor would
//! store the parameters instead of the body). Sending XML lets a write keep
//! what Igor hides from JSON readers: an element's `own:` attributes and its
//! `au:` children (for example the capabilities `igorSetup addstd` puts on
//! `plugindata/weather`), which a plain JSON `PUT` would silently drop.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Igor's namespaces for hidden data (`xmlDatabase.py`, `access`).
pub const NAMESPACES: &[(&str, &str)] = &[
    ("au", "http://jackjansen.nl/igor/authentication"),
    ("own", "http://jackjansen.nl/igor/owner"),
];

/// XML element names as Igor accepts them unescaped.
pub fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Refuses what Igor cannot hold faithfully (see `igor.rs`).
pub fn check_document(value: &Value) -> Result<(), String> {
    if value.is_array() {
        return Err("Igor cannot hold a list as a whole document; put it in an object".into());
    }
    fn walk(value: &Value, at: &str) -> Result<(), String> {
        match value {
            Value::Object(map) => {
                for (key, child) in map {
                    // Keys are the plugin's input: quoted in messages, bounded.
                    let quoted: String = key.chars().take(64).collect();
                    if !is_xml_name(key) {
                        return Err(format!(
                            "key {quoted:?}{at} is not an XML element name (letters, digits, \
                             '_', '-', '.', starting with a letter or '_'), which Igor needs"
                        ));
                    }
                    walk(child, &format!(" (in {quoted:?})"))?;
                }
                Ok(())
            }
            Value::Array(items) => {
                for item in items {
                    if item.is_array() {
                        return Err(format!("a list inside a list{at} cannot be stored in Igor"));
                    }
                    walk(item, at)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
    walk(value, "")
}

/// What a write must keep of an existing element.
#[derive(Default, Debug, PartialEq)]
pub struct Hidden {
    /// `(prefix, local name, value)` of namespaced attributes.
    pub attributes: Vec<(String, String, String)>,
    /// Namespaced child elements, as XML text.
    pub children: Vec<String>,
}

pub fn hidden_parts_of(raw: &str) -> Result<Hidden, String> {
    let raw = raw.trim();
    let raw = match raw.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, r)| r).unwrap_or(rest).trim(),
        None => raw,
    };
    // Igor's raw answer uses the au:/own: prefixes without declaring them.
    let declarations: String = NAMESPACES
        .iter()
        .map(|(prefix, uri)| format!(" xmlns:{prefix}=\"{uri}\""))
        .collect();
    let open = format!("<igor-host-wrapper{declarations}>");
    let wrapped = format!("{open}{raw}</igor-host-wrapper>");
    let doc = roxmltree::Document::parse(&wrapped).map_err(|e| e.to_string())?;
    let element = doc
        .root_element()
        .children()
        .find(|n| n.is_element())
        .ok_or("no element in Igor's answer")?;
    let prefix_of = |uri: &str| {
        NAMESPACES
            .iter()
            .find(|(_, u)| *u == uri)
            .map(|(p, _)| p.to_string())
    };
    let mut hidden = Hidden::default();
    for attribute in element.attributes() {
        if let Some(uri) = attribute.namespace() {
            let prefix = prefix_of(uri).ok_or_else(|| format!("unknown namespace {uri}"))?;
            hidden.attributes.push((
                prefix,
                attribute.name().to_string(),
                attribute.value().into(),
            ));
        }
    }
    for child in element.children().filter(|n| n.is_element()) {
        if child.tag_name().namespace().is_some() {
            let text = &wrapped[child.range()];
            if !NAMESPACES
                .iter()
                .any(|(prefix, _)| text.starts_with(&format!("<{prefix}:")))
            {
                // Characters, not bytes: a cut inside one would panic.
                let start: String = text.chars().take(40).collect();
                return Err(format!("unexpected namespaced element {start}"));
            }
            hidden.children.push(text.to_string());
        }
    }
    Ok(hidden)
}

/// The element Igor would build from `{tag: value}` (`elementFromTagAndData`),
/// with `hidden` kept.
pub fn to_xml(tag: &str, value: &Value, hidden: &Hidden) -> String {
    let mut out = format!("<{tag}");
    if !hidden.attributes.is_empty() || !hidden.children.is_empty() {
        for (prefix, uri) in NAMESPACES {
            out.push_str(&format!(" xmlns:{prefix}=\"{uri}\""));
        }
    }
    for (prefix, name, value) in &hidden.attributes {
        out.push_str(&format!(" {prefix}:{name}=\"{}\"", escape(value)));
    }
    out.push('>');
    for child in &hidden.children {
        out.push_str(child);
    }
    content(value, &mut out);
    out.push_str(&format!("</{tag}>"));
    out
}

fn content(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match child {
                    Value::Array(items) => {
                        for item in items {
                            element(key, item, out);
                        }
                    }
                    other => element(key, other, out),
                }
            }
        }
        Value::String(text) => out.push_str(&escape(text)),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) | Value::Null | Value::Array(_) => {}
    }
}

fn element(tag: &str, value: &Value, out: &mut String) {
    out.push_str(&format!("<{tag}>"));
    content(value, out);
    out.push_str(&format!("</{tag}>"));
}

/// Escapes text and attribute values; drops characters XML 1.0 cannot hold
/// (as Igor does) and keeps carriage returns.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// Python's `json.dumps` writes `NaN`, `Infinity` and `-Infinity` for
/// non-finite floats; read them as strings.
pub fn quote_non_finite(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.contains("NaN") && !json.contains("Infinity") {
        return json.into();
    }
    let mut out = String::with_capacity(json.len() + 8);
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = json;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if let Some(token) = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|t| rest.starts_with(t))
        {
            out.push_str(&format!("\"{token}\""));
            rest = &rest[token.len()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.into()
}

/// Keys sorted at every level, whatever serde_json's map order.
pub fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut sorted = Map::new();
            for key in keys {
                sorted.insert(key.clone(), canonical(&map[key]));
            }
            Value::Object(sorted)
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

/// First 8 bytes of SHA-256, never 0.
pub fn revision_of(canonical_json: &str) -> u64 {
    let digest = Sha256::digest(canonical_json.as_bytes());
    let revision = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"));
    revision.max(1)
}

/// Flask's own 404 page: the element does not exist. Igor's other 404s
/// (e.g. "404 No shared key found" for a bad bearer token) are errors.
pub fn is_plain_not_found(body: &str) -> bool {
    body.trim().is_empty() || body.contains("<title>404 Not Found</title>")
}

/// A short, one-line version of an answer body for messages.
pub fn summarise(body: &str) -> String {
    let text = match (body.find("<title>"), body.find("</title>")) {
        (Some(start), Some(end)) if start < end => &body[start + 7..end],
        _ => body,
    };
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut short: String = line.chars().take(300).collect();
    if short.len() < line.len() {
        short.push('…');
    }
    if short.is_empty() {
        "(empty answer)".into()
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_igor_mangles() {
        for bad in [
            r#"[1,2]"#,
            r#"{"a b": 1}"#,
            r##"{"#text": 1}"##,
            r#"{"@id": 1}"#,
            r#"{"x": {"1": 2}}"#,
            r#"{"x": [[1], [2]]}"#,
            r#"{"x": [{"ok": 1}, {"no:pe": 2}]}"#,
        ] {
            let value: Value = serde_json::from_str(bad).unwrap();
            assert!(check_document(&value).is_err(), "{bad}");
        }
        for good in [
            r#""text""#,
            "12",
            "null",
            r#"{"a": [1, {"b": []}], "c.d-e_f": {}}"#,
        ] {
            let value: Value = serde_json::from_str(good).unwrap();
            assert_eq!(check_document(&value), Ok(()), "{good}");
        }
    }

    #[test]
    fn builds_xml_like_igor() {
        let value = serde_json::json!({
            "s": "a<b&c\"d\r\n\u{1}", "n": 1.5, "t": true, "f": false, "z": null,
            "l": [1, {"k": "v"}], "e": {}
        });
        let xml = to_xml("token", &value, &Hidden::default());
        assert!(
            xml.starts_with("<token>") && xml.ends_with("</token>"),
            "{xml}"
        );
        for part in [
            "<s>a&lt;b&amp;c&quot;d&#13;\n</s>",
            "<n>1.5</n>",
            "<t>true</t>",
            "<f></f>",
            "<z></z>",
            "<l>1</l><l><k>v</k></l>",
            "<e></e>",
        ] {
            assert!(xml.contains(part), "{part} in {xml}");
        }
        assert_eq!(
            to_xml("x", &serde_json::json!("7"), &Hidden::default()),
            "<x>7</x>"
        );
    }

    #[test]
    fn keeps_hidden_parts() {
        let raw = r#"<weather own:plugin="weather"><au:needCapability><obj>/data/plugindata/weather</obj><get>descendant-or-self</get></au:needCapability><client_id>1</client_id><au:capability><cid>c1</cid></au:capability></weather>"#;
        let hidden = hidden_parts_of(raw).unwrap();
        assert_eq!(
            hidden.attributes,
            vec![("own".into(), "plugin".into(), "weather".into())]
        );
        assert_eq!(hidden.children.len(), 2);
        assert!(hidden.children[0].starts_with("<au:needCapability><obj>"));
        assert_eq!(
            hidden.children[1],
            "<au:capability><cid>c1</cid></au:capability>"
        );
        let xml = to_xml("weather", &serde_json::json!({"client_id": "2"}), &hidden);
        assert!(xml.starts_with("<weather xmlns:au="), "{xml}");
        assert!(xml.contains(" own:plugin=\"weather\">"), "{xml}");
        roxmltree::Document::parse(&xml).unwrap();
        assert_eq!(
            hidden_parts_of("<x><y>1</y></x>").unwrap(),
            Hidden::default()
        );
    }

    #[test]
    fn reads_python_non_finite_numbers() {
        let text =
            r#"{"b": {"n": NaN, "i": Infinity, "m": -Infinity, "s": "NaN \" Infinity", "k": 1}}"#;
        let value: Value = serde_json::from_str(&quote_non_finite(text)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"b": {"n": "NaN", "i": "Infinity", "m": "-Infinity", "s": "NaN \" Infinity", "k": 1}})
        );
    }

    #[test]
    fn revisions_are_content_hashes() {
        let a = canonical(&serde_json::json!({"b": 1, "a": {"d": 2, "c": 3}})).to_string();
        assert_eq!(a, r#"{"a":{"c":3,"d":2},"b":1}"#);
        assert_eq!(revision_of(&a), revision_of(&a));
        assert_ne!(revision_of(&a), revision_of("{}"));
        assert_ne!(revision_of(&a), 0);
    }

    #[test]
    fn summarises_answers() {
        assert_eq!(
            summarise("<!doctype html>\n<title>500 Internal Server Error</title><p>x</p>"),
            "500 Internal Server Error"
        );
        assert_eq!(summarise("401 Unauthorized\n"), "401 Unauthorized");
    }
}
