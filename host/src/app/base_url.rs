//! The URL browsers reach this host by, which plugins build their OAuth
//! redirect URIs and links from: `[server] base_url`, or, with the Igor
//! store and no `base_url`, Igor's own `services/igor/url` (browsers then
//! reach the plugin through Igor). Igor's value is read when a request
//! needs it and kept for [`IGOR_URL_CACHE`], so an owner who puts Igor
//! behind another name sees the new redirect URI within seconds, without
//! restarting the host.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::config::{Config, StoreConfig};
use crate::store::igor::{IgorStore, services_igor_url};

/// How long a value read from Igor is used before Igor is asked again.
pub const IGOR_URL_CACHE: Duration = Duration::from_secs(3);

pub struct BaseUrl {
    state: RwLock<State>,
    /// One read of Igor at a time; the others wait for its answer.
    reading: tokio::sync::Mutex<()>,
}

struct State {
    url: String,
    /// Where the URL comes from, when it is Igor's.
    igor: Option<Arc<IgorStore>>,
    /// When Igor was last asked (answered or not).
    asked: Option<Instant>,
}

impl BaseUrl {
    /// The base URL `config` names; with Igor's, Igor must answer now (the
    /// host does not start without knowing where browsers come back to).
    pub async fn from_config(config: &Config) -> anyhow::Result<Self> {
        let Some(igor) = igor_source(config)? else {
            return Ok(Self::fixed(config.server.base_url()));
        };
        let url = services_igor_url(&igor).await.map_err(|e| {
            anyhow::anyhow!(
                "learning the OAuth redirect base from Igor's services/igor/url: {e}; \
                 start Igor first or set [server] base_url"
            )
        })?;
        Ok(Self {
            state: RwLock::new(State {
                url,
                igor: Some(Arc::new(igor)),
                asked: Some(Instant::now()),
            }),
            reading: Default::default(),
        })
    }

    fn fixed(url: String) -> Self {
        Self {
            state: RwLock::new(State {
                url,
                igor: None,
                asked: None,
            }),
            reading: Default::default(),
        }
    }

    /// A reloaded configuration: a fixed URL applies at once, Igor's is
    /// read by the next request that needs it (until then, and if Igor does
    /// not answer, the last one known stays).
    pub fn reconfigure(&self, config: &Config) -> anyhow::Result<()> {
        let igor = igor_source(config)?;
        let mut state = self.state.write().expect("base url lock");
        match igor {
            None => {
                state.url = config.server.base_url();
                state.igor = None;
            }
            Some(igor) => state.igor = Some(Arc::new(igor)),
        }
        state.asked = None;
        Ok(())
    }

    /// The URL as last known, without asking Igor.
    pub fn now(&self) -> String {
        self.state.read().expect("base url lock").url.clone()
    }

    /// The URL, asking Igor first when its value is older than
    /// [`IGOR_URL_CACHE`].
    pub async fn current(&self) -> String {
        if let Some(url) = self.fresh() {
            return url;
        }
        let _one_at_a_time = self.reading.lock().await;
        if let Some(url) = self.fresh() {
            return url;
        }
        let Some(igor) = self.state.read().expect("base url lock").igor.clone() else {
            return self.now();
        };
        let read = services_igor_url(&igor).await;
        let mut state = self.state.write().expect("base url lock");
        state.asked = Some(Instant::now());
        match read {
            Ok(url) if url != state.url => {
                tracing::info!(%url, "Igor's services/igor/url changed; redirects and links use it now");
                state.url = url;
            }
            Ok(_) => {}
            Err(err) => tracing::warn!(
                error = %format!("{err:#}"),
                url = %state.url,
                "reading Igor's services/igor/url failed; keeping the last one"
            ),
        }
        state.url.clone()
    }

    /// The URL when it needs no reading.
    fn fresh(&self) -> Option<String> {
        let state = self.state.read().expect("base url lock");
        let fresh = state.igor.is_none()
            || state
                .asked
                .is_some_and(|asked| asked.elapsed() < IGOR_URL_CACHE);
        fresh.then(|| state.url.clone())
    }
}

/// The Igor whose `services/igor/url` is the base URL, if it is.
fn igor_source(config: &Config) -> anyhow::Result<Option<IgorStore>> {
    match (&config.store, &config.server.base_url) {
        (StoreConfig::Igor(igor), None) => Ok(Some(IgorStore::new(igor, "")?)),
        _ => Ok(None),
    }
}
