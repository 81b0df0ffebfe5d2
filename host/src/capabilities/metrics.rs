//! `igor:plugin/metrics`: a plugin's own counters and timings among the
//! host's metrics, labelled with its tenant and name (never by anything
//! the plugin says), within a bounded set of names per plugin.

use wasmtime::component::{HasData, Linker};

use crate::metrics::METRICS;
use crate::store::Namespace;
use crate::wasm::bindings::metrics as wit;

/// One request's access to its plugin's numbers.
pub struct MetricsCtx {
    namespace: Namespace,
}

impl MetricsCtx {
    pub fn new(namespace: Namespace) -> Self {
        Self { namespace }
    }
}

/// How the store's `T` reaches its [`MetricsCtx`].
pub trait MetricsView: Send {
    fn metrics(&mut self) -> &mut MetricsCtx;
}

struct HasMetrics;

impl HasData for HasMetrics {
    type Data<'a> = &'a mut MetricsCtx;
}

/// Links `igor:plugin/metrics` to each store's [`MetricsCtx`].
pub fn add_to_linker<T: MetricsView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, HasMetrics>(linker, T::metrics)
}

impl wit::Host for MetricsCtx {
    async fn counter_add(
        &mut self,
        name: String,
        value: u64,
    ) -> wasmtime::Result<Result<(), String>> {
        let ns = &self.namespace;
        Ok(METRICS
            .plugin_number(&ns.tenant, &ns.plugin, &name)
            .map(|labels| {
                METRICS.plugin_counters.get_or_create(&labels).inc_by(value);
            }))
    }

    async fn observe_seconds(
        &mut self,
        name: String,
        seconds: f64,
    ) -> wasmtime::Result<Result<(), String>> {
        if !seconds.is_finite() || seconds < 0.0 {
            return Ok(Err(format!("{seconds} is not a duration in seconds")));
        }
        let ns = &self.namespace;
        Ok(METRICS
            .plugin_number(&ns.tenant, &ns.plugin, &name)
            .map(|labels| {
                METRICS
                    .plugin_seconds
                    .get_or_create(&labels)
                    .observe(seconds)
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasm::bindings::metrics::Host as _;

    #[tokio::test]
    async fn numbers_are_labelled_by_the_host_and_bounded() {
        let mut ctx = MetricsCtx::new(Namespace::new("metrics-t", "p"));
        ctx.counter_add("webhooks_received".into(), 3)
            .await
            .unwrap()
            .unwrap();
        ctx.observe_seconds("sync_lag".into(), 1.5)
            .await
            .unwrap()
            .unwrap();
        let text = METRICS.encode();
        assert!(
            text.contains(
                r#"igor_host_plugin_counter_total{tenant="metrics-t",plugin="p",name="webhooks_received"} 3"#
            ),
            "{text}"
        );
        assert!(text.contains(r#"name="sync_lag""#));
        for bad in ["", "Upper", "9lives", "a-b", &"x".repeat(65)] {
            let refused = ctx.counter_add(bad.into(), 1).await.unwrap();
            assert!(refused.is_err(), "{bad:?}");
        }
        let negative = ctx.observe_seconds("sync_lag".into(), -1.0).await.unwrap();
        assert!(negative.is_err());
        // At most 32 names per plugin; another plugin has its own.
        for i in 2..32 {
            ctx.counter_add(format!("n{i}"), 1).await.unwrap().unwrap();
        }
        let over = ctx.counter_add("one_more".into(), 1).await.unwrap();
        assert!(over.unwrap_err().contains("at most 32"));
        ctx.counter_add("n2".into(), 1).await.unwrap().unwrap();
        let mut other = MetricsCtx::new(Namespace::new("metrics-t", "q"));
        other
            .counter_add("one_more".into(), 1)
            .await
            .unwrap()
            .unwrap();
    }
}
