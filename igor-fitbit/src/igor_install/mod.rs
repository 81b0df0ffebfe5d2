//! `igor-host igor install DIR`: the README's manual "Use with Igor" steps
//! for the Igor database directory DIR in one idempotent command, so an
//! owner who installed the wheel into Igor's venv needs neither this
//! repository nor a Rust toolchain; `igor uninstall` puts the standard
//! plugin back.
//!
//! [`database`] edits Igor's data (the stopped Igor's file, or the fragment
//! Igor merges at its next start), [`running`] the same through a running
//! Igor's REST API, [`files`] writes the forwarder, the secret and the
//! host's configuration, [`systemd`] the unit that runs the host.

pub mod database;
pub mod files;
pub mod running;
pub mod systemd;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use database::Element;
use files::PluginDir;
use running::RunningIgor;

/// What the owner asked for.
#[derive(Clone, Debug)]
pub struct Options {
    /// The plugin's install name in Igor (`fitbit`, or e.g. `_fitbit`).
    pub name: String,
    /// Where Igor listens, for the host's store and to see whether it runs.
    pub igor_url: String,
    pub igor_user: String,
    pub igor_password: String,
    /// The host's port; by default the one an earlier install chose, else
    /// 9334 if free, else any free port.
    pub port: Option<u16>,
    /// `[server] allowed_hosts`; by default this machine's names.
    pub allowed_hosts: Option<Vec<String>>,
}

impl Options {
    pub fn new(name: &str) -> Self {
        Options {
            name: name.into(),
            igor_url: "http://127.0.0.1:9333".into(),
            igor_user: "admin".into(),
            igor_password: String::new(),
            port: None,
            allowed_hosts: None,
        }
    }
}

/// What a run did: one line per change (none on a second run), and what
/// the owner should know or do next.
#[derive(Debug, Default)]
pub struct Outcome {
    pub changes: Vec<String>,
    pub notes: Vec<String>,
    /// The host's configuration file.
    pub config: PathBuf,
}

/// The paths of one install.
struct Install {
    dir: PathBuf,
    name: String,
}

impl Install {
    fn new(dir: &Path, name: &str) -> anyhow::Result<Self> {
        // Igor paths and file names follow the name: it must be an XML name.
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !valid {
            bail!(
                "--name {name:?}: an Igor plugin name is a letter or _ then letters, digits, - _ ."
            );
        }
        let database = dir.join("database.xml");
        let xml = std::fs::read_to_string(&database).map_err(|_| {
            anyhow::anyhow!(
                "{} is not an Igor database directory: it has no readable database.xml (a new one \
                 is made by `igorSetup -d {} initialize`)",
                dir.display(),
                dir.display()
            )
        })?;
        database::check_database(&xml)
            .with_context(|| format!("{} is not an Igor database directory", dir.display()))?;
        let dir = dir
            .canonicalize()
            .with_context(|| format!("resolving {}", dir.display()))?;
        Ok(Install {
            dir,
            name: name.into(),
        })
    }

    fn database(&self) -> PathBuf {
        self.dir.join("database.xml")
    }
    fn plugin_dir(&self) -> PathBuf {
        self.dir.join("plugins").join(&self.name)
    }
    /// Where `igorSetup addstd` leaves a fragment for Igor's next start.
    fn pending_fragment(&self) -> PathBuf {
        self.dir.join("plugins").join(format!("{}.xml", self.name))
    }
    fn secret(&self) -> PathBuf {
        self.dir.join(format!("{}.forward_secret", self.name))
    }
    fn config(&self) -> PathBuf {
        self.dir.join("igor-host.toml")
    }
    fn show(&self, path: &Path) -> String {
        path.display().to_string()
    }
    fn action_name_path(&self) -> String {
        format!(
            "actions/action[representing=\"sensors/{}\"]/name",
            self.name
        )
    }
    fn host_url_path(&self) -> String {
        format!("plugindata/{}/host_url", self.name)
    }
    fn stop_hint(&self, igor: &RunningIgor) -> String {
        format!(
            "stop it first (`igorControl -u {}/data/ --credentials admin: stop`), run this again, \
             then start Igor",
            igor.url()
        )
    }
}

/// What install and uninstall start from: the install's paths, an empty
/// outcome, and the Igor running at `options.igor_url`, if one is.
async fn begin(
    dir: &Path,
    options: &Options,
) -> anyhow::Result<(Install, Outcome, Option<RunningIgor>)> {
    let install = Install::new(dir, &options.name)?;
    let out = Outcome {
        config: install.config(),
        ..Default::default()
    };
    let igor = RunningIgor::find(
        &options.igor_url,
        &options.igor_user,
        &options.igor_password,
    )
    .await?;
    Ok((install, out, igor))
}

/// Installs igor-host as the plugin `options.name` of the Igor in `dir`.
pub async fn install(dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let (install, mut out, igor) = begin(dir, options).await?;
    let name = &install.name;
    let xml = std::fs::read_to_string(install.database())?;
    let in_database = match &igor {
        Some(igor) => igor.get(&format!("plugindata/{name}")).await?.is_some(),
        None => database::has_plugin(&xml, name)?,
    };
    if let (Some(igor), false) = (&igor, in_database) {
        // Its database fragment (action, capabilities) is merged only when
        // Igor starts, and a running Igor would save over a file edit.
        bail!(
            "Igor is running at {} and has no {name} plugin yet: {}",
            igor.url(),
            install.stop_hint(igor)
        );
    }
    let plugin_dir = install.plugin_dir();
    let current = files::plugin_dir(&plugin_dir);
    if current == PluginDir::Other {
        bail!(
            "{} holds a plugin that is neither Igor's standard fitbit plugin nor the forwarder: \
             move it away (or choose another --name) and run this again",
            install.show(&plugin_dir)
        );
    }

    // The secret the forwarder and the host share, then the host's file.
    let existing = files::existing_config(&install.config())?;
    let known = existing.as_ref().and_then(|e| e.secret.as_deref());
    let (secret, created) = files::forward_secret(&install.secret(), known)?;
    if created {
        owned_like_dir(&install.dir, &install.secret());
        out.changes.push(format!(
            "created {} (mode 0600)",
            install.show(&install.secret())
        ));
    }
    let port = match existing {
        Some(existing) => {
            existing.check(name, &secret)?;
            let port = existing.port;
            if options.port.is_some_and(|p| p != port) {
                bail!(
                    "{} already has the host on port {port}: edit it there (and host_url in Igor), \
                     or remove it to start over",
                    install.show(&install.config())
                );
            }
            port
        }
        None => {
            let port = match options.port {
                Some(port) => port,
                None => files::free_port()?,
            };
            let allowed_hosts = options
                .allowed_hosts
                .clone()
                .unwrap_or_else(files::default_allowed_hosts);
            for host in &allowed_hosts {
                igor_host::trusted_names::parse_allowed_host(host)?;
            }
            let text = files::host_config(&files::HostConfig {
                name,
                port,
                secret: &secret,
                allowed_hosts: &allowed_hosts,
                igor_url: options.igor_url.trim_end_matches('/'),
                igor_user: &options.igor_user,
                igor_password: &options.igor_password,
            });
            // It holds the forward secret (and Igor's password).
            files::write_private(&install.config(), &text)?;
            owned_like_dir(&install.dir, &install.config());
            out.changes.push(format!(
                "wrote {} (host on 127.0.0.1:{port}, allowed_hosts {allowed_hosts:?})",
                install.show(&install.config())
            ));
            port
        }
    };
    let host_url = format!("http://127.0.0.1:{port}");

    if current != PluginDir::Forwarder {
        files::write_forwarder(&plugin_dir)?;
        owned_like_dir(&install.dir, &plugin_dir);
        for (file, _) in files::FORWARDER {
            owned_like_dir(&install.dir, &plugin_dir.join(file));
        }
        out.changes.push(format!(
            "put the forwarder in {}{}",
            install.show(&plugin_dir),
            match current {
                PluginDir::Missing => "",
                PluginDir::OtherForwarder => " (updated)",
                _ => " (in place of the standard plugin)",
            }
        ));
        if let Some(igor) = &igor {
            out.notes.push(format!(
                "Igor at {} still runs the plugin code it loaded: restart it to use the forwarder",
                igor.url()
            ));
        }
    }

    match &igor {
        Some(igor) => set_through_rest(&install, igor, &host_url, &mut out).await?,
        None if in_database => set_in_file(&install, &xml, &host_url, &mut out)?,
        None => {
            let fragment = database::fragment(name, Some(&host_url))?;
            let pending = install.pending_fragment();
            if std::fs::read_to_string(&pending).ok().as_deref() != Some(fragment.as_str()) {
                std::fs::write(&pending, &fragment)
                    .with_context(|| format!("writing {}", pending.display()))?;
                owned_like_dir(&install.dir, &pending);
                out.changes.push(format!(
                    "wrote {}: Igor adds the {name} action (named {name}), its capabilities and \
                     host_url {host_url} to its database at its next start",
                    install.show(&pending)
                ));
            }
        }
    }
    Ok(out)
}

/// `host_url` and the action's name in the stopped Igor's database file.
fn set_in_file(
    install: &Install,
    xml: &str,
    host_url: &str,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let name = &install.name;
    let mut xml = xml.to_string();
    let mut changed = Vec::new();
    if let Some(edited) =
        database::set_child(&xml, Element::PluginData(name), "host_url", Some(host_url))?
    {
        xml = edited;
        changed.push(format!("{} = {host_url}", install.host_url_path()));
    }
    match database::child_text(&xml, Element::Action(name), "name")? {
        // An owner's own name for the action stays.
        Some(_) => {}
        None => match database::set_child(&xml, Element::Action(name), "name", Some(name)) {
            Ok(Some(edited)) => {
                xml = edited;
                changed.push(format!(
                    "the action representing sensors/{name} is named {name}"
                ));
            }
            Ok(None) => {}
            Err(_) => out.notes.push(format!(
                "Igor has no action representing sensors/{name}: nothing fetches on a schedule \
                 until you add one (`/plugin/{name}?user=jack`)"
            )),
        },
    }
    if !changed.is_empty() {
        replace_file(&install.dir, &install.database(), &xml)?;
        for change in changed {
            out.changes
                .push(format!("{change} in {}", install.show(&install.database())));
        }
    }
    Ok(())
}

/// The same settings through a running Igor.
async fn set_through_rest(
    install: &Install,
    igor: &RunningIgor,
    host_url: &str,
    out: &mut Outcome,
) -> anyhow::Result<()> {
    let name = &install.name;
    let path = install.host_url_path();
    if igor.get(&path).await?.as_deref() != Some(host_url) {
        igor.put(&path, host_url).await?;
        out.changes
            .push(format!("{path} = {host_url} in Igor at {}", igor.url()));
    }
    let action = format!("actions/action[representing=\"sensors/{name}\"]");
    if igor.get(&action).await?.is_none() {
        out.notes.push(format!(
            "Igor has no action representing sensors/{name}: nothing fetches on a schedule until \
             you add one (`/plugin/{name}?user=jack`)"
        ));
    } else if igor.get(&install.action_name_path()).await?.is_none() {
        igor.put(&install.action_name_path(), name).await?;
        out.changes.push(format!(
            "the action representing sensors/{name} is named {name} in Igor at {}",
            igor.url()
        ));
    }
    Ok(())
}

/// Puts Igor's standard plugin back in place of the forwarder, and removes
/// what only the forwarder used. The host's configuration file stays.
pub async fn uninstall(dir: &Path, options: &Options) -> anyhow::Result<Outcome> {
    let (install, mut out, igor) = begin(dir, options).await?;
    let name = &install.name;
    let plugin_dir = install.plugin_dir();
    match files::plugin_dir(&plugin_dir) {
        PluginDir::Forwarder | PluginDir::OtherForwarder | PluginDir::Missing => {
            if plugin_dir.exists() {
                std::fs::remove_dir_all(&plugin_dir)
                    .with_context(|| format!("removing {}", plugin_dir.display()))?;
            }
            // As `igorSetup addstd NAME=fitbit` links it.
            std::os::unix::fs::symlink("../std-plugins/fitbit", &plugin_dir)
                .with_context(|| format!("linking {}", plugin_dir.display()))?;
            out.changes.push(format!(
                "{} is the standard fitbit plugin again",
                install.show(&plugin_dir)
            ));
            out.notes.push(
                "the standard plugin needs the Python fitbit package in Igor's venv \
                 (`pip install fitbit`)"
                    .into(),
            );
            if let Some(igor) = &igor {
                out.notes
                    .push(format!("restart Igor at {} so it loads it", igor.url()));
            }
        }
        PluginDir::Symlink | PluginDir::Other => {}
    }
    if install.secret().exists() {
        std::fs::remove_file(install.secret())?;
        out.changes
            .push(format!("removed {}", install.show(&install.secret())));
    }
    let path = install.host_url_path();
    match &igor {
        Some(igor) => {
            if igor.get(&path).await?.is_some() {
                igor.delete(&path).await?;
                out.changes
                    .push(format!("removed {path} from Igor at {}", igor.url()));
            }
        }
        None => {
            let xml = std::fs::read_to_string(install.database())?;
            if database::has_plugin(&xml, name)?
                && let Some(edited) =
                    database::set_child(&xml, Element::PluginData(name), "host_url", None)?
            {
                replace_file(&install.dir, &install.database(), &edited)?;
                out.changes.push(format!(
                    "removed {path} from {}",
                    install.show(&install.database())
                ));
            }
            let pending = install.pending_fragment();
            if pending.exists() {
                let plain = database::fragment(name, None)?;
                if std::fs::read_to_string(&pending)? != plain {
                    std::fs::write(&pending, plain)?;
                    out.changes
                        .push(format!("removed host_url from {}", install.show(&pending)));
                }
            }
        }
    }
    if install.config().exists() {
        out.notes.push(format!(
            "{} stays (the host's settings); remove it once you no longer run the host",
            install.show(&install.config())
        ));
    }
    Ok(out)
}

/// Replaces a file whole (a crash leaves the old or the new one, never
/// half of Igor's database), keeping its mode.
fn replace_file(dir: &Path, path: &Path, text: &str) -> anyhow::Result<()> {
    let tmp = path.with_extension("xml.igor-host-new");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    owned_like_dir(dir, &tmp);
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Files made by root (`sudo igor-host igor install`) go to the owner of
/// Igor's directory, or Igor could not read its own secret. Anyone else
/// can only give files to themselves, which they already own.
fn owned_like_dir(dir: &Path, path: &Path) {
    use std::os::unix::fs::MetadataExt;
    if let Ok(meta) = std::fs::metadata(dir) {
        let _ = std::os::unix::fs::lchown(path, Some(meta.uid()), Some(meta.gid()));
    }
}
