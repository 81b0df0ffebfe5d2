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
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Serve => serve(config).await,
        Command::Call {
            target,
            method,
            data,
            headers,
        } => {
            let app = App::new(config).await?;
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

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let listen = config.server.listen;
    let app = Arc::new(App::new(config).await?);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let local = listener.local_addr()?;
    tracing::info!(%local, plugins = ?app.plugin_names().collect::<Vec<_>>(), "serving");
    for name in app.plugin_names() {
        println!("Setup page: {}/plugin/{name}/page/setup.html", app.base_url);
    }
    igor_host::scheduler::spawn_actions(app.clone());
    axum::serve(listener, igor_host::server::router(app))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(ExitCode::SUCCESS)
}
