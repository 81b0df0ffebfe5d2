//! The `igor-host` command: `serve` runs the HTTP host, `call` runs one
//! request through a plugin and prints the answer, `get` prints stored data.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use igor_host::app::{App, HostRequest};
use igor_host::config::Config;
use igor_host::store::{DocumentStore, Namespace};

#[derive(Parser)]
#[command(
    version,
    about = "Runs Igor plugin components (such as fitbit.wasm) under wasmtime"
)]
struct Cli {
    /// Configuration file (TOML). Without one: the built-in fitbit plugin on
    /// an embedded store under ./data, listening on 127.0.0.1:9333.
    #[arg(long, short, global = true, env = "IGOR_HOST_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve /plugin/NAME/... over HTTP and run the scheduled actions.
    Serve,
    /// Run one request, e.g. `call '/plugin/fitbit?user=jack'`, and print the response.
    Call {
        /// Path and query below the host, e.g. /plugin/fitbit?user=jack.
        target: String,
        /// HTTP method.
        #[arg(long, short = 'X', default_value = "GET")]
        method: String,
        /// Request body (for example a urlencoded form).
        #[arg(long, short = 'd')]
        data: Option<String>,
        /// Extra header, `name: value`; repeatable.
        #[arg(long = "header", short = 'H')]
        headers: Vec<String>,
    },
    /// Print a plugin's stored document, e.g. `get sensors/fitbit/jack`.
    Get {
        path: String,
        /// The plugin whose data to read.
        #[arg(long, default_value = "fitbit")]
        plugin: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("IGOR_HOST_LOG")
                .unwrap_or_else(|_| "info,wasmtime=warn,cranelift=warn".into()),
        )
        .with_writer(std::io::stderr)
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
            let app = App::load(cli.config).await?;
            let headers = headers
                .iter()
                .map(|h| {
                    let (k, v) = h
                        .split_once(':')
                        .with_context(|| format!("header {h:?}: use `name: value`"))?;
                    Ok((k.trim().to_string(), v.trim().to_string()))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let response = app
                .dispatch(HostRequest {
                    method,
                    target,
                    headers,
                    body: data.map(String::into_bytes).unwrap_or_default(),
                    caller: None,
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
        Command::Get { path, plugin } => {
            let config = Config::load(cli.config.as_deref())?;
            let store = igor_host::store::sqlite::SqliteStore::open(&config.store_path())?;
            let ns = Namespace::new(igor_host::app::DEFAULT_TENANT, plugin);
            match store.get(&ns, &path).await? {
                Some(entry) => {
                    println!("{}", entry.json);
                    Ok(ExitCode::SUCCESS)
                }
                None => {
                    eprintln!("nothing stored at {path}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
    }
}

async fn serve(config_path: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let listen = Config::load(config_path.as_deref())?.server.listen;
    let app = Arc::new(App::load(config_path).await?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let local = listener.local_addr()?;
    let registry = app.registry();
    tracing::info!(%local, tenants = registry.tenants.len(), "serving");
    for tenant in registry.tenants.values() {
        for name in tenant.plugins.keys() {
            println!(
                "Setup page: {}{}/plugin/{name}/page/setup.html",
                app.base_url, tenant.url_prefix
            );
        }
    }
    igor_host::scheduler::spawn_actions(app.clone(), registry);
    spawn_reload_on_sighup(app.clone());
    axum::serve(listener, igor_host::server::router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
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
            match app.reload() {
                Ok(registry) => igor_host::scheduler::spawn_actions(app.clone(), registry),
                Err(err) => {
                    tracing::error!(error = %format!("{err:#}"), "reload refused; the running configuration stays")
                }
            }
        }
    });
}
