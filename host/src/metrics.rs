//! Prometheus metrics, per tenant and plugin: requests, latency, traps by
//! kind, egress denials, and store usage. Everything is a running value
//! updated as things happen, so a scrape reads memory and nothing else.

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub tenant: String,
    pub plugin: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub tenant: String,
    pub plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TrapLabels {
    pub tenant: String,
    pub plugin: String,
    pub kind: String,
}

/// A plugin's own number (`igor:plugin/metrics`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginNumberLabels {
    pub tenant: String,
    pub plugin: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub latency: Family<PluginLabels, Histogram>,
    pub traps: Family<TrapLabels, Counter>,
    pub egress_denials: Family<PluginLabels, Counter>,
    pub store_bytes: Family<TenantLabels, Gauge>,
    pub store_documents: Family<TenantLabels, Gauge>,
    pub scheduled_actions: Gauge,
    /// Scheduled runs this host made (claimed from the database, or its
    /// own tenants' actions).
    pub action_runs: Counter,
    /// Runs of what plugins asked to be called for later.
    pub task_runs: Counter,
    /// Plugins' own counters and timings.
    pub plugin_counters: Family<PluginNumberLabels, Counter>,
    pub plugin_seconds: Family<PluginNumberLabels, Histogram>,
    /// The names each plugin has used, to bound them.
    plugin_names: std::sync::Mutex<
        std::collections::HashMap<(String, String), std::collections::HashSet<String>>,
    >,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("igor_host");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "plugin_requests",
            "Requests answered by plugins, by status",
            requests.clone(),
        );
        let latency = Family::<PluginLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0])
        });
        registry.register(
            "plugin_request_seconds",
            "Time to answer a plugin request",
            latency.clone(),
        );
        let traps = Family::<TrapLabels, Counter>::default();
        registry.register(
            "plugin_traps",
            "Plugin requests that failed, by kind (trap, deadline, memory, instantiate)",
            traps.clone(),
        );
        let egress_denials = Family::<PluginLabels, Counter>::default();
        registry.register(
            "egress_denials",
            "Outbound requests refused by the egress policy",
            egress_denials.clone(),
        );
        let store_bytes = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "store_bytes",
            "Bytes stored by a tenant's plugins",
            store_bytes.clone(),
        );
        let store_documents = Family::<TenantLabels, Gauge>::default();
        registry.register(
            "store_documents",
            "Documents stored by a tenant's plugins",
            store_documents.clone(),
        );
        let scheduled_actions = Gauge::default();
        registry.register(
            "scheduled_actions",
            "Scheduled actions waiting for or running their next run",
            scheduled_actions.clone(),
        );
        let action_runs = Counter::default();
        registry.register(
            "action_runs",
            "Scheduled action runs made by this host",
            action_runs.clone(),
        );
        let task_runs = Counter::default();
        registry.register(
            "task_runs",
            "Runs of tasks plugins queued with igor:plugin/tasks",
            task_runs.clone(),
        );
        let plugin_counters = Family::<PluginNumberLabels, Counter>::default();
        registry.register(
            "plugin_counter",
            "Counters a plugin keeps (igor:plugin/metrics), by name",
            plugin_counters.clone(),
        );
        let plugin_seconds = Family::<PluginNumberLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0, 600.0, 3600.0])
        });
        registry.register(
            "plugin_seconds",
            "Timings a plugin records (igor:plugin/metrics), by name",
            plugin_seconds.clone(),
        );
        Self {
            registry,
            action_runs,
            task_runs,
            plugin_counters,
            plugin_seconds,
            plugin_names: Default::default(),
            requests,
            latency,
            traps,
            egress_denials,
            store_bytes,
            store_documents,
            scheduled_actions,
        }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

pub fn plugin_labels(tenant: &str, plugin: &str) -> PluginLabels {
    PluginLabels {
        tenant: tenant.to_string(),
        plugin: plugin.to_string(),
    }
}

/// Drops a tenant's store usage gauges.
pub fn forget_store_usage(tenant: &str) {
    let labels = TenantLabels {
        tenant: tenant.to_string(),
    };
    METRICS.store_bytes.remove(&labels);
    METRICS.store_documents.remove(&labels);
}

/// Sets a tenant's store usage gauges.
/// Most names one plugin may use in `igor:plugin/metrics`.
pub const MAX_PLUGIN_NAMES: usize = 32;

impl Metrics {
    /// The labels of `plugin`'s number `name`, if the name is well-formed
    /// and within the plugin's allowance of names.
    pub fn plugin_number(
        &self,
        tenant: &str,
        plugin: &str,
        name: &str,
    ) -> Result<PluginNumberLabels, String> {
        let well_formed = (1..=64).contains(&name.len())
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !well_formed {
            return Err(format!(
                "{:?} is not a metric name: 1 to 64 of a-z, 0-9 and _, starting with a letter",
                crate::echo::echo(name)
            ));
        }
        let mut names = self.plugin_names.lock().expect("metric names lock");
        let known = names
            .entry((tenant.to_string(), plugin.to_string()))
            .or_default();
        if !known.contains(name) {
            if known.len() >= MAX_PLUGIN_NAMES {
                return Err(format!(
                    "a plugin may use at most {MAX_PLUGIN_NAMES} metric names"
                ));
            }
            known.insert(name.to_string());
        }
        Ok(PluginNumberLabels {
            tenant: tenant.to_string(),
            plugin: plugin.to_string(),
            name: name.to_string(),
        })
    }
}

pub fn record_store_usage(tenant: &str, usage: crate::store::Usage) {
    let labels = TenantLabels {
        tenant: tenant.to_string(),
    };
    METRICS
        .store_bytes
        .get_or_create(&labels)
        .set(usage.bytes as i64);
    METRICS
        .store_documents
        .get_or_create(&labels)
        .set(usage.documents as i64);
}
