//! A tracing layer that times the host's own spans (`http.dispatch`,
//! `plugin.instantiate`, `plugin.call`, `store.get`, `http.fetch`, ...): the
//! wall time from a span's creation to its close, labelled with its name and
//! `path` field. The host creates these spans at TRACE level, so an
//! installation that does not ask for them pays only a level check.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

#[derive(Default)]
pub struct Timings {
    on: AtomicBool,
    closed: Mutex<Vec<(String, Duration)>>,
}

impl Timings {
    /// Installs the layer as the process's subscriber, switched off.
    pub fn install() -> Arc<Self> {
        let timings = Arc::new(Self::default());
        tracing_subscriber::registry()
            .with(TimingLayer(timings.clone()))
            .init();
        timings
    }

    /// Forgets what was timed and starts timing.
    pub fn start(&self) {
        self.closed.lock().unwrap().clear();
        self.on.store(true, Ordering::SeqCst);
    }

    pub fn stop(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    /// Each request's spans (time and count per label) since timing
    /// started, requests being delimited by the close of their `root` span.
    pub fn per_request(&self, root: &str) -> Vec<BTreeMap<String, (Duration, usize)>> {
        let mut requests = Vec::new();
        let mut current = BTreeMap::new();
        for (label, took) in self.closed.lock().unwrap().iter() {
            let entry = current.entry(label.clone()).or_insert((Duration::ZERO, 0));
            entry.0 += *took;
            entry.1 += 1;
            if label == root {
                requests.push(std::mem::take(&mut current));
            }
        }
        requests
    }
}

struct TimingLayer(Arc<Timings>);

struct Opened {
    label: String,
    at: Instant,
}

#[derive(Default)]
struct PathField(Option<String>);

impl Visit for PathField {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if field.name() == "path" {
            self.0 = Some(format!("{value:?}"));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "path" {
            self.0 = Some(value.to_string());
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for TimingLayer {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if metadata.is_span() && metadata.target().starts_with("igor_host") {
            Interest::sometimes()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, _metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        self.0.on.load(Ordering::Relaxed)
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut path = PathField::default();
        attrs.record(&mut path);
        let name = attrs.metadata().name();
        let label = match path.0 {
            Some(path) => format!("{name} {path}"),
            None => name.to_string(),
        };
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Opened {
                label,
                at: Instant::now(),
            });
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        if let Some(opened) = span.extensions().get::<Opened>() {
            self.0
                .closed
                .lock()
                .unwrap()
                .push((opened.label.clone(), opened.at.elapsed()));
        }
    }
}
