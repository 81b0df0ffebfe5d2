//! The files an install puts beside Igor's database: the forwarder, the
//! secret it shares with the host, and the host's configuration.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};

/// The forwarding plugin (`igor/plugin/`), carried in the binary so that an
/// install from a wheel needs nothing else.
pub const FORWARDER: &[(&str, &str)] = &[
    (
        "igorplugin.py",
        include_str!("../../../igor/plugin/igorplugin.py"),
    ),
    ("readme.md", include_str!("../../../igor/plugin/readme.md")),
    (
        "setup.html",
        include_str!("../../../igor/plugin/setup.html"),
    ),
    (
        "database-fragment.xml",
        include_str!("../../../igor/plugin/database-fragment.xml"),
    ),
];

/// A line only the forwarder's code has, to tell it from the standard
/// plugin or an owner's own before removing anything.
const FORWARDER_MARK: &str = "X-Igor-Forward-Secret";

/// What is at `DIR/plugins/NAME`.
#[derive(Debug, PartialEq)]
pub enum PluginDir {
    Missing,
    /// A symlink, as `igorSetup addstd` makes to the standard plugin.
    Symlink,
    /// The forwarder, as this version carries it.
    Forwarder,
    /// The forwarder of another version.
    OtherForwarder,
    /// Some other plugin.
    Other,
}

pub fn plugin_dir(path: &Path) -> PluginDir {
    match std::fs::symlink_metadata(path) {
        Err(_) => PluginDir::Missing,
        Ok(meta) if meta.file_type().is_symlink() => PluginDir::Symlink,
        Ok(_) => match std::fs::read_to_string(path.join("igorplugin.py")) {
            Ok(code) if !code.contains(FORWARDER_MARK) => PluginDir::Other,
            Err(_) => PluginDir::Other,
            Ok(_) => {
                let same = FORWARDER.iter().all(|(file, text)| {
                    std::fs::read_to_string(path.join(file)).is_ok_and(|t| t == *text)
                });
                if same {
                    PluginDir::Forwarder
                } else {
                    PluginDir::OtherForwarder
                }
            }
        },
    }
}

/// Puts the forwarder at `path` (a symlink to the standard plugin there is
/// replaced; a directory is rewritten file by file).
pub fn write_forwarder(path: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    }
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    for (file, text) in FORWARDER {
        std::fs::write(path.join(file), text)
            .with_context(|| format!("writing {}", path.join(file).display()))?;
    }
    Ok(())
}

/// Reads the forward secret, or writes `known` (the host's, after an
/// uninstall removed the file) or a new random one: readable by Igor's
/// user only, since whoever has it can call the host as any Igor user.
/// `Ok((secret, created))`.
pub fn forward_secret(path: &Path, known: Option<&str>) -> anyhow::Result<(String, bool)> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                    .with_context(|| format!("making {} private", path.display()))?;
            }
            Ok((text.trim().to_string(), false))
        }
        Ok(_) => bail!(
            "{} is empty: remove it to have a new one made",
            path.display()
        ),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let bytes: [u8; 32] = rand::random();
            let secret = known.map(str::to_string).unwrap_or_else(|| {
                format!(
                    "s-{}",
                    base64::Engine::encode(
                        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                        bytes
                    )
                )
            });
            write_private(path, &secret)?;
            Ok((secret, true))
        }
        Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
    }
}

/// Creates `path` with mode 0600 from the start (no moment where others
/// could read it).
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// What goes into `igor-host.toml`.
pub struct HostConfig<'a> {
    pub name: &'a str,
    pub port: u16,
    pub secret: &'a str,
    pub allowed_hosts: &'a [String],
    pub igor_url: &'a str,
    pub igor_user: &'a str,
    pub igor_password: &'a str,
}

/// The host's configuration: Igor as its store, only requests Igor
/// forwards, on loopback (Igor calls it on the same machine).
pub fn host_config(c: &HostConfig) -> String {
    let quoted = |s: &str| toml::Value::String(s.to_string()).to_string();
    let hosts: Vec<String> = c.allowed_hosts.iter().map(|h| quoted(h)).collect();
    format!(
        "# igor-host beside Igor, written by `igor-host igor install`.\n\
         # Run it with: igor-host --config THIS-FILE serve\n\
         \n\
         [server]\n\
         listen = \"127.0.0.1:{port}\"\n\
         igor_forward_secret = {secret}\n\
         # The names browsers reach Igor by, besides loopback and Igor's own URL.\n\
         allowed_hosts = [{hosts}]\n\
         \n\
         [store]\n\
         backend = \"igor\"\n\
         url = {igor_url}\n\
         username = {user}\n\
         password = {password}\n\
         \n\
         [[plugin]]\n\
         name = {name}\n",
        port = c.port,
        secret = quoted(c.secret),
        hosts = hosts.join(", "),
        igor_url = quoted(c.igor_url),
        user = quoted(c.igor_user),
        password = quoted(c.igor_password),
        name = quoted(c.name),
    )
}

/// What an existing `igor-host.toml` says, for a second run to keep it.
pub struct Existing {
    pub port: u16,
    pub secret: Option<String>,
    text: toml::Table,
    path: std::path::PathBuf,
}

impl Existing {
    /// Checks that the file is for this install: the same secret and name.
    pub fn check(&self, name: &str, secret: &str) -> anyhow::Result<()> {
        let path = &self.path;
        if self.secret.as_deref() != Some(secret) {
            bail!(
                "{}'s igor_forward_secret is not the one in the forwarder's secret file: remove \
                 one of them and run this again",
                path.display()
            );
        }
        let plugins = self.text.get("plugin").and_then(|p| p.as_array());
        let has_name = plugins.is_some_and(|ps| {
            ps.iter()
                .any(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
        });
        if !has_name {
            bail!(
                "{} has no [[plugin]] named {name:?}: it was written for another install; move \
                 it away and run this again",
                path.display()
            );
        }
        Ok(())
    }
}

pub fn existing_config(path: &Path) -> anyhow::Result<Option<Existing>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", path.display()))?;
    let server = table.get("server");
    let listen = server
        .and_then(|s| s.get("listen"))
        .and_then(|l| l.as_str())
        .and_then(|l| l.parse::<std::net::SocketAddr>().ok());
    let Some(listen) = listen else {
        bail!(
            "{} has no [server] listen address: fix or remove it",
            path.display()
        );
    };
    let secret = server
        .and_then(|s| s.get("igor_forward_secret"))
        .and_then(|s| s.as_str())
        .map(str::to_string);
    Ok(Some(Existing {
        port: listen.port(),
        secret,
        text: table,
        path: path.to_path_buf(),
    }))
}

/// The host's port: 9334 (next to Igor's 9333) when free, else any free one.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 9334))
        .or_else(|_| std::net::TcpListener::bind(("127.0.0.1", 0)))
        .context("finding a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
}

/// The names a laptop on the LAN most likely reaches this machine by: its
/// host name, and that name under `.local` (mDNS, as a Raspberry Pi
/// announces itself).
pub fn default_allowed_hosts() -> Vec<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if name.is_empty() || name == "localhost" {
        return Vec::new();
    }
    let mut names = vec![name.clone()];
    if !name.contains('.') {
        names.push(format!("{name}.local"));
    }
    names
        .into_iter()
        .filter(|n| igor_host::trusted_names::parse_allowed_host(n).is_ok())
        .collect()
}
