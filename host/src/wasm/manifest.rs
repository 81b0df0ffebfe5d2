//! What a component asks of its host, and what the operator grants it.
//!
//! A plugin describes itself in a small TOML manifest (for the built-in
//! plugin, `plugin/manifest.toml`), written into the component as the custom
//! section [`SECTION`] at build time. It names the plugin, its settings with
//! their defaults, where it connects, which URLs may receive its secrets, and
//! which of its routes need no credentials. Destinations may be written as
//! `{setting}`: the setting's value (its default, or the operator's
//! `[plugin.config]` value) decides both the URL the plugin uses and where it
//! may connect, so pointing a setting at a test server also allows it.
//!
//! The host reads the manifest at load, logs what the plugin asks for, and
//! grants it unless the operator's `[[plugin]]` entry narrows or refuses it.
//! A component without a manifest gets only what the operator configures.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::config::{EgressConfig, PluginConfig};

/// The custom section that carries a component's manifest (TOML text).
pub use crate::manifest_section::SECTION;

/// A plugin's description of itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's usual install name.
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Settings it reads from `[plugin.config]`, with their defaults.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    #[serde(default)]
    pub egress: RequestedEgress,
    /// Routes any caller may reach without credentials.
    #[serde(default, rename = "public_route")]
    pub public_routes: Vec<PublicRoute>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedEgress {
    /// Where it connects: URLs (only scheme, host and port count) or
    /// `{setting}` templates.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Exact URLs (no query) that may receive its secrets; may use templates.
    #[serde(default)]
    pub secret_urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PublicRoute {
    /// Below the plugin, e.g. `/auth2`.
    pub path: String,
    #[serde(default = "get_only")]
    pub methods: Vec<String>,
    /// Why no credential is needed (shown to the operator).
    #[serde(default)]
    pub reason: String,
    /// Whether the caller's `Authorization` header reaches the plugin here,
    /// for a route that checks a credential of its own (a webhook's shared
    /// secret). Everywhere else the host keeps it from plugins.
    #[serde(default)]
    pub pass_authorization: bool,
}

fn get_only() -> Vec<String> {
    vec!["GET".into()]
}

impl PublicRoute {
    pub fn matches(&self, method: &str, path: &str) -> bool {
        self.path == path && self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

impl Manifest {
    /// Parses and checks manifest text.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let manifest: Manifest = toml::from_str(text).context("parsing the manifest")?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The manifest carried by a component, if it has one.
    pub fn from_component(wasm: &[u8]) -> anyhow::Result<Option<Self>> {
        crate::manifest_section::read(wasm)?
            .map(Self::parse)
            .transpose()
    }

    /// `wasm` with the manifest `text` written into it, for plugin authors
    /// outside this repository (`igor-host manifest add`). The manifest must
    /// be valid and the component must not carry one already.
    pub fn embed(wasm: &[u8], text: &str) -> anyhow::Result<Vec<u8>> {
        Self::parse(text)?;
        if !wasmparser::Parser::is_component(wasm) {
            bail!("not a WebAssembly component (build for wasm32-wasip2)");
        }
        if Self::from_component(wasm)?.is_some() {
            bail!("the component already has a manifest ({SECTION} section)");
        }
        Ok(igor_build_support::manifest::with_manifest(wasm, text))
    }

    /// The interfaces a component imports (what it could ask the host for).
    pub fn imports_of(wasm: &[u8]) -> anyhow::Result<Vec<String>> {
        let mut depth = 0usize;
        let mut imports = Vec::new();
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            match payload.context("reading the component")? {
                wasmparser::Payload::Version { .. } => depth += 1,
                wasmparser::Payload::End(_) => depth = depth.saturating_sub(1),
                wasmparser::Payload::ComponentImportSection(section) if depth == 1 => {
                    for import in section {
                        imports.push(import.context("reading an import")?.name.name.to_string());
                    }
                }
                _ => {}
            }
        }
        Ok(imports)
    }

    fn validate(&self) -> anyhow::Result<()> {
        crate::config::validate_plugin_name(&self.name).context("manifest name")?;
        for key in self.config.keys() {
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bail!("manifest setting {key:?}: use letters, digits and '_'");
            }
        }
        // Resolving with the defaults checks every template and URL.
        let defaults = self.config.clone();
        for entry in &self.egress.allow {
            origin(&expand(entry, &defaults)?).with_context(|| format!("egress {entry:?}"))?;
        }
        for entry in &self.egress.secret_urls {
            secret_url(&expand(entry, &defaults)?)
                .with_context(|| format!("secret url {entry:?}"))?;
        }
        for route in &self.public_routes {
            if !route.path.starts_with('/') || route.path.contains(['?', '#']) {
                bail!(
                    "public route {:?}: give a path below the plugin, such as /auth2",
                    route.path
                );
            }
            if route.methods.is_empty() {
                bail!("public route {}: name at least one method", route.path);
            }
        }
        Ok(())
    }

    /// The settings a destination follows: `{key}` templates in it.
    pub fn settings_in(entry: &str) -> Vec<&str> {
        entry
            .split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(key, _)| key))
            .collect()
    }

    /// A readable description, for the load log and `igor-host inspect`.
    pub fn describe(&self) -> String {
        let mut out = format!("plugin {}", self.name);
        if !self.description.is_empty() {
            out.push_str(&format!(": {}", self.description));
        }
        out.push_str("\nsettings ([plugin.config]):");
        if self.config.is_empty() {
            out.push_str(" none");
        }
        for (key, default) in &self.config {
            out.push_str(&format!("\n  {key} = {default:?}"));
        }
        let templated = |entry: &str| {
            let keys = Self::settings_in(entry);
            if keys.is_empty() {
                entry.to_string()
            } else {
                let resolved = expand(entry, &self.config).unwrap_or_default();
                format!("{resolved} (follows {})", keys.join(", "))
            }
        };
        out.push_str("\nconnects to:");
        if self.egress.allow.is_empty() {
            out.push_str(" nothing");
        }
        for entry in &self.egress.allow {
            out.push_str(&format!("\n  {}", templated(entry)));
        }
        out.push_str("\nsends its secrets only to:");
        if self.egress.secret_urls.is_empty() {
            out.push_str(" nowhere");
        }
        for entry in &self.egress.secret_urls {
            out.push_str(&format!("\n  {}", templated(entry)));
        }
        out.push_str("\npublic routes (no credentials):");
        if self.public_routes.is_empty() {
            out.push_str(" none");
        }
        for route in &self.public_routes {
            out.push_str(&format!("\n  {} {}", route.methods.join(","), route.path));
            if route.pass_authorization {
                out.push_str(" (its Authorization header reaches the plugin)");
            }
            if !route.reason.is_empty() {
                out.push_str(&format!(" - {}", route.reason));
            }
        }
        out
    }
}

/// What a plugin may do once the operator's configuration is applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grant {
    /// The plugin's settings: its defaults, overridden by the operator's.
    pub config: BTreeMap<String, String>,
    pub egress: EgressConfig,
    pub public_routes: Vec<PublicRoute>,
    /// What the manifest asked for and the operator refused, for the log.
    pub refused: Vec<String>,
}

/// Applies the operator's `[[plugin]]` entry to what the manifest asks.
pub fn grant(manifest: Option<&Manifest>, plugin: &PluginConfig) -> anyhow::Result<Grant> {
    let operator = plugin.egress.clone().unwrap_or_default();
    let mut config = manifest.map(|m| m.config.clone()).unwrap_or_default();
    config.extend(plugin.config.clone());
    let mut granted = Grant {
        egress: EgressConfig {
            allow: Vec::new(),
            secret_urls: Vec::new(),
            allow_loopback: operator.allow_loopback,
            ..EgressConfig::default()
        },
        ..Grant::default()
    };
    let denied = operator
        .deny
        .iter()
        .map(|entry| origin(entry).with_context(|| format!("[plugin.egress] deny {entry:?}")))
        .collect::<anyhow::Result<BTreeSet<_>>>()?;
    if let Some(manifest) = manifest.filter(|_| operator.from_manifest) {
        for entry in &manifest.egress.allow {
            let wanted = origin(&expand(entry, &config)?)
                .with_context(|| format!("egress {entry:?} with the configured settings"))?;
            if denied.contains(&wanted) {
                granted.refused.push(format!("connecting to {wanted}"));
            } else {
                granted.egress.allow.push(wanted);
            }
        }
        for entry in &manifest.egress.secret_urls {
            let url = secret_url(&expand(entry, &config)?)
                .with_context(|| format!("secret url {entry:?} with the configured settings"))?;
            if denied.contains(&origin(&url)?) {
                granted.refused.push(format!("sending secrets to {url}"));
            } else {
                granted.egress.secret_urls.push(url);
            }
        }
    } else if let Some(manifest) = manifest {
        granted.refused.push(format!(
            "everything its manifest asks ({} destinations, {} secret URLs)",
            manifest.egress.allow.len(),
            manifest.egress.secret_urls.len()
        ));
    }
    granted.egress.allow.extend(operator.allow);
    granted.egress.secret_urls.extend(operator.secret_urls);
    dedup(&mut granted.egress.allow);
    dedup(&mut granted.egress.secret_urls);

    let requested = manifest
        .map(|m| m.public_routes.clone())
        .unwrap_or_default();
    granted.public_routes = match &plugin.public_routes {
        None => requested,
        Some(paths) => {
            for route in &requested {
                if !paths.contains(&route.path) {
                    granted
                        .refused
                        .push(format!("the public route {}", route.path));
                }
            }
            paths
                .iter()
                .map(|path| {
                    requested
                        .iter()
                        .find(|r| &r.path == path)
                        .cloned()
                        .unwrap_or_else(|| PublicRoute {
                            path: path.clone(),
                            methods: get_only(),
                            reason: "made public by the operator".into(),
                            pass_authorization: false,
                        })
                })
                .collect()
        }
    };
    granted.config = config;
    Ok(granted)
}

fn dedup(list: &mut Vec<String>) {
    let mut seen = BTreeSet::new();
    list.retain(|entry| seen.insert(entry.clone()));
}

/// Replaces each `{key}` in `entry` with the key's value.
fn expand(entry: &str, config: &BTreeMap<String, String>) -> anyhow::Result<String> {
    let mut out = entry.to_string();
    for key in Manifest::settings_in(entry) {
        let value = config.get(key).with_context(|| {
            format!("{entry:?} names the setting {key:?}, which the manifest does not declare")
        })?;
        out = out.replace(&format!("{{{key}}}"), value.trim_end_matches('/'));
    }
    Ok(out)
}

/// `scheme://host:port` of a URL (a host may start with `*.`).
fn origin(entry: &str) -> anyhow::Result<String> {
    let (scheme, rest) = entry
        .split_once("://")
        .with_context(|| format!("{entry:?} is not a URL"))?;
    let (wildcard, rest) = match rest.strip_prefix("*.") {
        Some(rest) => ("*.", rest),
        None => ("", rest),
    };
    let url = url::Url::parse(&format!("{scheme}://{rest}"))
        .with_context(|| format!("{entry:?} is not a URL"))?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .with_context(|| format!("{entry:?} has no host"))?;
    let port = url
        .port_or_known_default()
        .with_context(|| format!("{entry:?}: use http or https"))?;
    let origin = format!("{}://{wildcard}{host}:{port}", url.scheme());
    // The policy's own parser has the last word on what an entry may be.
    crate::egress::policy::AllowedHost::parse(&origin)?;
    Ok(origin)
}

fn secret_url(entry: &str) -> anyhow::Result<String> {
    let url = url::Url::parse(entry).with_context(|| format!("{entry:?} is not a URL"))?;
    if url.query().is_some() || url.fragment().is_some() {
        bail!("{entry:?}: give the URL without query or fragment");
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests;
