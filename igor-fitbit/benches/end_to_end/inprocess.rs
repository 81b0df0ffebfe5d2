//! Hosts built in this process from a configuration file, served by the
//! binary's own router on loopback: for the per-call breakdown (timed by the
//! host's own spans) and for the isolation cost against a plain handler.

use std::path::Path;
use std::sync::Arc;

use igor_host::app::App;
use igor_host::config::Config;
use igor_host::server::{self, ListenLimits};

/// A host serving on loopback until dropped.
pub struct InProcessHost {
    pub url: String,
    pub app: Arc<App>,
    server: tokio::task::JoinHandle<()>,
}

impl InProcessHost {
    /// `extra` adds routes next to the host's own (a plain handler to
    /// compare with).
    pub async fn start(dir: &Path, plugin_config: &str, extra: axum::Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding loopback");
        let addr = listener.local_addr().expect("local address");
        std::fs::create_dir_all(dir).expect("the host's directory");
        let config_path = dir.join("host.toml");
        let text = format!(
            "data_dir = {:?}\n{plugin_config}\n[server]\nlisten = \"{addr}\"\n",
            dir.join("data").display().to_string()
        );
        std::fs::write(&config_path, text).expect("writing the config");
        let config = Config::load(Some(&config_path), igor_fitbit::builtin()).expect("the config");
        let app = Arc::new(
            App::new(
                config.clone(),
                Some(config_path),
                igor_fitbit::builtin().clone(),
            )
            .await
            .expect("building the host"),
        );
        // The binary's own listener, with its limits from the config.
        let limits = ListenLimits::from_config(&config.server);
        let router = server::router(app.clone()).merge(extra);
        let server = tokio::spawn(server::serve(
            listener,
            router,
            limits,
            std::future::pending(),
        ));
        Self {
            url: format!("http://{addr}"),
            app,
            server,
        }
    }
}

impl Drop for InProcessHost {
    fn drop(&mut self) {
        self.server.abort();
    }
}
