//! The host's layers: every module of `host/src` imports only modules of
//! its own layer or of a layer below, and no files import each other in a
//! circle of more than two.
//!
//! The test reads the sources (no compiler): a reference is any
//! `crate::NAME…` path (also inside `use crate::{…}` groups and doc links),
//! any `super::` path that climbs out of its top-level module, and, in a
//! file that declares `mod CHILD;`, any `CHILD::` path. Plain `//` comments
//! are skipped. `lib.rs` (the crate root, which only declares and
//! re-exports) is not checked. The crate has no binary: the `igor-host`
//! command, with its built-in plugin and `igor install`, is `igor-fitbit`'s,
//! above everything here. The pure modules the fuzz targets share
//! (`igor-host-pure`) stand below everything: `echo`, `egress::policy` and
//! `store::igor_xml` re-export them where they stood.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom to top. A module may import modules of its own layer
/// and of layers below it, never one above. Each name is a top-level module
/// of `host/src` (a file `NAME.rs` or a folder `NAME/`); a new module must
/// be placed here.
///
/// - leaves: small utilities that import only each other (escaping,
///   resource limits, token digests, the host's request and response, the
///   manifest's section and the built-in plugin (handed in by the binary
///   that carries it), trusted Host/Origin
///   names, which the configuration checks its `allowed_hosts` with);
/// - store: document and secret backends;
/// - config: the configuration as plain data (over the store's settings),
///   which every layer above may read; metrics, which every layer above
///   may write;
/// - egress: outbound HTTP policy and transport (reads its configuration);
/// - wasm and capabilities: the engine, the contract's bindings, the
///   runtime, and the host side of each interface a plugin imports (the
///   runtime links the capabilities; they implement the bindings);
/// - tenancy: tenants built from the configuration, and the directory;
/// - app: the assembled host and its single dispatch path;
/// - scheduling: what runs actions and follows the directory, through the
///   app's dispatch path;
/// - server: HTTP (with the admin API and peer connections).
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaves",
        &[
            "echo",
            "limits",
            "access",
            "message",
            "manifest_section",
            "builtin_plugin",
            "trusted_names",
            "instance",
        ],
    ),
    ("store", &["store"]),
    ("config", &["config", "metrics"]),
    ("egress", &["egress"]),
    ("wasm", &["wasm", "capabilities"]),
    ("tenancy", &["tenancy"]),
    ("app", &["app"]),
    ("scheduling", &["scheduling"]),
    ("server", &["server"]),
];

fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    LAYERS
        .iter()
        .enumerate()
        .find(|(_, (_, modules))| modules.contains(&module))
        .map(|(i, (name, _))| (i, *name))
}

fn src() -> PathBuf {
    crate_src("host")
}

/// `src` of a crate of this workspace, by its folder.
fn crate_src(folder: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(folder)
        .join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `store/igor.rs` is `[store, igor]`,
/// `store/mod.rs` is `[store]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" {
        parts.push(stem.to_string());
    }
    parts
}

/// The file that defines the module at `path`, or its longest prefix that
/// has one.
fn file_of(files: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| files.contains(prefix))
}

fn ident(text: &str) -> &str {
    let end = text
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(text.len());
    &text[..end]
}

/// The paths named after `crate::` at the start of `rest`: one path, or
/// each path of a `{…}` group.
fn paths_after(rest: &str) -> Vec<Vec<String>> {
    let path = |text: &str| -> Vec<String> {
        let mut segments = Vec::new();
        let mut text = text.trim_start();
        loop {
            let name = ident(text);
            if name.is_empty() || name == "self" {
                break;
            }
            segments.push(name.to_string());
            match text[name.len()..].strip_prefix("::") {
                Some(more) if !more.starts_with('{') => text = more,
                _ => break,
            }
        }
        segments
    };
    let Some(group) = rest.strip_prefix('{') else {
        return vec![path(rest)];
    };
    let mut out = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                out.push(path(&group[start..i]));
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(path(&group[start..i]));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.retain(|p| !p.is_empty());
    out
}

/// Every module path `file` refers to, with the line it does so on.
fn references(module: &[String], is_mod_file: bool, text: &str) -> Vec<(Vec<String>, String)> {
    let children: BTreeSet<String> = text
        .lines()
        .filter_map(|l| {
            let l = l
                .trim()
                .trim_start_matches("pub ")
                .trim_start_matches("pub(crate) ");
            let name = l.strip_prefix("mod ")?.strip_suffix(';')?;
            Some(name.to_string())
        })
        .collect();
    let mut out = Vec::new();
    // An inline module (`mod tests {`) adds a level for `super::`; such
    // modules stand at the end of a file.
    let mut inline = 0;
    // Test modules stand at the end of a file and are no part of its
    // structure: reading stops at them.
    for line in text.lines().take_while(|l| l.trim() != "#[cfg(test)]") {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") && !trimmed.starts_with("///") && !trimmed.starts_with("//!") {
            continue;
        }
        if trimmed.starts_with("mod ") && trimmed.ends_with('{') {
            inline += 1;
        }
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            let before = rest[..at].chars().last();
            let after = &rest[at + "crate::".len()..];
            if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
                for path in paths_after(after) {
                    out.push((path, line.trim().to_string()));
                }
            }
            rest = after;
        }
        let mut rest = line;
        while let Some(at) = rest.find("super::") {
            let before = rest[..at].chars().last();
            let mut after = &rest[at..];
            if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                let mut up = 0;
                while let Some(more) = after.strip_prefix("super::") {
                    up += 1;
                    after = more;
                }
                // The module the chain starts from: the file's own, or the
                // inline module's.
                let depth = module.len() + inline;
                if up <= depth {
                    let base: Vec<String> = module[..(depth - up).min(module.len())].to_vec();
                    for path in paths_after(after) {
                        out.push(([base.clone(), path].concat(), line.trim().to_string()));
                    }
                }
            }
            rest = &rest[at + "super::".len()..];
        }
        if is_mod_file {
            for child in &children {
                let pattern = format!("{child}::");
                let mut rest = line;
                while let Some(at) = rest.find(&pattern) {
                    let before = rest[..at].chars().last();
                    let after = &rest[at..];
                    if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
                        for path in paths_after(after) {
                            out.push(([module.to_vec(), path].concat(), line.trim().to_string()));
                        }
                    }
                    rest = &rest[at + pattern.len()..];
                }
            }
        }
    }
    out
}

struct Sources {
    root: PathBuf,
    /// Module path of each file, and its text.
    files: BTreeMap<Vec<String>, (String, String)>,
}

fn sources() -> Sources {
    sources_of(src())
}

fn sources_of(root: PathBuf) -> Sources {
    let mut paths = Vec::new();
    rust_files(&root, &mut paths);
    let mut files = BTreeMap::new();
    for path in paths {
        let relative = path.strip_prefix(&root).unwrap().to_path_buf();
        if relative == Path::new("lib.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let name = relative.to_string_lossy().replace('\\', "/");
        files.insert(module_path(&relative), (name, text));
    }
    Sources { root, files }
}

/// File-to-file imports: (from, to) → the line that imports.
fn imports(sources: &Sources) -> BTreeMap<(Vec<String>, Vec<String>), String> {
    let known: BTreeSet<Vec<String>> = sources.files.keys().cloned().collect();
    let mut edges = BTreeMap::new();
    for (module, (name, text)) in &sources.files {
        let is_mod_file = name.ends_with("mod.rs") || {
            let dir = sources.root.join(name.trim_end_matches(".rs"));
            dir.is_dir()
        };
        for (path, line) in references(module, is_mod_file, text) {
            let Some(target) = file_of(&known, &path) else {
                continue;
            };
            if &target != module {
                edges.entry((module.clone(), target)).or_insert(line);
            }
        }
    }
    edges
}

#[test]
fn imports_point_down_the_layers() {
    let sources = sources();
    let mut wrong = Vec::new();
    let mut unplaced = BTreeSet::new();
    for module in sources.files.keys() {
        if layer_of(&module[0]).is_none() {
            unplaced.insert(module[0].clone());
        }
    }
    for ((from, to), line) in imports(&sources) {
        let (Some((low, low_name)), Some((high, high_name))) =
            (layer_of(&from[0]), layer_of(&to[0]))
        else {
            continue;
        };
        if high > low {
            wrong.push(format!(
                "{} ({low_name}) imports {} ({high_name}), a higher layer: {line}",
                sources.files[&from].0, sources.files[&to].0
            ));
        }
    }
    assert!(
        unplaced.is_empty(),
        "modules in no layer (add them to LAYERS): {unplaced:?}"
    );
    assert!(
        wrong.is_empty(),
        "{} upward import(s):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

/// Top-level modules that import each other do so through at most two
/// files. (Inside one module, a `mod.rs` that re-exports its children's
/// items while they use its own is not counted.)
#[test]
fn no_circle_of_more_than_two_files_across_modules() {
    assert_no_circle_over_two(&sources());
}

/// The same rule for the plugin crate (its flow tests under `src/tests/`
/// import everything and are imported by nothing, so they close no circle).
#[test]
fn the_plugin_has_no_circle_of_more_than_two_files_across_modules() {
    let mut sources = sources_of(crate_src("plugin"));
    // Test support: the in-memory host and the flow tests.
    sources
        .files
        .retain(|module, _| module[0] != "testing" && module[0] != "tests");
    assert_no_circle_over_two(&sources);
}

fn assert_no_circle_over_two(sources: &Sources) {
    let edges = imports(sources);
    let mut next: BTreeMap<&Vec<String>, Vec<&Vec<String>>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        next.entry(from).or_default().push(to);
    }
    let mut circles = Vec::new();
    for component in strongly_connected(sources.files.keys().collect(), &next) {
        let modules: BTreeSet<&String> = component.iter().map(|m| &m[0]).collect();
        if component.len() > 2 && modules.len() > 1 {
            let names: Vec<&str> = component
                .iter()
                .map(|m| sources.files[*m].0.as_str())
                .collect();
            let ties: Vec<String> = edges
                .iter()
                .filter(|((a, b), _)| component.contains(&a) && component.contains(&b))
                .map(|((a, b), line)| {
                    format!("  {} -> {}: {line}", sources.files[a].0, sources.files[b].0)
                })
                .collect();
            circles.push(format!(
                "{} files import each other: {}\n{}",
                names.len(),
                names.join(", "),
                ties.join("\n")
            ));
        }
    }
    assert!(circles.is_empty(), "{}", circles.join("\n"));
}

/// Tarjan's strongly connected components.
fn strongly_connected<'a>(
    nodes: Vec<&'a Vec<String>>,
    next: &BTreeMap<&'a Vec<String>, Vec<&'a Vec<String>>>,
) -> Vec<Vec<&'a Vec<String>>> {
    struct State<'a> {
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        out: Vec<Vec<&'a Vec<String>>>,
    }
    fn visit<'a>(
        node: &'a Vec<String>,
        next: &BTreeMap<&'a Vec<String>, Vec<&'a Vec<String>>>,
        s: &mut State<'a>,
    ) {
        let i = s.index.len();
        s.index.insert(node, i);
        s.low.insert(node, i);
        s.stack.push(node);
        s.on_stack.insert(node);
        for &to in next.get(node).into_iter().flatten() {
            if !s.index.contains_key(to) {
                visit(to, next, s);
                let low = s.low[node].min(s.low[to]);
                s.low.insert(node, low);
            } else if s.on_stack.contains(to) {
                let low = s.low[node].min(s.index[to]);
                s.low.insert(node, low);
            }
        }
        if s.low[node] == s.index[node] {
            let mut component = Vec::new();
            loop {
                let top = s.stack.pop().unwrap();
                s.on_stack.remove(top);
                component.push(top);
                if top == node {
                    break;
                }
            }
            s.out.push(component);
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for node in nodes {
        if !s.index.contains_key(node) {
            visit(node, next, &mut s);
        }
    }
    s.out
}
