//! Where a plugin's manifest travels: a custom section of the component
//! (see `manifest`, which reads what it says).

use anyhow::{Context, bail};

/// The custom section holding a component's manifest (TOML), named once
/// for the build that writes it and the host that reads it.
pub use igor_build_support::manifest::SECTION;

/// The text of a component's own manifest section, if it has one.
pub fn read(wasm: &[u8]) -> anyhow::Result<Option<&str>> {
    let mut depth = 0usize;
    let mut found = None;
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        match payload.context("reading the component")? {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
            // Only the component's own section, not one of a nested module.
            wasmparser::Payload::CustomSection(section)
                if depth == 1 && section.name() == SECTION =>
            {
                if found.is_some() {
                    bail!("the component has two {SECTION} sections");
                }
                let text = std::str::from_utf8(section.data())
                    .with_context(|| format!("the {SECTION} section is not UTF-8"))?;
                found = Some(text);
            }
            _ => {}
        }
    }
    Ok(found)
}
