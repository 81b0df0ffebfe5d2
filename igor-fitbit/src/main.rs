//! The `igor-host` command: `serve` runs the HTTP host, `call` runs one
//! request through a plugin and prints the answer, `get` prints stored data,
//! `secret set` stores a secret for a plugin, `secret rotate-key` reseals
//! every secret with a new key, `inspect` shows what a component asks of its
//! host, `igor install` sets the host up as an Igor's fitbit plugin.
//!
//! The host is the library `igor_host`; this binary hands it the fitbit
//! plugin built into it ([`igor_fitbit::builtin`]).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use igor_fitbit::builtin;
use igor_host::app::{App, DEFAULT_TENANT, HostRequest, Stores};
use igor_host::config::{Config, StoreConfig, TenantSource};
use igor_host::store::{DocumentStore, Namespace, validate_secret_name};
use igor_host::tenancy::directory::{TenantDirectory, TenantSpec};
use igor_host::wasm::manifest::Manifest;

#[derive(Parser)]
#[command(version, about = "Runs Igor plugin components under wasmtime")]
struct Cli {
    /// Configuration file (TOML). Without one: the built-in plugin on an
    /// embedded store in ~/.local/share/igor-host, on 127.0.0.1:9333.
    #[arg(long, short, global = true, env = "IGOR_HOST_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve /plugin/NAME/... over HTTP and run the scheduled actions.
    Serve,
    /// Run one request, e.g. `call '/plugin/NAME?user=jack'`, in this
    /// process as the owner (no token needed; with tenants,
    /// `/tenants/ID/plugin/...`), and print the response.
    Call {
        /// Path and query below the host, e.g. /plugin/NAME?user=jack.
        target: String,
        /// HTTP method.
        #[arg(long, short = 'X', default_value = "GET")]
        method: String,
        /// Request body, sent as an urlencoded form unless a `content-type`
        /// header says otherwise (as `curl -d` does).
        #[arg(long, short = 'd')]
        data: Option<String>,
        /// Extra header, `name: value`; repeatable.
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
    },
    /// Print a plugin's stored document from the configured store (SQLite,
    /// PostgreSQL or Igor), e.g. `get sensors/NAME/jack`.
    Get {
        path: String,
        #[command(flatten)]
        owner: Owner,
    },
    /// Set a plugin's secret, such as its OAuth client secret, or rotate the
    /// key that seals the secrets.
    #[command(subcommand, alias = "secrets")]
    Secret(SecretCommand),
    /// Print what a component asks of its host (its manifest) and the
    /// interfaces it imports; without a file, the built-in component's.
    Inspect { component: Option<PathBuf> },
    /// Write a plugin's manifest into its component, as this repository's
    /// build does for its own plugins.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Manage the tenants in the database (`[tenant_directory] source =
    /// "database"`); every host follows within its poll interval.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Run this host as an Igor's fitbit plugin: `igor install DIR` sets up
    /// the Igor database directory DIR (forwarder, secret, settings, the
    /// host's config file); `igor uninstall DIR` puts the standard plugin back.
    #[command(subcommand)]
    Igor(IgorCommand),
}

#[derive(Subcommand)]
enum ManifestCommand {
    /// `manifest add COMPONENT MANIFEST.toml`: checks the manifest and
    /// writes it into the component (in place unless `--output`).
    Add {
        component: PathBuf,
        manifest: PathBuf,
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum IgorCommand {
    /// Set up the Igor in DIR to forward its fitbit plugin to this host, and
    /// write DIR/igor-host.toml for it (a second run changes nothing). Prints
    /// a systemd unit that runs the host.
    Install {
        /// Igor's database directory (made by `igorSetup -d DIR initialize`).
        dir: PathBuf,
        #[command(flatten)]
        igor: IgorArgs,
        /// The host's port on 127.0.0.1 (default 9334, or a free one).
        #[arg(long)]
        port: Option<u16>,
        /// A name browsers reach Igor by, such as igor.local; repeatable
        /// (default: this machine's host name and NAME.local).
        #[arg(long = "allowed-host", value_name = "NAME")]
        allowed_hosts: Vec<String>,
        /// Write the systemd unit to FILE instead of printing it.
        #[arg(long, value_name = "FILE")]
        systemd_unit: Option<PathBuf>,
    },
    /// Put Igor's standard fitbit plugin back in DIR and remove the
    /// forwarder's secret and host_url (DIR/igor-host.toml stays).
    Uninstall {
        dir: PathBuf,
        #[command(flatten)]
        igor: IgorArgs,
    },
}

/// Which Igor, and the plugin's name in it.
#[derive(clap::Args)]
struct IgorArgs {
    /// The plugin's install name in Igor, e.g. _fitbit.
    #[arg(long, default_value = "fitbit")]
    name: String,
    /// Where Igor listens (or will).
    #[arg(long, default_value = "http://127.0.0.1:9333")]
    igor_url: String,
    /// Igor user for the host's store and for a running Igor.
    #[arg(long, default_value = "admin")]
    igor_user: String,
    /// That user's password (empty on a fresh Igor).
    #[arg(
        long,
        env = "IGOR_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    igor_password: String,
}

impl IgorArgs {
    fn options(self) -> igor_fitbit::igor_install::Options {
        igor_fitbit::igor_install::Options {
            name: self.name,
            igor_url: self.igor_url,
            igor_user: self.igor_user,
            igor_password: self.igor_password,
            port: None,
            allowed_hosts: None,
        }
    }
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Add a tenant and print its first token. Its plugins, limits, quota
    /// and actions come from a JSON file as `POST /admin/tenants` takes
    /// (without "id"); without one it runs the built-in plugin.
    Add {
        id: String,
        #[arg(long)]
        spec: Option<PathBuf>,
    },
    /// List the tenants: id, version, plugins, actions.
    List,
    /// Remove a tenant and its actions; `--purge` also deletes its data.
    Remove {
        id: String,
        #[arg(long)]
        purge: bool,
    },
    /// Issue a new token for a tenant and print it.
    Token {
        id: String,
        /// Revoke the tenant's other tokens first.
        #[arg(long)]
        revoke_others: bool,
    },
}

#[derive(Subcommand)]
enum SecretCommand {
    /// Store the secret NAME (e.g. client_secret), reading its value from
    /// standard input: `printf %s "$VALUE" | igor-host secret set client_secret`.
    Set {
        name: String,
        #[command(flatten)]
        owner: Owner,
    },
    /// Seal every secret with a new key: generated into the key file on one
    /// machine; with keys from an environment variable or a shared store,
    /// the one put first in every host's keys.
    RotateKey {
        /// Keep the old keys in the key file.
        #[arg(long)]
        keep_old: bool,
    },
}

/// Whose data a command means.
#[derive(clap::Args)]
struct Owner {
    /// The plugin (its install name).
    #[arg(long, default_value_t = builtin().name().to_string())]
    plugin: String,
    /// The tenant, on a host with [[tenant]]s.
    #[arg(long)]
    tenant: Option<String>,
}

/// Longest secret value accepted, as for plugins.
const MAX_SECRET_BYTES: usize = 4096;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IGOR_HOST_LOG")
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal: a log file or a
        // journal would keep them as noise.
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let cli = Cli::parse();
    let runtime = tokio::runtime::Runtime::new().expect("starting tokio");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("igor-host: {err:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve => serve(cli.config).await,
        Command::Call {
            target,
            method,
            data,
            headers,
        } => {
            let app = App::load(cli.config, builtin().clone()).await?;
            let headers = headers
                .iter()
                .map(|h| {
                    let (k, v) = h
                        .split_once(':')
                        .with_context(|| format!("header {h:?}: use `name: value`"))?;
                    Ok((k.trim().to_string(), v.trim().to_string()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let mut headers = headers;
            // A body is a form unless a header says otherwise, as `curl -d` sends it.
            if data.is_some()
                && !headers
                    .iter()
                    .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push((
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ));
            }
            // The developer harness runs as the owner: whoever can read the
            // configuration needs no token to prove it.
            let response = app
                .dispatch_as_owner(HostRequest {
                    method,
                    target,
                    headers,
                    body: data.map(String::into_bytes).unwrap_or_default(),
                })
                .await;
            println!("HTTP {}", response.status);
            for (name, value) in &response.headers {
                println!("{name}: {value}");
            }
            println!();
            println!("{}", response.body_text());
            Ok(if response.status < 400 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Get { path, owner } => {
            let config = Config::load(cli.config.as_deref(), builtin())?;
            let stores = Stores::open(&config).await?;
            let (ns, documents) = owner.resolve(&config, &stores).await?;
            match documents.get(&ns, &path).await? {
                Some(entry) => {
                    println!("{}", entry.json);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!(
                        "nothing stored at {path} (plugin {}, tenant {})",
                        ns.plugin, ns.tenant
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Inspect { component } => inspect(component.as_deref()),
        Command::Manifest(ManifestCommand::Add {
            component,
            manifest,
            output,
        }) => add_manifest(&component, &manifest, output.as_deref()),
        Command::Igor(command) => igor_command(command).await,
        Command::Tenant(command) => {
            let config = Config::load(cli.config.as_deref(), builtin())?;
            tenant_command(&directory(&config)?, command).await
        }
        Command::Secret(SecretCommand::Set { name, owner }) => {
            validate_secret_name(&name)?;
            let config = Config::load(cli.config.as_deref(), builtin())?;
            let stores = Stores::open(&config).await?;
            let (ns, _) = owner.resolve(&config, &stores).await?;
            let value = read_secret_value(&name)?;
            stores.secrets.set(&ns, &name, &value).await?;
            eprintln!(
                "{name} set for plugin {} (tenant {}) in {}",
                ns.plugin, ns.tenant, stores.secrets_location
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Secret(SecretCommand::RotateKey { keep_old }) => {
            let config = Config::load(cli.config.as_deref(), builtin())?;
            println!(
                "{}",
                igor_host::tenancy::stores::rotate_key(&config, keep_old).await?
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

impl Owner {
    /// The namespace meant, and the document store that holds it, checked
    /// against the configuration so that a typo is an error, not a secret
    /// nobody reads.
    async fn resolve(
        &self,
        config: &Config,
        stores: &Stores,
    ) -> anyhow::Result<(Namespace, Arc<dyn DocumentStore>)> {
        let (tenant, plugins, documents) =
            if config.tenant_directory.source == TenantSource::Database {
                let Some(id) = &self.tenant else {
                    bail!("this host's tenants are in the database: name one with --tenant");
                };
                let Some((spec, _)) = directory(config)?.get(id).await? else {
                    bail!("no tenant {id:?} in the database (see `igor-host tenant list`)");
                };
                (id.clone(), spec.plugins, stores.documents.clone())
            } else if config.tenants.is_empty() {
                if let Some(tenant) = self.tenant.as_deref().filter(|t| *t != DEFAULT_TENANT) {
                    bail!("this host has no [[tenant]] {tenant:?}; leave out --tenant");
                }
                let plugins = config.single_tenant_plugins(builtin());
                (
                    DEFAULT_TENANT.to_string(),
                    plugins,
                    stores.documents.clone(),
                )
            } else {
                let ids = || {
                    let ids: Vec<&str> = config.tenants.iter().map(|t| t.id.as_str()).collect();
                    ids.join(", ")
                };
                let Some(id) = &self.tenant else {
                    bail!("this host has tenants: name one with --tenant ({})", ids());
                };
                let Some(tenant) = config.tenants.iter().find(|t| &t.id == id) else {
                    bail!("no tenant {id:?} is configured (tenants: {})", ids());
                };
                let documents = match &tenant.store {
                    Some(store) => igor_host::tenancy::tenants::tenant_documents(
                        id,
                        store,
                        &stores.documents,
                        &config.data_dir,
                    )?,
                    None => stores.documents.clone(),
                };
                (id.clone(), tenant.plugins.clone(), documents)
            };
        if !plugins.iter().any(|p| p.name == self.plugin) {
            let names: Vec<&str> = plugins.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "tenant {tenant} has no plugin {:?} (plugins: {}); choose one with --plugin",
                self.plugin,
                names.join(", ")
            );
        }
        Ok((Namespace::new(tenant, self.plugin.clone()), documents))
    }
}

fn directory(config: &Config) -> anyhow::Result<TenantDirectory> {
    match (&config.tenant_directory.source, &config.store) {
        (TenantSource::Database, StoreConfig::Postgres(pg)) => {
            TenantDirectory::new(pg, config.scheduler.first_run_spread_seconds)
        }
        _ => bail!(
            "this host's tenants are in its configuration file ([[tenant]]); `igor-host tenant` \
             needs [tenant_directory] source = \"database\" and a PostgreSQL store"
        ),
    }
}

async fn tenant_command(
    directory: &TenantDirectory,
    command: TenantCommand,
) -> anyhow::Result<ExitCode> {
    match command {
        TenantCommand::Add { id, spec } => {
            let mut spec: TenantSpec = match spec {
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not a tenant spec", path.display()))?
                }
                None => TenantSpec {
                    plugins: igor_host::config::default_plugins(builtin()),
                    ..Default::default()
                },
            };
            let token = igor_host::tenancy::directory::new_token();
            spec.token_sha256
                .push(igor_host::access::sha256_hex(&token));
            directory.create(&id, &spec).await?;
            eprintln!("tenant {id} added; its token (shown once):");
            println!("{token}");
        }
        TenantCommand::List => {
            let (version, tenants) = directory.all().await?;
            for tenant in &tenants {
                let plugins: Vec<&str> = tenant
                    .config
                    .plugins
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect();
                println!(
                    "{}\tversion {}\tplugins {}\tactions {}",
                    tenant.config.id,
                    tenant.version,
                    plugins.join(","),
                    tenant.config.actions.len()
                );
            }
            eprintln!("{} tenant(s), directory version {version}", tenants.len());
        }
        TenantCommand::Remove { id, purge } => {
            directory.remove(&id, purge).await?;
            eprintln!(
                "tenant {id} removed{}",
                if purge {
                    " with its data"
                } else {
                    "; its data stays (--purge deletes it)"
                }
            );
        }
        TenantCommand::Token { id, revoke_others } => {
            if revoke_others {
                directory.revoke_tokens(&id).await?;
            }
            let token = directory.issue_token(&id).await?;
            eprintln!("new token for tenant {id} (shown once):");
            println!("{token}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn igor_command(command: IgorCommand) -> anyhow::Result<ExitCode> {
    use igor_fitbit::igor_install;
    let (dir, outcome, unit) = match command {
        IgorCommand::Install {
            dir,
            igor,
            port,
            allowed_hosts,
            systemd_unit,
        } => {
            let mut options = igor.options();
            options.port = port;
            options.allowed_hosts = (!allowed_hosts.is_empty()).then_some(allowed_hosts);
            let outcome = igor_install::install(&dir, &options).await?;
            (dir, outcome, Some(systemd_unit))
        }
        IgorCommand::Uninstall { dir, igor } => {
            let outcome = igor_install::uninstall(&dir, &igor.options()).await?;
            (dir, outcome, None)
        }
    };
    if outcome.changes.is_empty() {
        eprintln!(
            "Nothing to change in {}: it is set up already.",
            dir.display()
        );
    }
    for change in &outcome.changes {
        eprintln!("- {change}");
    }
    for note in &outcome.notes {
        eprintln!("Note: {note}");
    }
    if let Some(target) = unit {
        let binary = std::env::current_exe().context("finding this program's path")?;
        let user = igor_install::systemd::owner_of(&dir);
        let unit = igor_install::systemd::unit(&binary, &outcome.config, user.as_deref());
        match target {
            Some(file) => {
                if std::fs::read_to_string(&file).ok().as_deref() != Some(unit.as_str()) {
                    std::fs::write(&file, &unit)
                        .with_context(|| format!("writing {}", file.display()))?;
                    eprintln!("- wrote the systemd unit {}", file.display());
                }
            }
            None => {
                eprintln!(
                    "Start Igor, then the host: igor-host --config {} serve\n\
                     or have systemd run the host with this unit (e.g. as \
                     /etc/systemd/system/igor-host.service; --systemd-unit FILE writes it):",
                    outcome.config.display()
                );
                print!("{unit}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A secret's value from standard input: without echo from a terminal,
/// else all of it, without the one line break a shell pipeline adds.
fn read_secret_value(name: &str) -> anyhow::Result<String> {
    let mut value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{name}: "))?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .take(MAX_SECRET_BYTES as u64 + 2)
            .read_to_string(&mut text)
            .context("reading the secret from standard input (UTF-8 text)")?;
        text
    };
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    if value.is_empty() {
        bail!(
            "no value for {name} on standard input: printf %s \"$VALUE\" | igor-host secret set {name}"
        );
    }
    if value.len() > MAX_SECRET_BYTES {
        bail!("{name}: secrets are limited to {MAX_SECRET_BYTES} bytes");
    }
    Ok(value)
}

fn inspect(component: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let wasm = match component {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => igor_fitbit::COMPONENT.to_vec(),
    };
    let name = component.map_or("the built-in component".into(), |p| p.display().to_string());
    match Manifest::from_component(&wasm).with_context(|| format!("reading {name}"))? {
        Some(manifest) => println!("{}", manifest.describe()),
        None => println!(
            "{name} has no manifest (custom section {}): it gets only what its [[plugin]] \
             entry grants",
            igor_host::wasm::manifest::SECTION
        ),
    }
    println!("imports:");
    for import in Manifest::imports_of(&wasm)? {
        println!("  {import}");
    }
    Ok(ExitCode::SUCCESS)
}

fn add_manifest(
    component: &std::path::Path,
    manifest: &std::path::Path,
    output: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    };
    let text = String::from_utf8(read(manifest)?)
        .with_context(|| format!("{} is not UTF-8", manifest.display()))?;
    let wasm = Manifest::embed(&read(component)?, &text)
        .with_context(|| format!("adding {} to {}", manifest.display(), component.display()))?;
    let output = output.unwrap_or(component);
    // Written beside and renamed, so a failure never leaves half a component.
    let partial = output.with_extension("wasm.partial");
    std::fs::write(&partial, &wasm).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, output).with_context(|| format!("replacing {}", output.display()))?;
    println!("{}: manifest added", output.display());
    Ok(ExitCode::SUCCESS)
}

async fn serve(config_path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let config = Config::load(config_path.as_deref(), builtin())?;
    println!("Data directory: {}", config.data_dir.display());
    tracing::info!(data_dir = %config.data_dir.display(), "data directory");
    let app = Arc::new(App::new(config.clone(), config_path, builtin().clone()).await?);
    let listeners = igor_host::server::Listeners::bind(&config.server).await?;
    let local = listeners.main.local_addr()?;
    if config.server.allow_unauthenticated && config.server.exposed() && !config.has_credentials() {
        tracing::warn!(
            %local,
            "allow_unauthenticated = true: anyone who reaches this address can use the plugins \
             (change settings, delete users, start authorisations)"
        );
    }
    let registry = app.registry();
    tracing::info!(%local, tenants = registry.tenants.len(), "serving");
    if registry.multi_tenant {
        // One line, not one per tenant: a host may serve thousands.
        println!(
            "Serving {} tenant(s); setup pages at {}/tenants/ID/plugin/NAME/page/setup.html",
            registry.tenants.len(),
            app.base_url().now()
        );
    } else {
        for tenant in registry.tenants.values() {
            for name in tenant.plugins.keys() {
                println!(
                    "Setup page: {}{}/plugin/{name}/page/setup.html",
                    app.base_url().now(),
                    tenant.url_prefix
                );
            }
        }
    }
    igor_host::scheduling::start(&app).await?;
    spawn_reload_on_sighup(app.clone());
    let limits = igor_host::server::ListenLimits::from_config(&config.server);
    igor_host::server::serve_app(app, listeners, limits, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    Ok(ExitCode::SUCCESS)
}

/// `kill -HUP` reloads the configuration, like the admin API.
fn spawn_reload_on_sighup(app: Arc<App>) {
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            match app.reload().await {
                Ok(registry) => {
                    igor_host::scheduling::scheduler::spawn_actions(app.clone(), registry)
                }
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "reload refused; the running configuration stays")
                }
            }
        }
    });
}
